package state

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strconv"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// RedisLimiter paces calls across every process sharing a Redis server (a
// fleet of hosts working for one app key) and shares platform bans among
// them.
//
// Pacing is GCRA without burst: each Wait reserves the next free slot of
// the key (slots are 1/qps apart, timed by the Redis server's clock) and
// sleeps until it, so the aggregate rate of all callers on a key is qps.
type RedisLimiter struct {
	client redis.UniversalClient
	prefix string
}

// NewRedisLimiter returns a limiter whose Redis keys start with prefix
// (RedisStore.Limiter uses "topscript:{app}:"; rate keys get "rate:" and
// ban keys "ban:" after it).
func NewRedisLimiter(client redis.UniversalClient, prefix string) *RedisLimiter {
	return &RedisLimiter{client: client, prefix: prefix}
}

// reserveScript: KEYS[1] holds the theoretical arrival time (TAT) in
// microseconds of the server clock; ARGV[1] is the slot interval in
// microseconds. It reserves a slot and returns how long to wait for it.
// It is built on first use, not at start-up.
var reserveScript = sync.OnceValue(func() *redis.Script {
	return redis.NewScript(`
local t = redis.call("TIME")
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local interval = tonumber(ARGV[1])
local tat = tonumber(redis.call("GET", KEYS[1]) or "0")
if tat < now then tat = now end
local nxt = tat + interval
redis.call("SET", KEYS[1], string.format("%d", nxt), "PX", math.floor((nxt - now) / 1000) + 1000)
return tat - now`)
})

// maxInterval caps one reservation so a misconfigured tiny qps cannot park a
// caller for days.
const maxInterval = time.Hour

// Wait blocks until the caller may make one call under the shared rate qps
// for key (e.g. "app" or a method pattern), or until ctx is done. qps <= 0
// means unlimited.
func (l *RedisLimiter) Wait(ctx context.Context, key string, qps float64) error {
	if qps <= 0 || math.IsInf(qps, 1) || math.IsNaN(qps) {
		return ctx.Err()
	}
	interval := time.Duration(float64(time.Second) / qps)
	if interval > maxInterval {
		interval = maxInterval
	}
	if interval < time.Microsecond {
		interval = time.Microsecond
	}
	us, err := reserveScript().Run(ctx, l.client, []string{l.prefix + "rate:" + key}, interval.Microseconds()).Int64()
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return fmt.Errorf("state: shared rate limit %q in redis: %w", key, err)
	}
	if us <= 0 {
		return nil
	}
	t := time.NewTimer(time.Duration(us) * time.Microsecond)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// banScript keeps the later of the stored and the new ban end (ms since the
// epoch, ARGV[1]) with a TTL of ARGV[2] ms. It is built on first use.
var banScript = sync.OnceValue(func() *redis.Script {
	return redis.NewScript(`
local cur = tonumber(redis.call("GET", KEYS[1]) or "0")
if tonumber(ARGV[1]) > cur then
  redis.call("SET", KEYS[1], ARGV[1], "PX", ARGV[2])
end
return 1`)
})

// SetBan records that scope (e.g. "app" or a method name) is banned by the
// platform until the given time, for every process sharing the server. A
// ban never shortens an existing later one; an end in the past is ignored.
func (l *RedisLimiter) SetBan(ctx context.Context, scope string, until time.Time) error {
	ttl := time.Until(until)
	if ttl <= 0 {
		return nil
	}
	ms := ttl.Milliseconds() + 1
	err := banScript().Run(ctx, l.client, []string{l.prefix + "ban:" + scope}, until.UnixMilli(), ms).Err()
	if err != nil {
		return fmt.Errorf("state: set shared ban %q in redis: %w", scope, err)
	}
	return nil
}

// BanUntil returns when the shared ban of scope ends, or the zero time when
// scope is not banned.
func (l *RedisLimiter) BanUntil(ctx context.Context, scope string) (time.Time, error) {
	v, err := l.client.Get(ctx, l.prefix+"ban:"+scope).Result()
	if errors.Is(err, redis.Nil) {
		return time.Time{}, nil
	}
	if err != nil {
		return time.Time{}, fmt.Errorf("state: read shared ban %q in redis: %w", scope, err)
	}
	ms, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		return time.Time{}, nil // not ours; treat as no ban
	}
	until := time.UnixMilli(ms)
	if !until.After(time.Now()) {
		return time.Time{}, nil
	}
	return until, nil
}
