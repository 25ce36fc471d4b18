// Package sandboxtest starts sandboxes for tests: the one helper every
// package's tests use to get a gateway on a free loopback port.
package sandboxtest

import (
	"net/http"
	"strings"
	"testing"

	"github.com/topscript/topscript/sandbox"
)

// Start serves a sandbox with o on a free loopback port for the rest of
// the test, and returns once it answers (so that a quick Close never races
// its start). It fails the test when the sandbox cannot start.
func Start(t testing.TB, o sandbox.Options) *sandbox.Server {
	t.Helper()
	s, err := sandbox.StartLocal(o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	if resp, err := http.Get(strings.TrimSuffix(s.URL(), "/router/rest") + "/_sandbox/stats"); err == nil {
		resp.Body.Close()
	}
	return s
}
