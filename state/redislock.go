package state

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// RedisLocker is a Locker shared by every machine using the same Redis
// server. A lock is the key <prefix><name> set with SET NX PX lease to a
// random token (prefixed by the holder's host and pid for messages). The
// holder renews it every lease/3 with a script that extends the lease only
// while the token is still its own, and releases it with a compare-and-delete
// script. A crashed holder's lock frees itself after at most lease.
type RedisLocker struct {
	client redis.UniversalClient
	prefix string
}

// NewRedisLocker returns a RedisLocker whose keys start with prefix
// (RedisStore.Locker uses "topscript:{app}:lock:").
func NewRedisLocker(client redis.UniversalClient, prefix string) *RedisLocker {
	return &RedisLocker{client: client, prefix: prefix}
}

// renewScript extends a lock's lease while the token is still its own;
// releaseScript deletes it then. Both are built on first use, not at
// start-up.
var (
	renewScript   = sync.OnceValue(func() *redis.Script { return redis.NewScript(renewSource) })
	releaseScript = sync.OnceValue(func() *redis.Script {
		return redis.NewScript(`
if redis.call("GET", KEYS[1]) == ARGV[1] then
  return redis.call("DEL", KEYS[1])
end
return 0`)
	})
)

// Acquire implements Locker.
func (l *RedisLocker) Acquire(ctx context.Context, name string, lease time.Duration) (Lock, error) {
	if name == "" {
		return nil, errors.New("state: lock name is empty")
	}
	lease = lease0(lease)
	if lease < 30*time.Millisecond {
		lease = 30 * time.Millisecond
	}
	key := l.prefix + name
	var rnd [16]byte
	_, _ = rand.Read(rnd[:])
	token := holderID() + " " + hex.EncodeToString(rnd[:])
	ok, err := l.client.SetNX(ctx, key, token, lease).Result()
	if err != nil {
		return nil, fmt.Errorf("state: acquire lock %q in redis: %w", name, err)
	}
	if !ok {
		holder, _ := l.client.Get(ctx, key).Result()
		if i := strings.LastIndex(holder, " "); i >= 0 {
			holder = holder[:i] // drop the random part
		}
		return nil, &LockedError{Name: name, Holder: holder}
	}
	rl := &redisLock{
		client: l.client, key: key, token: token, lease: lease,
		lost: make(chan struct{}), stop: make(chan struct{}), done: make(chan struct{}),
	}
	go rl.renew()
	return rl, nil
}

type redisLock struct {
	client redis.UniversalClient
	key    string
	token  string
	lease  time.Duration

	lost     chan struct{}
	stop     chan struct{}
	done     chan struct{}
	stopOnce sync.Once
}

// renew extends the lease every lease/3. A transient error is retried at the
// next tick; the lock is declared lost when the token is gone or when no
// renewal has succeeded for a whole lease.
func (l *redisLock) renew() {
	defer close(l.done)
	t := time.NewTicker(l.lease / 3)
	defer t.Stop()
	last := time.Now()
	for {
		select {
		case <-l.stop:
			return
		case <-t.C:
		}
		ctx, cancel := context.WithTimeout(context.Background(), l.lease/3)
		n, err := renewScript().Run(ctx, l.client, []string{l.key}, l.token, l.lease.Milliseconds()).Int()
		cancel()
		select {
		case <-l.stop: // released meanwhile: the result does not matter
			return
		default:
		}
		switch {
		case err == nil && n == 1:
			last = time.Now()
		case err == nil || time.Since(last) >= l.lease:
			close(l.lost)
			return
		}
	}
}

func (l *redisLock) Release(ctx context.Context) error {
	first := false
	l.stopOnce.Do(func() { first = true; close(l.stop) })
	if !first {
		return nil
	}
	<-l.done
	if err := releaseScript().Run(ctx, l.client, []string{l.key}, l.token).Err(); err != nil {
		return fmt.Errorf("state: release lock in redis: %w", err)
	}
	return nil
}

func (l *redisLock) Lost() <-chan struct{} { return l.lost }
