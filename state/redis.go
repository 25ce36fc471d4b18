package state

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/redis/go-redis/v9/maintnotifications"

	"github.com/topscript/topscript/internal/redact"
)

// RedisStore is a Store in Redis, shared by every machine that uses the same
// server and app. Namespace ns of app A is the hash
// "topscript:{A}:ns:<ns>"; the braces make the app a Redis Cluster hash tag,
// so all of an app's keys live in one slot.
type RedisStore struct {
	client *redis.Client
	app    string
	url    string // redacted
	claims redisClaims
}

// OpenRedis connects to the Redis server at rawURL (redis://, rediss:// or
// unix://, as go-redis parses them) for the given app (normally the app key)
// and pings it. Errors name the URL with any password redacted.
func OpenRedis(ctx context.Context, rawURL, app string) (*RedisStore, error) {
	safe := redact.URL(rawURL)
	if app == "" {
		return nil, errors.New("state: redis store needs an app name (the app key)")
	}
	opts, err := redis.ParseURL(rawURL)
	if err != nil {
		return nil, fmt.Errorf("state: invalid redis_url %q: %s", safe, scrub(parseErrText(err), rawURL, redact.Password(rawURL)))
	}
	opts.DisableIdentity = true // no CLIENT SETINFO (older servers reject it)
	opts.MaintNotificationsConfig = &maintnotifications.Config{Mode: maintnotifications.ModeDisabled}
	if opts.DialTimeout == 0 || opts.DialTimeout > 5*time.Second {
		opts.DialTimeout = 5 * time.Second
	}
	quietRedisLogs.Do(func() { redis.SetLogger(debugLogger{}) })
	client := redis.NewClient(opts)
	pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := client.Ping(pctx).Err(); err != nil {
		client.Close()
		return nil, fmt.Errorf("state: redis at %s is unreachable or misconfigured: %s", safe, scrub(err.Error(), rawURL, opts.Password))
	}
	return &RedisStore{client: client, app: app, url: safe}, nil
}

// NewRedisStore wraps an existing client (not pinged; Close closes it).
func NewRedisStore(client *redis.Client, app string) *RedisStore {
	return &RedisStore{client: client, app: app, url: "redis"}
}

// Client returns the underlying go-redis client.
func (s *RedisStore) Client() *redis.Client { return s.client }

// URL returns the server URL with any password redacted.
func (s *RedisStore) URL() string { return s.url }

// Prefix returns the key prefix of the app: "topscript:{app}:".
func (s *RedisStore) Prefix() string { return AppPrefix(s.app) }

// AppPrefix returns the Redis key prefix used for app: "topscript:{app}:".
func AppPrefix(app string) string { return "topscript:{" + app + "}:" }

// Locker returns a RedisLocker sharing this store's client and app prefix.
func (s *RedisStore) Locker() *RedisLocker {
	return NewRedisLocker(s.client, s.Prefix()+"lock:")
}

// Limiter returns a RedisLimiter sharing this store's client and app prefix.
func (s *RedisStore) Limiter() *RedisLimiter {
	return NewRedisLimiter(s.client, s.Prefix())
}

func (s *RedisStore) nsKey(ns string) string { return s.Prefix() + "ns:" + ns }

func (s *RedisStore) wrap(op string, err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, redis.ErrClosed) {
		return ErrClosed
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	return fmt.Errorf("state: redis %s at %s: %w", op, s.url, err)
}

// Get implements Store.
func (s *RedisStore) Get(ctx context.Context, ns, key string) ([]byte, bool, error) {
	if err := checkKey(ns, key); err != nil {
		return nil, false, err
	}
	v, err := s.client.HGet(ctx, s.nsKey(ns), key).Bytes()
	if errors.Is(err, redis.Nil) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, s.wrap("get", err)
	}
	return nonNil(v), true, nil
}

// Set implements Store.
func (s *RedisStore) Set(ctx context.Context, ns, key string, val []byte) error {
	if err := checkKV(ns, key, val); err != nil {
		return err
	}
	return s.wrap("set", s.client.HSet(ctx, s.nsKey(ns), key, nonNil(val)).Err())
}

// SetMany implements Store with a single HSET, which Redis applies atomically.
func (s *RedisStore) SetMany(ctx context.Context, ns string, kv map[string][]byte) error {
	if err := checkNS(ns); err != nil {
		return err
	}
	if len(kv) == 0 {
		return nil
	}
	args := make([]any, 0, 2*len(kv))
	for k, v := range kv {
		if err := checkKV(ns, k, v); err != nil {
			return err
		}
		args = append(args, k, nonNil(v))
	}
	return s.wrap("set", s.client.HSet(ctx, s.nsKey(ns), args...).Err())
}

// Delete implements Store.
func (s *RedisStore) Delete(ctx context.Context, ns, key string) error {
	if err := checkKey(ns, key); err != nil {
		return err
	}
	return s.wrap("delete", s.client.HDel(ctx, s.nsKey(ns), key).Err())
}

// Keys implements Store.
func (s *RedisStore) Keys(ctx context.Context, ns string) ([]string, error) {
	if err := checkNS(ns); err != nil {
		return nil, err
	}
	keys, err := s.client.HKeys(ctx, s.nsKey(ns)).Result()
	if err != nil {
		return nil, s.wrap("keys", err)
	}
	if keys == nil {
		keys = []string{}
	}
	sort.Strings(keys)
	return keys, nil
}

// Persistence tells whether the server keeps its data on disk: RDB
// snapshots (a "save" schedule) and the append-only file (appendonly).
// It asks CONFIG GET; a server that refuses CONFIG (managed Redis often
// does) gives an error, and the answer is unknown.
func (s *RedisStore) Persistence(ctx context.Context) (rdb, aof bool, err error) {
	save, err := s.client.ConfigGet(ctx, "save").Result()
	if err != nil {
		return false, false, s.wrap("config get save", err)
	}
	appendonly, err := s.client.ConfigGet(ctx, "appendonly").Result()
	if err != nil {
		return false, false, s.wrap("config get appendonly", err)
	}
	return strings.TrimSpace(save["save"]) != "", strings.EqualFold(appendonly["appendonly"], "yes"), nil
}

// ListNamespaces implements Lister with SCAN over the app's namespace
// hashes.
func (s *RedisStore) ListNamespaces(ctx context.Context, prefix string) ([]string, error) {
	base := s.nsKey("")
	match := globEscape(base+prefix) + "*"
	var out []string
	var cursor uint64
	for {
		keys, next, err := s.client.Scan(ctx, cursor, match, 1000).Result()
		if err != nil {
			return nil, s.wrap("scan", err)
		}
		for _, k := range keys {
			out = append(out, strings.TrimPrefix(k, base))
		}
		if cursor = next; cursor == 0 {
			break
		}
	}
	sort.Strings(out)
	return slices.Compact(out), nil // SCAN may return a key twice
}

// globEscape escapes the glob characters of s for SCAN MATCH.
func globEscape(s string) string {
	var b strings.Builder
	for _, r := range s {
		if strings.ContainsRune(`*?[]\`, r) {
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	return b.String()
}

// Close implements Store; it closes the client. Claims still held are not
// released: they expire after their lease.
func (s *RedisStore) Close() error {
	s.claims.close()
	err := s.client.Close()
	if errors.Is(err, redis.ErrClosed) {
		return nil
	}
	return err
}

// parseErrText drops the URL that url.Parse puts into its errors.
func parseErrText(err error) string {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err.Error()
	}
	return err.Error()
}

// scrub removes the raw URL and the password from an error text.
func scrub(text, rawURL, password string) string {
	if rawURL != "" {
		text = strings.ReplaceAll(text, rawURL, redact.URL(rawURL))
	}
	if password != "" {
		text = strings.ReplaceAll(text, password, redact.Mark)
	}
	return text
}

var quietRedisLogs sync.Once

// debugLogger sends go-redis's own log lines (pool dial retries and the
// like, printed to stderr by default) to slog.Default at debug level: the
// errors that matter reach the user through the returned errors instead.
// go-redis's logger is process-wide; OpenRedis installs this one once.
type debugLogger struct{}

func (debugLogger) Printf(ctx context.Context, format string, v ...any) {
	slog.Default().DebugContext(ctx, "redis: "+fmt.Sprintf(format, v...))
}
