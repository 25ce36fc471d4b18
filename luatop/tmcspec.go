package luatop

import (
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	lua "github.com/yuin/gopher-lua"

	"github.com/topscript/topscript/stdlib"
	"github.com/topscript/topscript/tmc"
)

// tmc.listen's argument table and the topics of tmc.listen and tmc.permit.

// Limits and defaults of tmc.listen.
const (
	// MaxTMCConcurrency bounds tmc.listen's concurrency.
	MaxTMCConcurrency = 64
	// DefaultTMCSummary is the period of tmc.listen's summary line.
	DefaultTMCSummary = time.Minute
	// maxGroupName is the platform's limit on a group name.
	maxGroupName = 32
)

// listenSpec is tmc.listen's argument table.
type listenSpec struct {
	handler     *lua.LFunction
	topics      []string // exact names, or prefixes ending in "*"; nil: every topic
	group       string
	concurrency int
	tick        *lua.LFunction // nil: no tick
	tickEvery   time.Duration
	summary     time.Duration // 0: no periodic summary
}

var listenFields = []string{"concurrency", "group", "handler", "summary", "tick", "topics"}

// checkListenSpec reads tmc.listen's argument.
func checkListenSpec(L *lua.LState) *listenSpec {
	const fn = "tmc.listen"
	t, ok := L.Get(1).(*lua.LTable)
	if !ok {
		L.RaiseError("%s: want a table {topics=, group=, concurrency=, handler=function(msg) ... end}, got %s", fn, stdlib.Describe(L.Get(1)))
	}
	checkFields(L, fn, t, listenFields)
	s := &listenSpec{group: tmc.DefaultGroup, concurrency: tmc.DefaultConcurrency, summary: DefaultTMCSummary}
	switch h := t.RawGetString("handler").(type) {
	case *lua.LFunction:
		s.handler = h
	case *lua.LNilType:
		L.RaiseError("%s: handler is required: function(msg) handling one message (an error fails it)", fn)
	default:
		L.RaiseError("%s: handler must be a function(msg), got %s", fn, stdlib.Describe(h))
	}
	s.topics = checkTopics(L, fn, t.RawGetString("topics"), true)
	switch g := t.RawGetString("group").(type) {
	case *lua.LNilType:
	case lua.LString:
		if g == "" || len(g) > maxGroupName {
			L.RaiseError("%s: group must be a name of 1 to %d characters, got %q", fn, maxGroupName, string(g))
		}
		s.group = string(g)
	default:
		L.RaiseError("%s: group must be a string, got %s", fn, stdlib.Describe(g))
	}
	switch c := t.RawGetString("concurrency").(type) {
	case *lua.LNilType:
	case lua.LNumber:
		if c < 1 || c > MaxTMCConcurrency || float64(c) != float64(int(c)) {
			L.RaiseError("%s: concurrency must be an integer from 1 to %d, got %v", fn, MaxTMCConcurrency, c)
		}
		s.concurrency = int(c)
	default:
		L.RaiseError("%s: concurrency must be a number, got %s", fn, stdlib.Describe(c))
	}
	switch v := t.RawGetString("summary").(type) {
	case *lua.LNilType:
	case lua.LBool:
		if v {
			L.RaiseError("%s: summary must be a period such as \"1m\", or false for none", fn)
		}
		s.summary = 0
	default:
		s.summary = checkPeriod(L, fn+": summary", v)
	}
	switch v := t.RawGetString("tick").(type) {
	case *lua.LNilType:
	case *lua.LTable:
		checkFields(L, fn+": tick", v, []string{"every", "run"})
		run, ok := v.RawGetString("run").(*lua.LFunction)
		if !ok {
			L.RaiseError("%s: tick.run must be a function, got %s", fn, stdlib.Describe(v.RawGetString("run")))
		}
		if v.RawGetString("every") == lua.LNil {
			L.RaiseError("%s: tick.every is required: a period such as \"10m\"", fn)
		}
		s.tick, s.tickEvery = run, checkPeriod(L, fn+": tick.every", v.RawGetString("every"))
	default:
		L.RaiseError("%s: tick must be a table {every = \"10m\", run = function() ... end}, got %s", fn, stdlib.Describe(v))
	}
	return s
}

// checkFields raises naming the first key of t not in known.
func checkFields(L *lua.LState, fn string, t *lua.LTable, known []string) {
	var unknown []string
	t.ForEach(func(k, _ lua.LValue) {
		if s, ok := k.(lua.LString); !ok || !slices.Contains(known, string(s)) {
			unknown = append(unknown, L.ToStringMeta(k).String())
		}
	})
	if len(unknown) > 0 {
		sort.Strings(unknown)
		L.RaiseError("%s: unknown field %q (fields: %s)", fn, unknown[0], strings.Join(known, ", "))
	}
}

// checkPeriod reads a positive duration ("10m", or seconds).
func checkPeriod(L *lua.LState, what string, v lua.LValue) time.Duration {
	var d time.Duration
	switch x := v.(type) {
	case lua.LString:
		var err error
		if d, err = stdlib.ParseDuration(string(x)); err != nil {
			L.RaiseError("%s: %v", what, err)
		}
	case lua.LNumber:
		d = time.Duration(float64(x) * float64(time.Second))
	default:
		L.RaiseError("%s must be a period such as \"10m\" or seconds, got %s", what, stdlib.Describe(v))
	}
	if d <= 0 {
		L.RaiseError("%s must be positive, got %s", what, L.ToStringMeta(v).String())
	}
	return d
}

// checkTopics reads a list of topic names (nil when v is nil). With
// patterns, a name may end in "*" to stand for every topic it prefixes.
func checkTopics(L *lua.LState, fn string, v lua.LValue, patterns bool) []string {
	switch t := v.(type) {
	case *lua.LNilType:
		return nil
	case *lua.LTable:
		n := t.Len()
		if n == 0 {
			L.RaiseError("%s: topics must be a non-empty list of topic names such as \"taobao_trade_TradeBuyerPay\" (leave it out for every topic)", fn)
		}
		out := make([]string, 0, n)
		for i := 1; i <= n; i++ {
			s, ok := t.RawGetInt(i).(lua.LString)
			name := string(s)
			if !ok || strings.TrimSpace(name) != name || name == "" || strings.ContainsAny(name, ", ") {
				L.RaiseError("%s: topics[%d] must be a topic name such as \"taobao_trade_TradeBuyerPay\", got %s", fn, i, stdlib.Describe(t.RawGetInt(i)))
			}
			if star := strings.IndexByte(name, '*'); star >= 0 && (!patterns || star != len(name)-1) {
				if patterns {
					L.RaiseError("%s: topics[%d] %q: a \"*\" may only end a name (\"taobao_trade_*\")", fn, i, name)
				}
				L.RaiseError("%s: topics[%d] %q: name each topic (no \"*\")", fn, i, name)
			}
			out = append(out, name)
		}
		return out
	default:
		L.RaiseError("%s: topics must be a list of topic names, got %s", fn, stdlib.Describe(v))
		return nil
	}
}

// topicMatch reports whether topic is one of topics (nil: every topic).
func topicMatch(topics []string, topic string) bool {
	if topics == nil {
		return true
	}
	for _, p := range topics {
		if prefix, ok := strings.CutSuffix(p, "*"); ok {
			if strings.HasPrefix(topic, prefix) {
				return true
			}
		} else if p == topic {
			return true
		}
	}
	return false
}

// describeTopics is topics for a log line.
func describeTopics(topics []string) string {
	if topics == nil {
		return "all"
	}
	return fmt.Sprint(topics)
}
