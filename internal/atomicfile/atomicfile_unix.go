//go:build unix

package atomicfile

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// openNoWait opens path for reading; O_NONBLOCK: a named pipe is opened
// instead of waiting for a writer (reads from a regular file are not
// affected); O_NOCTTY: a terminal opened does not become the process's
// controlling terminal.
func openNoWait(path string) (*os.File, error) {
	return os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK|syscall.O_NOCTTY, 0)
}

// openDirNoWait opens a directory; O_DIRECTORY: anything else fails
// (ENOTDIR) before it is opened, so a named pipe is not waited on.
func openDirNoWait(path string) (*os.File, error) {
	return os.OpenFile(path, os.O_RDONLY|syscall.O_DIRECTORY|syscall.O_NONBLOCK|syscall.O_NOCTTY, 0)
}

// ownFile returns a duplicate of this process's descriptor that target
// names (/proc/self/fd/N, /dev/fd/N, /proc/<pid>/fd/N), or nil when it
// names none. The duplicate shares the descriptor's offset and flags
// (appending included); closing it leaves the original open.
func ownFile(target, name string) (*os.File, error) {
	self := "/proc/" + strconv.Itoa(os.Getpid()) + "/fd/"
	for _, prefix := range []string{"/proc/self/fd/", "/dev/fd/", self} {
		n, ok := strings.CutPrefix(target, prefix)
		if !ok {
			continue
		}
		fd, err := strconv.Atoi(n)
		if err != nil || fd < 0 {
			continue
		}
		dup, err := syscall.Dup(fd)
		if err != nil {
			return nil, &os.PathError{Op: "dup", Path: name, Err: err}
		}
		return os.NewFile(uintptr(dup), name), nil
	}
	return nil, nil
}

// replace renames tmp over path and, when durable, syncs the directory,
// so that the rename survives a crash.
func replace(tmp, path string, durable bool) error {
	if err := os.Rename(tmp, path); err != nil || !durable {
		return err
	}
	d, err := os.Open(filepath.Dir(path))
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
