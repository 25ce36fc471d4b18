//go:build unix

package cli

import (
	"context"
	"os"
	"syscall"
	"testing"
	"time"
)

func TestNotifyContext(t *testing.T) {
	ctx, stop := notifyContext(context.Background())
	defer stop()
	if err := syscall.Kill(os.Getpid(), syscall.SIGTERM); err != nil {
		t.Skip("cannot signal self:", err)
	}
	select {
	case <-ctx.Done():
		if cause := context.Cause(ctx); cause != ErrInterrupted {
			t.Errorf("cause %v, want ErrInterrupted", cause)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("SIGTERM did not cancel the context")
	}
}
