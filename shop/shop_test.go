package shop_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/topscript/topscript/internal/sandboxtest"
	"github.com/topscript/topscript/internal/syncbuf"
	"github.com/topscript/topscript/sandbox"
	"github.com/topscript/topscript/shop"
	"github.com/topscript/topscript/state"
	"github.com/topscript/topscript/top"
)

func client(t *testing.T, sb *sandbox.Server, session string) *top.Client {
	t.Helper()
	cfg := top.DefaultConfig()
	cfg.AppKey, cfg.AppSecret, cfg.Session = sandbox.DefaultAppKey, sandbox.DefaultAppSecret, session
	cfg.Gateway = sb.URL()
	cfg.Timeout = 5 * time.Second
	cfg.Retry.MaxAttempts = 1
	c, err := top.NewClient(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// A session's shop is asked once (taobao.user.seller.get) and cached by
// the session's fingerprint: a later resolver — another run, another host
// of the store — finds it with no call, and a renewed session of the same
// shop has the same scope. The cache holds no session.
func TestIdentityResolvedOnceAndCached(t *testing.T) {
	sb := sandboxtest.Start(t, sandbox.Options{Sessions: []string{"renewed"}})
	st := state.NewMemStore()
	ctx := context.Background()
	r := &shop.Resolver{Client: client(t, sb, sandbox.DefaultSession), Store: st, AppKey: sandbox.DefaultAppKey, Session: sandbox.DefaultSession}
	id, err := r.Identity(ctx)
	if err != nil || id.UserID != "2206571234567" || id.Nick == "" {
		t.Fatalf("identity %+v, %v", id, err)
	}
	scope, _ := r.Scope(ctx)
	if scope != "12345678.shop-2206571234567" {
		t.Errorf("scope %q", scope)
	}
	calls := sb.Stats().Calls[shop.Method]
	again := &shop.Resolver{Client: nil, Store: st, AppKey: sandbox.DefaultAppKey, Session: sandbox.DefaultSession}
	if id2, err := again.Identity(ctx); err != nil || id2 != id {
		t.Errorf("from the cache: %+v, %v", id2, err)
	}
	if n := sb.Stats().Calls[shop.Method]; n != calls || calls != 1 {
		t.Errorf("%s called %d then %d times, want once", shop.Method, calls, n)
	}
	renewed := &shop.Resolver{Client: client(t, sb, "renewed"), Store: st, AppKey: sandbox.DefaultAppKey, Session: "renewed"}
	if s2, err := renewed.Scope(ctx); err != nil || s2 != scope {
		t.Errorf("renewed session: scope %q, %v; want the shop's %q", s2, err, scope)
	}
	keys, _ := st.Keys(ctx, shop.CacheNS)
	for _, k := range keys {
		raw, _, _ := st.Get(ctx, shop.CacheNS, k)
		if strings.Contains(k+string(raw), sandbox.DefaultSession) || strings.Contains(k+string(raw), "renewed") {
			t.Errorf("the cache holds a session: %s = %s", k, raw)
		}
	}
	if none, _ := (&shop.Resolver{Store: st, AppKey: "app"}).Scope(ctx); none != "app" {
		t.Errorf("no session: scope %q, want the app key", none)
	}
}

// A session the platform does not know cannot be given a shop: using
// state fails with an error saying why, and nothing is written.
func TestUnknownShopIsAnError(t *testing.T) {
	sb := sandboxtest.Start(t, sandbox.Options{})
	st := state.NewMemStore()
	r := &shop.Resolver{Client: client(t, sb, "expired"), Store: st, AppKey: sandbox.DefaultAppKey, Session: "expired"}
	err := r.ScopedStore().Set(context.Background(), "job:x", "k", []byte("v"))
	if !errors.Is(err, shop.ErrUnknownShop) || !strings.Contains(err.Error(), "27") || !strings.Contains(err.Error(), "kept per shop") {
		t.Fatalf("Set with an unknown shop: %v", err)
	}
	if strings.Contains(err.Error(), "expired") && !strings.Contains(err.Error(), "Invalid session") {
		t.Errorf("the error shows the session: %v", err)
	}
	if names, _ := st.ListNamespaces(context.Background(), ""); len(names) != 0 {
		t.Errorf("written without a shop: %v", names)
	}
}

// State an older version kept under the session's hash is carried over to
// the shop's scope at the first use, once; state of other old sessions is
// left alone, with a warning.
func TestLegacyStateCarriedOver(t *testing.T) {
	sb := sandboxtest.Start(t, sandbox.Options{})
	st := state.NewMemStore()
	ctx := context.Background()
	// The old scope: app key and 4 bytes of sha256(session), as versions
	// before shops wrote it.
	sum := sha256.Sum256([]byte(sandbox.DefaultSession))
	oldScope := sandbox.DefaultAppKey + "." + hex.EncodeToString(sum[:4])
	if shop.LegacyScope(sandbox.DefaultAppKey, sandbox.DefaultSession) != oldScope {
		t.Fatalf("LegacyScope %q, want %q", shop.LegacyScope(sandbox.DefaultAppKey, sandbox.DefaultSession), oldScope)
	}
	state.Scoped(st, oldScope).SetMany(ctx, "job:bulk_price", map[string][]byte{"1:a": []byte(`{"status":"ok"}`), "2:b": []byte(`{"status":"unknown"}`)})
	state.Scoped(st, oldScope).Set(ctx, "order_sync", "cursor", []byte("2026-01-01 00:00:00"))
	state.Scoped(st, sandbox.DefaultAppKey+".0badf00d").Set(ctx, "job:bulk_price", "1:a", []byte(`{"status":"ok"}`))
	var logs syncbuf.Buffer
	r := &shop.Resolver{Client: client(t, sb, sandbox.DefaultSession), Store: st, AppKey: sandbox.DefaultAppKey,
		Session: sandbox.DefaultSession, Log: slog.New(slog.NewTextHandler(&logs, nil))}
	s := r.ScopedStore()
	if v, ok, err := s.Get(ctx, "order_sync", "cursor"); err != nil || !ok || string(v) != "2026-01-01 00:00:00" {
		t.Fatalf("the cursor after the move: %q %v %v", v, ok, err)
	}
	if keys, _ := s.Keys(ctx, "job:bulk_price"); strings.Join(keys, ",") != "1:a,2:b" {
		t.Errorf("checkpoints after the move: %v", keys)
	}
	if keys, _ := state.Scoped(st, oldScope).Keys(ctx, "job:bulk_price"); len(keys) != 0 {
		t.Errorf("the old scope still holds %v", keys)
	}
	out := logs.String()
	if !strings.Contains(out, "carried 3 keys") || !strings.Contains(out, "1 scopes of app 12345678 were kept by an older topscript") {
		t.Errorf("log:\n%s", out)
	}
}
