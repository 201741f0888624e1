package filelock

import (
	"os"

	"golang.org/x/sys/windows"
)

// allBytes locks the whole file, so that the lock conflicts with any
// other program's lock on any range of it.
const allBytes = ^uint32(0)

func lock(f *os.File) error {
	return windows.LockFileEx(windows.Handle(f.Fd()), windows.LOCKFILE_EXCLUSIVE_LOCK, 0, allBytes, allBytes, new(windows.Overlapped))
}

func unlockFile(f *os.File) {
	windows.UnlockFileEx(windows.Handle(f.Fd()), 0, allBytes, allBytes, new(windows.Overlapped))
}
