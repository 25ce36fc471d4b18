package state

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

var appSeq atomic.Int64

// openTestRedis opens a store for a fresh app name, so tests do not share keys.
func openTestRedis(t *testing.T) *RedisStore {
	t.Helper()
	url := needRedis(t)
	s, err := OpenRedis(context.Background(), url, fmt.Sprintf("app%d-%d", time.Now().UnixNano(), appSeq.Add(1)))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// sameApp opens a second store on a's server and app, as another process
// of the fleet would; it is closed when the test ends.
func sameApp(t *testing.T, a *RedisStore) *RedisStore {
	t.Helper()
	b, err := OpenRedis(context.Background(), redisURL, a.app)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	return b
}

func TestRedisStore(t *testing.T) {
	s := openTestRedis(t)
	ctx := context.Background()
	// key layout
	s.Set(ctx, "orders", "cursor", []byte("x"))
	if n, _ := s.Client().Exists(ctx, "topscript:{"+s.app+"}:ns:orders").Result(); n != 1 {
		t.Fatalf("namespace hash %q not found", "topscript:{"+s.app+"}:ns:orders")
	}
	s.Delete(ctx, "orders", "cursor")
	testStore(t, s)
}

func TestRedisStoresShare(t *testing.T) {
	a := openTestRedis(t)
	defer a.Close()
	b := sameApp(t, a)
	c, _ := OpenRedis(context.Background(), redisURL, a.app+"-other")
	defer c.Close()
	ctx := context.Background()
	a.SetMany(ctx, "job:x", map[string][]byte{"1": []byte("ok"), "2": []byte("ok")})
	if keys, _ := b.Keys(ctx, "job:x"); len(keys) != 2 {
		t.Fatalf("second client sees %q", keys)
	}
	if keys, _ := c.Keys(ctx, "job:x"); len(keys) != 0 {
		t.Fatalf("another app sees %q", keys)
	}
}

func TestOpenRedisErrors(t *testing.T) {
	ctx := context.Background()
	cases := []struct{ url, want string }{
		{"redis://admin:s3cr3tpw@127.0.0.1:1/0", "redis://admin:[REDACTED]@127.0.0.1:1/0"},
		{"redis://:s3cr3tpw@127.0.0.1:1", "redis://:[REDACTED]@127.0.0.1:1"},
		{"http://:s3cr3tpw@127.0.0.1:6379", `invalid redis_url "http://:[REDACTED]@127.0.0.1:6379"`},
		{"redis://:s3cr3tpw@127.0.0.1:notaport/0", `invalid redis_url "redis://:[REDACTED]@127.0.0.1:notaport/0"`},
		{"redis://:s3cr3tpw@127.0.0.1:6379/db", `invalid redis_url "redis://:[REDACTED]@127.0.0.1:6379/db"`},
		{"::s3cr3tpw@%%", "invalid redis_url"},
	}
	if redisURL != "" {
		// A password the server does not expect: the error names the URL, not the password.
		cases = append(cases, struct{ url, want string }{
			strings.Replace(redisURL, "redis://", "redis://user:s3cr3tpw@", 1),
			strings.Replace(redisURL, "redis://", "redis://user:[REDACTED]@", 1),
		})
	}
	for _, c := range cases {
		start := time.Now()
		s, err := OpenRedis(ctx, c.url, "app")
		if err == nil {
			s.Close()
			t.Errorf("OpenRedis(%q) succeeded", c.url)
			continue
		}
		if !strings.Contains(err.Error(), c.want) {
			t.Errorf("OpenRedis(%q) = %q, want it to contain %q", c.url, err, c.want)
		}
		if strings.Contains(err.Error(), "s3cr3tpw") {
			t.Errorf("OpenRedis(%q) error leaks the password: %q", c.url, err)
		}
		if d := time.Since(start); d > 10*time.Second {
			t.Errorf("OpenRedis(%q) took %v", c.url, d)
		}
		t.Logf("%s", err)
	}
	if _, err := OpenRedis(ctx, "redis://127.0.0.1:1", ""); err == nil {
		t.Error("empty app accepted")
	}
}

func TestRedisLocker(t *testing.T) {
	s := openTestRedis(t)
	defer s.Close()
	testLockerExclusive(t, s.Locker())

	// Another client (another host) is refused too, with the holder named.
	ctx := context.Background()
	l, err := s.Locker().Acquire(ctx, "bulk", time.Second)
	if err != nil {
		t.Fatal(err)
	}
	other, _ := OpenRedis(ctx, redisURL, s.app)
	defer other.Close()
	if _, err := other.Locker().Acquire(ctx, "bulk", time.Second); !errors.Is(err, ErrLocked) || !strings.Contains(err.Error(), "pid ") {
		t.Fatalf("other host Acquire = %v", err)
	}
	if n, _ := s.Client().Exists(ctx, "topscript:{"+s.app+"}:lock:bulk").Result(); n != 1 {
		t.Fatal("lock key not under the app prefix")
	}
	l.Release(ctx)
	if n, _ := s.Client().Exists(ctx, "topscript:{"+s.app+"}:lock:bulk").Result(); n != 0 {
		t.Fatal("lock key left after Release")
	}
}

// A holder that stops renewing (crashed) loses the lock after its lease.
func TestRedisLockLeaseExpiry(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns a process")
	}
	s := openTestRedis(t)
	defer s.Close()
	cmd, sc := helper(t, "redislock|"+redisURL+"|crashy") // app "test", lease 600ms
	waitLine(t, sc, "locked")
	ctx := context.Background()
	locker := NewRedisLocker(s.Client(), AppPrefix("test")+"lock:")
	if _, err := locker.Acquire(ctx, "crashy", time.Second); !errors.Is(err, ErrLocked) {
		t.Fatalf("Acquire while helper holds = %v", err)
	}
	time.Sleep(time.Second) // the helper renews: still held past its lease
	if _, err := locker.Acquire(ctx, "crashy", time.Second); !errors.Is(err, ErrLocked) {
		t.Fatalf("Acquire after lease while helper renews = %v", err)
	}
	cmd.Process.Signal(syscall.SIGKILL)
	cmd.Wait()
	killed := time.Now()
	for {
		l, err := locker.Acquire(ctx, "crashy", time.Second)
		if err == nil {
			freed := time.Since(killed)
			t.Logf("lock freed %v after the holder was killed (lease 600ms)", freed)
			if freed > 1500*time.Millisecond {
				t.Errorf("lock freed only after %v", freed)
			}
			l.Release(ctx)
			return
		}
		if !errors.Is(err, ErrLocked) {
			t.Fatal(err)
		}
		if time.Since(killed) > 3*time.Second {
			t.Fatal("lock of a killed holder never freed")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Renewal keeps a slow holder's lock well past its lease; a holder whose
// renewals stop loses it and sees Lost.
func TestRedisLockRenewalAndLost(t *testing.T) {
	s := openTestRedis(t)
	defer s.Close()
	ctx := context.Background()
	locker := s.Locker()
	l, err := locker.Acquire(ctx, "slow", 500*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(1600 * time.Millisecond) // > 3 leases
	for time.Now().Before(deadline) {
		if _, err := locker.Acquire(ctx, "slow", time.Second); !errors.Is(err, ErrLocked) {
			t.Fatalf("lock taken from a renewing holder: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	select {
	case <-l.Lost():
		t.Fatal("Lost closed while renewing")
	default:
	}

	// Someone deletes the key (e.g. FLUSHDB) and another holder takes it:
	// the first holder learns it at its next renewal.
	s.Client().Del(ctx, "topscript:{"+s.app+"}:lock:slow")
	l2, err := locker.Acquire(ctx, "slow", time.Second)
	if err != nil {
		t.Fatal(err)
	}
	select {
	case <-l.Lost():
	case <-time.After(time.Second):
		t.Fatal("Lost not closed after the lock was taken over")
	}
	// Releasing the stale lock must not delete the new holder's key.
	if err := l.Release(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := locker.Acquire(ctx, "slow", time.Second); !errors.Is(err, ErrLocked) {
		t.Fatalf("stale Release freed the new holder's lock: %v", err)
	}
	l2.Release(ctx)
}

// Three workers sharing 30 qps for 2 s make about 60 calls in all.
func TestRedisLimiterPace(t *testing.T) {
	s := openTestRedis(t)
	defer s.Close()
	const qps, dur = 30.0, 2 * time.Second
	ctx, cancel := context.WithTimeout(context.Background(), dur)
	defer cancel()
	var calls atomic.Int64
	var wg sync.WaitGroup
	for w := 0; w < 3; w++ {
		// each worker its own client, as separate hosts would be
		c, err := OpenRedis(context.Background(), redisURL, s.app)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		wg.Add(1)
		go func() {
			defer wg.Done()
			lim := c.Limiter()
			for {
				if err := lim.Wait(ctx, "app", qps); err != nil {
					return
				}
				calls.Add(1)
			}
		}()
	}
	wg.Wait()
	got, want := float64(calls.Load()), qps*dur.Seconds()
	t.Logf("3 workers, %v qps, %v: %v calls (ideal %v)", qps, dur, got, want)
	if got < want*0.9 || got > want*1.1 {
		t.Fatalf("%v calls, want %v ±10%%", got, want)
	}
	// A different key is not slowed by this one; qps <= 0 is unlimited.
	lim := s.Limiter()
	start := time.Now()
	for i := 0; i < 20; i++ {
		if err := lim.Wait(context.Background(), "unlimited", 0); err != nil {
			t.Fatal(err)
		}
	}
	if time.Since(start) > 200*time.Millisecond {
		t.Fatalf("unlimited waits took %v", time.Since(start))
	}
	// Wait honours ctx.
	lim.Wait(context.Background(), "slowkey", 0.5)
	cctx, ccancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer ccancel()
	if err := lim.Wait(cctx, "slowkey", 0.5); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Wait past ctx = %v", err)
	}
}

func TestRedisBan(t *testing.T) {
	s := openTestRedis(t)
	defer s.Close()
	ctx := context.Background()
	lim := s.Limiter()
	if u, err := lim.BanUntil(ctx, "app"); err != nil || !u.IsZero() {
		t.Fatalf("no ban: %v %v", u, err)
	}
	until := time.Now().Add(700 * time.Millisecond).Truncate(time.Millisecond)
	if err := lim.SetBan(ctx, "app", until); err != nil {
		t.Fatal(err)
	}
	// Seen by another host.
	other, _ := OpenRedis(ctx, redisURL, s.app)
	defer other.Close()
	if u, _ := other.Limiter().BanUntil(ctx, "app"); !u.Equal(until) {
		t.Fatalf("BanUntil = %v, want %v", u, until)
	}
	// A shorter ban does not shorten it; a past one is ignored.
	lim.SetBan(ctx, "app", time.Now().Add(100*time.Millisecond))
	lim.SetBan(ctx, "app", time.Now().Add(-time.Hour))
	if u, _ := lim.BanUntil(ctx, "app"); !u.Equal(until) {
		t.Fatalf("BanUntil after shorter ban = %v, want %v", u, until)
	}
	if u, _ := lim.BanUntil(ctx, "taobao.item.sku.price.update"); !u.IsZero() {
		t.Fatalf("other scope banned: %v", u)
	}
	time.Sleep(time.Until(until) + 50*time.Millisecond)
	if u, _ := lim.BanUntil(ctx, "app"); !u.IsZero() {
		t.Fatalf("ban still there after its end: %v", u)
	}
}
