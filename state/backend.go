package state

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"time"
)

// Kind names a backend: where script state, job checkpoints and locks
// live.
type Kind string

// The backends.
const (
	KindFile  Kind = "file"  // an embedded database file (the default)
	KindRedis Kind = "redis" // shared by several hosts
)

// DefaultPath is the database file of the file backend when Config.Path
// is empty.
const DefaultPath = ".topscript/state.db"

// MinLease is the shortest lock lease a configuration may ask for: renewals
// every third of it must outpace network hiccups.
const MinLease = time.Second

// Config selects and configures a backend: what the [state] table of
// topscript.toml says.
type Config struct {
	Backend  Kind   // "" means KindFile
	Path     string // file backend: the database file ("" means DefaultPath)
	RedisURL string // redis backend: "redis://host:6379/0"; may hold a password
	// LockLease is the lease of Redis locks (--lock, the scheduler's
	// no-overlap) and of job row claims: a holder that dies frees them
	// after at most this long, a live one renews them every third of it.
	// Zero means DefaultLease. Ignored by the file backend, whose locks
	// the OS frees when a process dies.
	LockLease time.Duration
}

// Backend is an opened backend: the store behind the state module and
// job checkpoints, the locker behind --lock and the scheduler and, with
// Redis, the rate limiter and bans a fleet shares.
type Backend struct {
	store  Store
	tokens Store // Tokens
	runs   Store // Runs
	locker Locker
	lease  time.Duration
	redis  *RedisStore // nil for the file backend
}

// Open opens the backend c describes, for app (the app key: it names the
// app's keys in Redis). Redis is connected and pinged at once, so that an
// unreachable or misconfigured server stops a command at its start; the
// file store is opened at its first use, so that a run that never touches
// state leaves the file free for other runs.
func Open(ctx context.Context, c Config, app string) (*Backend, error) {
	if c.Backend == KindRedis {
		rs, err := OpenRedis(ctx, c.RedisURL, app)
		if err != nil {
			return nil, err
		}
		rs.SetLease(c.LockLease)
		return &Backend{store: rs, tokens: rs, runs: rs, locker: rs.Locker(), lease: c.LockLease, redis: rs}, nil
	}
	path := c.Path
	if path == "" {
		path = DefaultPath
	}
	fs, err := OpenFile(path, FileOptions{Lazy: true})
	if err != nil {
		return nil, err
	}
	ts, err := OpenFile(TokensPathFor(path), FileOptions{Brief: true, Mode: 0o600})
	if err != nil {
		return nil, err
	}
	rs, err := OpenFile(RunsPathFor(path), FileOptions{Brief: true})
	if err != nil {
		return nil, err
	}
	return &Backend{store: fs, tokens: ts, runs: rs, locker: NewFileLocker(LockDirFor(path)), lease: c.LockLease}, nil
}

// RunsPathFor is the file of the run history beside the file store at
// storePath: ".topscript/state.db" → ".topscript/state.runs.db".
func RunsPathFor(storePath string) string {
	ext := filepath.Ext(storePath)
	return strings.TrimSuffix(storePath, ext) + ".runs" + ext
}

// TokensPathFor is the file of the shops' tokens beside the file store at
// storePath: ".topscript/state.db" → ".topscript/state.tokens.db".
func TokensPathFor(storePath string) string {
	ext := filepath.Ext(storePath)
	return strings.TrimSuffix(storePath, ext) + ".tokens" + ext
}

// Memory returns a backend that keeps everything in this process and
// forgets it when the process ends: a MemStore and a MemLocker. Runs
// against an in-process sandbox use it, since the sandbox itself starts
// from its seed every run.
func Memory() *Backend {
	return &Backend{store: NewMemStore(), tokens: NewMemStore(), runs: NewMemStore(), locker: NewMemLocker()}
}

// Store is the backend's store (a Claimer with Redis).
func (b *Backend) Store() Store { return b.store }

// Tokens is the store of the shops' tokens (package shop keeps them; it is
// a Swapper): with Redis the backend's store, shared by the fleet; with
// the file backend a file of its own beside the state file
// (TokensPathFor, mode 0600) opened for each operation (FileOptions.Brief),
// so that every process of the host reads and swaps tokens while another
// holds the state file for a whole run; in memory, a store of its own.
func (b *Backend) Tokens() Store { return b.tokens }

// Runs is the store of the run history (package runlog keeps it): with
// Redis the backend's store, shared by the fleet; with the file backend a
// file of its own beside the state file (RunsPathFor) opened for each
// operation (FileOptions.Brief), as Tokens is, so that every run records
// itself while another holds the state file; in memory, a store of its
// own.
func (b *Backend) Runs() Store { return b.runs }

// Lock takes the lock called name without waiting, with the configured
// lease; see Locker.Acquire.
func (b *Backend) Lock(ctx context.Context, name string) (Lock, error) {
	return b.locker.Acquire(ctx, name, b.lease) // <= 0: DefaultLease
}

// Locker is the backend's locker, for hosts that take locks themselves
// (the scheduler).
func (b *Backend) Locker() Locker { return b.locker }

// Lease is the configured lock lease (0 means DefaultLease).
func (b *Backend) Lease() time.Duration { return b.lease }

// Limiter is the rate limiter and ban board a fleet shares through Redis;
// nil for the file backend.
func (b *Backend) Limiter() *RedisLimiter {
	if b.redis == nil {
		return nil
	}
	return b.redis.Limiter()
}

// PersistenceWarning is a warning to show at start when the backend is a
// Redis server that keeps nothing on disk (RDB snapshots and AOF both
// off): a restart of it loses every checkpoint, intent record, claim,
// cursor and lock, and rows done would be sent again. "" when the data is
// kept (or the backend is a file), or when the server does not say.
func (b *Backend) PersistenceWarning(ctx context.Context) string {
	if b.redis == nil {
		return ""
	}
	rdb, aof, err := b.redis.Persistence(ctx)
	if err != nil || rdb || aof {
		return ""
	}
	return fmt.Sprintf("[state] redis at %s keeps nothing on disk (RDB snapshots and AOF are both off): "+
		"a restart of Redis loses every job checkpoint, intent record, claim, cursor and lock, and rows already done would be sent again; "+
		"turn on AOF (appendonly yes, with appendfsync always to lose no write, or everysec to lose at most a second's)", b.redis.URL())
}

// Close closes the stores.
func (b *Backend) Close() error {
	err := b.store.Close()
	for _, o := range []Store{b.tokens, b.runs} {
		if o != nil && o != b.store {
			if oerr := o.Close(); err == nil {
				err = oerr
			}
		}
	}
	return err
}
