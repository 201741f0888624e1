//go:build !linux

package atomicfile

import (
	"errors"
	"os"
)

// CreateUnnamed fails: only Linux makes a file without a name
// (O_TMPFILE); the caller then writes under the name itself.
func CreateUnnamed(path string, perm os.FileMode) (*os.File, error) {
	return nil, &os.PathError{Op: "open", Path: path, Err: errors.ErrUnsupported}
}

// UnnamedSupported is false: only Linux makes a file without a name.
func UnnamedSupported(dir string) bool { return false }

// LinkUnnamed is never called where CreateUnnamed fails.
func LinkUnnamed(f *os.File, path string) error {
	return &os.LinkError{Op: "link", Old: f.Name(), New: path, Err: errors.ErrUnsupported}
}
