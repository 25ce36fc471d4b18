package state

import (
	"context"
	"strings"
	"testing"
)

// Two shops (or apps) on one store never see each other's checkpoints, and
// the scope never carries the session itself.
func TestScopedStoresAreSeparate(t *testing.T) {
	ctx := context.Background()
	base := NewMemStore()
	shopA := Scoped(base, Scope("12345678", "session-of-shop-a"))
	shopB := Scoped(base, Scope("12345678", "session-of-shop-b"))
	if err := shopA.SetMany(ctx, "job:bulk_price", map[string][]byte{"1:2": []byte("ok")}); err != nil {
		t.Fatal(err)
	}
	if _, ok, err := shopB.Get(ctx, "job:bulk_price", "1:2"); err != nil || ok {
		t.Fatalf("shop B sees shop A's checkpoint (ok=%v, err=%v)", ok, err)
	}
	if v, ok, _ := shopA.Get(ctx, "job:bulk_price", "1:2"); !ok || string(v) != "ok" {
		t.Fatalf("shop A lost its checkpoint: %q %v", v, ok)
	}
	keys, _ := shopB.Keys(ctx, "job:bulk_price")
	if len(keys) != 0 {
		t.Fatalf("shop B keys %v", keys)
	}
	if sc := Scope("12345678", "session-of-shop-a"); strings.Contains(sc, "session") || sc == Scope("12345678", "session-of-shop-b") {
		t.Fatalf("scope %q leaks the session or does not tell shops apart", sc)
	}
	if Scoped(base, "") != base {
		t.Fatal("an empty scope must be the store itself")
	}
}
