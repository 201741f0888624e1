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

// ReadFile reads a small state file written by Write, at most max bytes:
// a larger one is an error wrapping ErrTooLarge, never read in full, so a
// damaged or planted file cannot make a reader allocate without bound.
// Errors from opening it (fs.ErrNotExist) are returned as they are.
func ReadFile(path string, max int64) ([]byte, error) {
	f, err := os.Open(path)
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
