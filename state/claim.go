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
	bolt "go.etcd.io/bbolt"
)

// Claimer is implemented by stores that several processes may use at once
// (RedisStore), so that they can split work: before a process works on
// key of namespace ns it claims it, and a key claimed by one process is
// refused to the others until the claim is released or its lease runs out.
// job.run claims each row before sending its call, so two processes running
// the same job over the same rows send each row once.
//
// A claim carries a fencing token: a number that grows every time the
// key's claim passes to a new holder. Writes about the key go through
// Commit with the token they were claimed with, and are refused once a
// newer claim exists: a process that was paused past its lease (SIGSTOP, a
// long GC, a frozen VM) and wakes cannot overwrite what the process that
// took the key over recorded.
//
// FileStore and MemStore implement it trivially (every claim is granted,
// with fencing token 1): a file store is held by one process at a time, a
// memory store lives in one. Scoped stores forward it.
type Claimer interface {
	// Claim takes key of ns for token for lease (<= 0: the store's lease,
	// DefaultLease unless configured). It returns the claim's fencing
	// token (>= 1) when token holds the claim now — taking it again while
	// held renews it and keeps its fencing token — and 0 when another live
	// claim holds it. The store keeps a granted claim alive in the
	// background until Unclaim or Close; a process that dies without
	// releasing its claims loses them after at most lease.
	Claim(ctx context.Context, ns, key, token string, lease time.Duration) (int64, error)
	// Unclaim releases token's claim on key of ns; releasing a claim that
	// is not held (or is held by another token) does nothing.
	Unclaim(ctx context.Context, ns, key, token string) error
	// Commit stores kv in namespace ns as one atomic batch (a nil value
	// deletes its key), fenced: a key listed in fences is written only
	// while its fencing token is still the newest one granted, so a
	// holder that lost its claim to another cannot overwrite what that
	// one recorded. The keys refused so are returned (their writes are
	// dropped, the others applied); a key not in fences is written
	// unconditionally.
	Commit(ctx context.Context, ns string, kv map[string][]byte, fences map[string]int64) (refused []string, err error)
}

// Commit commits kv into ns of s: with a Claimer, its fenced Commit; with
// another store (an embedder's), SetMany and then the deletes, unfenced
// and not atomic together.
func Commit(ctx context.Context, s Store, ns string, kv map[string][]byte, fences map[string]int64) ([]string, error) {
	if c, ok := s.(Claimer); ok {
		return c.Commit(ctx, ns, kv, fences)
	}
	sets := make(map[string][]byte, len(kv))
	var dels []string
	for k, v := range kv {
		if v == nil {
			dels = append(dels, k)
		} else {
			sets[k] = v
		}
	}
	if err := s.SetMany(ctx, ns, sets); err != nil {
		return nil, err
	}
	for _, k := range dels {
		if err := s.Delete(ctx, ns, k); err != nil {
			return nil, err
		}
	}
	return nil, nil
}

// NewToken returns a fresh claim token naming this process ("host pid 123
// <random>"), unique among processes and runs.
func NewToken() string {
	var rnd [8]byte
	_, _ = rand.Read(rnd[:])
	return holderID() + " " + hex.EncodeToString(rnd[:])
}

// Claim implements Claimer: a memory store lives in one process, so every
// claim is granted, with fencing token 1.
func (m *MemStore) Claim(ctx context.Context, ns, key, token string, lease time.Duration) (int64, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	if err := checkKey(ns, key); err != nil {
		return 0, err
	}
	return 1, nil
}

// Unclaim implements Claimer.
func (m *MemStore) Unclaim(context.Context, string, string, string) error { return nil }

// Commit implements Claimer: one process, nothing to fence.
func (m *MemStore) Commit(ctx context.Context, ns string, kv map[string][]byte, _ map[string]int64) ([]string, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := checkNS(ns); err != nil {
		return nil, err
	}
	for k, v := range kv {
		if err := checkKV(ns, k, v); err != nil {
			return nil, err
		}
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return nil, ErrClosed
	}
	b := m.data[ns]
	if b == nil {
		b = map[string][]byte{}
		m.data[ns] = b
	}
	for k, v := range kv {
		if v == nil {
			delete(b, k)
		} else {
			b[k] = append([]byte{}, v...)
		}
	}
	return nil, nil
}

// Claim implements Claimer: a file store is open in one process at a time
// (see ErrInUse), so every claim is granted, with fencing token 1.
func (s *FileStore) Claim(ctx context.Context, ns, key, token string, lease time.Duration) (int64, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	if err := checkKey(ns, key); err != nil {
		return 0, err
	}
	return 1, nil
}

// Unclaim implements Claimer.
func (s *FileStore) Unclaim(context.Context, string, string, string) error { return nil }

// Commit implements Claimer: one fsynced transaction; one process, nothing
// to fence.
func (s *FileStore) Commit(ctx context.Context, ns string, kv map[string][]byte, _ map[string]int64) ([]string, error) {
	if err := checkNS(ns); err != nil {
		return nil, err
	}
	for k, v := range kv {
		if err := checkKV(ns, k, v); err != nil {
			return nil, err
		}
	}
	if len(kv) == 0 {
		return nil, nil
	}
	return nil, s.update(ctx, func(tx *bolt.Tx) error {
		b, err := tx.CreateBucketIfNotExists([]byte(ns))
		if err != nil {
			return err
		}
		for k, v := range kv {
			if v == nil {
				err = b.Delete([]byte(k))
			} else {
				err = b.Put([]byte(k), v)
			}
			if err != nil {
				return err
			}
		}
		return nil
	})
}

// Claim implements Claimer for the scoped namespace; a store that is not a
// Claimer grants every claim.
func (s *scopedStore) Claim(ctx context.Context, ns, key, token string, lease time.Duration) (int64, error) {
	if c, ok := s.Store.(Claimer); ok {
		return c.Claim(ctx, s.prefix+ns, key, token, lease)
	}
	if err := checkKey(ns, key); err != nil {
		return 0, err
	}
	return 1, nil
}

// Unclaim implements Claimer.
func (s *scopedStore) Unclaim(ctx context.Context, ns, key, token string) error {
	if c, ok := s.Store.(Claimer); ok {
		return c.Unclaim(ctx, s.prefix+ns, key, token)
	}
	return nil
}

// Commit implements Claimer for the scoped namespace.
func (s *scopedStore) Commit(ctx context.Context, ns string, kv map[string][]byte, fences map[string]int64) ([]string, error) {
	return Commit(ctx, s.Store, s.prefix+ns, kv, fences)
}

// claimScript grants the claim KEYS[1] (holding the token ARGV[1] for
// ARGV[2] ms) when it is free, with a new fencing token from the counter
// of the key ARGV[3] in the hash KEYS[2], and renews it, keeping its
// fencing token, when ARGV[1] holds it already. It returns the fencing
// token, or 0 when another token holds the claim. It is built on first
// use, not at start-up.
var claimScript = sync.OnceValue(func() *redis.Script {
	return redis.NewScript(`
local cur = redis.call("GET", KEYS[1])
if cur == ARGV[1] then
  redis.call("PEXPIRE", KEYS[1], ARGV[2])
  local fence = redis.call("HGET", KEYS[2], ARGV[3])
  if not fence then fence = redis.call("HINCRBY", KEYS[2], ARGV[3], 1) end
  return tonumber(fence)
end
if cur == false then
  local fence = redis.call("HINCRBY", KEYS[2], ARGV[3], 1)
  redis.call("SET", KEYS[1], ARGV[1], "PX", ARGV[2])
  return fence
end
return 0`)
})

// commitScript writes into the hash KEYS[1] the keys ARGV[i] (from 1, in
// threes: key, fencing token or "" for none, "s"+value to set or "d" to
// delete), each only while its fencing token is the newest the fence hash
// KEYS[2] holds for it, as one atomic step; it returns the keys refused.
var commitScript = sync.OnceValue(func() *redis.Script {
	return redis.NewScript(`
local refused = {}
for i = 1, #ARGV, 3 do
  local key, fence, op = ARGV[i], ARGV[i + 1], ARGV[i + 2]
  if fence ~= "" and redis.call("HGET", KEYS[2], key) ~= fence then
    refused[#refused + 1] = key
  elseif string.sub(op, 1, 1) == "s" then
    redis.call("HSET", KEYS[1], key, string.sub(op, 2))
  else
    redis.call("HDEL", KEYS[1], key)
  end
end
return refused`)
})

// claimKey is the Redis key of a claim: the namespace's length keeps any
// (ns, key) pair apart from every other.
func (s *RedisStore) claimKey(ns, key string) string {
	return s.Prefix() + "claim:" + strconv.Itoa(len(ns)) + ":" + ns + ":" + key
}

// fenceKey is the Redis hash of the fencing counters of namespace ns, one
// field per key: it outlives the claims (a counter must never go back).
func (s *RedisStore) fenceKey(ns string) string { return s.Prefix() + "fence:" + ns }

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
// background goroutine until Unclaim or Close, and a fencing counter per
// key that grows with every new holder.
func (s *RedisStore) Claim(ctx context.Context, ns, key, token string, lease time.Duration) (int64, error) {
	if err := checkKey(ns, key); err != nil {
		return 0, err
	}
	if token == "" {
		return 0, fmt.Errorf("state: claim %s/%s: empty token", ns, key)
	}
	if lease <= 0 {
		lease = s.Lease()
	}
	if lease < 30*time.Millisecond {
		lease = 30 * time.Millisecond
	}
	k := s.claimKey(ns, key)
	fence, err := claimScript().Run(ctx, s.client, []string{k, s.fenceKey(ns)}, token, lease.Milliseconds(), key).Int64()
	if err != nil {
		return 0, s.wrap("claim", err)
	}
	if fence <= 0 {
		return 0, nil
	}
	s.claims.add(s, k, token, lease)
	return fence, nil
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

// Commit implements Claimer with one script, so the fence checks and the
// writes are one atomic step on the server.
func (s *RedisStore) Commit(ctx context.Context, ns string, kv map[string][]byte, fences map[string]int64) ([]string, error) {
	if err := checkNS(ns); err != nil {
		return nil, err
	}
	if len(kv) == 0 {
		return nil, nil
	}
	args := make([]any, 0, 3*len(kv))
	for k, v := range kv {
		if err := checkKV(ns, k, v); err != nil {
			return nil, err
		}
		fence := ""
		if f, ok := fences[k]; ok {
			fence = strconv.FormatInt(f, 10)
		}
		op := "d"
		if v != nil {
			op = "s" + string(v)
		}
		args = append(args, k, fence, op)
	}
	res, err := commitScript().Run(ctx, s.client, []string{s.nsKey(ns), s.fenceKey(ns)}, args...).StringSlice()
	if err != nil {
		return nil, s.wrap("commit", err)
	}
	return res, nil
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
