// Package stdlib holds the general Lua modules topscript gives scripts:
// json, csv, xlsx, time, log, iter and state, and the conversion of values
// between Lua and Go (ToLua, FromLua; numbers become text by the one rule
// of internal/numtext). It knows nothing of TOP: the `top` and `job`
// modules live in package luatop, which builds on this one. Each module
// lives in its own file as a loader plus a table of Go functions, in the
// style of gopher-lua's own libraries, and is registered in package.preload
// by Preload, so scripts load it with require("json") and friends.
//
// The modules reach the host only through an Env: its context (for
// cancellation), its logger, its standard output, its clock and, for
// state, its state store.
package stdlib

import (
	"context"
	"io"
	"log/slog"
	"os"
	"sort"
	"sync"
	"time"

	lua "github.com/yuin/gopher-lua"

	"github.com/topscript/topscript/luathread"
	"github.com/topscript/topscript/state"
	"github.com/topscript/topscript/toptime"
)

// Env is what the modules need from their host. Every field is optional: a
// nil Context means context.Background, a nil Logger logs text to stderr, a
// nil Stdout is os.Stdout and a nil Now is time.Now.
type Env struct {
	// Context returns the context of the run in progress; time.sleep returns
	// early with the error "interrupted" when it is done.
	Context func() context.Context
	// Logger receives the log module's records.
	Logger *slog.Logger
	// Stdout is where modules write a script's output (csv.writer("-")).
	Stdout io.Writer
	// Now is the clock of the time module; tests inject a fixed one.
	Now func() time.Time

	// Store backs the state module. Nil means an in-memory store private
	// to this Env: nothing persists between runs.
	Store state.Store
	// Redact, when set, rewrites every text cell csv.writer and
	// xlsx.writer write: the host's hiding of known secrets.
	Redact func(string) string

	memOnce sync.Once
	mem     state.Store
	files   rowFiles // the open files of unfinished csv.rows and xlsx.rows iterators, unclosed xlsx writers
}

// module is one entry of the registry: a name for require and a loader
// bound to the host's Env.
type module struct {
	name string
	open func(env *Env) lua.LGFunction
}

// registry lists the modules Preload knows, in the order they register.
var registry = []module{
	{"json", openJSON},
	{"csv", openCSV},
	{"xlsx", openXLSX},
	{"time", openTime},
	{"log", openLog},
	{"iter", openIter},
	{"state", openState},
}

// Names returns the names of the modules Preload can register, sorted.
func Names() []string {
	names := make([]string, 0, len(registry))
	for _, m := range registry {
		names = append(names, m.name)
	}
	sort.Strings(names)
	return names
}

// Preload registers the stdlib modules in L's package.preload, so that
// require(name) loads them. allow filters modules by name; a nil allow
// admits them all. env may be nil.
func Preload(L *lua.LState, env *Env, allow func(name string) bool) {
	if env == nil {
		env = &Env{}
	}
	for _, m := range registry {
		if allow != nil && !allow(m.name) {
			continue
		}
		L.PreloadModule(m.name, m.open(env))
	}
}

// context returns the context a blocking call should honour: the Lua
// thread's own when L runs in a luathread.Group (a tmc.listen handler: it
// outlives the run's interrupt until the handler is done), else the Env's,
// failing that the LState's, and failing that Background.
func (e *Env) context(L *lua.LState) context.Context {
	if L != nil {
		if ctx := luathread.Context(L); ctx != nil {
			return ctx
		}
	}
	if e.Context != nil {
		if ctx := e.Context(); ctx != nil {
			return ctx
		}
	}
	if L != nil {
		if ctx := L.Context(); ctx != nil {
			return ctx
		}
	}
	return context.Background()
}

// logger returns the Env's logger or a text logger on stderr.
func (e *Env) logger() *slog.Logger {
	if e.Logger != nil {
		return e.Logger
	}
	return slog.New(slog.NewTextHandler(os.Stderr, nil))
}

// stdout returns the Env's standard output.
func (e *Env) stdout() io.Writer {
	if e.Stdout != nil {
		return e.Stdout
	}
	return os.Stdout
}

// now returns the current time in GMT+8.
func (e *Env) now() time.Time {
	if e.Now != nil {
		return e.Now().In(toptime.Zone)
	}
	return time.Now().In(toptime.Zone)
}

// store returns the Env's state store, or its private in-memory one.
func (e *Env) store() state.Store {
	if e.Store != nil {
		return e.Store
	}
	e.memOnce.Do(func() { e.mem = state.NewMemStore() })
	return e.mem
}

// newModule builds a module table from fns and pushes it, the body of every
// loader.
func newModule(L *lua.LState, fns map[string]lua.LGFunction) *lua.LTable {
	mod := L.NewTable()
	L.SetFuncs(mod, fns)
	L.Push(mod)
	return mod
}
