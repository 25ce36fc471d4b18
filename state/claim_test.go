package state

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Two processes (two stores on one app) split keys: a claim is refused to
// the other token while held, renewed while its holder lives, released by
// Unclaim, and freed after its lease when the holder dies.
func TestRedisClaims(t *testing.T) {
	a := openTestRedis(t)
	defer a.Close()
	b, err := OpenRedis(context.Background(), redisURL, a.app)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	ctx := context.Background()
	ta, tb := NewToken(), NewToken()
	if ta == tb || !strings.Contains(ta, "pid") {
		t.Fatalf("tokens %q %q", ta, tb)
	}
	claim := func(s *RedisStore, ns, key, tok string, lease time.Duration) bool {
		t.Helper()
		ok, err := s.Claim(ctx, ns, key, tok, lease)
		if err != nil {
			t.Fatal(err)
		}
		return ok
	}
	if !claim(a, "job:x", "k1", ta, 0) || claim(b, "job:x", "k1", tb, 0) {
		t.Fatal("k1: want a's claim granted and b's refused")
	}
	if !claim(a, "job:x", "k1", ta, 0) {
		t.Error("k1: the holder's claim again must be granted (renewal)")
	}
	if !claim(b, "job:y", "k1", tb, 0) || !claim(b, "job:x", "k2", tb, 0) {
		t.Error("other namespaces and keys are free")
	}
	if err := b.Unclaim(ctx, "job:x", "k1", tb); err != nil { // not b's: no-op
		t.Fatal(err)
	}
	if claim(b, "job:x", "k1", tb, 0) {
		t.Error("b's Unclaim released a's claim")
	}
	if err := a.Unclaim(ctx, "job:x", "k1", ta); err != nil {
		t.Fatal(err)
	}
	if !claim(b, "job:x", "k1", tb, 0) {
		t.Error("k1 not free after Unclaim")
	}

	// A live holder keeps a short lease alive; a dead one loses it.
	if !claim(a, "job:x", "slow", ta, 300*time.Millisecond) {
		t.Fatal("slow: not granted")
	}
	time.Sleep(time.Second)
	if claim(b, "job:x", "slow", tb, 0) {
		t.Fatal("slow: the claim was lost while its holder lived (no renewal)")
	}
	a.Close() // stops the renewals, as a crash would
	time.Sleep(400 * time.Millisecond)
	if !claim(b, "job:x", "slow", tb, 0) {
		t.Error("slow: still claimed after its holder died and its lease ran out")
	}
}

func TestRedisStoreLease(t *testing.T) {
	s := openTestRedis(t)
	defer s.Close()
	if s.Lease() != DefaultLease {
		t.Errorf("default lease %v", s.Lease())
	}
	s.SetLease(2 * time.Second)
	ctx := context.Background()
	if ok, err := s.Claim(ctx, "n", "k", "tok", 0); !ok || err != nil {
		t.Fatal(ok, err)
	}
	ttl, err := s.Client().PTTL(ctx, s.claimKey("n", "k")).Result()
	if err != nil || ttl <= time.Second || ttl > 2*time.Second {
		t.Errorf("claim ttl %v (%v), want the store's 2s lease", ttl, err)
	}
}

// Scoped stores forward claims into their scope; file and memory stores
// grant every claim.
func TestClaimScopedAndLocal(t *testing.T) {
	ctx := context.Background()
	if redisURL != "" {
		r := openTestRedis(t)
		defer r.Close()
		s1, s2 := Scoped(r, "app.shop1"), Scoped(r, "app.shop2")
		c1, c2 := s1.(Claimer), s2.(Claimer)
		if ok, _ := c1.Claim(ctx, "job:x", "k", "t1", 0); !ok {
			t.Fatal("scoped claim refused")
		}
		if ok, _ := c2.Claim(ctx, "job:x", "k", "t2", 0); !ok {
			t.Error("another scope's claim was refused: scopes must not share claims")
		}
		if ok, _ := r.Claim(ctx, "app.shop1/job:x", "k", "t3", 0); ok {
			t.Error("the scoped claim is not under the scope's namespace")
		}
	}
	f, err := OpenFile(filepath.Join(t.TempDir(), "s.db"), FileOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, c := range []Claimer{f, NewMemStore(), Scoped(NewMemStore(), "x").(Claimer)} {
		for _, tok := range []string{"t1", "t2"} {
			if ok, err := c.Claim(ctx, "ns", "k", tok, 0); !ok || err != nil {
				t.Errorf("%T: claim %s: %v %v", c, tok, ok, err)
			}
		}
		if err := c.Unclaim(ctx, "ns", "k", "t1"); err != nil {
			t.Errorf("%T: %v", c, err)
		}
		if _, err := c.Claim(ctx, "ns", "", "t", 0); err == nil {
			t.Errorf("%T: empty key accepted", c)
		}
	}
}
