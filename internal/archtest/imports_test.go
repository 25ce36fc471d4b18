package archtest

import (
	"bufio"
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

const module = "github.com/topscript/topscript"

// pkg is one package of the module as go list sees it.
type pkg struct {
	path        string   // relative to the module: "luatop", "cmd/topscript"
	imports     []string // this module's packages it imports, relative
	testImports []string // ...in its tests (both test packages)
	external    []string // other modules' packages it imports (not its tests)
}

// root is the module's directory.
func root(t *testing.T) string {
	t.Helper()
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		t.Fatalf("go env GOMOD: %v", err)
	}
	return filepath.Dir(strings.TrimSpace(string(out)))
}

// packages lists the module's packages with their imports.
func packages(t *testing.T, dir string) map[string]pkg {
	t.Helper()
	cmd := exec.Command("go", "list", "-f", "{{.ImportPath}}|{{join .Imports \" \"}}|{{join .TestImports \" \"}} {{join .XTestImports \" \"}}", "./...")
	cmd.Dir = dir
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	rel := func(p string) (string, bool) {
		if p == module {
			return ".", true
		}
		r, ok := strings.CutPrefix(p, module+"/")
		return r, ok
	}
	pkgs := map[string]pkg{}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		f := strings.Split(line, "|")
		if len(f) != 3 {
			t.Fatalf("go list line %q", line)
		}
		p := pkg{}
		p.path, _ = rel(f[0])
		for _, imp := range strings.Fields(f[1]) {
			if r, ok := rel(imp); ok {
				p.imports = append(p.imports, r)
			} else if strings.Contains(strings.SplitN(imp, "/", 2)[0], ".") {
				p.external = append(p.external, imp)
			}
		}
		for _, imp := range strings.Fields(f[2]) {
			if r, ok := rel(imp); ok && r != p.path {
				p.testImports = append(p.testImports, r)
			}
		}
		pkgs[p.path] = p
	}
	return pkgs
}

// rules reads the import rules of docs/ARCHITECTURE.md: "pkg: a b c" lines
// between the imports markers, "-" for none.
func rules(t *testing.T, dir string) map[string][]string {
	t.Helper()
	doc, err := os.ReadFile(filepath.Join(dir, "docs", "ARCHITECTURE.md"))
	if err != nil {
		t.Fatal(err)
	}
	_, rest, ok := bytes.Cut(doc, []byte("<!-- imports:begin -->"))
	block, _, ok2 := bytes.Cut(rest, []byte("<!-- imports:end -->"))
	if !ok || !ok2 {
		t.Fatal("docs/ARCHITECTURE.md has no imports:begin/imports:end block")
	}
	out := map[string][]string{}
	sc := bufio.NewScanner(bytes.NewReader(block))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		name, allowed, found := strings.Cut(line, ":")
		if !found || strings.HasPrefix(line, "```") {
			continue
		}
		list := strings.Fields(allowed)
		if len(list) == 1 && list[0] == "-" {
			list = nil
		}
		out[strings.TrimSpace(name)] = list
	}
	if len(out) < 10 {
		t.Fatalf("read only %d rules from docs/ARCHITECTURE.md", len(out))
	}
	return out
}

// Every package imports only what its line of docs/ARCHITECTURE.md allows,
// and every package has a line.
func TestImportsFollowTheArchitecture(t *testing.T) {
	dir := root(t)
	pkgs, allowed := packages(t, dir), rules(t, dir)
	for _, p := range pkgs {
		list, ok := allowed[p.path]
		if !ok {
			t.Errorf("package %s has no line in docs/ARCHITECTURE.md (what may it import?)", p.path)
			continue
		}
		for _, imp := range p.imports {
			if !slices.Contains(list, imp) {
				t.Errorf("%s imports %s, which docs/ARCHITECTURE.md does not allow it (allowed: %s)", p.path, imp, strings.Join(list, " "))
			}
		}
	}
	for name := range allowed {
		if _, ok := pkgs[name]; !ok {
			t.Errorf("docs/ARCHITECTURE.md has a line for %s, which does not exist", name)
		}
	}
}

// The two rules the layout is for, tests included: nothing below luatop
// imports it, and stdlib imports nothing of top.
func TestLuaTopLayering(t *testing.T) {
	pkgs := packages(t, root(t))
	above := []string{"luatop", "engine", "repl", "cmd/topscript/internal/cli", "cmd/topscript", "bench",
		"internal/reliability", "internal/archtest"}
	for _, p := range pkgs {
		if slices.Contains(above, p.path) {
			continue
		}
		if slices.Contains(p.imports, "luatop") || slices.Contains(p.testImports, "luatop") {
			t.Errorf("%s is below luatop but imports it", p.path)
		}
	}
	std := pkgs["stdlib"]
	for _, imp := range append(append([]string{}, std.imports...), std.testImports...) {
		if imp == "top" || strings.HasPrefix(imp, "top/") || imp == "luatop" {
			t.Errorf("stdlib imports %s: the general modules must know nothing of TOP", imp)
		}
	}
	if len(std.imports) == 0 {
		t.Fatal("go list found no imports of stdlib: the test reads nothing")
	}
}

// The packages that know nothing of Lua import no Lua package.
func TestLuaFreePackages(t *testing.T) {
	pkgs := packages(t, root(t))
	for _, name := range []string{"top", "top/catalog", "sandbox", "tmc", "tmc/wire", "sheet", "xlsx", "notify", "state", "config", "schedule", "toptime",
		"internal/redact", "internal/numtext", "internal/bytesize", "internal/luapattern", "internal/fastjson", "internal/suggest"} {
		p, ok := pkgs[name]
		if !ok {
			t.Errorf("no package %s", name)
			continue
		}
		for _, imp := range p.external {
			if strings.HasPrefix(imp, "github.com/yuin/gopher-lua") || strings.HasPrefix(imp, "layeh.com/gopher-luar") {
				t.Errorf("%s imports %s: it must know nothing of Lua", name, imp)
			}
		}
	}
}
