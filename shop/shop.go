// Package shop holds a shop's identity: the taobao_user_id (and nick) of
// the seller a session belongs to. Sessions change with every
// authorisation and refresh; the shop does not, so everything topscript
// keeps per shop — job checkpoints and claims, the state module's data,
// cursors, --lock locks — is keyed by the shop (Scope), never by the
// session.
//
// A session's shop is asked of the platform once
// (taobao.user.seller.get fields=user_id,nick) and cached in the state
// store under its fingerprint (a hash, never the session itself), so later
// runs — on any host of a Redis backend — find it without a call. When the
// platform cannot say (the session is invalid, the app lacks the API),
// using state fails with an error saying why, instead of keeping state
// under a key that would change with the next session.
//
// State that versions before this one kept under the session's hash (the
// app key and 4 bytes of sha256(session), LegacyScope) is carried over to
// the shop's scope the first time the session is used (state.Migrate),
// once. State kept under the hashes of older sessions cannot be told
// apart by shop: it is left where it is, and a warning names how many such
// scopes there are (run once with the old session to carry its state
// over).
//
// The shops an app is authorised for are kept in a Book (book.go): per
// shop name (the operator's, --shop NAME) its token result, in the state
// backend's tokens store (state.Backend.Tokens), never in topscript.toml.
// A stored shop's identity is its token's taobao_user_id (Resolver.Shop),
// so its state is the same whatever its session. A Keeper (keeper.go)
// refreshes a refreshable token before it expires, once across every
// process sharing the book, and a Source gives a run the shop's current
// session (top.SessionSource). Book.Expiring lists the shops about to lose
// their session for good, for the warnings runs print and for alerts.
package shop

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/topscript/topscript/state"
	"github.com/topscript/topscript/top"
	"github.com/topscript/topscript/toptime"
)

// Identity is a shop.
type Identity struct {
	UserID string `json:"user_id"` // taobao_user_id, as digits
	Nick   string `json:"nick"`
}

// CacheNS is the (unscoped) state namespace where the shop of each
// session is cached, keyed by Fingerprint(session).
const CacheNS = "topscript:shops"

// Method is the API that tells the shop of a session.
const Method = "taobao.user.seller.get"

// Scope is the state scope of the shop id of app appKey:
// "<app key>.shop-<user id>". With no shop (an app-level run, no session)
// it is the app key alone.
func Scope(appKey string, id Identity) string {
	if id.UserID == "" {
		return appKey
	}
	return appKey + ".shop-" + id.UserID
}

// LegacyScope is the scope older versions kept a session's state under:
// the app key and 4 bytes of sha256(session) in hex.
func LegacyScope(appKey, session string) string {
	if session == "" {
		return appKey
	}
	sum := sha256.Sum256([]byte(session))
	return appKey + "." + hex.EncodeToString(sum[:4])
}

// legacyScopeRe matches the namespaces kept under a LegacyScope of app.
func legacyScopeRe(appKey string) *regexp.Regexp {
	return regexp.MustCompile(`^` + regexp.QuoteMeta(appKey) + `\.[0-9a-f]{8}/`)
}

// Fingerprint names a session in the cache: a hash, from which the
// session cannot be read back.
func Fingerprint(session string) string {
	sum := sha256.Sum256([]byte("topscript shop cache\x00" + session))
	return hex.EncodeToString(sum[:16])
}

// cached is a cache entry.
type cached struct {
	Identity
	At string `json:"at"`
}

// Resolver tells the shop of a session, and the scope its state lives
// under. The zero value is not usable: set Client, Store and AppKey.
type Resolver struct {
	Client  *top.Client // asks the platform
	Store   state.Store // the backend's store, unscoped: the cache and the scopes live in it
	AppKey  string      // the app's key
	Session string      // the session of the run ("" : no shop)
	// Shop, when set, is the session's shop, known already (a shop of the
	// Book: its token result names it): it is never asked.
	Shop Identity
	Log  *slog.Logger // migration notes and warnings; nil: none
	// Now is the clock of cache entries (nil: time.Now).
	Now func() time.Time

	mu sync.Mutex
	id *Identity
}

// Identity returns the shop of the session: from the resolver, else the
// cache, else the platform (then cached). An empty session has no shop
// (the zero Identity).
func (r *Resolver) Identity(ctx context.Context) (Identity, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.id != nil {
		return *r.id, nil
	}
	if r.Shop.UserID != "" {
		r.id = &r.Shop
		return r.Shop, nil
	}
	if r.Session == "" {
		r.id = &Identity{}
		return *r.id, nil
	}
	key := Fingerprint(r.Session)
	if raw, ok, err := r.Store.Get(ctx, CacheNS, key); err != nil {
		return Identity{}, err
	} else if ok {
		var c cached
		if json.Unmarshal(raw, &c) == nil && c.UserID != "" {
			r.id = &c.Identity
			return c.Identity, nil
		}
	}
	id, err := r.ask(ctx)
	if err != nil {
		return Identity{}, err
	}
	now := time.Now
	if r.Now != nil {
		now = r.Now
	}
	b, _ := json.Marshal(cached{Identity: id, At: toptime.Format(now())})
	if err := r.Store.Set(ctx, CacheNS, key, b); err != nil {
		return Identity{}, err
	}
	r.id = &id
	return id, nil
}

// ErrUnknownShop is matched (errors.Is) by the error of a session whose
// shop the platform did not tell.
var ErrUnknownShop = errors.New("cannot tell which shop the session belongs to")

// ask asks the platform.
func (r *Resolver) ask(ctx context.Context) (Identity, error) {
	fail := func(why string) (Identity, error) {
		return Identity{}, fmt.Errorf("%w (%s); job checkpoints, claims and state are kept per shop, "+
			"so nothing is read or written without knowing it: check the session (and that the app may call %s)", ErrUnknownShop, why, Method)
	}
	if r.Client == nil {
		return fail("no TOP client")
	}
	resp, err := r.Client.Call(ctx, Method, top.Params{"fields": "user_id,nick"}, &top.CallOptions{Session: r.Session, Retries: -1})
	if err != nil {
		return fail(err.Error())
	}
	user, _ := resp.Payload["user"].(map[string]any)
	id := Identity{UserID: digits(user["user_id"]), Nick: fmt.Sprint(user["nick"])}
	if id.UserID == "" {
		return fail(Method + " answered no user_id")
	}
	if user["nick"] == nil {
		id.Nick = ""
	}
	return id, nil
}

// digits renders a user id of the answer as digits ("" when it is none).
func digits(v any) string {
	var s string
	switch x := v.(type) {
	case json.Number:
		s = x.String()
	case string:
		s = x
	case int64:
		s = fmt.Sprint(x)
	case float64:
		s = fmt.Sprintf("%.0f", x)
	}
	if s == "" || strings.Trim(s, "0123456789") != "" {
		return ""
	}
	return s
}

// Scope returns the state scope of the session's shop (Scope), resolving
// the shop first; the first time, it carries the state an older version
// kept under the session's hash over to it, and warns about state kept
// under the hashes of other sessions of the app, which cannot be told
// apart by shop.
func (r *Resolver) Scope(ctx context.Context) (string, error) {
	id, err := r.Identity(ctx)
	if err != nil {
		return "", err
	}
	scope := Scope(r.AppKey, id)
	if r.Session == "" {
		return scope, nil
	}
	legacy := LegacyScope(r.AppKey, r.Session)
	moved, err := state.Migrate(ctx, r.Store, legacy, scope)
	if err != nil {
		return "", fmt.Errorf("carrying the state kept under the session's old scope over to shop %s: %w", id.UserID, err)
	}
	if r.Log != nil && moved > 0 {
		r.Log.Info(fmt.Sprintf("state: carried %d keys kept under this session's old scope over to shop %s (%s): they are kept per shop now, whatever the session",
			moved, id.UserID, id.Nick), "shop", id.UserID, "carried_over", moved)
	}
	r.warnOthers(ctx, legacy)
	return scope, nil
}

// warnOthers warns, once, when state of other sessions is left under
// their old scopes.
func (r *Resolver) warnOthers(ctx context.Context, own string) {
	l, ok := r.Store.(state.Lister)
	if !ok || r.Log == nil {
		return
	}
	names, err := l.ListNamespaces(ctx, r.AppKey+".")
	if err != nil {
		return
	}
	re := legacyScopeRe(r.AppKey)
	scopes := map[string]bool{}
	for _, n := range names {
		if m := re.FindString(n); m != "" && strings.TrimSuffix(m, "/") != own {
			if keys, err := r.Store.Keys(ctx, n); err == nil && len(keys) > 0 {
				scopes[strings.TrimSuffix(m, "/")] = true
			}
		}
	}
	if len(scopes) > 0 {
		r.Log.Warn(fmt.Sprintf("state: %d scopes of app %s were kept by an older topscript under sessions other than this one; "+
			"which shop each belongs to is unknown, so they are not carried over: run once with each old session (if it still works) to carry its state over",
			len(scopes), r.AppKey), "legacy_scopes", len(scopes))
	}
}

// ScopedStore returns the store scoped to the session's shop, resolved
// at its first use (state.LazyScoped).
func (r *Resolver) ScopedStore() state.Store {
	return state.LazyScoped(r.Store, r.Scope)
}
