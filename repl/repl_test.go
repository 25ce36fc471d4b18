package repl

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/topscript/topscript/engine"
	"github.com/topscript/topscript/internal/sandboxtest"
	"github.com/topscript/topscript/sandbox"
	"github.com/topscript/topscript/top"
)

// newEngine returns an engine whose output goes to out, with a TOP client
// against an in-process sandbox when withSandbox is set.
func newEngine(t *testing.T, out io.Writer, withSandbox bool) *engine.Engine {
	t.Helper()
	o := engine.Options{Stdout: out, Stderr: out, Stdin: strings.NewReader("")}
	if withSandbox {
		srv := sandboxtest.Start(t, sandbox.Options{})
		cfg := top.DefaultConfig()
		cfg.Gateway = srv.URL()
		cfg.AppKey, cfg.AppSecret, cfg.Session = sandbox.DefaultAppKey, sandbox.DefaultAppSecret, sandbox.DefaultSession
		cfg.Retry.MaxAttempts = 1
		client, err := top.NewClient(cfg)
		if err != nil {
			t.Fatal(err)
		}
		o.Client = client
	}
	eng, err := engine.New(o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(eng.Close)
	return eng
}

// pipe runs the REPL over input in pipe mode and returns stdout and
// stderr. Run must end with nil, or with ErrInputFailed after an error.
func pipe(t *testing.T, input string, withSandbox bool) (string, string) {
	t.Helper()
	out, errs, err := pipeRun(t, input, withSandbox, false)
	if err != nil && !errors.Is(err, ErrInputFailed) {
		t.Fatalf("Run: %v", err)
	}
	return out, errs
}

// pipeRun runs the REPL over input in pipe mode and returns stdout,
// stderr and Run's error.
func pipeRun(t *testing.T, input string, withSandbox, stop bool) (string, string, error) {
	t.Helper()
	var out, errw bytes.Buffer
	eng := newEngine(t, &out, withSandbox)
	err := Run(context.Background(), Options{Engine: eng, In: strings.NewReader(input), Out: &out, Err: &errw, HistoryPath: "-", StopOnError: stop})
	return out.String(), errw.String(), err
}

func TestPipeExpressions(t *testing.T) {
	out, errs := pipe(t, strings.Join([]string{
		`1 + 2`,
		`x = 10`,
		`x * 2`,
		`"hi"`,
		`1, "a", nil, true`,
		`nil`,
		`print("printed")`,
		`=x + 1`,
		`json.decode('{"id": 342161316540874753}').id`,
		`json.encode({b = 1, a = json.null})`,
		`0.1 + 0.2`,
		`2^53`,
		``,
		`time.format(0)`,
	}, "\n"), false)
	want := strings.Join([]string{
		"3",
		"20",
		"hi",
		"1\ta\tnil\ttrue",
		"nil",
		"printed",
		"11",
		"342161316540874753",
		`{"a":null,"b":1}`,
		"0.30000000000000004",
		"9007199254740992",
		"1970-01-01 08:00:00",
	}, "\n") + "\n"
	if out != want {
		t.Errorf("stdout:\n%s\nwant:\n%s", out, want)
	}
	if errs != "" {
		t.Errorf("stderr: %s", errs)
	}
}

func TestPipeMultiLine(t *testing.T) {
	out, errs := pipe(t, "function add(a, b)\n  local s = a + b\n\n  return s\nend\nadd(2, 3)\nlocal t = {\n 1,\n 2,\n}\n", false)
	if out != "5\n" || errs != "" {
		t.Fatalf("out %q errs %q", out, errs)
	}
	// A long string literal spans lines too.
	out, _ = pipe(t, "s = [[a\nb]]\n#s\n", false)
	if out != "3\n" {
		t.Fatalf("long string: %q", out)
	}
}

func TestPipeErrorsContinue(t *testing.T) {
	out, errs := pipe(t, "error('boom')\n1 +\n2\nnil + 1\nlocal x = = 2\n42\nfunction f(\n", false)
	lines := strings.Split(strings.TrimRight(errs, "\n"), "\n")
	if len(lines) != 4 {
		t.Fatalf("want 4 error lines, got %d:\n%s", len(lines), errs)
	}
	if !strings.Contains(lines[0], "boom") || !strings.Contains(lines[2], "syntax error near '='") {
		t.Errorf("errors:\n%s", errs)
	}
	if !strings.Contains(lines[1], "nil") {
		t.Errorf("arith error: %s", lines[1])
	}
	if !strings.Contains(lines[3], "end of input") {
		t.Errorf("incomplete at EOF: %s", lines[3])
	}
	if out != "3\n42\n" {
		t.Errorf("out %q", out)
	}
	if _, _, err := pipeRun(t, "error('boom')\n42\n", false, false); !errors.Is(err, ErrInputFailed) {
		t.Errorf("Run after errors: %v, want ErrInputFailed", err)
	}
}

// Piped input that had an error ends with ErrInputFailed (the CLI exits 1,
// as lua - does); clean input with nil.
func TestPipeErrorExitStatus(t *testing.T) {
	out, _, err := pipeRun(t, "1 + 2\nerror('boom')\n42\n", false, false)
	if !errors.Is(err, ErrInputFailed) || out != "3\n42\n" {
		t.Errorf("after an error: err %v, out %q; want ErrInputFailed and the rest evaluated", err, out)
	}
	if _, _, err := pipeRun(t, "1 + 2\nprint('ok')\n", false, false); err != nil {
		t.Errorf("clean input: %v", err)
	}
	if _, _, err := pipeRun(t, "function f(\n", false, false); !errors.Is(err, ErrInputFailed) {
		t.Errorf("incomplete at the end: %v, want ErrInputFailed", err)
	}
	// StopOnError: nothing after the first error runs.
	out, errs, err := pipeRun(t, "1 + 2\nerror('boom')\nprint('after')\n", false, true)
	if !errors.Is(err, ErrInputFailed) || out != "3\n" || !strings.Contains(errs, "boom") {
		t.Errorf("stop on error: err %v, out %q, errs %q", err, out, errs)
	}
}

func TestPipeTablePrinting(t *testing.T) {
	out, _ := pipe(t, strings.Join([]string{
		`{b = 1, a = {1, 2, 3}, ["odd key"] = true, [10] = "ten"}`,
		`t = {name = "t"}; t.self = t`,
		`t`,
		`{}`,
		`{trades = {{tid = "342161316540874753", orders = {{oid = "342161316540874754", title = "夏季连衣裙 新款 修身显瘦", price = "129.00"}}, status = "WAIT_SELLER_SEND_GOODS"}}, total_results = 1}`,
		`json.null`,
		`{print}`,
	}, "\n"), false)
	want := `{[10] = "ten", a = {1, 2, 3}, b = 1, ["odd key"] = true}
{name = "t", self = <cycle>}
{}
{
  total_results = 1,
  trades = {
    {
      orders = {
        {
          oid = "342161316540874754",
          price = "129.00",
          title = "夏季连衣裙 新款 修身显瘦"
        }
      },
      status = "WAIT_SELLER_SEND_GOODS",
      tid = "342161316540874753"
    }
  }
}
null
`
	if !strings.HasPrefix(out, want) {
		t.Fatalf("got:\n%s\nwant prefix:\n%s", out, want)
	}
	if !strings.Contains(out[len(want):], "{function: ") {
		t.Fatalf("function value: %q", out[len(want):])
	}
}

func TestPipeLongTable(t *testing.T) {
	out, _ := pipe(t, "t = {} for i = 1, 2000 do t[i] = i end\nt\n", false)
	if n := strings.Count(out, "\n"); n != 2002 {
		t.Fatalf("want 2002 lines, got %d", n)
	}
}

func TestPipeTOP(t *testing.T) {
	out, errs := pipe(t, strings.Join([]string{
		`r = top.call("taobao.time.get")`,
		`type(r.time)`,
		`top.call("taobao.no.such.method")`,
		`"still here"`,
	}, "\n"), true)
	if out != "string\nstill here\n" {
		t.Errorf("out %q", out)
	}
	lines := strings.Split(strings.TrimRight(errs, "\n"), "\n")
	if len(lines) != 1 || !strings.Contains(lines[0], "taobao.no.such.method") || !strings.Contains(lines[0], "request_id") {
		t.Errorf("TOP error should print one line naming the method and request id:\n%s", errs)
	}
}

func TestRunNoEngine(t *testing.T) {
	if err := Run(context.Background(), Options{}); err == nil {
		t.Fatal("want an error without an engine")
	}
}

func TestRunContextCancelled(t *testing.T) {
	var out bytes.Buffer
	eng := newEngine(t, &out, false)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err := Run(ctx, Options{Engine: eng, In: strings.NewReader("1\n"), Out: &out, Err: &out})
	if err == nil {
		t.Fatal("want the context error")
	}
}

func TestPipeSleepCancelledByContext(t *testing.T) {
	var out, errw bytes.Buffer
	eng := newEngine(t, &out, false)
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	Run(ctx, Options{Engine: eng, In: strings.NewReader("time.sleep('30s')\n"), Out: &out, Err: &errw})
	if time.Since(start) > 5*time.Second {
		t.Fatal("sleep was not cancelled")
	}
	if !strings.Contains(errw.String(), "interrupted") {
		t.Fatalf("stderr %q", errw.String())
	}
}

func TestHistoryPath(t *testing.T) {
	t.Setenv("HOME", "/home/operator")
	if got := historyPath(""); got != filepath.Join("/home/operator", HistoryFile) {
		t.Errorf("default history path %q", got)
	}
	if got := historyPath("-"); got != "" {
		t.Errorf("\"-\" gave %q", got)
	}
	if got := historyPath("/tmp/h"); got != "/tmp/h" {
		t.Errorf("explicit path gave %q", got)
	}
}

func TestIsTerminalNonFile(t *testing.T) {
	if isTerminal(strings.NewReader("")) {
		t.Fatal("a strings.Reader is no terminal")
	}
	f, err := os.Open(os.DevNull)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if isTerminal(f) {
		t.Fatal("/dev/null is no terminal")
	}
}

// TestPipeLua51Shapes: the loops issue #19 lists, typed into the REPL,
// over several lines, run as Lua 5.1 runs them (no hang, no "attempt to
// call a non-function object").
func TestPipeLua51Shapes(t *testing.T) {
	out, errs := pipe(t, strings.Join([]string{
		`function two() local n = 0 return function() n = n + 1 if n <= 2 then return n end end end`,
		`for i = 1, 2 do`,
		`  for r in two() do break end`,
		`end`,
		`print("numeric")`,
		`w = 0`,
		`while w < 2 do w = w + 1 for r in two() do break end end`,
		`print("while", w)`,
		`n = 0`,
		`for k, v in pairs({1, 2}) do if false then local x = 1 end n = n + v end`,
		`n`,
		`package.preload.m = function() return {two = two} end`,
		`for r in require("m").two() do print("m", r) end`,
		`a, b = 1, 2`,
		`local a, b = 1, 2; a, b = b, a; print(a, b)`,
	}, "\n")+"\n", false)
	if want := "numeric\nwhile\t2\n3\nm\t1\nm\t2\n2\t1\n"; out != want || errs != "" {
		t.Errorf("out %q errs %q; want out %q", out, errs, want)
	}
}
