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
	b := sameApp(t, a)
	ctx := context.Background()
	ta, tb := NewToken(), NewToken()
	if ta == tb || !strings.Contains(ta, "pid") {
		t.Fatalf("tokens %q %q", ta, tb)
	}
	claim := func(s *RedisStore, ns, key, tok string, lease time.Duration) bool {
		t.Helper()
		fence, err := s.Claim(ctx, ns, key, tok, lease)
		if err != nil {
			t.Fatal(err)
		}
		return fence > 0
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
	if fence, err := s.Claim(ctx, "n", "k", "tok", 0); fence != 1 || err != nil {
		t.Fatal(fence, err)
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
		if f, _ := c1.Claim(ctx, "job:x", "k", "t1", 0); f == 0 {
			t.Fatal("scoped claim refused")
		}
		if f, _ := c2.Claim(ctx, "job:x", "k", "t2", 0); f == 0 {
			t.Error("another scope's claim was refused: scopes must not share claims")
		}
		if f, _ := r.Claim(ctx, "app.shop1/job:x", "k", "t3", 0); f != 0 {
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
			if f, err := c.Claim(ctx, "ns", "k", tok, 0); f != 1 || err != nil {
				t.Errorf("%T: claim %s: %v %v", c, tok, f, err)
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

// Fencing: each new holder of a key's claim gets a larger fencing token
// (the holder renewing keeps its own), and Commit refuses the writes of a
// holder whose claim passed to another — a paused process that wakes past
// its lease cannot overwrite what the new holder recorded — while
// applying the rest of the batch, deletes included.
func TestRedisClaimFencing(t *testing.T) {
	a := openTestRedis(t)
	defer a.Close()
	b := sameApp(t, a)
	ctx := context.Background()
	const ns = "job:fence"
	fa, err := a.Claim(ctx, ns, "k", "A", 200*time.Millisecond)
	if err != nil || fa < 1 {
		t.Fatalf("A's claim: %d %v", fa, err)
	}
	if again, _ := a.Claim(ctx, ns, "k", "A", 200*time.Millisecond); again != fa {
		t.Errorf("renewal changed the fencing token: %d → %d", fa, again)
	}
	if refused, err := a.Commit(ctx, ns, map[string][]byte{"k": []byte("sending by A")}, map[string]int64{"k": fa}); err != nil || len(refused) != 0 {
		t.Fatalf("A's commit while holding: %v %v", refused, err)
	}
	// A is paused: its renewals stop, its lease runs out, B takes over.
	a.claims.close()
	time.Sleep(300 * time.Millisecond)
	fb, err := b.Claim(ctx, ns, "k", "B", 0)
	if err != nil || fb <= fa {
		t.Fatalf("B's claim after A's lease: %d (A had %d) %v", fb, fa, err)
	}
	if _, err := b.Commit(ctx, ns, map[string][]byte{"k": []byte("ok by B")}, map[string]int64{"k": fb}); err != nil {
		t.Fatal(err)
	}
	// A wakes with its late answer, and writes about another key too.
	refused, err := a.Commit(ctx, ns, map[string][]byte{"k": []byte("ok by A, late"), "other": []byte("x"), "gone": nil},
		map[string]int64{"k": fa})
	if err != nil || len(refused) != 1 || refused[0] != "k" {
		t.Fatalf("A's late commit: refused %v, %v; want k refused", refused, err)
	}
	if v, _, _ := a.Get(ctx, ns, "k"); string(v) != "ok by B" {
		t.Errorf("k = %q: the late holder overwrote the new one's record", v)
	}
	if v, ok, _ := a.Get(ctx, ns, "other"); !ok || string(v) != "x" {
		t.Errorf("the unfenced write of the batch was not applied: %q %v", v, ok)
	}
	b.Set(ctx, ns, "gone", []byte("y"))
	if _, err := b.Commit(ctx, ns, map[string][]byte{"gone": nil}, map[string]int64{"gone": mustClaim(t, b, ns, "gone", "B")}); err != nil {
		t.Fatal(err)
	}
	if _, ok, _ := b.Get(ctx, ns, "gone"); ok {
		t.Error("a nil value in Commit did not delete its key")
	}
	// Released and claimed again: the token still grows.
	b.Unclaim(ctx, ns, "k", "B")
	if fc := mustClaim(t, a, ns, "k", "C"); fc <= fb {
		t.Errorf("fencing token after release: %d, want more than %d", fc, fb)
	}
}

func mustClaim(t *testing.T, s *RedisStore, ns, key, tok string) int64 {
	t.Helper()
	f, err := s.Claim(context.Background(), ns, key, tok, 0)
	if err != nil || f == 0 {
		t.Fatalf("claim %s/%s for %s: %d %v", ns, key, tok, f, err)
	}
	return f
}

// Commit on the file and memory stores (and through a scope, and through
// state.Commit for a store that is no Claimer) applies sets and deletes
// together.
func TestCommitLocal(t *testing.T) {
	ctx := context.Background()
	f, err := OpenFile(filepath.Join(t.TempDir(), "s.db"), FileOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, s := range []Store{f, NewMemStore(), Scoped(NewMemStore(), "x"), plainStore{NewMemStore()}} {
		s.Set(ctx, "ns", "old", []byte("1"))
		refused, err := Commit(ctx, s, "ns", map[string][]byte{"new": []byte("2"), "old": nil}, map[string]int64{"new": 1})
		if err != nil || len(refused) != 0 {
			t.Fatalf("%T: %v %v", s, refused, err)
		}
		keys, _ := s.Keys(ctx, "ns")
		if strings.Join(keys, ",") != "new" {
			t.Errorf("%T: keys %v after the commit, want [new]", s, keys)
		}
	}
}

// plainStore is a Store that is not a Claimer (an embedder's own).
type plainStore struct{ Store }
