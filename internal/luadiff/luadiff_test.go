package luadiff

import (
	"context"
	"fmt"
	"os"
	"regexp"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Knobs, from the environment (the CI default is a few thousand programs,
// well under a minute):
//
//	LUADIFF_N=100000      programs TestDifferential generates (default 3000)
//	LUADIFF_SEED=7        the first seed (default 1); program i has seed SEED+i
//	LUADIFF_RECORD=dir    write each divergence, minimised, to dir as a case
func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}

// reference returns the lua5.1 runner. Without lua5.1 the test is
// skipped, except on CI, where .ci/run installs it: there its absence is
// a failure.
func reference(t testing.TB) Runner {
	t.Helper()
	path, err := ReferencePath()
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal(err)
		}
		t.Skip(err)
	}
	return Reference(path, DefaultTimeout)
}

func timed(run func(context.Context, string) Outcome, limit time.Duration) Runner {
	return func(ctx context.Context, src string) Outcome {
		ctx, cancel := context.WithTimeout(ctx, limit)
		defer cancel()
		return run(ctx, src)
	}
}

var (
	topscript = timed(runEngine, DefaultTimeout)
	// Plain gopher-lua hangs on many programs: a shorter limit keeps the
	// sensitivity test quick (a program cut short only counts as one
	// more divergence there).
	plain = timed(runPlain, 200*time.Millisecond)
)

// diverges reports whether target's outcome on p differs from the
// reference's (and the reference compiles p: a minimising edit that
// breaks the syntax is not a smaller example).
func diverges(ref, target Runner, class string) func(*Program) bool {
	return func(p *Program) bool {
		src := p.Source()
		r := ref(context.Background(), src)
		if r.Syntax || r.Hung {
			// A smaller program lua5.1 rejects or never finishes is not a
			// smaller example of the same divergence.
			return false
		}
		d := Compare(r, target(context.Background(), src))
		return d != nil && (class == "" || d.Class == class)
	}
}

type runStats struct {
	programs, refFailed, refHung atomic.Int64
	bytes                        atomic.Int64
	mu                           sync.Mutex
	divs                         []seedDivergence
	hungSeeds                    []uint64 // programs lua5.1 did not finish (the generator's fault)
}

type seedDivergence struct {
	seed uint64
	d    *Divergence
}

// differential runs n generated programs from seed on ref and target, in
// parallel, and returns what it saw.
func differential(t *testing.T, ref, target Runner, seed uint64, n int) *runStats {
	st := &runStats{}
	var next atomic.Int64
	var wg sync.WaitGroup
	for w := 0; w < runtime.GOMAXPROCS(0); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := next.Add(1) - 1
				if i >= int64(n) {
					return
				}
				s := seed + uint64(i)
				src := Generate(s, 0).Source()
				r := ref(context.Background(), src)
				st.programs.Add(1)
				st.bytes.Add(int64(len(r.Stdout)))
				if r.Failed {
					st.refFailed.Add(1)
				}
				if r.Hung {
					st.refHung.Add(1)
					st.mu.Lock()
					st.hungSeeds = append(st.hungSeeds, s)
					st.mu.Unlock()
				}
				if r.Syntax {
					// The generator wrote invalid Lua: its own bug.
					st.mu.Lock()
					st.divs = append(st.divs, seedDivergence{s, &Divergence{Class: "generator-syntax", Ref: r}})
					st.mu.Unlock()
					continue
				}
				if d := Compare(r, target(context.Background(), src)); d != nil {
					st.mu.Lock()
					st.divs = append(st.divs, seedDivergence{s, d})
					st.mu.Unlock()
				}
			}
		}()
	}
	wg.Wait()
	sort.Slice(st.divs, func(i, j int) bool { return st.divs[i].seed < st.divs[j].seed })
	return st
}

// TestDifferential compares topscript's engine with lua5.1 on generated
// programs: output, error (both fail, and where; the message when the
// program raised it) and hang. Any divergence fails, shown minimised.
func TestDifferential(t *testing.T) {
	ref := reference(t)
	n := envInt("LUADIFF_N", 3000)
	seed := uint64(envInt("LUADIFF_SEED", 1))
	start := time.Now()
	st := differential(t, ref, topscript, seed, n)
	elapsed := time.Since(start)
	classes := map[string]int{}
	for _, sd := range st.divs {
		classes[sd.d.Class]++
	}
	t.Logf("%d programs (seeds %d..%d) in %v (%.1f ms each, %d workers): lua5.1 failed on %d, hung on %d; %d bytes of output; divergences: %d %v",
		st.programs.Load(), seed, seed+uint64(n)-1, elapsed.Round(time.Millisecond),
		float64(elapsed.Milliseconds())/float64(n)*float64(runtime.GOMAXPROCS(0)), runtime.GOMAXPROCS(0),
		st.refFailed.Load(), st.refHung.Load(), st.bytes.Load(), len(st.divs), classes)
	if len(st.hungSeeds) > 0 {
		t.Errorf("lua5.1 did not finish seeds %v in %v: the generator wrote endless programs", st.hungSeeds, DefaultTimeout)
	}
	record := os.Getenv("LUADIFF_RECORD")
	for i, sd := range st.divs {
		if i >= 5 && record == "" {
			t.Errorf("... and %d more divergences", len(st.divs)-i)
			break
		}
		p := Generate(sd.seed, 0)
		if sd.d.Class != "generator-syntax" {
			p = Minimise(p, diverges(ref, topscript, sd.d.Class))
		}
		src := p.Source()
		t.Errorf("seed %d: %v\nminimised:\n%s", sd.seed, Compare(ref(context.Background(), src), topscript(context.Background(), src)), src)
		if record != "" {
			c := Case{Name: fmt.Sprintf("new-%d", sd.seed), Comment: fmt.Sprintf("Found by seed %d (%s divergence). Triage: name it, say what fixes it.\n", sd.seed, sd.d.Class), Source: src, Ref: ref(context.Background(), src)}
			if err := WriteCase(record, c); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// TestGeneratorFindsGopherLuaBugs: the generator's programs expose
// gopher-lua's own compiler and library (as topscript used them before
// luacompile and lua51lib). If the generator stopped producing the shapes
// that go wrong, this fails.
func TestGeneratorFindsGopherLuaBugs(t *testing.T) {
	ref := reference(t)
	const n = 500
	st := differential(t, ref, plain, 1, n)
	classes := map[string]int{}
	for _, sd := range st.divs {
		classes[sd.d.Class]++
	}
	t.Logf("plain gopher-lua v1.1.2 diverges on %d of %d programs: %v", len(st.divs), n, classes)
	if len(st.divs) < n/20 {
		t.Errorf("plain gopher-lua diverges on only %d of %d programs: the generator lost the shapes it is for", len(st.divs), n)
	}
	for _, class := range []string{"stdout", "error", "hang"} {
		if classes[class] == 0 {
			t.Errorf("no %s divergence on plain gopher-lua in %d programs", class, n)
		}
	}
}

// TestCorpus: every divergence found is a regression case. topscript must
// do what lua5.1 did (recorded in the case), plain gopher-lua must not
// (else the case shows nothing), and where lua5.1 is installed the
// recording must still be what it does.
func TestCorpus(t *testing.T) {
	cases, err := LoadCorpus("testdata/divergences")
	if err != nil {
		t.Fatal(err)
	}
	if len(cases) == 0 {
		t.Fatal("no cases in testdata/divergences")
	}
	var ref Runner
	if path, err := ReferencePath(); err == nil {
		ref = Reference(path, DefaultTimeout)
	} else if os.Getenv("CI") != "" {
		t.Fatal(err)
	}
	for _, c := range cases {
		t.Run(c.Name, func(t *testing.T) {
			if strings.TrimSpace(c.Comment) == "" {
				t.Error("the case has no comment saying what diverged and what fixes it")
			}
			if ref != nil {
				if got := ref(context.Background(), c.Source); !sameOutcome(got, c.Ref) {
					t.Errorf("lua5.1 no longer does what the case records:\n  recorded: %s\n  lua5.1:   %s", c.Ref, got)
				}
			}
			if d := Compare(c.Ref, topscript(context.Background(), c.Source)); d != nil {
				t.Errorf("topscript diverges: %v", d)
			}
			if d := Compare(c.Ref, plain(context.Background(), c.Source)); d == nil {
				t.Errorf("plain gopher-lua does what lua5.1 does: the case shows no divergence")
			}
		})
	}
}

func sameOutcome(a, b Outcome) bool {
	return a.Stdout == b.Stdout && a.Failed == b.Failed && a.Pos == b.Pos && a.Msg == b.Msg && a.Hung == b.Hung
}

// FuzzDifferential is TestDifferential under go test -fuzz: the fuzzer
// picks the seed and size of the generated program.
//
//	go test ./internal/luadiff -run '^$' -fuzz FuzzDifferential -fuzztime 10m
func FuzzDifferential(f *testing.F) {
	for _, s := range []uint64{1, 2, 3, 42, 1 << 40} {
		f.Add(s, uint8(60))
	}
	f.Add(uint64(7), uint8(200))
	ref := reference(f)
	f.Fuzz(func(t *testing.T, seed uint64, size uint8) {
		p := Generate(seed, 10+int(size)%150)
		src := p.Source()
		r := ref(context.Background(), src)
		if r.Syntax {
			t.Fatalf("the generator wrote invalid Lua: %s\n%s", r.Msg, src)
		}
		if d := Compare(r, topscript(context.Background(), src)); d != nil {
			m := Minimise(p, diverges(ref, topscript, d.Class))
			t.Fatalf("%v\nminimised:\n%s", d, m.Source())
		}
	})
}

// TestGenerateDeterministic: a seed always makes the same program; seeds
// make different ones.
func TestGenerateDeterministic(t *testing.T) {
	seen := map[string]uint64{}
	for s := uint64(1); s <= 200; s++ {
		a, b := Generate(s, 0).Source(), Generate(s, 0).Source()
		if a != b {
			t.Fatalf("seed %d: two different programs", s)
		}
		if prev, ok := seen[a]; ok {
			t.Fatalf("seeds %d and %d: the same program", prev, s)
		}
		seen[a] = s
	}
}

// TestGeneratorCoverage: the shapes the generator exists for appear in a
// few thousand programs (a change to its weights must not lose one).
func TestGeneratorCoverage(t *testing.T) {
	var all strings.Builder
	for s := uint64(1); s <= 3000; s++ {
		all.WriteString(Generate(s, 0).Source())
	}
	src := all.String()
	for _, c := range []struct{ what, re string }{
		{"break as a loop body's first statement", `(?m) do\n\s+break\n`},
		{"break inside do", `(?m)^\s+do\n\s+break\n\s+end`},
		{"break inside if", `(?m)then\n\s+break\n`},
		{"while true", `while true do`},
		{"repeat", `(?m)^\s*repeat$`},
		{"repeat until true", `until true`},
		{"constant-false if", `if false then`},
		{"constant-nil if", `if nil then`},
		{"constant false and", `if false and`},
		{"while false", `while false do`},
		{"numeric for with a negative step", `for \w+ = \d+, \d+, -1 do`},
		{"generic for over a required module's field", `in require\("m"\)\.range\(`},
		{"generic for over a field of a call's result", `in M\.get\(\)\.get\(\)\.range\(`},
		{"generic for over a bare function", `in gen do`},
		{"short explist", `in gen, nil do`},
		{"next, t", `in next, \{`},
		{"method iterator", `in obj:items\(\) do`},
		{"gmatch", `string\.gmatch\(`},
		{"coroutine iterator", `coroutine\.wrap\(`},
		{"pairs", `in pairs\(`},
		{"ipairs", `in ipairs\(`},
		{"closures collected in a table", `fs\d+\[#fs\d+ \+ 1\] = function\(\)`},
		{"closure updating its upvalue", `= function\(\) \w+ = \(\w+ \+ 1\)`},
		{"closure captured, then break", `(?m)\[#fs\d+ \+ 1\] = function\(\) return y\d+ end\n\s+break`},
		{"local function", `local function fn\d+`},
		{"function value", `local fn\d+ = function`},
		{"local f = function using f", `local function bump\d+`},
		{"varargs counted", `select\("#", \.\.\.\)`},
		{"varargs packed", `\{\.\.\.\}`},
		{"pcall", `pcall\(`},
		{"xpcall", `xpcall\(`},
		{"marked error", `error\("!\d+!"`},
		{"table error value", `error\(\{code`},
		{"nil error", `error\(nil, 2\)`},
		{"error level 2", `error\("!\d+!", 2\)`},
		{"error of a number", `error\(\d+\)`},
		{"uncaught error at the end", `(?m)^error\("!\d+!"\)$`},
		{"swap", `(?m)^\s*(v\d+|i\d+|k\d+), (v\d+|i\d+|k\d+) = (v\d+|i\d+|k\d+), (v\d+|i\d+|k\d+)$`},
		{"rotation", `(?m)^\s*\w+, \w+, \w+ = \w+, \w+, \w+$`},
		{"table target in a multiple assignment", `\[1\], \w+ = `},
		{"call among the values of a multiple assignment", `= \w+ \+ 1, bump\d+\(\)`},
		{"table.sort with ties", `table\.sort\(rs, `},
		{"table.insert at a position", `table\.insert\(\w+, 1, `},
		{"table.remove", `table\.remove\(`},
		{"string.format", `string\.format\(`},
		{"string.gsub with a limit", `string\.gsub\([^\n]*, \d\)\)`},
		{"string.find plain", `string\.find\([^\n]*, true\)`},
		{"string.byte", `string\.byte\(`},
		{"tonumber with a base", `tonumber\("\w*", 16\)`},
		{"setmetatable", `setmetatable\(`},
		{"__index function", `__index = function`},
		{"method call on a string", `\):upper\(\)`},
		{"method call", `obj:bump\(`},
		{"return inside a loop", `(?m)^\s+return [^\n]*\n\s+end\n\s+end`},
	} {
		if !regexp.MustCompile(c.re).MatchString(src) {
			t.Errorf("no program in 3000 has %s (%s)", c.what, c.re)
		}
	}
}
