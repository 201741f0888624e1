// Package atomicfile replaces files atomically: the content goes to a
// temporary file in the same directory, which is synced and renamed over
// the target, and the directory is synced (on Windows the rename is written
// through instead). Readers see the old file or the new one, never a
// partial one; on error nothing is left behind.
package atomicfile

import (
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
)

// Write creates or replaces path with what write produces, with mode perm
// less the process's umask, as os.OpenFile creates files (0666 gives the
// usual 0644, 0600 a private file).
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
	tmp, err := CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp", perm)
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
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

// CreateTemp creates a new file in dir named prefix and a random number,
// with mode perm less the umask (os.CreateTemp makes every file 0600).
func CreateTemp(dir, prefix string, perm os.FileMode) (*os.File, error) {
	var err error
	for range 10000 {
		var f *os.File
		name := filepath.Join(dir, prefix+strconv.FormatUint(uint64(rand.Uint32()), 10))
		f, err = os.OpenFile(name, os.O_RDWR|os.O_CREATE|os.O_EXCL, perm)
		if !os.IsExist(err) {
			return f, err
		}
	}
	return nil, err
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
