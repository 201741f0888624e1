package atomicfile

import (
	"os"

	"golang.org/x/sys/windows"
)

// openNoWait opens path for reading: opening a file does not wait on
// Windows.
func openNoWait(path string) (*os.File, error) { return os.Open(path) }

// openDirNoWait opens a directory: opening does not wait on Windows.
func openDirNoWait(path string) (*os.File, error) { return os.Open(path) }

// ownFile finds nothing: Windows has no file names for a process's open
// descriptors (no /dev/stdout or /dev/fd). Its console and NUL are
// devices, which Write writes to as they are.
func ownFile(target, name string) (*os.File, error) { return nil, nil }

// replace renames tmp over path, when durable written through to the
// disk before it returns: Windows cannot sync a directory, and
// MOVEFILE_WRITE_THROUGH is what makes the rename durable there.
func replace(tmp, path string, durable bool) error {
	flags := uint32(windows.MOVEFILE_REPLACE_EXISTING)
	if durable {
		flags |= windows.MOVEFILE_WRITE_THROUGH
	}
	from, err := windows.UTF16PtrFromString(tmp)
	if err != nil {
		return &os.LinkError{Op: "rename", Old: tmp, New: path, Err: err}
	}
	to, err := windows.UTF16PtrFromString(path)
	if err != nil {
		return &os.LinkError{Op: "rename", Old: tmp, New: path, Err: err}
	}
	if err := windows.MoveFileEx(from, to, flags); err != nil {
		return &os.LinkError{Op: "rename", Old: tmp, New: path, Err: err}
	}
	return nil
}
