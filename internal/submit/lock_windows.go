//go:build windows

package submit

import (
	"errors"
	"os"

	"golang.org/x/sys/windows"
)

// errBusy: the file is locked by another handle (another process, or
// another claim in this one).
var errBusy = errors.New("locked")

// openLocked opens path for reading, sharing deletion (so that the holder
// can remove the entry while it is open), and locks one byte far past its
// end with LockFileEx without waiting, so that reading it is not blocked.
// The lock belongs to the handle and ends when it is closed or the
// process ends.
func openLocked(path string) (*os.File, error) {
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
	ol := &windows.Overlapped{Offset: 0xffffffff, OffsetHigh: 0x7fffffff}
	if err := windows.LockFileEx(h, windows.LOCKFILE_EXCLUSIVE_LOCK|windows.LOCKFILE_FAIL_IMMEDIATELY, 0, 1, 0, ol); err != nil {
		windows.CloseHandle(h)
		if errors.Is(err, windows.ERROR_LOCK_VIOLATION) {
			return nil, errBusy
		}
		return nil, &os.PathError{Op: "lock", Path: path, Err: err}
	}
	return os.NewFile(uintptr(h), path), nil
}
