//go:build (!unix || aix) && !windows

package filelock

import (
	"errors"
	"fmt"
	"os"
)

// This system has no file locking that this package can use: Lock and
// TryOpen fail, so that nothing that needs a lock goes ahead without one.

func openRead(path string) (*os.File, error) { return os.Open(path) }

func lock(f *os.File, wait bool) error {
	return fmt.Errorf("this system has no file locking: %w", errors.ErrUnsupported)
}

func unlockFile(f *os.File) {}
