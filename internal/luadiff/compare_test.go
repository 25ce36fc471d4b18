package luadiff

import (
	"strings"
	"testing"
)

// TestCompare: each rule tolerates what it names and nothing more.
func TestCompare(t *testing.T) {
	ok := Outcome{Stdout: "1\n"}
	fail := func(pos, msg string) Outcome { return Outcome{Stdout: "1\n", Failed: true, Pos: pos, Msg: msg} }
	for _, c := range []struct {
		name     string
		ref, got Outcome
		class    string // "" = agree
	}{
		{"same output", ok, ok, ""},
		{"other output", ok, Outcome{Stdout: "2\n"}, "stdout"},
		{"output cut short", ok, Outcome{Stdout: ""}, "stdout"},
		{"only one fails", ok, fail("prog.lua:1", "!1!"), "error"},
		{"only the reference fails", fail("prog.lua:1", "!1!"), ok, "error"},
		{"same marked error", fail("prog.lua:3", "!1!"), fail("prog.lua:3", "!1!"), ""},
		{"other marked message", fail("prog.lua:3", "!1!"), fail("prog.lua:3", "!2!"), "error"},
		{"marked message, other line", fail("prog.lua:3", "!1!"), fail("prog.lua:4", "!1!"), "error"},
		{"vm-message: VM errors worded differently", fail("prog.lua:3", "attempt to perform arithmetic on a nil value"), fail("prog.lua:3", "cannot perform add operation between nil and number"), ""},
		{"vm-message still compares the line", fail("prog.lua:3", "attempt to index a nil value"), fail("prog.lua:5", "attempt to index a non-table object(nil)"), "error"},
		{"engine-adds-position", fail("", "!1!"), fail("prog.lua:2", "!1!"), ""},
		{"engine-adds-position still compares the message", fail("", "!1!"), fail("prog.lua:2", "!2!"), "error"},
		{"address", fail("", "table: 0x55d0c0a1b2c0 !1!"), fail("prog.lua:1", "table: 0xc000123456 !1!"), ""},
		{"both hung", Outcome{Stdout: "1\n", Hung: true}, Outcome{Stdout: "1\n1\n", Hung: true}, ""},
		{"only the target hung", ok, Outcome{Stdout: "1\n", Hung: true}, "hang"},
		{"crash", ok, Outcome{Stdout: "1\n", Crash: "Go panic"}, "crash"},
		{"internal error", fail("prog.lua:1", "attempt to index a nil value"), fail("prog.lua:1", "internal error: runtime error: index out of range"), "crash"},
		{"syntax on one side only", Outcome{Failed: true, Syntax: true, Pos: "prog.lua:1"}, Outcome{Failed: true, Pos: "prog.lua:1", Msg: "x"}, "syntax"},
		{"syntax on both, same line", Outcome{Failed: true, Syntax: true, Pos: "prog.lua:2", Msg: "'end' expected"}, Outcome{Failed: true, Syntax: true, Pos: "prog.lua:2", Msg: "syntax error"}, ""},
		{"syntax on both, other line", Outcome{Failed: true, Syntax: true, Pos: "prog.lua:2"}, Outcome{Failed: true, Syntax: true, Pos: "prog.lua:3"}, "syntax"},
	} {
		d := Compare(c.ref, c.got)
		switch {
		case c.class == "" && d != nil:
			t.Errorf("%s: %v", c.name, d)
		case c.class != "" && d == nil:
			t.Errorf("%s: no divergence, want %s", c.name, c.class)
		case c.class != "" && d.Class != c.class:
			t.Errorf("%s: %s divergence, want %s", c.name, d.Class, c.class)
		}
	}
}

func TestSplitPosition(t *testing.T) {
	for in, want := range map[string][2]string{
		"prog.lua:3: boom":          {"prog.lua:3", "boom"},
		"boom":                      {"", "boom"},
		"prog.lua:3:boom":           {"", "prog.lua:3:boom"},
		"a b:3: c":                  {"", "a b:3: c"},
		`[string "x"]:1: y`:         {"", `[string "x"]:1: y`},
		"prog.lua:12: a: b: c":      {"prog.lua:12", "a: b: c"},
		"table: 0x55d0c0a1b2c0 !1!": {"", "table: 0x55d0c0a1b2c0 !1!"},
	} {
		pos, msg := SplitPosition(in)
		if pos != want[0] || msg != want[1] {
			t.Errorf("SplitPosition(%q) = %q, %q; want %q, %q", in, pos, msg, want[0], want[1])
		}
	}
}

// TestMinimise: statements the predicate does not need go; compound
// statements are flattened; the result still satisfies it.
func TestMinimise(t *testing.T) {
	p := &Program{Stmts: Block{
		simple("local a = 1"),
		compound("end", Part{Head: "for i = 1, 2 do", Body: Block{
			simple("print(a)"),
			compound("end", Part{Head: "if x then", Body: Block{simple("KEEP()")}}, Part{Head: "else", Body: Block{simple("y()")}}),
		}}),
		simple("print(2)"),
	}}
	calls := 0
	m := Minimise(p, func(c *Program) bool {
		calls++
		return strings.Contains(c.Source(), "KEEP()")
	})
	if got := m.Source(); got != "KEEP()\n" {
		t.Errorf("minimised to %q after %d tries", got, calls)
	}
	if !strings.Contains(p.Source(), "print(2)") {
		t.Error("Minimise changed its input")
	}
}

// TestCaseRoundTrip: a case reads back as written.
func TestCaseRoundTrip(t *testing.T) {
	dir := t.TempDir()
	for _, c := range []Case{
		{Name: "ok", Comment: "what\n", Source: "print(1)\n", Ref: Outcome{Stdout: "1\n"}},
		{Name: "fails", Comment: "what\n", Source: "error('!1!')\n", Ref: Outcome{Stdout: "", Failed: true, Pos: "prog.lua:1", Msg: "!1!"}},
		{Name: "nopos", Comment: "what\n", Source: "error('!1!', 0)\n", Ref: Outcome{Failed: true, Msg: "!1!"}},
	} {
		if err := WriteCase(dir, c); err != nil {
			t.Fatal(err)
		}
		got, err := ReadCase(dir + "/" + c.Name + ".txtar")
		if err != nil {
			t.Fatal(err)
		}
		if got.Source != c.Source || !sameOutcome(got.Ref, c.Ref) || got.Comment != c.Comment {
			t.Errorf("%s: read back %+v, wrote %+v", c.Name, got, c)
		}
	}
}
