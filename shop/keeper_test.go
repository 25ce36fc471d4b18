package shop_test

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/topscript/topscript/internal/sandboxtest"
	"github.com/topscript/topscript/internal/syncbuf"
	"github.com/topscript/topscript/oauth"
	"github.com/topscript/topscript/sandbox"
	"github.com/topscript/topscript/shop"
	"github.com/topscript/topscript/state"
	"github.com/topscript/topscript/top"
)

var noFollow = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

// login authorises shop k of sb (as auth login does) and returns its token.
func login(t *testing.T, sb *sandbox.Server, k string) *oauth.Token {
	t.Helper()
	a := &oauth.App{Key: sandbox.DefaultAppKey, Secret: sandbox.DefaultAppSecret, Endpoint: oauth.EndpointFor(sb.URL())}
	const redirect = "http://127.0.0.1:9/callback"
	resp, err := noFollow.Get(a.AuthorizeURL(redirect, "s", "") + "&sandbox_shop=" + k)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	loc, _ := url.Parse(resp.Header.Get("Location"))
	tok, err := a.Exchange(context.Background(), loc.Query().Get("code"), redirect)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func exchanger(sb *sandbox.Server) oauth.Exchanger {
	return &oauth.App{Key: sandbox.DefaultAppKey, Secret: sandbox.DefaultAppSecret, Endpoint: oauth.EndpointFor(sb.URL())}
}

// slow is a token endpoint that takes its time to refresh: two processes
// refreshing at once would both be at it.
type slow struct{ oauth.Exchanger }

func (s slow) Refresh(ctx context.Context, rt string) (*oauth.Token, error) {
	time.Sleep(300 * time.Millisecond)
	return s.Exchanger.Refresh(ctx, rt)
}

// host is one process's view of a shared file backend: its own handles on
// the tokens file and the lock directory, as another process has.
func host(t *testing.T, dir string, sb *sandbox.Server, log *slog.Logger) *shop.Keeper {
	t.Helper()
	st, err := state.OpenFile(state.TokensPathFor(filepath.Join(dir, "state.db")), state.FileOptions{Brief: true, Wait: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return &shop.Keeper{
		Book:      &shop.Book{Store: st, AppKey: sandbox.DefaultAppKey},
		Locker:    state.NewFileLocker(state.LockDirFor(filepath.Join(dir, "state.db"))),
		Exchanger: slow{exchanger(sb)},
		Log:       log,
	}
}

func TestBook(t *testing.T) {
	sb := sandboxtest.Start(t, sandbox.Options{Shops: 2})
	b := &shop.Book{Store: state.NewMemStore(), AppKey: "app"}
	ctx := context.Background()
	if _, err := b.Get(ctx, "a"); !errors.Is(err, shop.ErrNotAuthorised) || !strings.Contains(err.Error(), "topscript auth login --shop a") {
		t.Errorf("no shop: %v", err)
	}
	tok := login(t, sb, "2")
	if _, err := b.Put(ctx, "北京店", tok); err != nil {
		t.Fatal(err)
	}
	for _, bad := range []string{"", "a,b", "a b", "a/b", strings.Repeat("x", 65), "tab\t"} {
		if _, err := b.Put(ctx, bad, tok); err == nil {
			t.Errorf("name %q accepted", bad)
		}
	}
	r, err := b.Get(ctx, "北京店")
	if err != nil || r.Identity() != (shop.Identity{UserID: "2206571234568", Nick: "topscript沙箱店2"}) || r.Token.AccessToken != tok.AccessToken {
		t.Fatalf("get: %+v %v", r, err)
	}
	if _, err := b.Get(ctx, "x"); err == nil || !strings.Contains(err.Error(), "authorised: 北京店") {
		t.Errorf("unknown shop among others: %v", err)
	}
	if ok, err := b.Delete(ctx, "北京店"); !ok || err != nil {
		t.Errorf("delete: %v %v", ok, err)
	}
	if recs, _ := b.List(ctx); len(recs) != 0 {
		t.Errorf("after delete: %v", recs)
	}
	if ok, _ := b.Delete(ctx, "北京店"); ok {
		t.Error("deleted twice")
	}
}

// Two processes running for one shop while its token nears its expiry:
// the token is refreshed once (the other process finds the lock held,
// goes on with its still-valid token and picks the new one up), both end
// on the new session, and no call is refused — though the first session
// expires while they run.
func TestRefreshOnceAcrossProcesses(t *testing.T) {
	sb := sandboxtest.Start(t, sandbox.Options{Tokens: sandbox.TokenOptions{SessionTTL: 3 * time.Second}})
	dir := t.TempDir()
	var logs syncbuf.Buffer
	log := slog.New(slog.NewTextHandler(&logs, nil))
	a, b := host(t, dir, sb, log), host(t, dir, sb, log)
	ctx := context.Background()
	first := login(t, sb, "1")
	if _, err := a.Book.Put(ctx, "main", first); err != nil {
		t.Fatal(err)
	}
	cfg := top.DefaultConfig()
	cfg.AppKey, cfg.AppSecret, cfg.Gateway, cfg.Retry.MaxAttempts = sandbox.DefaultAppKey, sandbox.DefaultAppSecret, sb.URL(), 1
	base, err := top.NewClient(cfg)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	last := make([]string, 2)
	for i, k := range []*shop.Keeper{a, b} {
		src, err := k.Source(ctx, "main")
		if err != nil {
			t.Fatal(err)
		}
		c := base.WithSessions(src)
		var calls sync.WaitGroup
		for range 4 {
			calls.Add(1)
			go func() {
				defer calls.Done()
				stop := time.Now().Add(3500 * time.Millisecond) // past the first session's expiry
				for time.Now().Before(stop) {
					if _, err := c.Call(ctx, shop.Method, top.Params{"fields": "user_id"}, nil); err != nil {
						t.Errorf("process %d: %v", i+1, err)
						return
					}
					time.Sleep(5 * time.Millisecond)
				}
			}()
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			calls.Wait()
			last[i], _ = src.Session(ctx)
			if src.Refused() != nil {
				t.Errorf("process %d: refused %v", i+1, src.Refused())
			}
		}()
	}
	wg.Wait()
	if o := sb.OAuthStats(); o.Refreshes != 1 || len(o.Errors) != 0 {
		t.Errorf("sandbox saw %d refreshes (errors %v), want 1\n%s", o.Refreshes, o.Errors, logs.String())
	}
	if n := sb.Stats().Errors["27/invalid-sessionkey"]; n != 0 {
		t.Errorf("%d calls answered 27", n)
	}
	stored, _ := a.Book.Get(ctx, "main")
	if last[0] != last[1] || last[0] != stored.Token.AccessToken || last[0] == first.AccessToken || stored.Refreshed.IsZero() {
		t.Errorf("sessions at the end %v, stored %v (first %v)", last, stored.Token.AccessToken != "", first.AccessToken == last[0])
	}
	if strings.Count(logs.String(), "session refreshed") != 1 {
		t.Errorf("log:\n%s", logs.String())
	}
}

// auth refresh while another process refreshes waits for it and returns
// its record without refreshing again; a refresh the platform refuses is
// recorded, never tried again, and the shop warned about.
func TestRefreshForcedAndRefused(t *testing.T) {
	sb := sandboxtest.Start(t, sandbox.Options{})
	dir := t.TempDir()
	var logs syncbuf.Buffer
	k := host(t, dir, sb, slog.New(slog.NewTextHandler(&logs, nil)))
	ctx := context.Background()
	tok := login(t, sb, "1")
	k.Book.Put(ctx, "main", tok)
	lock, err := k.Locker.Acquire(ctx, "auth-refresh."+sandbox.DefaultAppKey+".main", 0)
	if err != nil {
		t.Fatal(err)
	}
	other := host(t, dir, sb, nil)
	done := make(chan struct{})
	var rec *shop.Record
	var refreshed bool
	go func() {
		defer close(done)
		rec, refreshed, err = k.Refresh(ctx, "main")
	}()
	time.Sleep(300 * time.Millisecond)
	// The lock's holder refreshes, by hand here.
	fresh, _ := exchanger(sb).Refresh(ctx, tok.RefreshToken)
	other.Book.Put(ctx, "main", fresh)
	lock.Release(ctx)
	<-done
	if err != nil || refreshed || rec.Token.AccessToken != fresh.AccessToken || sb.OAuthStats().Refreshes != 1 {
		t.Fatalf("waited refresh: %v, refreshed %v, %d refreshes", err, refreshed, sb.OAuthStats().Refreshes)
	}
	if rec, refreshed, err = k.Refresh(ctx, "main"); err != nil || !refreshed {
		t.Fatalf("forced refresh: %v %v", refreshed, err)
	}
	// The refresh token dies elsewhere (a host that does not share this
	// book): the next refresh is refused, for good.
	exchanger(sb).Refresh(ctx, rec.Token.RefreshToken)
	_, _, err = k.Refresh(ctx, "main")
	var oe *oauth.Error
	if !errors.As(err, &oe) || !oe.Refused() {
		t.Fatalf("refused refresh: %v", err)
	}
	r, _ := k.Book.Get(ctx, "main")
	if r.RefreshError == "" || r.Refreshable(time.Now()) {
		t.Errorf("the refusal is not recorded: %+v", r)
	}
	if _, _, err := k.Refresh(ctx, "main"); !errors.Is(err, shop.ErrNotRefreshable) {
		t.Errorf("after the refusal: %v", err)
	}
	if !strings.Contains(logs.String(), shop.Reauthorise("main")) {
		t.Errorf("log:\n%s", logs.String())
	}
	exp, _ := k.Book.Expiring(ctx, time.Now(), 25*time.Hour)
	if len(exp) != 1 || exp[0].Shop != "main" || !strings.Contains(exp[0].Why, "refused") {
		t.Errorf("expiring: %+v", exp)
	}
}

// A session that cannot be refreshed: every run within three days of its
// end warns, naming the shop and what to do; Expiring lists it for
// alerts, soonest first; a refreshable one is not listed until its refresh
// token nears its end.
func TestExpiring(t *testing.T) {
	fixed := sandboxtest.Start(t, sandbox.Options{Tokens: sandbox.TokenOptions{NoRefresh: true, SessionTTL: 48 * time.Hour}})
	live := sandboxtest.Start(t, sandbox.Options{Tokens: sandbox.TokenOptions{SessionTTL: time.Hour, RefreshTTL: 10 * 24 * time.Hour}})
	ctx := context.Background()
	k := &shop.Keeper{Book: &shop.Book{Store: state.NewMemStore(), AppKey: sandbox.DefaultAppKey}, Locker: state.NewMemLocker(), Exchanger: exchanger(fixed)}
	k.Book.Put(ctx, "fixed", login(t, fixed, "1"))
	k.Book.Put(ctx, "live", login(t, live, "1"))
	src, _ := k.Source(ctx, "fixed")
	w := src.Warning()
	if !strings.Contains(w, "shop fixed's session expires at ") || !strings.Contains(w, "cannot be refreshed") || !strings.HasSuffix(w, shop.Reauthorise("fixed")) {
		t.Errorf("warning: %q", w)
	}
	if src, _ := k.Source(ctx, "live"); src.Warning() != "" {
		t.Errorf("a refreshable session warned: %q", src.Warning())
	}
	now := time.Now()
	exp, err := k.Book.Expiring(ctx, now, shop.WarnAhead)
	if err != nil || len(exp) != 1 || exp[0].Shop != "fixed" || exp[0].UserID != "2206571234567" {
		t.Fatalf("within 3 days: %+v %v", exp, err)
	}
	exp, _ = k.Book.Expiring(ctx, now, 11*24*time.Hour)
	if len(exp) != 2 || exp[0].Shop != "fixed" || exp[1].Shop != "live" || !strings.Contains(exp[1].Why, "refresh token") {
		t.Errorf("within 11 days: %+v", exp)
	}
	if msg := exp[0].Message(now.Add(49 * time.Hour)); !strings.Contains(msg, "expired at") {
		t.Errorf("past: %q", msg)
	}
}

// A login while a refresh is on its way (the shop authorised again) is the
// newer authorisation: the refresh's result does not overwrite it.
func TestLoginDuringRefreshWins(t *testing.T) {
	sb := sandboxtest.Start(t, sandbox.Options{})
	k := host(t, t.TempDir(), sb, nil) // its token endpoint takes 300 ms
	ctx := context.Background()
	k.Book.Put(ctx, "main", login(t, sb, "1"))
	done := make(chan error)
	go func() {
		_, _, err := k.Refresh(ctx, "main")
		done <- err
	}()
	time.Sleep(100 * time.Millisecond)
	again := login(t, sb, "1")
	k.Book.Put(ctx, "main", again)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if r, _ := k.Book.Get(ctx, "main"); r.Token.AccessToken != again.AccessToken || !r.Refreshed.IsZero() {
		t.Errorf("the refresh overwrote the login: %+v", r.Refreshed)
	}
}

// A run that starts after its shop's session expired (the refresh token
// still good) refreshes before its first call instead of sending the dead
// session.
func TestSourceRefreshesAnExpiredSession(t *testing.T) {
	sb := sandboxtest.Start(t, sandbox.Options{Tokens: sandbox.TokenOptions{SessionTTL: 500 * time.Millisecond}})
	k := host(t, t.TempDir(), sb, nil)
	ctx := context.Background()
	dead := login(t, sb, "1")
	k.Book.Put(ctx, "main", dead)
	time.Sleep(600 * time.Millisecond)
	src, err := k.Source(ctx, "main")
	if err != nil {
		t.Fatal(err)
	}
	s, err := src.Session(ctx)
	if err != nil || s == dead.AccessToken || sb.OAuthStats().Refreshes != 1 {
		t.Errorf("session %v (the dead one: %v), %d refreshes", err, s == dead.AccessToken, sb.OAuthStats().Refreshes)
	}
}
