// Package atomicfile replaces files atomically: the content goes to a
// temporary file in the same directory, which is synced and renamed over
// the target, and the directory is synced. Readers see the old file or the
// new one, never a partial one; on error nothing is left behind.
package atomicfile

import (
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// Write creates or replaces path with what write produces, with mode perm.
// A path that names a device, a named pipe or a socket (/dev/null, a FIFO)
// cannot be replaced, only written to: it is opened and written as it is
// (and it is not left replaced by a regular file). A symbolic link is
// followed: a link to one of this process's open files (/dev/stdout,
// /dev/fd/N, /proc/self/fd/N) is written through that descriptor, as the
// shell set it up, and a link to a file replaces the file, not the link.
func Write(path string, perm os.FileMode, write func(io.Writer) error) error {
	path, fd := followLinks(path)
	if fd >= 0 {
		// A duplicate shares the descriptor's offset and flags (appending
		// included); closing it leaves the original open.
		dup, err := syscall.Dup(fd)
		if err != nil {
			return &os.PathError{Op: "dup", Path: path, Err: err}
		}
		f := os.NewFile(uintptr(dup), path)
		if err := write(f); err != nil {
			f.Close()
			return err
		}
		return f.Close()
	}
	if st, err := os.Stat(path); err == nil && !st.Mode().IsRegular() && !st.IsDir() {
		f, err := os.OpenFile(path, os.O_WRONLY, 0)
		if err != nil {
			return err
		}
		if err := write(f); err != nil {
			f.Close()
			return err
		}
		return f.Close()
	}
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(perm); err != nil {
		tmp.Close()
		return err
	}
	if err := write(tmp); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return err
	}
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// WriteBytes is Write for data already in memory.
func WriteBytes(path string, perm os.FileMode, data []byte) error {
	return Write(path, perm, func(w io.Writer) error {
		_, err := w.Write(data)
		return err
	})
}

// followLinks resolves the symbolic links at path one at a time; it stops
// at a link to one of this process's file descriptors and returns it (-1:
// none).
func followLinks(path string) (string, int) {
	self := "/proc/" + strconv.Itoa(os.Getpid()) + "/fd/"
	for range 40 {
		st, err := os.Lstat(path)
		if err != nil || st.Mode()&os.ModeSymlink == 0 {
			return path, -1
		}
		target, err := os.Readlink(path)
		if err != nil {
			return path, -1
		}
		if !filepath.IsAbs(target) {
			target = filepath.Join(filepath.Dir(path), target)
		}
		for _, prefix := range []string{"/proc/self/fd/", "/dev/fd/", self} {
			if n, ok := strings.CutPrefix(target, prefix); ok {
				if fd, err := strconv.Atoi(n); err == nil && fd >= 0 {
					return path, fd
				}
			}
		}
		path = target
	}
	return path, -1
}
