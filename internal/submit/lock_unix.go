//go:build unix && !aix

package submit

import (
	"errors"
	"os"

	"golang.org/x/sys/unix"
)

// errBusy: the file is locked by another open file (another process, or
// another claim in this one).
var errBusy = errors.New("locked")

// openLocked opens path for reading and takes an exclusive flock on it
// without waiting. The lock belongs to the open file and ends when it is
// closed or the process ends, however it ends.
func openLocked(path string) (*os.File, error) {
	// O_NONBLOCK: a named pipe in place of the file is opened (and then
	// refused as damaged) instead of waiting for a writer.
	f, err := os.OpenFile(path, os.O_RDONLY|unix.O_NONBLOCK, 0)
	if err != nil {
		return nil, err
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, unix.EWOULDBLOCK) {
			return nil, errBusy
		}
		return nil, &os.PathError{Op: "flock", Path: path, Err: err}
	}
	return f, nil
}
