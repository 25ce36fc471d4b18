package lua51lib

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	lua "github.com/yuin/gopher-lua"

	"github.com/topscript/topscript/luathread"
)

// newState is a gopher-lua state with the standard libraries, print
// writing to out, and Open applied.
func newState(t *testing.T, out *strings.Builder) *lua.LState {
	t.Helper()
	L := lua.NewState()
	t.Cleanup(L.Close)
	capturePrint(L, out)
	Open(L)
	return L
}

// capturePrint makes print write to out.
func capturePrint(L *lua.LState, out *strings.Builder) {
	L.SetGlobal("print", L.NewFunction(func(L *lua.LState) int {
		for i := 1; i <= L.GetTop(); i++ {
			if i > 1 {
				out.WriteByte('\t')
			}
			out.WriteString(L.ToStringMeta(L.Get(i)).String())
		}
		out.WriteByte('\n')
		return 0
	}))
}

// TestScripts runs testdata/NAME.lua and compares its output with
// NAME.want, what lua5.1 prints for it. Where lua5.1 is installed the
// recordings are checked against it too. Each script exercises the
// functions this package replaces, on the inputs where gopher-lua's differ
// (see the package documentation).
func TestScripts(t *testing.T) {
	scripts, err := filepath.Glob("testdata/*.lua")
	if err != nil || len(scripts) == 0 {
		t.Fatalf("no scripts: %v", err)
	}
	lua51, _ := exec.LookPath("lua5.1")
	for _, path := range scripts {
		name := strings.TrimSuffix(filepath.Base(path), ".lua")
		t.Run(name, func(t *testing.T) {
			src, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			want, err := os.ReadFile(strings.TrimSuffix(path, ".lua") + ".want")
			if err != nil {
				t.Fatal(err)
			}
			if lua51 != "" {
				cmd := exec.Command(lua51, filepath.Base(path))
				cmd.Dir = "testdata"
				ref, err := cmd.CombinedOutput()
				if err != nil || string(ref) != string(want) {
					t.Errorf("lua5.1 prints (err %v):\n%s\nthe recording says:\n%s", err, ref, want)
				}
			}
			var out strings.Builder
			L := newState(t, &out)
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			L.SetContext(ctx)
			fn, err := L.Load(strings.NewReader(string(src)), filepath.Base(path))
			if err != nil {
				t.Fatal(err)
			}
			L.Push(fn)
			if err := L.PCall(0, 0, nil); err != nil {
				t.Fatalf("%v\noutput so far:\n%s", err, out.String())
			}
			if got := out.String(); got != string(want) {
				t.Errorf("got:\n%s\nwant (lua5.1):\n%s", got, want)
			}
			// Without Open, gopher-lua prints something else: the script
			// shows what the replacements change.
			if plain := runPlain(t, string(src), filepath.Base(path)); plain == string(want) {
				t.Errorf("gopher-lua's own library prints what lua5.1 prints: the script shows nothing")
			}
		})
	}
}

func runPlain(t *testing.T, src, name string) string {
	t.Helper()
	var out strings.Builder
	L := lua.NewState()
	defer L.Close()
	capturePrint(L, &out)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	L.SetContext(ctx)
	func() {
		defer func() { recover() }()
		if err := L.DoString(src); err != nil {
			out.WriteString("error: " + err.Error())
		}
	}()
	return out.String()
}

// TestPcallInSharedState: inside a luathread Group (tmc.listen's
// handlers), a function pcall runs sees the handler's context, as the
// handler itself does (the Go functions it calls wait on that context).
func TestPcallInSharedState(t *testing.T) {
	var out strings.Builder
	L := newState(t, &out)
	handlerCtx, cancel := context.WithCancel(context.Background())
	defer cancel()
	L.SetGlobal("probe", L.NewFunction(func(L *lua.LState) int {
		L.Push(lua.LBool(luathread.Context(L) == handlerCtx))
		return 1
	}))
	L.SetGlobal("listen", L.NewFunction(func(L *lua.LState) int {
		g, err := luathread.Share(L)
		if err != nil {
			L.RaiseError("%v", err)
		}
		luathread.Blocking(L, func() {
			err = g.Do(handlerCtx, func(T *lua.LState) error {
				return T.DoString(`print(probe(), (select(2, pcall(probe))), (select(2, xpcall(probe, print))))`)
			})
		})
		g.Close()
		if err != nil {
			L.RaiseError("%v", err)
		}
		return 0
	}))
	if err := L.DoString(`listen()`); err != nil {
		t.Fatal(err)
	}
	if got := out.String(); got != "true\ttrue\ttrue\n" {
		t.Errorf("got %q, want the handler's context everywhere", got)
	}
}
