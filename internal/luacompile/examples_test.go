package luacompile

import (
	"os"
	"path/filepath"
	"reflect"
	"testing"

	lua "github.com/yuin/gopher-lua"
)

func exampleScripts(t testing.TB) map[string]string {
	t.Helper()
	paths, err := filepath.Glob("../../scripts/examples/*.lua")
	if err != nil || len(paths) == 0 {
		t.Fatalf("no example scripts: %v", err)
	}
	out := map[string]string{}
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		out[filepath.Base(p)] = string(b)
	}
	return out
}

// TestExamplesCompileUnchanged: the operator scripts in scripts/examples
// compile to the same bytecode with and without the rewrite, so the
// rewrite costs them nothing at run time.
func TestExamplesCompileUnchanged(t *testing.T) {
	for name, src := range exampleScripts(t) {
		rewritten, err := Compile(name, src)
		if err != nil {
			t.Fatal(err)
		}
		chunk, err := Parse(name, src)
		if err != nil {
			t.Fatal(err)
		}
		plain, err := compile(name, src, chunk)
		if err != nil {
			t.Fatal(err)
		}
		if !sameCode(rewritten, plain) {
			t.Errorf("%s: the rewrite changed its bytecode", name)
		}
	}
}

// sameCode compares two prototypes' instructions, recursively.
func sameCode(a, b *lua.FunctionProto) bool {
	if !reflect.DeepEqual(a.Code, b.Code) || len(a.FunctionPrototypes) != len(b.FunctionPrototypes) {
		return false
	}
	for i := range a.FunctionPrototypes {
		if !sameCode(a.FunctionPrototypes[i], b.FunctionPrototypes[i]) {
			return false
		}
	}
	return true
}
