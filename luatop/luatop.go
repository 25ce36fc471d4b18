// Package luatop is the Lua side of TOP: the one package where Lua meets
// the Taobao Open Platform. It holds the `top` module, batch calls, the
// `job` module (bulk jobs: run and reset), the `tmc` module (the
// platform's messages pushed to a handler), the TOP error value and the
// parsing of per-call options, all over one caller path. Scripts see `top`
// as a global and as require("top"); `job` and `tmc` with require.
//
// The Lua contract:
//
//	top.call(method, params?, opts?)  --> result table; raises a TOP error value on failure
//	top.try(method, params?, opts?)   --> result | nil, err
//	top.pages(method, params?, opts?) --> iterator over page payloads (opts.reverse for increment APIs)
//	top.each(method, params?, opts?)  --> iterator over list items across pages (opts.items names the list)
//	top.call_all(calls, opts?)        --> results; calls = {{method, params, opts?}, ...}
//	top.throttle(pattern, qps)        --  set a rate for matching methods at run time
//	top.is_write(method)              --> boolean
//	top.dry_run                       --> boolean
//	top.shop                          --> {name=, nick=, user_id=} of the run's shop, or nil
//	job.run{name=, rows=, key=, call=, ...} --> summary (see job.go)
//	job.reset(name[, key])            --> number of checkpoints removed
//	tmc.listen{topics=, group=, concurrency=, handler=, tick=, summary=} --> summary (see tmc.go)
//	tmc.permit{topics=}               --> true
//	tmc.stop()                        --  listen stops cleanly and returns
//
// opts: session (string), timeout ("10s" or seconds), retries (number of
// retries after the first attempt), simplify (boolean), skip_validation
// (boolean: send without the catalog's checks, for an API whose doc is
// stale; top.CallOptions.SkipValidation), idempotent (boolean: true
// retries a write even after a failure that may have applied it; false
// never sends it again once it may have reached the gateway, the error is
// then of kind unknown_outcome; default: the catalog's answer); pages/each
// also take
// items (list field), reverse, page_size, use_has_next; call_all takes
// concurrency (a cap: by default as many calls run at once as keep the
// throttle busy at the latency they meet, see job.go and sizer.go), batch
// (pack up to that many calls into one /router/batch request; each still
// takes its own throttle token and gets its own result) plus defaults for
// every call. A job's call function may return the same per-call opts.
//
// Params and results convert with stdlib.FromLua and stdlib.ToLua: integers
// beyond ±2^53 arrive as strings of their exact digits and go back out
// unchanged. A Lua number in params that cannot be sent exactly as it was
// written — an integer from 2^53 on, or a fraction needing more than 15
// significant digits, with more digits than a literal that reads back
// exactly — is refused naming the parameter (checkExact, args.go), in
// top.call, top.try, pages, call_all and job.run alike: ids go as strings. Errors are TOP error values (TopErrorValue): tables with
// code, msg, sub_code, sub_msg, request_id, method, kind and retry_after
// whose tostring is the one-line text of *top.Error.
//
// # Where things are
//
//   - caller.go: the one caller path every call takes (top.call/try,
//     call_all, batches, job workers): the no-client error (ErrNoClient),
//     the panic guard, error coercion to *top.Error, is-write;
//   - dryrun.go: the dry-run gate, its log line and its stand-in answer;
//   - runner.go, sizer.go: the one concurrent runner (call_all, batches,
//     job workers) and how many tasks it keeps in flight;
//   - args.go: method, params and the one option-table parser;
//   - module.go, batch.go: the top module and call_all's batching;
//   - errvalue.go: the TOP error value;
//   - job*.go: job.run, one concept a file (spec, rows and keys,
//     checkpoints and claims, the dispatcher, report, summary and progress);
//   - tmc.go, tmcspec.go: the tmc module (why handlers share the script's
//     Lua state: tmc.go) and its argument tables.
package luatop

import (
	"context"
	"io"
	"log/slog"
	"os"
	"sort"
	"time"

	lua "github.com/yuin/gopher-lua"

	"github.com/topscript/topscript/state"
	"github.com/topscript/topscript/tmc"
	"github.com/topscript/topscript/top"
)

// Options are what the top and job modules need from their host. Every
// field is optional.
type Options struct {
	// Client sends the calls (throttle, retry and closure windows apply).
	// Without one every call fails with ErrNoClient; is_write still
	// answers from the catalog.
	Client *top.Client
	// DryRun logs writes instead of sending them (reads are sent); each
	// is first checked as it would be sent (top.Client.Validate), so a
	// bad parameter fails the dry run as it would fail the real one;
	// top.dry_run is true and job.run keeps no checkpoints.
	DryRun bool
	// Logger receives dry-run lines and job.run's log lines; nil logs text
	// to stderr.
	Logger *slog.Logger
	// Store holds job.run's checkpoints (give the state module the same
	// store, so state.open("job:<name>") reads them). Nil means an
	// in-memory store private to these modules.
	Store state.Store
	// Progress is where job.run draws its progress bar when it is a
	// terminal; otherwise job.run logs a progress line every few seconds.
	Progress io.Writer
	// OnJob, when set, receives the summary of every job.run that ends,
	// so a host can tell that rows failed (the CLI exits 3).
	OnJob func(JobSummary)
	// Context returns the context of the run in progress: calls honour it
	// and job.run stops taking rows when it ends. Nil means the Lua state's
	// context (LState.SetContext), else Background.
	Context func() context.Context
	// Now is the clock of job.run (checkpoint times, durations, progress);
	// nil means time.Now.
	Now func() time.Time
	// RunID names the run in progress: each job.run report is then kept
	// per run, written to its name with the run id inserted before the
	// extension and copied to the name as given (RunReportPath). Empty: a
	// report is written to its name only.
	RunID string
	// TMC is the consumer configuration tmc.listen starts from: its URL
	// (tmc.DefaultURL when empty) and timings. AppKey and AppSecret, when
	// empty, are the Client's; the group, concurrency, logger and handler
	// are tmc.listen's.
	TMC tmc.Config
	// Redact, when set, rewrites every cell of a job's report: the host's
	// hiding of known secrets.
	Redact func(string) string
	// Shop, when set, is the shop the run is for: scripts see it as
	// top.shop = {name = , nick = , user_id = } (nil without one).
	Shop *Shop
	// ReportPath, when set, maps the report path a job.run names to the
	// file written (a run over several shops gives each its own).
	ReportPath func(string) string
}

// Shop is the shop a run is for (top.shop).
type Shop struct {
	Name   string // the operator's name of it (--shop NAME)
	Nick   string
	UserID string // taobao_user_id, as digits
}

// Module names.
const (
	ModuleTop = "top"
	ModuleJob = "job"
	ModuleTMC = "tmc"
)

// Names returns the names of the modules Preload can register, sorted.
func Names() []string {
	names := []string{ModuleTop, ModuleJob, ModuleTMC}
	sort.Strings(names)
	return names
}

// host is the modules' view of their Options, defaults filled in.
type host struct {
	c        *caller
	context  func() context.Context
	store    state.Store
	progress io.Writer
	onJob    func(JobSummary)
	now      func() time.Time
	runID    string
	tmc      tmc.Config
	shop     *Shop
	report   func(string) string
	// listening is the tmc.listen in progress (read and written holding
	// the Lua state).
	listening *listener
	redact    func(string) string
	// noYield names, per Lua thread, the job.run callback it is running
	// from Go: such a call cannot yield (see guardYield).
	noYield map[*lua.LState]string
}

// guardYield wraps coroutine.yield: a yield from a callback job.run calls
// from Go (rows, key, call, on_result) is an error naming the callback.
// gopher-lua let such a yield return from the Go call as if the callback
// had returned nothing ("key function returned no value"), and the
// coroutine was never resumed where it yielded. A coroutine the callback
// itself creates and resumes yields as usual.
func (h *host) guardYield(L *lua.LState) {
	co, ok := L.GetGlobal("coroutine").(*lua.LTable)
	if !ok {
		return
	}
	yield, ok := co.RawGetString("yield").(*lua.LFunction)
	if !ok || !yield.IsG {
		return
	}
	orig := yield.GFunction
	co.RawSetString("yield", L.NewFunction(func(L *lua.LState) int {
		if what := h.noYield[L]; what != "" {
			L.RaiseError("coroutine.yield in job.run's %s: job.run calls it to the end, it cannot yield", what)
		}
		return orig(L)
	}))
}

// Preload registers the top, job and tmc modules in L: require("top"),
// require("job") and require("tmc") load them, and top is also the global
// `top` (the same table). allow filters modules by name; a nil allow
// admits them all.
func Preload(L *lua.LState, o Options, allow func(name string) bool) {
	h := &host{context: o.Context, store: o.Store, progress: o.Progress, onJob: o.OnJob, now: o.Now, runID: o.RunID, tmc: o.TMC, redact: o.Redact, shop: o.Shop, report: o.ReportPath}
	h.c = &caller{client: o.Client, dryRun: o.DryRun, log: o.Logger}
	if h.c.log == nil {
		h.c.log = slog.New(slog.NewTextHandler(os.Stderr, nil))
	}
	if h.store == nil {
		h.store = state.NewMemStore()
	}
	if h.now == nil {
		h.now = time.Now
	}
	h.noYield = map[*lua.LState]string{}
	h.guardYield(L)
	if allow == nil || allow(ModuleTop) {
		mod := h.openTop(L)
		L.SetGlobal(ModuleTop, mod)
		L.PreloadModule(ModuleTop, func(L *lua.LState) int {
			L.Push(mod)
			return 1
		})
	}
	if allow == nil || allow(ModuleJob) {
		L.PreloadModule(ModuleJob, func(L *lua.LState) int {
			L.Push(h.openJob(L))
			return 1
		})
	}
	if allow == nil || allow(ModuleTMC) {
		L.PreloadModule(ModuleTMC, func(L *lua.LState) int {
			L.Push(h.openTMC(L))
			return 1
		})
	}
}
