package stdlib

import (
	"fmt"
	"time"

	lua "github.com/yuin/gopher-lua"

	"github.com/topscript/topscript/top"
)

// CallOptionNames are the per-call options of the Lua contract
// (`opts` of top.call and of a job's call function).
var CallOptionNames = []string{"session", "timeout", "retries", "simplify"}

// SetCallOption applies the Lua option name = val to co. It reports false
// for a name that is not a call option (the caller decides whether that is
// an error), and an error naming the option for a value of the wrong kind:
// session a string, timeout a duration string ("10s") or seconds, retries a
// number ≥ 0, simplify a boolean.
func SetCallOption(co *top.CallOptions, name string, val lua.LValue) (bool, error) {
	bad := func(want string) error {
		return fmt.Errorf("opts.%s must be %s, got %s", name, want, val.Type().String())
	}
	switch name {
	case "session":
		s, ok := val.(lua.LString)
		if !ok {
			return true, bad("a string")
		}
		co.Session = string(s)
	case "timeout":
		switch x := val.(type) {
		case lua.LString:
			d, err := time.ParseDuration(string(x))
			if err != nil || d <= 0 {
				return true, fmt.Errorf("opts.timeout: invalid duration %q (use e.g. \"10s\")", string(x))
			}
			co.Timeout = d
		case lua.LNumber:
			if x <= 0 {
				return true, fmt.Errorf("opts.timeout must be positive")
			}
			co.Timeout = time.Duration(float64(x) * float64(time.Second))
		default:
			return true, bad(`a duration like "10s"`)
		}
	case "retries":
		n, ok := val.(lua.LNumber)
		if !ok || n < 0 {
			return true, bad("a number ≥ 0")
		}
		co.Retries = int(n)
	case "simplify":
		b, ok := val.(lua.LBool)
		if !ok {
			return true, bad("a boolean")
		}
		v := bool(b)
		co.Simplify = &v
	default:
		return false, nil
	}
	return true, nil
}
