package stdlib

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	lua "github.com/yuin/gopher-lua"

	"github.com/topscript/topscript/luathread"
	"github.com/topscript/topscript/toptime"
)

// The time module speaks the gateway's language: wall-clock strings
// "yyyy-MM-dd HH:mm:ss" in GMT+8 whatever the host's zone, and unix seconds.
//
//	time.now()                 --> "2024-11-11 00:00:00"
//	time.unix()                --> 1731254400
//	time.parse(s)              --> unix seconds ("yyyy-MM-dd HH:mm:ss" or "yyyy-MM-dd")
//	time.format(unix[, layout]) --> "yyyy-MM-dd HH:mm:ss" (layout in the same tokens)
//	time.add(t, "30m")         --> t moved by a duration ("1d", "1d12h", "-90s"), same type as t
//	time.windows(from, to, step) --> iterator of (from, to) pairs covering [from, to)
//	time.sleep("2s")           --  cancellable; raises "interrupted"

func openTime(env *Env) lua.LGFunction {
	return func(L *lua.LState) int {
		newModule(L, map[string]lua.LGFunction{
			"now": func(L *lua.LState) int {
				L.Push(lua.LString(env.now().Format(toptime.Layout)))
				return 1
			},
			"unix": func(L *lua.LState) int {
				L.Push(lua.LNumber(env.now().Unix()))
				return 1
			},
			"parse": func(L *lua.LState) int {
				t, _ := checkTime(L, 1, "time.parse")
				L.Push(lua.LNumber(t.Unix()))
				return 1
			},
			"format": timeFormat,
			"add":    timeAdd,
			"windows": func(L *lua.LState) int {
				return timeWindows(L)
			},
			"sleep": func(L *lua.LState) int {
				return timeSleep(L, env)
			},
		})
		return 1
	}
}

// timeLayouts are the string forms time.parse accepts, in GMT+8.
var timeLayouts = []string{
	toptime.Layout,
	"2006-01-02",
	"2006-01-02 15:04",
	"2006-01-02T15:04:05",
	"2006/01/02 15:04:05",
	"2006/01/02",
}

// parseTime reads a gateway-style time string in GMT+8. Strings carrying a
// zone (RFC 3339) keep their zone.
func parseTime(s string) (time.Time, error) {
	s = strings.TrimSpace(s)
	for _, layout := range timeLayouts {
		if t, err := time.ParseInLocation(layout, s, toptime.Zone); err == nil {
			return t, nil
		}
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	return time.Time{}, fmt.Errorf("bad time %q (want \"yyyy-MM-dd HH:mm:ss\" or \"yyyy-MM-dd\", GMT+8)", s)
}

// checkTime reads argument n as a time: a string parseTime accepts or unix
// seconds. It reports whether the argument was a string, so results can come
// back in the caller's type.
func checkTime(L *lua.LState, n int, fn string) (time.Time, bool) {
	switch v := L.Get(n).(type) {
	case lua.LString:
		t, err := parseTime(string(v))
		if err != nil {
			L.RaiseError("%s: %v", fn, err)
		}
		return t, true
	case lua.LNumber:
		f := float64(v)
		if math.IsNaN(f) || math.IsInf(f, 0) {
			L.RaiseError("%s: bad time %v", fn, v)
		}
		sec, frac := math.Modf(f)
		return time.Unix(int64(sec), int64(frac*1e9)).In(toptime.Zone), false
	default:
		L.RaiseError("%s: argument #%d: want a time string or unix seconds, got %s", fn, n, L.Get(n).Type())
		return time.Time{}, false
	}
}

// pushTime pushes t as a gateway string or as unix seconds.
func pushTime(L *lua.LState, t time.Time, asString bool) {
	if asString {
		L.Push(lua.LString(toptime.Format(t)))
		return
	}
	L.Push(lua.LNumber(t.Unix()))
}

// parseDuration reads Go durations ("1h30m", "500ms") extended with days
// ("1d", "2d12h"; a day is 24 hours, GMT+8 has no DST). A bare number is
// seconds.
func ParseDuration(s string) (time.Duration, error) {
	orig := s
	s = strings.TrimSpace(s)
	if s == "" {
		return 0, fmt.Errorf("bad duration %q", orig)
	}
	if f, err := strconv.ParseFloat(s, 64); err == nil {
		return time.Duration(f * float64(time.Second)), nil
	}
	neg := false
	if s[0] == '-' || s[0] == '+' {
		neg = s[0] == '-'
		s = s[1:]
	}
	var d time.Duration
	// A leading "<number>d" segment.
	i := 0
	for i < len(s) && (s[i] >= '0' && s[i] <= '9' || s[i] == '.') {
		i++
	}
	if i > 0 && i < len(s) && s[i] == 'd' {
		days, err := strconv.ParseFloat(s[:i], 64)
		if err != nil {
			return 0, fmt.Errorf("bad duration %q", orig)
		}
		d = time.Duration(days * float64(24*time.Hour))
		s = s[i+1:]
	}
	if s != "" {
		rest, err := time.ParseDuration(s)
		if err != nil || rest < 0 {
			return 0, fmt.Errorf("bad duration %q (want e.g. \"30s\", \"10m\", \"2h\", \"1d\")", orig)
		}
		d += rest
	}
	if neg {
		d = -d
	}
	return d, nil
}

// checkDuration reads argument n as a duration string or seconds.
func checkDuration(L *lua.LState, n int, fn string) time.Duration {
	switch v := L.Get(n).(type) {
	case lua.LString:
		d, err := ParseDuration(string(v))
		if err != nil {
			L.RaiseError("%s: %v", fn, err)
		}
		return d
	case lua.LNumber:
		return time.Duration(float64(v) * float64(time.Second))
	default:
		L.RaiseError("%s: argument #%d: want a duration like \"30s\" or seconds, got %s", fn, n, L.Get(n).Type())
		return 0
	}
}

// javaLayout turns the yyyy-MM-dd HH:mm:ss tokens users know from the
// platform docs into a Go layout.
var javaLayout = strings.NewReplacer(
	"yyyy", "2006", "MM", "01", "dd", "02", "HH", "15", "mm", "04", "ss", "05", "SSS", "000",
)

func timeFormat(L *lua.LState) int {
	t, _ := checkTime(L, 1, "time.format")
	layout := toptime.Layout
	if s, ok := L.Get(2).(lua.LString); ok && s != "" {
		layout = javaLayout.Replace(string(s))
	}
	L.Push(lua.LString(t.In(toptime.Zone).Format(layout)))
	return 1
}

func timeAdd(L *lua.LState) int {
	t, asString := checkTime(L, 1, "time.add")
	d := checkDuration(L, 2, "time.add")
	pushTime(L, t.Add(d), asString)
	return 1
}

// timeWindows returns an iterator over consecutive [from, to) windows of
// length step covering [from, to), the last one clipped at to. Windows come
// back as strings when from was a string, else as unix seconds.
func timeWindows(L *lua.LState) int {
	from, asString := checkTime(L, 1, "time.windows")
	to, _ := checkTime(L, 2, "time.windows")
	step := checkDuration(L, 3, "time.windows")
	if step <= 0 {
		L.RaiseError("time.windows: step must be positive, got %s", L.Get(3).String())
	}
	cur := from
	L.Push(L.NewFunction(func(L *lua.LState) int {
		if !cur.Before(to) {
			L.Push(lua.LNil)
			return 1
		}
		end := cur.Add(step)
		if end.After(to) {
			end = to
		}
		pushTime(L, cur, asString)
		pushTime(L, end, asString)
		cur = end
		return 2
	}))
	return 1
}

// timeSleep sleeps for a duration, returning early with the Lua error
// "interrupted" when the run's context is done.
func timeSleep(L *lua.LState, env *Env) int {
	d := checkDuration(L, 1, "time.sleep")
	if d <= 0 {
		return 0
	}
	ctx := env.context(L)
	var lctx <-chan struct{}
	if c := L.Context(); c != nil && c != ctx {
		lctx = c.Done()
	}
	timer := time.NewTimer(d)
	defer timer.Stop()
	slept := false
	luathread.Blocking(L, func() { // other handlers of tmc.listen run meanwhile
		select {
		case <-timer.C:
			slept = true
		case <-ctx.Done():
		case <-lctx:
		}
	})
	if !slept {
		L.RaiseError("interrupted")
	}
	return 0
}
