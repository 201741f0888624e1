//go:build unix && !aix

package filelock

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"
)

// TryOpen opens a named pipe without waiting for a writer (the caller then
// sees it is no regular file), and its lock excludes flock(1), another
// process, until the file is closed.
func TestTryOpenPipeAndOtherProcess(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "fifo")
	if err := unix.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	f, err := TryOpen(fifo)
	if err != nil {
		t.Fatalf("TryOpen of a named pipe: %v", err)
	}
	f.Close()

	flock := flockProgram(t)
	path := filepath.Join(dir, "entry")
	if err := os.WriteFile(path, []byte("content"), 0o600); err != nil {
		t.Fatal(err)
	}
	if f, err = TryOpen(path); err != nil {
		t.Fatal(err)
	}
	var ee *exec.ExitError
	if err := exec.Command(flock, "--nonblock", "--conflict-exit-code", "99", path, "true").Run(); !errors.As(err, &ee) || ee.ExitCode() != 99 {
		t.Fatalf("flock took the lock TryOpen holds: %v", err)
	}
	f.Close()
	if err := exec.Command(flock, "--nonblock", path, "true").Run(); err != nil {
		t.Fatalf("flock after close: %v", err)
	}
}
