package state

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// Claimer is implemented by stores that several processes may use at once
// (RedisStore), so that they can split work: before a process works on
// key of namespace ns it claims it, and a key claimed by one process is
// refused to the others until the claim is released or its lease runs out.
// job.run claims each row before sending its call, so two processes running
// the same job over the same rows send each row once.
//
// FileStore and MemStore implement it trivially (every claim is granted):
// a file store is held by one process at a time, a memory store lives in
// one. Scoped stores forward it.
type Claimer interface {
	// Claim takes key of ns for token for lease (<= 0: the store's lease,
	// DefaultLease unless configured). It returns true when token holds
	// the claim now (taking it again renews it), false when another live
	// claim holds it. The store keeps a granted claim alive in the
	// background until Unclaim or Close; a process that dies without
	// releasing its claims loses them after at most lease.
	Claim(ctx context.Context, ns, key, token string, lease time.Duration) (bool, error)
	// Unclaim releases token's claim on key of ns; releasing a claim that
	// is not held (or is held by another token) does nothing.
	Unclaim(ctx context.Context, ns, key, token string) error
}

// NewToken returns a fresh claim token naming this process ("host pid 123
// <random>"), unique among processes and runs.
func NewToken() string {
	var rnd [8]byte
	_, _ = rand.Read(rnd[:])
	return holderID() + " " + hex.EncodeToString(rnd[:])
}

// Claim implements Claimer: a memory store lives in one process, so every
// claim is granted.
func (m *MemStore) Claim(ctx context.Context, ns, key, token string, lease time.Duration) (bool, error) {
	if err := ctx.Err(); err != nil {
		return false, err
	}
	return true, checkKey(ns, key)
}

// Unclaim implements Claimer.
func (m *MemStore) Unclaim(context.Context, string, string, string) error { return nil }

// Claim implements Claimer: a file store is open in one process at a time
// (see ErrInUse), so every claim is granted.
func (s *FileStore) Claim(ctx context.Context, ns, key, token string, lease time.Duration) (bool, error) {
	if err := ctx.Err(); err != nil {
		return false, err
	}
	return true, checkKey(ns, key)
}

// Unclaim implements Claimer.
func (s *FileStore) Unclaim(context.Context, string, string, string) error { return nil }

// Claim implements Claimer for the scoped namespace; a store that is not a
// Claimer grants every claim.
func (s *scopedStore) Claim(ctx context.Context, ns, key, token string, lease time.Duration) (bool, error) {
	if c, ok := s.Store.(Claimer); ok {
		return c.Claim(ctx, s.prefix+ns, key, token, lease)
	}
	return true, checkKey(ns, key)
}

// Unclaim implements Claimer.
func (s *scopedStore) Unclaim(ctx context.Context, ns, key, token string) error {
	if c, ok := s.Store.(Claimer); ok {
		return c.Unclaim(ctx, s.prefix+ns, key, token)
	}
	return nil
}

// claimScript sets KEYS[1] to ARGV[1] for ARGV[2] ms when it is free or
// already held by ARGV[1]. It is built on first use, not at start-up.
var claimScript = sync.OnceValue(func() *redis.Script {
	return redis.NewScript(`
local cur = redis.call("GET", KEYS[1])
if cur == false or cur == ARGV[1] then
  redis.call("SET", KEYS[1], ARGV[1], "PX", ARGV[2])
  return 1
end
return 0`)
})

// claimKey is the Redis key of a claim: the namespace's length keeps any
// (ns, key) pair apart from every other.
func (s *RedisStore) claimKey(ns, key string) string {
	return s.Prefix() + "claim:" + strconv.Itoa(len(ns)) + ":" + ns + ":" + key
}

// SetLease sets the lease of claims made with no lease of their own (and
// returned by Lease); d <= 0 means DefaultLease. Call it before use.
func (s *RedisStore) SetLease(d time.Duration) {
	s.claims.mu.Lock()
	s.claims.lease = d
	s.claims.mu.Unlock()
}

// Lease returns the lease of claims made with no lease of their own.
func (s *RedisStore) Lease() time.Duration {
	s.claims.mu.Lock()
	defer s.claims.mu.Unlock()
	return lease0(s.claims.lease)
}

// Claim implements Claimer with a key per claim, set with a script when it
// is free or already the token's, with a lease renewed every lease/3 by a
// background goroutine until Unclaim or Close.
func (s *RedisStore) Claim(ctx context.Context, ns, key, token string, lease time.Duration) (bool, error) {
	if err := checkKey(ns, key); err != nil {
		return false, err
	}
	if token == "" {
		return false, fmt.Errorf("state: claim %s/%s: empty token", ns, key)
	}
	if lease <= 0 {
		lease = s.Lease()
	}
	if lease < 30*time.Millisecond {
		lease = 30 * time.Millisecond
	}
	k := s.claimKey(ns, key)
	n, err := claimScript().Run(ctx, s.client, []string{k}, token, lease.Milliseconds()).Int()
	if err != nil {
		return false, s.wrap("claim", err)
	}
	if n != 1 {
		return false, nil
	}
	s.claims.add(s, k, token, lease)
	return true, nil
}

// Unclaim implements Claimer.
func (s *RedisStore) Unclaim(ctx context.Context, ns, key, token string) error {
	if err := checkKey(ns, key); err != nil {
		return err
	}
	k := s.claimKey(ns, key)
	s.claims.remove(k, token)
	return s.wrap("unclaim", releaseScript().Run(ctx, s.client, []string{k}, token).Err())
}

// redisClaims are the claims a RedisStore holds, kept alive by one
// background goroutine while there are any.
type redisClaims struct {
	mu      sync.Mutex
	lease   time.Duration // default lease (SetLease)
	held    map[string]heldClaim
	running bool
	closed  bool
	wake    chan struct{} // a claim with a shorter lease arrived
}

type heldClaim struct {
	token string
	lease time.Duration
}

func (c *redisClaims) add(s *RedisStore, key, token string, lease time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return
	}
	if c.held == nil {
		c.held = map[string]heldClaim{}
		c.wake = make(chan struct{}, 1)
	}
	c.held[key] = heldClaim{token: token, lease: lease}
	if !c.running {
		c.running = true
		go c.renew(s)
	}
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

func (c *redisClaims) remove(key, token string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if h, ok := c.held[key]; ok && h.token == token {
		delete(c.held, key)
	}
}

func (c *redisClaims) close() {
	c.mu.Lock()
	c.closed = true
	c.held = nil
	c.mu.Unlock()
}

// renew extends every held claim each third of the shortest lease, and
// stops when none is left (or the store is closed). A claim found taken
// over (its lease ran out, e.g. after a long pause) is dropped.
func (c *redisClaims) renew(s *RedisStore) {
	last := time.Now()
	for {
		c.mu.Lock()
		if len(c.held) == 0 || c.closed {
			c.running = false
			c.mu.Unlock()
			return
		}
		period := time.Duration(0)
		for _, h := range c.held {
			if period == 0 || h.lease < period {
				period = h.lease
			}
		}
		wake := c.wake
		c.mu.Unlock()
		period /= 3
		if wait := time.Until(last.Add(period)); wait > 0 {
			t := time.NewTimer(wait)
			select {
			case <-t.C:
			case <-wake:
				t.Stop()
				continue // a new claim: the period may be shorter now
			}
		}
		last = time.Now()
		c.mu.Lock()
		keys := make([]string, 0, len(c.held))
		hs := make([]heldClaim, 0, len(c.held))
		for k, h := range c.held {
			keys = append(keys, k)
			hs = append(hs, h)
		}
		c.mu.Unlock()
		ctx, cancel := context.WithTimeout(context.Background(), period)
		pipe := s.client.Pipeline()
		cmds := make([]*redis.Cmd, len(keys))
		for i, k := range keys {
			cmds[i] = pipe.Eval(ctx, renewSource, []string{k}, hs[i].token, hs[i].lease.Milliseconds())
		}
		_, err := pipe.Exec(ctx)
		cancel()
		if err != nil {
			continue // transient: try again at the next tick; the lease outlives two misses
		}
		c.mu.Lock()
		for i, k := range keys {
			if n, err := cmds[i].Int(); err == nil && n == 0 {
				if h, ok := c.held[k]; ok && h.token == hs[i].token {
					delete(c.held, k)
				}
			}
		}
		c.mu.Unlock()
	}
}

// renewSource is renewScript's source, for pipelines.
const renewSource = `
if redis.call("GET", KEYS[1]) == ARGV[1] then
  return redis.call("PEXPIRE", KEYS[1], ARGV[2])
end
return 0`

// Compile-time checks.
var (
	_ Claimer = (*RedisStore)(nil)
	_ Claimer = (*FileStore)(nil)
	_ Claimer = (*MemStore)(nil)
	_ Claimer = (*scopedStore)(nil)
)
