package filelock

import (
	"errors"
	"os"

	"golang.org/x/sys/windows"
)

// openRead opens path for reading, sharing deletion, so that the holder
// of the lock can remove or rename the file while it is open.
func openRead(path string) (*os.File, error) {
	name, err := windows.UTF16PtrFromString(path)
	if err != nil {
		return nil, &os.PathError{Op: "open", Path: path, Err: err}
	}
	h, err := windows.CreateFile(name, windows.GENERIC_READ,
		windows.FILE_SHARE_READ|windows.FILE_SHARE_WRITE|windows.FILE_SHARE_DELETE,
		nil, windows.OPEN_EXISTING, windows.FILE_ATTRIBUTE_NORMAL, 0)
	if err != nil {
		return nil, &os.PathError{Op: "open", Path: path, Err: err}
	}
	return os.NewFile(uintptr(h), path), nil
}

// lockedByte is the one byte the lock covers, the last a file can have:
// far past the end of any real file, so that the lock (mandatory on
// Windows) does not block reading the file, yet it conflicts with any
// lock over the whole file.
func lockedByte() *windows.Overlapped {
	return &windows.Overlapped{Offset: 0xffffffff, OffsetHigh: 0x7fffffff}
}

// lock takes f's exclusive lock, waiting for it or failing with ErrLocked.
func lock(f *os.File, wait bool) error {
	flags := uint32(windows.LOCKFILE_EXCLUSIVE_LOCK)
	if !wait {
		flags |= windows.LOCKFILE_FAIL_IMMEDIATELY
	}
	err := windows.LockFileEx(windows.Handle(f.Fd()), flags, 0, 1, 0, lockedByte())
	if errors.Is(err, windows.ERROR_LOCK_VIOLATION) {
		return ErrLocked
	}
	return err
}

func unlockFile(f *os.File) {
	windows.UnlockFileEx(windows.Handle(f.Fd()), 0, 1, 0, lockedByte())
}
