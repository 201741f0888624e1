// Package filelock holds exclusive locks on files between processes:
// flock(2) on Unix, LockFileEx over the whole file on Windows. The locks
// are advisory on Unix; every writer of a shared directory takes the same
// lock file before it reads, merges and writes.
package filelock

import "os"

// Lock opens the file at path (creating it, mode 0600) and waits until it
// holds the file's exclusive lock. The returned function releases the lock
// and closes the file.
func Lock(path string) (unlock func(), err error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, err
	}
	if err := lock(f); err != nil {
		f.Close()
		return nil, &os.PathError{Op: "lock", Path: path, Err: err}
	}
	return func() {
		unlockFile(f)
		f.Close()
	}, nil
}
