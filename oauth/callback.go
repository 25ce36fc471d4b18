package oauth

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"html"
	"net"
	"net/http"
	"time"
)

// CallbackPath is the path of the loopback listener's redirect URI.
const CallbackPath = "/callback"

// NewState returns a fresh state value: 16 random bytes in hex. The
// redirect must carry it back, so a redirect another page provoked is
// told from the one the shop's owner made.
func NewState() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// Callback is a loopback listener catching the platform's redirect after
// the shop's owner approved (or refused) the app.
type Callback struct {
	ln    net.Listener
	srv   *http.Server
	state string
	got   chan callbackResult
}

type callbackResult struct {
	code string
	err  error
}

// Listen listens on addr ("127.0.0.1:0" picks a free port) for the
// redirect carrying state.
func Listen(addr, state string) (*Callback, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("oauth: cannot listen for the redirect on %s: %w", addr, err)
	}
	c := &Callback{ln: ln, state: state, got: make(chan callbackResult, 1)}
	mux := http.NewServeMux()
	mux.HandleFunc(CallbackPath, c.serve)
	c.srv = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = c.srv.Serve(ln) }()
	return c, nil
}

// RedirectURI is the URI the platform redirects to:
// http://127.0.0.1:PORT/callback.
func (c *Callback) RedirectURI() string {
	return "http://" + c.ln.Addr().String() + CallbackPath
}

// page writes a small HTML page for the browser.
func page(w http.ResponseWriter, status int, title, text string) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	fmt.Fprintf(w, "<!doctype html><meta charset=utf-8><title>topscript: %s</title><h1>%s</h1><p>%s</p>\n",
		html.EscapeString(title), html.EscapeString(title), html.EscapeString(text))
}

// serve handles the redirect: a redirect without the login's state is
// refused (400) and waited past; a refusal by the owner (error=...) or a
// code ends the wait.
func (c *Callback) serve(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	if subtle.ConstantTimeCompare([]byte(q.Get("state")), []byte(c.state)) != 1 {
		page(w, http.StatusBadRequest, "not this login", "This redirect does not carry the state of the login topscript started; it was ignored.")
		return
	}
	var res callbackResult
	switch {
	case q.Get("error") != "":
		res.err = &Error{Op: "authorisation", Code: q.Get("error"), Description: q.Get("error_description")}
		page(w, http.StatusOK, "not authorised", "The app was not authorised: "+q.Get("error")+". You may close this window.")
	case q.Get("code") == "":
		page(w, http.StatusBadRequest, "no code", "The redirect carries no code; it was ignored.")
		return
	default:
		res.code = q.Get("code")
		page(w, http.StatusOK, "shop authorised", "topscript received the authorisation. You may close this window.")
	}
	select {
	case c.got <- res:
	default: // a second redirect after the first: already answered
	}
}

// ErrNoRedirect is matched (errors.Is) by Wait's error when ctx ended
// before the redirect came.
var ErrNoRedirect = errors.New("oauth: no redirect came back from the authorize page")

// Wait waits for the redirect and returns its code.
func (c *Callback) Wait(ctx context.Context) (string, error) {
	select {
	case res := <-c.got:
		return res.code, res.err
	case <-ctx.Done():
		return "", fmt.Errorf("%w (%v)", ErrNoRedirect, context.Cause(ctx))
	}
}

// Close stops listening.
func (c *Callback) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	return c.srv.Shutdown(ctx)
}
