package luatop

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	lua "github.com/yuin/gopher-lua"

	"github.com/topscript/topscript/luathread"
	"github.com/topscript/topscript/stdlib"
	"github.com/topscript/topscript/tmc"
	"github.com/topscript/topscript/top"
	"github.com/topscript/topscript/toptime"
)

// The tmc module: the messages of TMC, the platform's message channel,
// pushed to a script's handler (the consumer is package tmc).
//
//	local tmc = require("tmc")
//	tmc.permit{topics = {...}}          --> true: taobao.tmc.user.permit for the session's shop
//	local summary = tmc.listen{
//	  topics = {"taobao_trade_*"},      -- names, or prefixes ending in "*"; default every topic
//	  group = "default",                -- the channel's group (consumers of one group split its messages)
//	  concurrency = 4,                  -- handlers in hand at once (1..64)
//	  handler = function(msg) ... end,  -- required
//	  tick = {every = "10m", run = function() ... end},  -- optional: at the start, then every period
//	  summary = "1m",                   -- period of the summary log line (false: none)
//	}
//	tmc.stop()                          -- from a handler or tick: listen stops cleanly and returns
//
// msg = {id, topic, content, nick, user_id, time, time_ms}: id and user_id
// are exact (strings of digits beyond 2^53); content is the message's JSON
// decoded as json.decode does (big ids as strings), or the text itself when
// it is not JSON; time is the publish time as "yyyy-MM-dd HH:mm:ss"
// (GMT+8) and time_ms the same in epoch milliseconds.
//
// A handler that returns confirms its message; one that raises an error
// fails it with the error's text (cut to 128 characters) as the reason, and
// the channel delivers it again later. Messages of a topic not in topics
// are confirmed without the handler (counted as skipped): the channel
// delivers a group every topic the app subscribed to. listen runs until
// the run's context ends (SIGINT, SIGTERM, --timeout: a clean stop, then
// the run ends as interrupted, exit 130) or a handler or tick calls
// tmc.stop() (a clean stop, then listen returns its summary table). A
// clean stop takes no more messages, fails back those not yet started,
// lets the running handlers finish (their calls are not cut by the
// interrupt: they get the consumer's stop timeout), writes their confirms
// and closes. Under --dry-run handlers run with writes logged, and every
// message is failed back instead of confirmed: a dry run consumes nothing.
//
// # One Lua state, handlers on threads of it
//
// Handlers run in the script's own Lua state, not in a pool of engines:
// a handler is a closure of the script, and what it closes over (a store
// opened once, counters, a CSV writer, the script's globals) must be the
// one the script made, not a copy per engine made by running the script
// again (which would also repeat its side effects: tmc.permit, the start
// sweep). For throughput, the state is shared the way luathread describes:
// each of the concurrency workers runs its handler on a Lua thread of its
// own, one at a time, and every call that waits — top.call, try, pages,
// each, call_all, tmc.permit, time.sleep — lets the state go while it
// waits, so handlers overlap where a handler spends its time (waiting for
// the gateway) and never run Lua at once. Between two such calls a
// handler's Lua code runs without another's in between, so a
// state:get-compare-state:set (the state module's calls do not let go) is
// atomic within the process. Messages about one trade run one after
// another in arrival order (package tmc's lanes); a fleet of processes on
// one group splits the messages, and its writes must be idempotent by the
// object's id.

// errDryRun is the reason a dry run fails a handled message back.
var errDryRun = errors.New("dry run: handled with writes logged, not confirmed")

// listener is one tmc.listen in progress.
type listener struct {
	h    *host
	spec *listenSpec
	g    *luathread.Group
	c    *tmc.Consumer
	stop context.CancelFunc
	log  *slog.Logger

	handled, failed, skipped, ticks, tickFailed atomic.Int64
}

// openTMC builds the tmc module table.
func (h *host) openTMC(L *lua.LState) *lua.LTable {
	mod := L.CreateTable(0, 3)
	L.SetFuncs(mod, map[string]lua.LGFunction{
		"listen": h.listen,
		"permit": h.permit,
		"stop":   h.tmcStop,
	})
	return mod
}

// listen is tmc.listen{...}.
func (h *host) listen(L *lua.LState) int {
	spec := checkListenSpec(L)
	if h.listening != nil {
		L.RaiseError("tmc.listen: already listening (one tmc.listen at a time)")
	}
	if h.c.client == nil {
		L.Error(TopErrorValue(L, noClient("tmc.listen")), 1)
	}
	cfg := h.tmc
	if cfg.URL == "" {
		cfg.URL = tmc.DefaultURL
	}
	if cfg.AppKey == "" {
		cfg.AppKey = h.c.client.Config().AppKey
	}
	if cfg.AppSecret == "" && cfg.Signer == nil {
		cfg.Signer = h.c.client.Sign // the secret stays in the client
	}
	cfg.Group, cfg.Concurrency = spec.group, spec.concurrency
	cfg.Logger, cfg.SummaryEvery = h.c.log, 0 // the listener logs its own summary
	if h.c.dryRun {
		cfg.DedupWindow = -1 // a duplicate is confirmed unhandled: a dry run confirms nothing
	}
	l := &listener{h: h, spec: spec, log: h.c.log.With("group", spec.group)}
	c, err := tmc.New(cfg, l.handle)
	if err != nil {
		L.RaiseError("tmc.listen: %v", err)
	}
	l.c = c
	ctx, stop := context.WithCancel(h.ctx(L))
	l.stop = stop
	g, err := luathread.Share(L)
	if err != nil {
		stop()
		L.RaiseError("tmc.listen: %v", err)
	}
	l.g = g
	h.listening = l
	defer func() {
		h.listening = nil
		g.Close()
		stop()
	}()
	l.log.Info("tmc: listening", "url", cfg.URL, "topics", describeTopics(spec.topics), "concurrency", spec.concurrency)
	if h.c.dryRun {
		l.log.Warn("tmc: dry run: messages are handled with writes logged, then failed back, never confirmed")
	}
	var runErr error
	luathread.Blocking(L, func() { runErr = l.run(ctx) })
	l.logSummary("tmc: stopped")
	if runErr != nil {
		L.RaiseError("tmc.listen: %v", runErr)
	}
	h.raiseIfInterrupted(L)
	L.Push(l.summaryTable(L))
	return 1
}

// run consumes until ctx ends (or the server refuses the handshake), with
// the tick and the summary alongside.
func (l *listener) run(ctx context.Context) error {
	side, endSide := context.WithCancel(ctx)
	var wg sync.WaitGroup
	if l.spec.tick != nil {
		wg.Add(1)
		go func() {
			defer wg.Done()
			l.ticker(side)
		}()
	}
	if l.spec.summary > 0 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			t := time.NewTicker(l.spec.summary)
			defer t.Stop()
			for {
				select {
				case <-t.C:
					l.logSummary("tmc: summary")
				case <-side.Done():
					return
				}
			}
		}()
	}
	err := l.c.Run(ctx)
	endSide()
	wg.Wait()
	return err
}

// handle is the consumer's handler: it runs the Lua handler on a thread of
// the script's state.
func (l *listener) handle(ctx context.Context, m *tmc.Message) error {
	if !topicMatch(l.spec.topics, m.Topic) {
		l.skipped.Add(1)
		l.log.Debug("tmc: a topic not listened to: confirmed unhandled", "id", m.ID, "topic", m.Topic)
		return nil
	}
	start := time.Now()
	var herr error
	err := l.g.Do(ctx, func(T *lua.LState) error {
		T.Push(l.spec.handler)
		T.Push(messageTable(T, m))
		if perr := T.PCall(1, 0, nil); perr != nil {
			herr = errors.New(luaErrorText(T, perr))
		}
		return nil
	})
	if err == nil {
		err = herr
	}
	if err != nil {
		l.failed.Add(1)
		return err // the consumer logs it and fails the message
	}
	l.handled.Add(1)
	if l.log.Enabled(ctx, slog.LevelDebug) {
		l.log.Debug("tmc: handled", "id", m.ID, "topic", m.Topic, "took", time.Since(start).Round(time.Microsecond))
	}
	if l.h.c.dryRun {
		return errDryRun
	}
	return nil
}

// ticker runs the tick at once, then every period after the last one ended.
func (l *listener) ticker(ctx context.Context) {
	t := time.NewTimer(0)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		var terr error
		err := l.g.Do(ctx, func(T *lua.LState) error {
			T.Push(l.spec.tick)
			if perr := T.PCall(0, 0, nil); perr != nil {
				terr = errors.New(luaErrorText(T, perr))
			}
			return nil
		})
		l.ticks.Add(1)
		switch {
		case err != nil:
			return
		case terr != nil && ctx.Err() != nil:
			l.log.Info("tmc: tick cut short by the stop", "error", terr)
		case terr != nil:
			l.tickFailed.Add(1)
			l.log.Warn("tmc: tick failed; it runs again after its period", "error", terr, "every", l.spec.tickEvery)
		}
		t.Reset(l.spec.tickEvery)
	}
}

// tmcStop is tmc.stop(): true when a listen was stopping or stopped by it.
func (h *host) tmcStop(L *lua.LState) int {
	if h.listening == nil {
		L.Push(lua.LFalse)
		return 1
	}
	h.listening.stop()
	L.Push(lua.LTrue)
	return 1
}

// permit is tmc.permit{topics=, session=}: subscribes the session's shop
// to topics (all the app's topics when left out) with
// taobao.tmc.user.permit.
func (h *host) permit(L *lua.LState) int {
	const fn = "tmc.permit"
	r := &request{method: "taobao.tmc.user.permit", params: top.Params{}}
	switch a := L.Get(1).(type) {
	case *lua.LNilType:
	case *lua.LTable:
		checkFields(L, fn, a, []string{"session", "topics"})
		if topics := checkTopics(L, fn, a.RawGetString("topics"), false); topics != nil {
			r.params["topics"] = strings.Join(topics, ",")
		}
		switch s := a.RawGetString("session").(type) {
		case *lua.LNilType:
		case lua.LString:
			r.opts = &top.CallOptions{Session: string(s), Retries: -1}
		default:
			L.RaiseError("%s: session must be a string, got %s", fn, stdlib.Describe(s))
		}
	default:
		L.RaiseError("%s: want a table {topics = {...}} or nothing, got %s", fn, stdlib.Describe(a))
	}
	h.c.prepare(r)
	ctx := h.ctx(L)
	var out outcome
	luathread.Blocking(L, func() { out = h.c.call(ctx, r) })
	if out.err != nil {
		h.raiseIfInterrupted(L)
		L.Error(TopErrorValue(L, out.err), 1)
	}
	L.Push(lua.LTrue)
	return 1
}

// messageTable is msg, the handler's argument.
func messageTable(L *lua.LState, m *tmc.Message) *lua.LTable {
	t := L.CreateTable(0, 7)
	t.RawSetString("id", stdlib.ToLua(L, m.ID))
	t.RawSetString("topic", lua.LString(m.Topic))
	if m.Content != "" {
		v, err := stdlib.DecodeJSON(L, m.Content)
		if err != nil {
			v = lua.LString(m.Content)
		}
		t.RawSetString("content", v)
	}
	if m.Nick != "" {
		t.RawSetString("nick", lua.LString(m.Nick))
	}
	if m.UserID != 0 {
		t.RawSetString("user_id", stdlib.ToLua(L, m.UserID))
	}
	if !m.Time.IsZero() {
		t.RawSetString("time", lua.LString(toptime.Format(m.Time)))
		t.RawSetString("time_ms", lua.LNumber(m.Time.UnixMilli()))
	}
	return t
}

// luaErrorText is the text of an error a Lua function raised: a string as
// it is ("file:line: message"), a TOP error value's one line, anything
// else through tostring. Call it on the thread that raised it.
func luaErrorText(L *lua.LState, err error) string {
	var ae *lua.ApiError
	if !errors.As(err, &ae) {
		return err.Error()
	}
	switch v := ae.Object.(type) {
	case lua.LString:
		s, _, _ := strings.Cut(string(v), "\nstack traceback:")
		return s
	default:
		if te, ok := TopErrorFrom(v); ok {
			return te.Error()
		}
		return L.ToStringMeta(v).String()
	}
}

// stats is the listener's counters with the consumer's.
type listenStats struct {
	tmc.Stats
	handled, failed, skipped, ticks, tickFailed int64
}

func (l *listener) stats() listenStats {
	return listenStats{Stats: l.c.Stats(), handled: l.handled.Load(), failed: l.failed.Load(),
		skipped: l.skipped.Load(), ticks: l.ticks.Load(), tickFailed: l.tickFailed.Load()}
}

// logSummary logs the counters under msg.
func (l *listener) logSummary(msg string) {
	s := l.stats()
	args := []any{"received", s.Received, "handled", s.handled, "failed", s.failed, "skipped", s.skipped,
		"duplicates", s.Duplicates, "in_hand", s.InHand, "lag", s.Lag.Round(time.Millisecond),
		"max_lag", s.MaxLag.Round(time.Millisecond), "connects", s.Connects}
	if l.spec.tick != nil {
		args = append(args, "ticks", s.ticks, "ticks_failed", s.tickFailed)
	}
	l.log.Info(msg, args...)
}

// summaryTable is what tmc.listen returns: the counters, lags in seconds.
func (l *listener) summaryTable(L *lua.LState) *lua.LTable {
	s := l.stats()
	t := L.CreateTable(0, 12)
	for k, v := range map[string]int64{
		"received": s.Received, "handled": s.handled, "failed": s.failed, "skipped": s.skipped,
		"duplicates": s.Duplicates, "released": s.Released, "confirmed": s.Confirmed, "connects": s.Connects,
		"ticks": s.ticks, "ticks_failed": s.tickFailed,
	} {
		t.RawSetString(k, lua.LNumber(v))
	}
	t.RawSetString("lag", lua.LNumber(s.Lag.Seconds()))
	t.RawSetString("max_lag", lua.LNumber(s.MaxLag.Seconds()))
	return t
}
