package top_test

import (
	"context"
	"sync"
	"testing"

	"github.com/topscript/topscript/internal/sandboxtest"
	"github.com/topscript/topscript/sandbox"
	"github.com/topscript/topscript/top"
)

type refusals struct {
	session string
	mu      sync.Mutex
	got     []int
}

func (r *refusals) Session(context.Context) (string, error) { return r.session, nil }

func (r *refusals) Rejected(session string, e *top.Error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if session == r.session {
		r.got = append(r.got, e.Code)
	}
}

// A batch of a client WithSessions sends the source's session, and the
// source hears of each sub-request the gateway refused it for.
func TestWithSessionsBatch(t *testing.T) {
	sb := sandboxtest.Start(t, sandbox.Options{})
	base := newClient(t, sandboxConfig(sb))
	calls := []top.BatchCall{
		{Method: "taobao.user.seller.get", Params: top.Params{"fields": "user_id"}},
		{Method: "taobao.user.seller.get", Params: top.Params{"fields": "nick"}},
	}
	good := &refusals{session: sandbox.DefaultSession}
	res, err := base.WithSessions(good).CallBatch(context.Background(), calls)
	if err != nil || res[0].Err != nil || res[1].Err != nil || len(good.got) != 0 {
		t.Fatalf("with the sandbox's session: %v %+v %v", err, res, good.got)
	}
	bad := &refusals{session: "not-a-session"}
	res, _ = base.WithSessions(bad).CallBatch(context.Background(), calls)
	if res[0].Err == nil || res[1].Err == nil || len(bad.got) != 2 || bad.got[0] != 27 {
		t.Fatalf("with a bad session: %+v, refusals %v", res, bad.got)
	}
}
