//go:build !unix

package state

import (
	"fmt"
	"os"
	"runtime"
)

func tryFlock(*os.File) (bool, error) {
	return false, fmt.Errorf("file locks are not supported on %s; configure [state] backend = \"redis\"", runtime.GOOS)
}

func unflock(*os.File) error { return nil }
