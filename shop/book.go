package shop

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/topscript/topscript/oauth"
	"github.com/topscript/topscript/state"
	"github.com/topscript/topscript/toptime"
)

// The authorised shops of an app (Book): a record per shop name holding
// its token result, in the backend's tokens store (state.Backend.Tokens:
// Redis, or a 0600 file beside the state file) — never in topscript.toml.
// A name is the operator's (--shop NAME); the shop behind it is the
// token's taobao_user_id, whose scope its state lives under (Scope).

// Record is an authorised shop. Its Token holds secrets: never print it.
type Record struct {
	Name  string      `json:"name"`
	Token oauth.Token `json:"token"`
	// Authorised is when the shop last authorised the app (auth login);
	// Refreshed when its token was last refreshed (zero: never).
	Authorised time.Time `json:"authorised"`
	Refreshed  time.Time `json:"refreshed,omitzero"`
	// RefreshError is why the platform refused the last refresh ("": it
	// did not): the token is not refreshed again, it lasts until it
	// expires, and the shop must authorise again.
	RefreshError string `json:"refresh_error,omitempty"`
}

// Identity is the shop of the record.
func (r *Record) Identity() Identity { return Identity{UserID: r.Token.UserID, Nick: r.Token.Nick} }

// Refreshable reports whether the record's token will be refreshed: it
// can be (oauth.Token.Refreshable) and no refresh was refused.
func (r *Record) Refreshable(now time.Time) bool {
	return r.RefreshError == "" && r.Token.Refreshable(now)
}

// Ends is when the shop loses its session for good unless it authorises
// again, and why: the session's expiry for a token that will not be
// refreshed, the refresh token's for one that will (zero when the platform
// did not say).
func (r *Record) Ends(now time.Time) (time.Time, string) {
	t := &r.Token
	switch {
	case r.RefreshError != "":
		return t.Expires, "its session cannot be refreshed (the last refresh was refused: " + r.RefreshError + ")"
	case !t.Refreshable(now) && t.RefreshToken != "":
		return t.Expires, "its refresh token has expired"
	case !t.Refreshable(now):
		return t.Expires, "its session cannot be refreshed (only apps sold through the service market get refreshable tokens)"
	}
	return t.RefreshExpires, "its refresh token expires then"
}

// Reauthorise is what the operator must do when shop name's session is
// refused (codes 26, 27, 53) or about to end: the one wording of it.
func Reauthorise(name string) string {
	return fmt.Sprintf("shop %s must authorise again: topscript auth login --shop %s", name, name)
}

// ErrNotAuthorised is matched (errors.Is) by the error about a shop name
// the book does not hold.
var ErrNotAuthorised = errors.New("shop is not authorised")

// notAuthorised is the error about name.
func notAuthorised(name string, known []string) error {
	hint := "no shop is authorised yet"
	if len(known) > 0 {
		hint = "authorised: " + strings.Join(known, ", ")
	}
	return fmt.Errorf("%w: %q (%s); authorise it with: topscript auth login --shop %s", ErrNotAuthorised, name, hint, name)
}

// MaxNameLen bounds a shop name, in characters.
const MaxNameLen = 64

// CheckName checks a shop name: 1 to 64 letters (any script), digits
// and . _ - @ (no spaces, commas — --shops A,B splits on them — or
// slashes).
func CheckName(name string) error {
	if name == "" {
		return errors.New("empty shop name")
	}
	if utf8.RuneCountInString(name) > MaxNameLen {
		return fmt.Errorf("shop name %q is longer than %d characters", name, MaxNameLen)
	}
	for _, r := range name {
		if !unicode.IsLetter(r) && !unicode.IsDigit(r) && !strings.ContainsRune("._-@", r) {
			return fmt.Errorf("shop name %q: %q is not allowed (letters, digits and . _ - @)", name, r)
		}
	}
	return nil
}

// CheckNames checks a list of shop names (--shops, a schedule entry's
// shops): each by CheckName, none twice — a shop named twice would run its
// script twice at once. It returns the index of the first bad name and
// why, or -1 and nil.
func CheckNames(names []string) (int, error) {
	seen := make(map[string]bool, len(names))
	for i, name := range names {
		if err := CheckName(name); err != nil {
			return i, err
		}
		if seen[name] {
			return i, fmt.Errorf("shop %s is named twice", name)
		}
		seen[name] = true
	}
	return -1, nil
}

// Book is the authorised shops of an app in a tokens store.
type Book struct {
	Store  state.Store // state.Backend.Tokens: a state.Swapper
	AppKey string
}

// ns is the book's namespace: outside every scope scripts reach.
func (b *Book) ns() string { return "topscript:auth:" + b.AppKey }

// get reads the record of name and its stored bytes (nil, nil: none).
func (b *Book) get(ctx context.Context, name string) (*Record, []byte, error) {
	raw, ok, err := b.Store.Get(ctx, b.ns(), name)
	if err != nil || !ok {
		return nil, nil, err
	}
	var r Record
	if err := json.Unmarshal(raw, &r); err != nil || r.Token.AccessToken == "" {
		return nil, nil, fmt.Errorf("the stored token of shop %s cannot be read: authorise it again (topscript auth login --shop %s)", name, name)
	}
	r.Name = name
	return &r, raw, nil
}

// Get returns the record of name, or an error matching ErrNotAuthorised.
func (b *Book) Get(ctx context.Context, name string) (*Record, error) {
	r, _, err := b.get(ctx, name)
	if err != nil {
		return nil, err
	}
	if r == nil {
		names, _ := b.Names(ctx)
		return nil, notAuthorised(name, names)
	}
	return r, nil
}

// Put stores a new authorisation of shop name, replacing whatever the
// book held for it.
func (b *Book) Put(ctx context.Context, name string, tok *oauth.Token) (*Record, error) {
	if err := CheckName(name); err != nil {
		return nil, err
	}
	r := &Record{Name: name, Token: *tok, Authorised: tok.Obtained}
	raw, err := json.Marshal(r)
	if err != nil {
		return nil, err
	}
	return r, b.Store.Set(ctx, b.ns(), name, raw)
}

// swap replaces the record of name stored as old with r, if it still is,
// and returns r as stored.
func (b *Book) swap(ctx context.Context, name string, old []byte, r *Record) ([]byte, bool, error) {
	raw, err := json.Marshal(r)
	if err != nil {
		return nil, false, err
	}
	ok, err := state.Swap(ctx, b.Store, b.ns(), name, old, raw)
	return raw, ok, err
}

// Delete forgets shop name (auth logout); false when the book did not
// hold it.
func (b *Book) Delete(ctx context.Context, name string) (bool, error) {
	r, raw, err := b.get(ctx, name)
	if err != nil || r == nil {
		return false, err
	}
	return state.Swap(ctx, b.Store, b.ns(), name, raw, nil)
}

// Names lists the shop names, sorted.
func (b *Book) Names(ctx context.Context) ([]string, error) {
	return b.Store.Keys(ctx, b.ns())
}

// List returns every record, by name.
func (b *Book) List(ctx context.Context) ([]*Record, error) {
	names, err := b.Names(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]*Record, 0, len(names))
	for _, n := range names {
		r, _, err := b.get(ctx, n)
		if err != nil {
			return nil, err
		}
		if r != nil {
			out = append(out, r)
		}
	}
	return out, nil
}

// WarnAhead is how long before a shop loses its session for good every
// run for it says so (Book.Expiring).
const WarnAhead = 3 * 24 * time.Hour

// Expiry is a shop about to lose its session for good.
type Expiry struct {
	Shop   string
	UserID string
	Nick   string
	At     time.Time // when; before now if it has already
	Why    string
}

// Message says it, with what to do.
func (e Expiry) Message(now time.Time) string {
	when := "expires at " + toptime.Format(e.At) + " (in " + e.At.Sub(now).Round(time.Minute).String() + ")"
	if !e.At.After(now) {
		when = "expired at " + toptime.Format(e.At)
	}
	return fmt.Sprintf("shop %s's session %s: %s; %s", e.Shop, when, e.Why, Reauthorise(e.Shop))
}

// Expiring lists the shops that lose their session for good within d of
// now (Record.Ends), soonest first: the sessions that will not be
// refreshed, and the refreshable ones whose refresh token ends. Alerts
// about sessions about to expire call it.
func (b *Book) Expiring(ctx context.Context, now time.Time, d time.Duration) ([]Expiry, error) {
	recs, err := b.List(ctx)
	if err != nil {
		return nil, err
	}
	var out []Expiry
	for _, r := range recs {
		if e, ok := r.expiring(now, d); ok {
			out = append(out, e)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].At.Before(out[j].At) })
	return out, nil
}

// expiring is r's Expiry when it ends within d of now.
func (r *Record) expiring(now time.Time, d time.Duration) (Expiry, bool) {
	at, why := r.Ends(now)
	if at.IsZero() || at.Sub(now) > d {
		return Expiry{}, false
	}
	return Expiry{Shop: r.Name, UserID: r.Token.UserID, Nick: r.Token.Nick, At: at, Why: why}, true
}
