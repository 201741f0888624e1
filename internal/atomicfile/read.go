package atomicfile

import (
	"errors"
	"fmt"
	"io"
	"os"
)

// ErrTooLarge is wrapped by ReadFile's error for a file larger than its
// bound.
var ErrTooLarge = errors.New("file too large")

// ErrNotRegular is wrapped by OpenRegular's error for a path that names
// something other than a regular file.
var ErrNotRegular = errors.New("not a regular file")

// OpenRegular opens path for reading if it is a regular file (links are
// followed). Anything else is refused without being opened (a named pipe
// would wait for a writer, a device would be read for ever or do
// something on open), and what was opened is looked at again, so that a
// file swapped in meanwhile is refused too: a file put where a program
// reads files cannot make it wait or read for ever.
func OpenRegular(path string) (*os.File, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if !st.Mode().IsRegular() {
		return nil, notRegular(path, st.Mode())
	}
	f, err := openNoWait(path)
	if err != nil {
		return nil, err
	}
	if st, err = f.Stat(); err == nil && !st.Mode().IsRegular() {
		err = notRegular(path, st.Mode())
	}
	if err != nil {
		f.Close()
		return nil, err
	}
	return f, nil
}

// OpenDir opens the directory path for reading its entries. On Unix
// anything else is an error (wrapping syscall.ENOTDIR) without being
// opened, so that a named pipe in a directory's place does not make it
// wait; on Windows, where opening does not wait, a file opens and
// reading its entries fails.
func OpenDir(path string) (*os.File, error) { return openDirNoWait(path) }

func notRegular(path string, m os.FileMode) error {
	return &os.PathError{Op: "open", Path: path, Err: fmt.Errorf("%s, %w", kindOf(m), ErrNotRegular)}
}

// ReadFile reads a small state file written by Write, at most max bytes:
// a larger one is an error wrapping ErrTooLarge, never read in full, so a
// damaged or planted file cannot make a reader allocate without bound;
// it is opened by OpenRegular, so a named pipe or a device planted there
// is an error, not a wait. Errors from opening it (fs.ErrNotExist) are
// returned as they are.
func ReadFile(path string, max int64) ([]byte, error) {
	f, err := OpenRegular(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, max+1))
	if err != nil {
		return nil, err
	}
	if int64(len(data)) > max {
		return nil, fmt.Errorf("%s is larger than %d bytes: %w", path, max, ErrTooLarge)
	}
	return data, nil
}

// kindOf names what a file that is not a regular file is.
func kindOf(m os.FileMode) string {
	switch {
	case m&os.ModeNamedPipe != 0:
		return "a named pipe"
	case m&os.ModeSocket != 0:
		return "a socket"
	case m&os.ModeDevice != 0:
		return "a device"
	case m.IsDir():
		return "a directory"
	}
	return "a special file"
}
