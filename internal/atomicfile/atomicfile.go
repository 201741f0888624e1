// Package atomicfile replaces files atomically: the content goes to a
// temporary file in the same directory, which is renamed over the target
// once it is complete and removed if anything fails. Readers see the old
// file or the new one, never a partial one, and a failed write (an error,
// or the process killed) leaves nothing behind at the target. On Linux
// the temporary file has no name until it is whole (O_TMPFILE, where the
// file system has it: ext4, xfs, btrfs, tmpfs), so a process killed while
// it writes leaves no temporary file behind either; elsewhere a killed
// process leaves its hidden ".NAME.tmpN" file.
//
// Write also makes the replacement survive a crash of the system (power
// loss, a kernel panic): it syncs the temporary file before the rename and
// the directory after it (on Windows the rename is written through
// instead). That is for state that must not be lost: the keystore, the
// outbox, Autocrypt peer state.
//
// WriteOutput does not sync: it is for a command's output file (-o FILE),
// which it writes in large pieces. Syncing was as costly as making the
// output (0.25 s for a 200 MB message that took 0.25 s to encrypt), for no
// guarantee the user relies on: gpg, openssl and age do not sync their -o
// files either. What WriteOutput keeps is what matters for an output: no
// partial or unchecked file ever appears at the target when the command
// fails or is killed, since the rename comes only after the whole output
// was written and the command's checks passed. What it gives up: after a
// crash of the system within the seconds before the kernel writes the
// file back, the target may be missing, empty or old, as any recently
// written file may; the command is run again then.
package atomicfile

import (
	"bufio"
	"errors"
	"io"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"

	"github.com/mailseal/mailseal/internal/reserve"
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
	return writeFile(path, perm, true, write)
}

// WriteOutput is Write for a command's output file, without the syncs
// (see the package documentation): the file is replaced only after write
// succeeded, and nothing is left behind when it fails. What write writes
// reaches the file in pieces of outputBuffer bytes.
func WriteOutput(path string, perm os.FileMode, write func(io.Writer) error) error {
	return writeFile(path, perm, false, write)
}

// outputBuffer is the size of the pieces WriteOutput writes to a
// temporary file: the encoders above it write some tens of KiB at a time.
const outputBuffer = 256 << 10

// writeFile is Write, with the syncs when durable.
func writeFile(path string, perm os.FileMode, durable bool, write func(io.Writer) error) error {
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
	dir, prefix := filepath.Dir(path), "."+filepath.Base(path)+".tmp"
	// Where the file system can, the content goes to a file without a
	// name, named (for the rename) only when whole, so that a process
	// stopped while writing leaves nothing behind; elsewhere to a named
	// temporary file.
	if f, err := CreateUnnamed(path, perm); err == nil {
		if err := fill(f, durable, write); err != nil {
			f.Close()
			return err
		}
		name, err := LinkTemp(f, dir, prefix)
		if err != nil {
			return err
		}
		defer os.Remove(name)
		return replace(name, path, durable)
	}
	tmp, err := CreateTemp(dir, prefix, perm)
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if err := fill(tmp, durable, write); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return replace(tmp.Name(), path, durable)
}

// LinkTemp gives f, made by CreateUnnamed, a new name in dir made of
// prefix and a random number, as CreateTemp names files, closes f and
// returns the name. On an error nothing is left under a name.
func LinkTemp(f *os.File, dir, prefix string) (string, error) {
	name, err := linkTemp(f, dir, prefix)
	if cerr := f.Close(); err == nil && cerr != nil {
		os.Remove(name)
		err = cerr
	}
	if err != nil {
		return "", err
	}
	return name, nil
}

func linkTemp(f *os.File, dir, prefix string) (string, error) {
	var err error
	for range 10000 {
		name := filepath.Join(dir, prefix+strconv.FormatUint(uint64(rand.Uint32()), 10))
		if err = LinkUnnamed(f, name); !errors.Is(err, fs.ErrExist) {
			return name, err
		}
	}
	return "", err
}

// fill writes the content of a temporary file: synced when durable; when
// not, in pieces of outputBuffer bytes with its blocks allocated ahead
// (internal/reserve), those not written given back at the end.
func fill(tmp *os.File, durable bool, write func(io.Writer) error) error {
	if durable {
		if err := write(tmp); err != nil {
			return err
		}
		return tmp.Sync()
	}
	rw := reserve.NewWriter(tmp)
	bw := bufio.NewWriterSize(rw, outputBuffer)
	if err := write(bw); err != nil {
		return err
	}
	if err := bw.Flush(); err != nil {
		return err
	}
	return rw.Finish()
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
