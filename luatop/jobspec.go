package luatop

import (
	"sort"
	"strings"

	lua "github.com/yuin/gopher-lua"

	"github.com/topscript/topscript/stdlib"
)

// jobSpec is job.run's argument table.
type jobSpec struct {
	name          string
	rows          lua.LValue
	key, call     *lua.LFunction
	onResult      *lua.LFunction
	verify        *lua.LFunction
	concurrency   int // the script's cap; 0: sized by the runner alone
	report        string
	resendUnknown bool
	// columns is the columns option's array part: the report's input
	// columns; aliases its keyed part: key → the column (name or label)
	// each row gets it from (sheet.Header.Resolve).
	columns []string
	aliases map[string]string
}

var jobFields = map[string]bool{
	"name": true, "rows": true, "key": true, "call": true, "concurrency": true,
	"report": true, "on_result": true, "resend_unknown": true, "columns": true, "verify": true,
}

func checkJobSpec(L *lua.LState) *jobSpec {
	t, ok := L.Get(1).(*lua.LTable)
	if !ok {
		L.RaiseError("job.run: want a table {name=, rows=, key=, call=, ...}, got %s", stdlib.Describe(L.Get(1)))
	}
	var unknown []string
	t.ForEach(func(k, _ lua.LValue) {
		if s, ok := k.(lua.LString); !ok || !jobFields[string(s)] {
			unknown = append(unknown, L.ToStringMeta(k).String())
		}
	})
	if len(unknown) > 0 {
		sort.Strings(unknown)
		L.RaiseError("job.run: unknown field %q (fields: name, rows, key, call, verify, concurrency, report, on_result, resend_unknown, columns)", unknown[0])
	}
	s := &jobSpec{}
	name, ok := t.RawGetString("name").(lua.LString)
	if !ok || strings.TrimSpace(string(name)) == "" {
		L.RaiseError("job.run: name is required: a non-empty string naming the job's checkpoints, got %s", stdlib.Describe(t.RawGetString("name")))
	}
	s.name = string(name)
	s.rows = t.RawGetString("rows")
	if _, isArray := s.rows.(*lua.LTable); !isArray && !stdlib.IsCallable(L, s.rows) {
		L.RaiseError("job.run: rows is required: an array or an iterator such as csv.rows(path), got %s", stdlib.Describe(s.rows))
	}
	fn := func(field, what string, required bool) *lua.LFunction {
		v := t.RawGetString(field)
		if f, ok := v.(*lua.LFunction); ok {
			return f
		}
		if v == lua.LNil && !required {
			return nil
		}
		if v == lua.LNil {
			L.RaiseError("job.run: %s is required: %s", field, what)
		}
		L.RaiseError("job.run: %s must be a function (%s), got %s", field, what, stdlib.Describe(v))
		return nil
	}
	s.key = fn("key", "function(row) returning the row's unique key", true)
	s.call = fn("call", "function(row) returning method, params[, opts]", true)
	s.onResult = fn("on_result", "function(row, result, err)", false)
	s.verify = fn("verify", "function(row) reading back whether the row's write is in effect: true, false or nil", false)
	switch c := t.RawGetString("concurrency").(type) {
	case *lua.LNilType:
	case lua.LNumber:
		if c < 1 || c > MaxJobConcurrency || float64(c) != float64(int(c)) {
			L.RaiseError("job.run: concurrency must be an integer from 1 to %d, got %v", MaxJobConcurrency, c)
		}
		s.concurrency = int(c)
	default:
		L.RaiseError("job.run: concurrency must be a number, got %s", stdlib.Describe(c))
	}
	switch r := t.RawGetString("report").(type) {
	case *lua.LNilType:
	case lua.LString:
		s.report = string(r)
	default:
		L.RaiseError("job.run: report must be a file path, got %s", stdlib.Describe(r))
	}
	switch r := t.RawGetString("resend_unknown").(type) {
	case *lua.LNilType:
	case lua.LBool:
		s.resendUnknown = bool(r)
	default:
		L.RaiseError("job.run: resend_unknown must be a boolean, got %s", stdlib.Describe(r))
	}
	switch c := t.RawGetString("columns").(type) {
	case *lua.LNilType:
	case *lua.LTable:
		n := c.Len()
		for i := 1; i <= n; i++ {
			s.columns = append(s.columns, L.ToStringMeta(c.RawGetInt(i)).String())
		}
		c.ForEach(func(k, v lua.LValue) {
			if i, ok := k.(lua.LNumber); ok && float64(i) >= 1 && float64(i) <= float64(n) && float64(i) == float64(int(i)) {
				return // the array part
			}
			ks, kok := k.(lua.LString)
			vs, vok := v.(lua.LString)
			if !kok || !vok {
				L.RaiseError("job.run: columns maps keys to column names, as columns = {num_iid = \"宝贝ID\"}: got %s = %s",
					L.ToStringMeta(k).String(), stdlib.Describe(v))
			}
			if s.aliases == nil {
				s.aliases = map[string]string{}
			}
			s.aliases[string(ks)] = string(vs)
		})
	default:
		L.RaiseError("job.run: columns must be a table: the report's input columns as an array, and/or keys mapped to the file's column names (num_iid = \"宝贝ID\"), got %s", stdlib.Describe(c))
	}
	return s
}
