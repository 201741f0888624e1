// Package atomicfile replaces files atomically: the content goes to a
// temporary file in the same directory, which is synced and renamed over
// the target, and the directory is synced (on Windows the rename is written
// through instead). Readers see the old file or the new one, never a
// partial one; on error nothing is left behind.
package atomicfile

import (
	"io"
	"os"
	"path/filepath"
)

// Write creates or replaces path with what write produces, with mode perm.
// A path that names a device, a named pipe or a socket (/dev/null, a FIFO;
// NUL or CONOUT$ on Windows) cannot be replaced, only written to: it is
// opened and written as it is (and it is not left replaced by a regular
// file). A symbolic link is followed: a link to one of this process's open
// files (/dev/stdout, /dev/fd/N, /proc/self/fd/N; Unix only, Windows has no
// such names) is written through that descriptor, as the shell set it up,
// and a link to a file replaces the file, not the link.
func Write(path string, perm os.FileMode, write func(io.Writer) error) error {
	path, f, err := followLinks(path)
	if err != nil {
		return err
	}
	if f == nil {
		if st, err := os.Stat(path); err == nil && !st.Mode().IsRegular() && !st.IsDir() {
			if f, err = os.OpenFile(path, os.O_WRONLY, 0); err != nil {
				return err
			}
		}
	}
	if f != nil {
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
	return replace(tmp.Name(), path)
}

// WriteBytes is Write for data already in memory.
func WriteBytes(path string, perm os.FileMode, data []byte) error {
	return Write(path, perm, func(w io.Writer) error {
		_, err := w.Write(data)
		return err
	})
}

// followLinks resolves the symbolic links at path one at a time; it stops
// at a link to one of this process's open files and returns a duplicate
// of its descriptor.
func followLinks(path string) (string, *os.File, error) {
	for range 40 {
		st, err := os.Lstat(path)
		if err != nil || st.Mode()&os.ModeSymlink == 0 {
			return path, nil, nil
		}
		target, err := os.Readlink(path)
		if err != nil {
			return path, nil, nil
		}
		if !filepath.IsAbs(target) {
			target = filepath.Join(filepath.Dir(path), target)
		}
		if f, err := ownFile(target, path); f != nil || err != nil {
			return path, f, err
		}
		path = target
	}
	return path, nil, nil
}
