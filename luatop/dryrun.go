package luatop

import "github.com/topscript/topscript/top"

// Dry run (--dry-run): a write is not sent. It is checked as the real call
// would check it (top.Client.Validate: required and unknown parameters,
// types, limits), so a bad parameter fails the dry run with the error the
// real run would raise; a good one is logged where the script asks for it,
// with its parameters (secrets redacted), and answered with a stand-in
// payload {dry_run = true}; reads are sent as usual. top.call,
// top.try, top.call_all (batched or not) and job.run all go through
// prepare and then caller.local, so the gate and its log line are decided
// here only. job.run also keeps no checkpoints and takes no claims under
// dry-run, and reports such rows with the status "dry_run".

// prepare marks r as a dry-run write when it is one, and logs it with its
// parameters (secrets redacted) and attrs; it runs on the script's thread,
// in the order the script asked for the calls. A write the client's checks
// refuse is answered with their error instead (r.invalid), not logged.
func (c *caller) prepare(r *request, attrs ...any) {
	if !c.dryRun || !c.isWrite(r.method) {
		return
	}
	r.dry = true
	if c.client != nil {
		if err := c.client.Validate(r.method, r.params, r.opts); err != nil {
			r.invalid = topError(r.method, err)
			return
		}
	}
	params := c.client.Redact(top.FormatParams(r.params)) // nil-safe: hides secret params
	c.log.Info("dry-run: would call "+r.method, append([]any{"method", r.method, "params", params}, attrs...)...)
}

// dryRunMarker is the payload key of a write not sent under dry-run.
const dryRunMarker = "dry_run"

// dryRunResponse is the stand-in answer of a write not sent under dry-run.
func dryRunResponse(method string) *top.Response {
	return &top.Response{Method: method, Payload: map[string]any{dryRunMarker: true}}
}
