package atomicfile

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"

	"golang.org/x/sys/unix"
)

// CreateUnnamed creates a file in the directory of path that has no
// name until LinkUnnamed gives it one (O_TMPFILE), so that a process
// stopped before then leaves nothing behind; errors writing it name
// path, the file it is to become. It fails where the file system cannot
// make one (the caller then writes to a named file itself).
func CreateUnnamed(path string, perm os.FileMode) (*os.File, error) {
	dir := filepath.Dir(path)
	fd, err := unix.Open(dir, unix.O_RDWR|unix.O_TMPFILE|unix.O_CLOEXEC, uint32(perm.Perm()))
	for err == unix.EINTR {
		fd, err = unix.Open(dir, unix.O_RDWR|unix.O_TMPFILE|unix.O_CLOEXEC, uint32(perm.Perm()))
	}
	if err != nil {
		return nil, &os.PathError{Op: "open", Path: dir, Err: err}
	}
	return os.NewFile(uintptr(fd), path), nil
}

// UnnamedSupported reports whether the file system of dir makes files
// without a name (O_TMPFILE), asking the kernel itself: the tests of
// CreateUnnamed and of what uses it skip only where it does not, and fail
// where CreateUnnamed does when the kernel would not.
func UnnamedSupported(dir string) bool {
	fd, err := unix.Open(dir, unix.O_RDWR|unix.O_TMPFILE|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return false
	}
	unix.Close(fd)
	return true
}

// LinkUnnamed gives f, made by CreateUnnamed, the name path, which must
// not exist (fs.ErrExist if it does: nothing is replaced). Where the
// file cannot be linked (no /proc), its content is copied to a new file
// of that name, and the copy synced.
func LinkUnnamed(f *os.File, path string) error {
	fd := int(f.Fd())
	err := unix.Linkat(fd, "", unix.AT_FDCWD, path, unix.AT_EMPTY_PATH)
	if err != nil && !errors.Is(err, fs.ErrExist) {
		err = unix.Linkat(unix.AT_FDCWD, "/proc/self/fd/"+strconv.Itoa(fd), unix.AT_FDCWD, path, unix.AT_SYMLINK_FOLLOW)
	}
	if err == nil || errors.Is(err, fs.ErrExist) {
		if err != nil {
			return &os.PathError{Op: "link", Path: path, Err: err}
		}
		return nil
	}
	st, serr := f.Stat()
	if serr != nil {
		return serr
	}
	out, oerr := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, st.Mode().Perm())
	if oerr != nil {
		return oerr
	}
	// Synced, as the file it copies may have been for Write: the copy is
	// rare (no /proc), its cost does not matter.
	_, cerr := io.Copy(out, io.NewSectionReader(f, 0, st.Size()))
	if cerr == nil {
		cerr = out.Sync()
	}
	if cerr != nil {
		out.Close()
		os.Remove(path)
		return fmt.Errorf("copying to %s: %w", path, cerr)
	}
	if err := out.Close(); err != nil {
		os.Remove(path)
		return err
	}
	return nil
}
