package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"golang.org/x/text/encoding/simplifiedchinese"

	"github.com/topscript/topscript/sandbox"
)

// The fake credentials of the bad-input and secrets tests: distinctive, so
// a leak is found by a plain search of the output.
const (
	fakeSecret  = "S3CR3T-abc"
	fakeSession = "SESS-xyz"
)

// fakeGateway serves a sandbox holding the fake credentials at /ok and
// broken gateways beside it, and records every sign it is sent.
type fakeGateway struct {
	srv   *httptest.Server
	mu    sync.Mutex
	signs []string
}

func newFakeGateway(t *testing.T) *fakeGateway {
	t.Helper()
	sb, err := sandbox.New(sandbox.Options{AppSecret: fakeSecret, Session: fakeSession})
	if err != nil {
		t.Fatal(err)
	}
	g := &fakeGateway{}
	errorReply := func(code int, msg, sub, subMsg string) string {
		return fmt.Sprintf(`{"error_response":{"code":%d,"msg":%q,"sub_code":%q,"sub_msg":%q,"request_id":"fake0000req1"}}`, code, msg, sub, subMsg)
	}
	g.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		r.Body = io.NopCloser(strings.NewReader(string(body)))
		if q, err := url.ParseQuery(string(body)); err == nil && q.Get("sign") != "" {
			g.mu.Lock()
			g.signs = append(g.signs, q.Get("sign"))
			g.mu.Unlock()
		}
		switch r.URL.Path {
		case "/ok/router/rest":
			r.URL.Path = "/router/rest"
			sb.ServeHTTP(w, r)
		case "/html":
			w.Header().Set("Content-Type", "text/html")
			io.WriteString(w, "<html><body><h1>Welcome to nginx!</h1> session="+fakeSession+"</body></html>")
		case "/empty":
			w.Header().Set("Content-Type", "application/json")
		case "/huge":
			w.Header().Set("Content-Type", "application/json")
			io.WriteString(w, `{"time_get_response":{"time":"`)
			chunk := strings.Repeat("x", 1<<20)
			for i := 0; i < 65; i++ {
				if _, err := io.WriteString(w, chunk); err != nil {
					return
				}
			}
			io.WriteString(w, `"}}`)
		case "/xml43":
			// What the gateway answers a request it cannot read (a 50 MB
			// parameter): XML, whatever format was asked.
			w.Header().Set("Content-Type", "text/xml;charset=UTF-8")
			io.WriteString(w, `<?xml version="1.0" encoding="utf-8" ?><error_response><code>43</code><msg>Parameter error</msg><request_id>fakexml43</request_id></error_response>`)
		case "/502":
			w.WriteHeader(http.StatusBadGateway)
			io.WriteString(w, "<html>502 Bad Gateway</html>")
		case "/skew":
			io.WriteString(w, errorReply(31, "Invalid timestamp", "", ""))
		case "/expired":
			io.WriteString(w, errorReply(27, "Invalid session", "invalid-sessionkey", "非法或过期的SessionKey参数，请使用有效的SessionKey参数"))
		case "/echo":
			// A gateway echoing the request back in its message.
			io.WriteString(w, errorReply(25, "Invalid signature", "isv.invalid-signature", "bad request: "+string(body)))
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(g.srv.Close)
	return g
}

// secrets returns every secret the outputs must not show: the fake app
// secret and session and each sign sent so far.
func (g *fakeGateway) secrets() []string {
	g.mu.Lock()
	defer g.mu.Unlock()
	return append([]string{fakeSecret, fakeSession}, g.signs...)
}

// closedPort returns a loopback address nothing listens on.
func closedPort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// badConfig is a topscript.toml whose profiles point at the fake gateways.
func badConfig(g *fakeGateway, closed string) string {
	var b strings.Builder
	b.WriteString("profile = \"default\"\n[retry]\nmax_attempts = 2\nbackoff = \"10ms\"\n")
	for name, gw := range map[string]string{
		"default": g.srv.URL + "/ok/router/rest", "html": g.srv.URL + "/html", "empty": g.srv.URL + "/empty",
		"huge": g.srv.URL + "/huge", "bad502": g.srv.URL + "/502", "skew": g.srv.URL + "/skew",
		"expired": g.srv.URL + "/expired", "echo": g.srv.URL + "/echo", "down": "http://" + closed + "/router/rest",
		"xml43": g.srv.URL + "/xml43",
	} {
		fmt.Fprintf(&b, "[profiles.%s]\napp_key = %q\napp_secret = %q\nsession = %q\ngateway = %q\n",
			name, sandbox.DefaultAppKey, fakeSecret, fakeSession, gw)
	}
	return b.String()
}

// badCase is one row of the bad-input table.
type badCase struct {
	name  string
	files map[string]string // written in the working directory (over the defaults)
	env   map[string]string
	args  []string
	code  int
	want  []string // fragments stderr must hold (the culprit)
}

func gbkBytes(t *testing.T, s string) string {
	t.Helper()
	b, err := simplifiedchinese.GBK.NewEncoder().Bytes([]byte(s))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestBadInputTable drives the CLI with bad inputs of every kind. Each must
// end with its documented exit code and a message naming the culprit, with
// no panic text and no secret, at every log level and in JSON logs.
func TestBadInputTable(t *testing.T) {
	g := newFakeGateway(t)
	closed := closedPort(t)
	cfg := badConfig(g, closed)
	script := func(name, src string) map[string]string { return map[string]string{name: src} }
	call := func(method, params string) string {
		return "local r = top.call(" + method + ", " + params + ")\nprint(r)\n"
	}
	cases := []badCase{
		// Configuration: exit 2, file:line: key.
		{name: "malformed toml", files: map[string]string{"topscript.toml": "[profiles.default]\napp_key = \"1\napp_secret = \"S3CR3T-abc\"\n"},
			args: []string{"call", "taobao.time.get"}, code: 2, want: []string{"topscript.toml:2", "syntax error"}},
		{name: "unknown key", files: map[string]string{"topscript.toml": cfg + "[profiles.typo]\napp_kye = \"1\"\n"},
			args: []string{"call", "taobao.time.get"}, code: 2, want: []string{"topscript.toml:", "app_kye", "app_key"}},
		{name: "unknown section", files: map[string]string{"topscript.toml": cfg + "[throttel]\nqps = 1\n"},
			args: []string{"call", "taobao.time.get"}, code: 2, want: []string{"topscript.toml:", "throttel"}},
		{name: "wrong type", files: map[string]string{"topscript.toml": cfg + "[throttle]\nqps = \"fast\"\n"},
			args: []string{"call", "taobao.time.get"}, code: 2, want: []string{"topscript.toml:", "throttle.qps"}},
		{name: "bad duration", files: map[string]string{"topscript.toml": strings.Replace(cfg, `backoff = "10ms"`, `backoff = "soon"`, 1)},
			args: []string{"call", "taobao.time.get"}, code: 2, want: []string{"topscript.toml:4", "retry.backoff"}},
		{name: "unclosed ${", files: map[string]string{"topscript.toml": "[profiles.default]\napp_key = \"1\"\napp_secret = \"${TOP_APP_SECRET\"\n"},
			args: []string{"call", "taobao.time.get"}, code: 2, want: []string{`topscript.toml:3: profiles.default.app_secret: "${" without its closing "}"`}},
		{name: "unset env var", files: map[string]string{"topscript.toml": "[profiles.default]\napp_key = \"1\"\napp_secret = \"${NOPE_SECRET}\"\n"},
			args: []string{"call", "taobao.time.get"}, code: 2, want: []string{"topscript.toml:3", "NOPE_SECRET"}},
		{name: "missing credentials", files: map[string]string{"topscript.toml": ""},
			args: []string{"call", "taobao.time.get"}, code: 2, want: []string{"no app key and secret", "TOPSCRIPT_APP_SECRET"}},
		{name: "unknown profile", args: []string{"call", "--profile", "prod", "taobao.time.get"}, code: 2, want: []string{"prod"}},
		{name: "missing config file", args: []string{"call", "--config", "nope.toml", "taobao.time.get"}, code: 2, want: []string{"nope.toml", "no such file"}},
		{name: "config check bad", files: map[string]string{"topscript.toml": cfg + "[state]\nbackend = \"mongo\"\n"},
			args: []string{"config", "check"}, code: 2, want: []string{"topscript.toml:", "state.backend", "mongo"}},
		// Command line.
		{name: "unknown command", args: []string{"runn"}, code: 2, want: []string{`unknown command "runn"`, `"run"`}},
		{name: "bad log format", files: script("ok.lua", "print(1)"), args: []string{"run", "--log-format", "xml", "ok.lua"}, code: 2, want: []string{"xml"}},
		{name: "bad memory limit", files: script("ok.lua", "print(1)"), args: []string{"run", "--memory-limit", "lots", "ok.lua"}, code: 2, want: []string{`--memory-limit "lots"`, "512MiB"}},
		{name: "bad memory limit in config", files: map[string]string{"topscript.toml": "memory_limit = \"-1GiB\"\n" + cfg, "ok.lua": "print(1)"},
			args: []string{"run", "ok.lua"}, code: 2, want: []string{"topscript.toml:1: memory_limit", "-1GiB"}},
		{name: "zero grace", files: script("ok.lua", "print(1)"), args: []string{"run", "--grace", "0s", "ok.lua"}, code: 2, want: []string{"--grace must be positive"}},
		{name: "call param syntax", args: []string{"call", "taobao.time.get", "novalue"}, code: 2, want: []string{"novalue"}},
		{name: "call upload missing", args: []string{"call", "taobao.time.get", "image=@nope.jpg"}, code: 2, want: []string{"parameter image", "nope.jpg"}},
		// Scripts.
		{name: "missing script", args: []string{"run", "nope.lua"}, code: 2, want: []string{"nope.lua", "no such file"}},
		{name: "script is a directory", files: map[string]string{"dir.lua/x": ""}, args: []string{"run", "dir.lua"}, code: 2, want: []string{"dir.lua", "not a file"}},
		{name: "lua syntax error", files: script("bad.lua", "local x = 1\nif x then\nprint(x)\n"), args: []string{"run", "bad.lua"}, code: 1, want: []string{"bad.lua", "syntax error"}},
		{name: "lua syntax error mid", files: script("bad2.lua", "local x = = 1\n"), args: []string{"run", "bad2.lua"}, code: 1, want: []string{"bad2.lua:1:", "syntax error"}},
		{name: "lua runtime error", files: script("nil.lua", "local t = nil\nprint(t.x)\n"), args: []string{"run", "nil.lua"}, code: 1, want: []string{"nil.lua:2:"}},
		{name: "error with a table", files: script("tbl.lua", "\nerror({code = 1})\n"), args: []string{"run", "tbl.lua"}, code: 1, want: []string{"tbl.lua:2: {code = 1}"}},
		{name: "table error from on_result", files: script("onr.lua", "local job = require('job') job.reset('onr')\njob.run{name = 'onr', rows = {{id = '1'}}, key = function(r) return r.id end,\n"+
			"  call = function(r) return 'taobao.time.get', {} end,\n  on_result = function() error({code = 5, msg = 'boom'}) end}\n"),
			args: []string{"run", "onr.lua"}, code: 1, want: []string{`onr.lua:2: {code = 5, msg = "boom"}`}},
		{name: "yield in a key function", files: script("yield.lua", "local job = require('job')\ncoroutine.wrap(function()\n"+
			"  job.run{name = 'y', rows = {{id = '1'}}, key = function(r) coroutine.yield() return r.id end, call = function(r) return 'taobao.time.get', {} end}\nend)()\n"),
			args: []string{"run", "yield.lua"}, code: 1, want: []string{"yield.lua:3:", "key function", "cannot yield"}},
		{name: "each over a method that does not page", files: script("each.lua", "for x in top.each('taobao.time.get') do end\n"),
			args: []string{"run", "each.lua"}, code: 1, want: []string{"each.lua:1:", "taobao.time.get: does not page"}},
		{name: "throttle nan", files: script("thr.lua", "top.throttle('*', 0/0)\n"), args: []string{"run", "thr.lua"}, code: 1, want: []string{"thr.lua:1:", "qps must be", "nan"}},
		{name: "throttle negative", files: script("thr.lua", "\ntop.throttle('taobao.*', -5)\n"), args: []string{"run", "thr.lua"}, code: 1, want: []string{"thr.lua:2:", "qps must be", "-5"}},
		{name: "control character in method", files: script("ctl.lua", call(`"taobao.time\1.get"`, "{}")), args: []string{"run", "ctl.lua"}, code: 1,
			want: []string{"ctl.lua:1:", `"taobao.time\x01.get": malformed method name: a control character`}},
		{name: "nil field in a concatenation", files: script("cat.lua", "local r = {a = '1'}\nprint(r.a .. '|' .. r.b)\n"), args: []string{"run", "cat.lua"}, code: 1,
			want: []string{"cat.lua:2: attempt to concatenate field 'b' (a nil value)"}},
		{name: "function as parameter", files: script("fn.lua", call(`"taobao.time.get"`, "{cb = function() end}")), args: []string{"run", "fn.lua"}, code: 1, want: []string{"fn.lua:1:", "params.cb", "function"}},
		{name: "userdata as parameter", files: script("ud.lua", call(`"taobao.time.get"`, "{out = io.stdout}")), args: []string{"run", "ud.lua"}, code: 1, want: []string{"ud.lua:1:", "params.out", "userdata"}},
		{name: "cyclic table", files: script("cyc.lua", "local t = {}\nt.self = t\n"+call(`"taobao.time.get"`, "{t = t}")), args: []string{"run", "cyc.lua"}, code: 1, want: []string{"cyc.lua:3:", "params.t", "cycl"}},
		{name: "nil method", files: script("nilm.lua", call("nil", "{}")), args: []string{"run", "nilm.lua"}, code: 1, want: []string{"nilm.lua:1:", "method must be a string"}},
		{name: "malformed method", files: script("badm.lua", call(`"taobao time get"`, "{}")), args: []string{"run", "badm.lua"}, code: 1, want: []string{"badm.lua:1:", "malformed method name"}},
		{name: "list over its limit", files: script("list.lua", "local ids = {}\nfor i = 1, 21 do ids[i] = 1000 + i end\n"+
			call(`"taobao.opentrade.activity.sync"`, `{activity_id = "1", activity_name = "a", start_time = "2024-06-01 00:00:00", end_time = "2024-06-02 00:00:00", item_id_list = ids}`)), args: []string{"run", "list.lua"}, code: 1,
			want: []string{"list.lua:3:", "item_id_list", "21 items, at most 20"}},
		{name: "csv wrong encoding", files: map[string]string{"gbk.csv": gbkBytes(t, "num_iid,标题\n1,连衣裙\n"),
			"csv.lua": `local csv = require("csv") for r in csv.rows("gbk.csv", {encoding = "utf-8"}) do end`}, args: []string{"run", "csv.lua"}, code: 1,
			want: []string{"gbk.csv:1", "not valid UTF-8"}},
		{name: "csv ragged rows", files: map[string]string{"r.csv": "a,b\n1,2\n3\n", "csv.lua": `local csv = require("csv") for r in csv.rows("r.csv") do end`},
			args: []string{"run", "csv.lua"}, code: 1, want: []string{"r.csv:3", "1 columns, header has 2"}},
		{name: "csv no header", files: map[string]string{"e.csv": "", "csv.lua": `require("csv").read("e.csv")`},
			args: []string{"run", "csv.lua"}, code: 1, want: []string{"e.csv", "no header"}},
		{name: "csv CR-only lines", files: map[string]string{"mac.csv": "a,b\r1,2\r3,4\r", "csv.lua": `local csv = require("csv") local n = 0 for r in csv.rows("mac.csv") do n = n + 1 assert(r.b == tostring(2 * n), r.b) end assert(n == 2, n .. " rows")`},
			args: []string{"run", "csv.lua"}, code: 0},
		{name: "csv double BOM", files: map[string]string{"bom.csv": "\uFEFF\uFEFFa,b\n1,2\n", "csv.lua": `local csv = require("csv") for r in csv.rows("bom.csv") do assert(r.a == "1", "r.a is " .. tostring(r.a)) end`},
			args: []string{"run", "csv.lua"}, code: 0},
		{name: "csv NUL in header", files: map[string]string{"nul.csv": "a,b\x00c\n1,2\n", "csv.lua": `local csv = require("csv") for r in csv.rows("nul.csv") do end`},
			args: []string{"run", "csv.lua"}, code: 1, want: []string{"csv.lua:1:", "nul.csv:1: header column 2 holds a NUL byte"}},
		{name: "json garbage", files: script("j.lua", `require("json").decode("{\"a\": 1,,}")`), args: []string{"run", "j.lua"}, code: 1, want: []string{"j.lua:1:", "json.decode", "line 1"}},
		// Gateways.
		{name: "xml error reply", args: []string{"call", "--profile", "xml43", "taobao.time.get"}, code: 1, want: []string{"taobao.time.get: 43 Parameter error (request_id fakexml43)"}},
		{name: "xml error reply in a script", files: script("x43.lua", call(`"taobao.time.get"`, "{}")), args: []string{"run", "--profile", "xml43", "x43.lua"}, code: 1,
			want: []string{"x43.lua:1: taobao.time.get: 43 Parameter error"}},
		{name: "html reply", args: []string{"call", "--profile", "html", "taobao.time.get"}, code: 1, want: []string{"taobao.time.get", "malformed response body"}},
		{name: "empty reply", args: []string{"call", "--profile", "empty", "taobao.time.get"}, code: 1, want: []string{"taobao.time.get", "empty response body"}},
		{name: "huge reply", args: []string{"call", "--profile", "huge", "taobao.time.get"}, code: 1, want: []string{"taobao.time.get", "response body over"}},
		{name: "http 502", files: script("g.lua", call(`"taobao.time.get"`, "{}")), args: []string{"run", "--profile", "bad502", "g.lua"}, code: 1, want: []string{"g.lua:1:", "HTTP 502"}},
		{name: "unreachable gateway", args: []string{"call", "--profile", "down", "taobao.time.get"}, code: 1, want: []string{"taobao.time.get", "connection failed"}},
		{name: "skewed clock", files: script("skew.lua", call(`"taobao.time.get"`, "{}")), args: []string{"run", "--profile", "skew", "skew.lua"}, code: 1, want: []string{"skew.lua:1:", "31 Invalid timestamp"}},
		{name: "expired session", args: []string{"call", "--profile", "expired", "taobao.item.seller.get", "num_iid=1", "fields=title"}, code: 1,
			want: []string{"27 Invalid session", "invalid-sessionkey"}},
		{name: "gateway echoes secrets", args: []string{"call", "--profile", "echo", "taobao.time.get"}, code: 1, want: []string{"25 Invalid signature"}},
		// Containment.
		{name: "runaway loop", files: script("loop.lua", "while true do end\n"), args: []string{"run", "--timeout", "200ms", "loop.lua"}, code: 1, want: []string{"loop.lua:1:", "timed out after 200ms"}},
		{name: "deep recursion", files: script("rec.lua", "local function f() return 1 + f() end\nf()\n"), args: []string{"run", "rec.lua"}, code: 1, want: []string{"rec.lua:1:", "stack overflow"}},
		{name: "huge allocation", files: script("rep.lua", "local s = string.rep('x', 1e10)\n"), args: []string{"run", "rep.lua"}, code: 1, want: []string{"rep.lua:1:", "over the limit"}},
		{name: "script is a device", args: []string{"run", "/dev/zero"}, code: 2, want: []string{"/dev/zero: a device, not a regular file"}},
		{name: "huge read count", files: map[string]string{"hostname": "host-1\n", "read.lua": "local f = io.open('hostname')\nlocal s = f:read(2^45)\n"},
			args: []string{"run", "read.lua"}, code: 1, want: []string{"read.lua:2:", "io read(35184372088832)", "over the limit of 256 MiB"}},
		{name: "os.exit(256)", files: script("x.lua", "os.exit(256)\n"), args: []string{"run", "x.lua"}, code: 1},
		{name: "os.exit(1e10)", files: script("x.lua", "os.exit(1e10)\n"), args: []string{"run", "x.lua"}, code: 1},
		{name: "os.exit(0/0)", files: script("x.lua", "os.exit(0/0)\n"), args: []string{"run", "x.lua"}, code: 1},
		{name: "os.exit(300)", files: script("x.lua", "os.exit(300)\n"), args: []string{"run", "x.lua"}, code: 1},
		{name: "os.exit(-1)", files: script("x.lua", "os.exit(-1)\n"), args: []string{"run", "x.lua"}, code: 1},
		{name: "exec disabled", files: script("exec.lua", "os.execute('true')\n"), args: []string{"run", "exec.lua"}, code: 1, want: []string{"exec.lua:1:"}},
	}
	tried := 0
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			files := map[string]string{"topscript.toml": cfg}
			for k, v := range tc.files {
				files[k] = v
			}
			inTempDir(t, nil)
			for name, body := range files {
				if err := os.MkdirAll(filepath.Dir(name), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(name, []byte(body), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			variants := [][]string{nil}
			if tc.args[0] == "run" && tc.code != ExitUsage {
				variants = append(variants, []string{"-v"}, []string{"-v", "--log-format", "json"})
			}
			for _, extra := range variants {
				args := append(append([]string{tc.args[0]}, extra...), tc.args[1:]...)
				ts := newTestState(tc.env, args...)
				code := Main(ts.State)
				out := ts.stdout.String() + ts.stderr.String()
				tried++
				if code != tc.code {
					t.Errorf("%q: exit %d, want %d\n%s", args, code, tc.code, out)
				}
				for _, w := range tc.want {
					if !strings.Contains(ts.stderr.String(), w) && !(slices.Contains(extra, "json") && strings.Contains(ts.stderr.String(), jsonText(w))) {
						t.Errorf("%q: stderr does not name %q:\n%s", args, w, ts.stderr)
					}
				}
				checkClean(t, args, out, g.secrets())
			}
		})
	}
	t.Logf("%d bad-input cases, %d CLI runs", len(cases), tried)
}

// jsonText is s as it appears inside a JSON string (the error record of
// --log-format json): quotes and backslashes escaped.
func jsonText(s string) string {
	b, _ := json.Marshal(s)
	return string(b[1 : len(b)-1])
}

// checkClean fails when out shows a secret or panic text.
func checkClean(t *testing.T, args []string, out string, secrets []string) {
	t.Helper()
	for _, s := range secrets {
		if strings.Contains(out, s) {
			t.Errorf("%q: output shows the secret %q:\n%s", args, s, out)
		}
	}
	for _, p := range []string{"panic:", "goroutine ", "runtime/debug", ".go:"} {
		if strings.Contains(out, p) {
			t.Errorf("%q: output has panic text %q:\n%s", args, p, out)
		}
	}
}
