// Package filelock holds exclusive locks on files between processes:
// flock(2) on Unix, LockFileEx on Windows. A lock belongs to the open file
// (the open file description on Unix, the handle on Windows): a second
// open of the same file, in this process or another, cannot take it until
// the first is closed, and the operating system drops it when the process
// ends, however it ends. The locks are advisory on Unix; every writer of a
// shared directory takes the same lock file before it reads, merges and
// writes.
package filelock

import (
	"errors"
	"os"
)

// ErrLocked is TryOpen's error (within an *os.PathError) when another open
// file holds the lock.
var ErrLocked = errors.New("locked by another open file")

// Lock opens the file at path (creating it, mode 0600) and waits until it
// holds the file's exclusive lock. The returned function releases the lock
// and closes the file.
func Lock(path string) (unlock func(), err error) {
	f, err := Create(path)
	if err != nil {
		return nil, err
	}
	return func() {
		unlockFile(f)
		f.Close()
	}, nil
}

// Create opens the file at path for reading and writing (creating it, mode
// 0600) and waits until it holds the file's exclusive lock, which is held
// until the returned file is closed. A caller that removes such files
// while others may wait for them checks, once it holds the lock, that path
// still names the file it holds (os.SameFile).
func Create(path string) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, err
	}
	if err := lock(f, true); err != nil {
		f.Close()
		return nil, &os.PathError{Op: "lock", Path: path, Err: err}
	}
	return f, nil
}

// TryOpen opens the existing file at path for reading and takes its
// exclusive lock without waiting: it fails with ErrLocked while another
// open file holds the lock. The lock is held until the returned file is
// closed. The file can be read through it, and removed or renamed while it
// is open (on Windows too); a named pipe at path is opened without waiting
// for a writer.
func TryOpen(path string) (*os.File, error) {
	f, err := openRead(path)
	if err != nil {
		return nil, err
	}
	if err := lock(f, false); err != nil {
		f.Close()
		return nil, &os.PathError{Op: "lock", Path: path, Err: err}
	}
	return f, nil
}
