package state

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// The file backend opens its database at first use: a run that never
// touches state leaves the file to other runs.
func TestOpenFileBackendIsLazy(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "state", "s.db")
	b, err := Open(ctx, Config{Backend: KindFile, Path: path}, "app")
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("the database exists before any use: %v", err)
	}
	other, err := OpenFile(path, FileOptions{Wait: -1})
	if err != nil {
		t.Fatalf("another store cannot open the unused file: %v", err)
	}
	other.Close()
	if err := b.Store().Set(ctx, "ns", "k", []byte("v")); err != nil {
		t.Fatal(err)
	}
	if _, err := OpenFile(path, FileOptions{Wait: -1}); !errors.Is(err, ErrInUse) {
		t.Fatalf("the file is not held once used: %v", err)
	}
	if b.Limiter() != nil {
		t.Error("a file backend has a shared limiter")
	}
	l, err := b.Lock(ctx, "job")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.Lock(ctx, "job"); !errors.Is(err, ErrLocked) {
		t.Errorf("second lock: %v, want ErrLocked", err)
	}
	l.Release(ctx)
	// Config.Path "" is DefaultPath.
	if d, err := Open(ctx, Config{}, "app"); err != nil || d.Store().(*FileStore).Path() != DefaultPath {
		t.Errorf("default path: %v", err)
	} else {
		d.Close()
	}
}

func TestOpenRedisBackend(t *testing.T) {
	ctx := context.Background()
	url := needRedis(t)
	b, err := Open(ctx, Config{Backend: KindRedis, RedisURL: url, LockLease: 2 * time.Second}, "app-backend")
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if b.Limiter() == nil || b.Lease() != 2*time.Second {
		t.Errorf("limiter %v, lease %v", b.Limiter(), b.Lease())
	}
	if _, ok := b.Store().(Claimer); !ok {
		t.Error("the Redis store does not claim rows")
	}
	if rs := b.Store().(*RedisStore); rs.Lease() != 2*time.Second {
		t.Errorf("claim lease %v, want 2s", rs.Lease())
	}
	_, err = Open(ctx, Config{Backend: KindRedis, RedisURL: "redis://:s3cr3t@127.0.0.1:1/0"}, "app")
	if err == nil || !strings.Contains(err.Error(), "127.0.0.1:1") || strings.Contains(err.Error(), "s3cr3t") {
		t.Errorf("unreachable Redis: %v", err)
	}
}
