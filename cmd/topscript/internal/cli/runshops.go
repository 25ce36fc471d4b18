package cli

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"text/tabwriter"
)

// A run over several shops (--shops, --all-shops): the script runs once
// per shop, each in an engine of its own with top.shop, its own state
// scope, --lock lock and job report (the shop's name inserted in the
// report's path), --parallel at a time, every call under the app's one
// throttle (the clients share it: top.Client.WithSessions). Each shop's
// output lines are prefixed with "[NAME] "; its log records carry
// shop=NAME. The run ends with one summary, and its exit code is the worst
// of the shops' (severity).

// shopResult is how one shop's run ended.
type shopResult struct {
	name string
	code int
	msg  string // its last word ("" when it ended well and said nothing)
}

// severity orders exit codes from best to worst: ok, failed rows, lock
// held, a script error (or os.exit(n)), a usage or configuration error,
// interrupted.
func severity(code int) int {
	switch code {
	case ExitOK:
		return 0
	case ExitJobFailed:
		return 1
	case ExitLockHeld:
		return 2
	case ExitUsage:
		return 4
	case ExitInterrupted:
		return 5
	}
	return 3
}

// worst is the exit code of a run over shops.
func worst(results []shopResult) int {
	code := ExitOK
	for _, r := range results {
		if severity(r.code) > severity(code) {
			code = r.code
		}
	}
	return code
}

func runShops(ctx context.Context, st *State, o *runOptions, s *session, targets []*target, memLimit int64) error {
	logger := s.log
	results := make([]shopResult, len(targets))
	streams := &shopStreams{}
	sem := make(chan struct{}, o.Parallel)
	var wg sync.WaitGroup
	for i, t := range targets {
		wg.Add(1)
		go func() {
			defer wg.Done()
			select {
			case sem <- struct{}{}:
				defer func() { <-sem }()
			case <-ctx.Done():
				results[i] = shopResult{name: t.name, code: ExitInterrupted, msg: "not started: " + context.Cause(ctx).Error()}
				return
			}
			results[i] = runShop(ctx, st, o, s, t, memLimit, streams)
		}()
	}
	wg.Wait()
	return shopsSummary(results, st.Stderr, logger, o.LogFormat == "json")
}

// runShop runs the script for one shop of several, its output prefixed.
func runShop(ctx context.Context, st *State, o *runOptions, s *session, t *target, memLimit int64, streams *shopStreams) shopResult {
	prefix := "[" + t.name + "] "
	out := &lineWriter{mu: &streams.out, w: st.Stdout, prefix: prefix}
	errw := &lineWriter{mu: &streams.err, w: st.Stderr, prefix: prefix}
	defer out.Flush()
	defer errw.Flush()
	rio := runIO{stdout: out, stderr: errw, log: s.log.With("shop", t.name), progress: errw, report: shopReportPath(t.name), memLimit: memLimit}
	err := runTarget(ctx, st, o, s, t, rio)
	res := shopResult{name: t.name}
	if err == nil {
		return res
	}
	res.code, res.msg = ExitScript, err.Error()
	var ee *exitError
	if errors.As(err, &ee) {
		res.code, res.msg = ee.code, ee.msg
	}
	res.msg = strings.TrimRight(res.msg, "\n")
	if res.msg != "" && st.errLog == nil {
		fmt.Fprintln(errw, res.msg) // the shop's own last word, where its output was
	}
	return res
}

// shopsSummary says how each shop's run ended, one line a shop (JSON
// records under --log-format json), and returns the run's end: nil when
// every shop ended well, else the worst code with the summary as its
// message.
func shopsSummary(results []shopResult, stderr io.Writer, logger *slog.Logger, jsonLogs bool) error {
	failed := 0
	var b bytes.Buffer
	tw := tabwriter.NewWriter(&b, 0, 4, 2, ' ', 0)
	for _, r := range results {
		status := "ok"
		if r.code != ExitOK {
			failed++
			status = fmt.Sprintf("exit %d", r.code)
			if r.msg != "" {
				status += ": " + firstLine(r.msg)
			}
		}
		if jsonLogs {
			logger.Info("shop finished", "shop", r.name, "exit_code", r.code, "error", r.msg)
		}
		fmt.Fprintf(tw, "  %s\t%s\n", r.name, status)
	}
	tw.Flush()
	head := fmt.Sprintf("topscript: %s: %d ok", plural(len(results), "shop"), len(results)-failed)
	if failed > 0 {
		head += fmt.Sprintf(", %d failed", failed)
	}
	summary := head + "\n" + strings.TrimRight(b.String(), "\n")
	code := worst(results)
	switch {
	case code != ExitOK:
		return &exitError{code: code, msg: summary}
	case jsonLogs:
		logger.Info(head)
	default:
		fmt.Fprintln(stderr, summary)
	}
	return nil
}

// plural is "1 shop", "2 shops".
func plural(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return fmt.Sprintf("%d %ss", n, what)
}

// firstLine is the first line of s.
func firstLine(s string) string {
	first, _, _ := strings.Cut(s, "\n")
	return first
}

// lineWriter writes whole lines to w, each prefixed, so that the output of
// shops running at once does not interleave within a line.
type lineWriter struct {
	mu     *sync.Mutex // shared by the writers of one stream
	w      io.Writer
	prefix string
	buf    []byte
}

// shopStreams serialise the lineWriters of the shops on each stream.
type shopStreams struct{ out, err sync.Mutex }

// Write implements io.Writer.
func (l *lineWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.buf = append(l.buf, p...)
	for {
		i := bytes.IndexByte(l.buf, '\n')
		if i < 0 {
			return len(p), nil
		}
		if _, err := io.WriteString(l.w, l.prefix+string(l.buf[:i+1])); err != nil {
			return len(p), err
		}
		l.buf = l.buf[i+1:]
	}
}

// Flush writes a last unfinished line.
func (l *lineWriter) Flush() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.buf) > 0 {
		_, _ = io.WriteString(l.w, l.prefix+string(l.buf)+"\n")
		l.buf = nil
	}
}
