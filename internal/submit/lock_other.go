//go:build (!unix || aix) && !windows

package submit

import (
	"errors"
	"os"
)

var errBusy = errors.New("locked")

// openLocked fails: without file locking, entries cannot be claimed safely.
func openLocked(path string) (*os.File, error) {
	return nil, &os.PathError{Op: "lock", Path: path, Err: errNoLocking}
}
