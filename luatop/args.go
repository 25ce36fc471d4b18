package luatop

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	lua "github.com/yuin/gopher-lua"

	"github.com/topscript/topscript/internal/numtext"
	"github.com/topscript/topscript/stdlib"
	"github.com/topscript/topscript/top"
)

// This file reads the arguments scripts pass: method names, params and the
// one option-table parser of top.call, top.try, top.pages, top.each,
// top.call_all and of the opts a job's call function returns.

// argError raises "bad argument #n to 'top.fn' (msg)".
func argError(L *lua.LState, fn string, n int, msg string) {
	L.RaiseError("bad argument #%d to 'top.%s' (%s)", n, fn, msg)
}

// checkMethod reads argument n as a method name.
func checkMethod(L *lua.LState, fn string, n int) string {
	s, ok := L.Get(n).(lua.LString)
	if !ok || s == "" {
		if ok {
			argError(L, fn, n, "method must not be empty")
		}
		argError(L, fn, n, "method must be a string, got "+stdlib.Describe(L.Get(n)))
	}
	return string(s)
}

// convParams converts a params value (nil or a table of name = value
// pairs; an empty table is no params); root names it in errors.
func convParams(v lua.LValue, root string) (top.Params, error) {
	switch t := v.(type) {
	case *lua.LNilType:
		return nil, nil
	case *lua.LTable:
		g, err := stdlib.FromLuaAt(t, root, "a parameter")
		if err != nil {
			return nil, err
		}
		if err := checkExact(g, root); err != nil {
			return nil, err
		}
		switch x := g.(type) {
		case map[string]any:
			return top.Params(x), nil
		case []any:
			if len(x) == 0 {
				return top.Params{}, nil
			}
			return nil, fmt.Errorf("%s must be a table of name = value pairs, not a list", root)
		}
	}
	return nil, fmt.Errorf("%s must be a table, got %s", root, stdlib.Describe(v))
}

// exactDigits is how many significant decimal digits any number written
// with at most that many reads back exactly from a Lua number (a float64).
const exactDigits = 15

// checkExact refuses a number among converted params (v, at path) that
// cannot be sent exactly as it was written: an integer from 2^53 on or a
// fraction whose shortest decimal form needs more than exactDigits
// significant digits. Such a number did not come from a literal of at most
// exactDigits digits, so it may already differ from what the script wrote
// (tid = 2026120112345678901 is the Lua number 2026120112345678848): sent,
// it would write to another object or set another value. Integers within
// 2^53 are exact; so is a number like 1e20, whose digits are few.
func checkExact(v any, path string) error {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			if err := checkExact(e, path+"."+k); err != nil {
				return err
			}
		}
	case []any:
		for i, e := range x {
			if err := checkExact(e, fmt.Sprintf("%s[%d]", path, i+1)); err != nil {
				return err
			}
		}
	case int64:
		if x >= 1<<53 || x <= -(1<<53) { // 2^53 itself is also what 2^53+1 becomes
			return inexact(float64(x), path)
		}
	case float64:
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return fmt.Errorf("%s: %s cannot be sent (not a number)", path, numtext.Format(x))
		}
		return inexact(x, path)
	}
	return nil
}

// inexact is checkExact's verdict on f: nil when its shortest decimal form
// has at most exactDigits significant digits.
func inexact(f float64, path string) error {
	mant := strconv.FormatFloat(math.Abs(f), 'e', -1, 64) // d.ddde±x
	mant, _, _ = strings.Cut(mant, "e")
	if len(strings.Replace(mant, ".", "", 1)) <= exactDigits {
		return nil
	}
	what := "this Lua number (a float) has lost digits of what was written"
	if f == math.Trunc(f) {
		what = "integers beyond 2^53 lose their last digits as Lua numbers"
	}
	return fmt.Errorf("%s: %s cannot be sent exactly as a Lua number (%s); pass it as a string of its digits",
		path, numtext.Format(f), what)
}

// checkParams reads argument n as params.
func checkParams(L *lua.LState, fn string, n int) top.Params {
	p, err := convParams(L.Get(n), "params")
	if err != nil {
		argError(L, fn, n, err.Error())
	}
	return p
}

// callOpts are the options of call/try/pages/each/call_all.
type callOpts struct {
	call        *top.CallOptions // nil when none of session/timeout/retries/simplify/skip_validation/idempotent is set
	items       string
	reverse     bool
	pageSize    int
	useHasNext  bool
	concurrency int
	batch       int // call_all: sub-requests per /router/batch request (0 or 1: no batching)
}

// The option names each function takes: the per-call options of the Lua
// contract, and what pages/each and call_all add to them.
var (
	callKeys  = []string{"session", "timeout", "retries", "simplify", "skip_validation", "idempotent"}
	pageKeys  = append(callKeys[:len(callKeys):len(callKeys)], "items", "reverse", "page_size", "use_has_next")
	batchKeys = append(callKeys[:len(callKeys):len(callKeys)], "concurrency", "batch")
)

// parseOpts reads an opts table over base (which it does not modify),
// accepting the names in allowed.
func parseOpts(v lua.LValue, base callOpts, allowed []string) (callOpts, error) {
	o := base
	t, ok := v.(*lua.LTable)
	if !ok {
		if v == lua.LNil {
			return o, nil
		}
		return o, fmt.Errorf("opts must be a table, got %s", stdlib.Describe(v))
	}
	co := top.CallOptions{Retries: -1}
	if base.call != nil {
		co = *base.call
	}
	setCall := base.call != nil
	var keys []string
	nonString := false
	t.ForEach(func(k, _ lua.LValue) {
		if s, ok := k.(lua.LString); ok {
			keys = append(keys, string(s))
		} else {
			nonString = true
		}
	})
	if nonString {
		return o, errors.New("opts keys must be strings")
	}
	sort.Strings(keys) // the first bad option named is always the same
	for _, name := range keys {
		if !slices.Contains(allowed, name) {
			return o, fmt.Errorf("unknown option %q", name)
		}
		val := t.RawGetString(name)
		bad := func(want string) error {
			return fmt.Errorf("opts.%s must be %s, got %s", name, want, stdlib.Describe(val))
		}
		var err error
		switch name {
		case "session", "timeout", "retries", "simplify", "skip_validation", "idempotent":
			err, setCall = setCallOption(&co, name, val), true
		case "items":
			s, ok := val.(lua.LString)
			if !ok {
				return o, bad("a string")
			}
			o.items = string(s)
		case "reverse", "use_has_next":
			b, ok := val.(lua.LBool)
			if !ok {
				return o, bad("a boolean")
			}
			if name == "reverse" {
				o.reverse = bool(b)
			} else {
				o.useHasNext = bool(b)
			}
		case "page_size", "concurrency", "batch":
			n, ok := val.(lua.LNumber)
			if !ok || n < 1 {
				return o, bad("a number ≥ 1")
			}
			switch name {
			case "page_size":
				o.pageSize = int(n)
			case "concurrency":
				o.concurrency = int(n)
			default:
				o.batch = int(n)
			}
		}
		if err != nil {
			return o, err
		}
	}
	if setCall {
		o.call = &co
	}
	return o, nil
}

// setCallOption applies the per-call option name = val to co: session a
// string, timeout a duration string ("10s") or seconds, retries a number
// ≥ 0, simplify and skip_validation booleans, idempotent a boolean
// (top.CallOptions.Idempotent).
func setCallOption(co *top.CallOptions, name string, val lua.LValue) error {
	bad := func(want string) error {
		return fmt.Errorf("opts.%s must be %s, got %s", name, want, val.Type().String())
	}
	switch name {
	case "session":
		s, ok := val.(lua.LString)
		if !ok {
			return bad("a string")
		}
		co.Session = string(s)
	case "timeout":
		switch x := val.(type) {
		case lua.LString:
			d, err := time.ParseDuration(string(x))
			if err != nil || d <= 0 {
				return fmt.Errorf("opts.timeout: invalid duration %q (use e.g. \"10s\")", string(x))
			}
			co.Timeout = d
		case lua.LNumber:
			if x <= 0 {
				return fmt.Errorf("opts.timeout must be positive")
			}
			co.Timeout = time.Duration(float64(x) * float64(time.Second))
		default:
			return bad(`a duration like "10s"`)
		}
	case "retries":
		n, ok := val.(lua.LNumber)
		if !ok || n < 0 {
			return bad("a number ≥ 0")
		}
		co.Retries = int(n)
	case "simplify", "idempotent":
		b, ok := val.(lua.LBool)
		if !ok {
			return bad("a boolean")
		}
		v := bool(b)
		if name == "simplify" {
			co.Simplify = &v
		} else {
			co.Idempotent = &v
		}
	case "skip_validation":
		b, ok := val.(lua.LBool)
		if !ok {
			return bad("a boolean")
		}
		co.SkipValidation = bool(b)
	}
	return nil
}

func checkOpts(L *lua.LState, fn string, n int, allowed []string) callOpts {
	o, err := parseOpts(L.Get(n), callOpts{}, allowed)
	if err != nil {
		argError(L, fn, n, err.Error())
	}
	return o
}
