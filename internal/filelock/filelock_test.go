package filelock

import (
	"errors"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"testing"
)

// flockProgram returns the path of flock(1), the other process the tests
// take the lock with. Linux always has it (util-linux, which Debian cannot
// be without): there, its absence fails the test instead of hiding it.
// Other systems may lack it (macOS, Windows): there, the test is skipped.
func flockProgram(t *testing.T) string {
	t.Helper()
	flock, err := exec.LookPath("flock")
	if err != nil {
		if runtime.GOOS == "linux" {
			t.Fatalf("flock(1) is missing: install util-linux (%v)", err)
		}
		t.Skipf("no flock(1) on %s", runtime.GOOS)
	}
	return flock
}

// flock(1), another process, cannot take the lock while Lock holds it,
// and can once it is released.
func TestLockExcludesOtherProcesses(t *testing.T) {
	flock := flockProgram(t)
	path := filepath.Join(t.TempDir(), "writelock")
	unlock, err := Lock(path)
	if err != nil {
		t.Fatal(err)
	}
	var ee *exec.ExitError
	if err := exec.Command(flock, "--nonblock", "--conflict-exit-code", "99", path, "true").Run(); !errors.As(err, &ee) || ee.ExitCode() != 99 {
		t.Fatalf("flock took the held lock: %v", err)
	}
	unlock()
	if err := exec.Command(flock, "--nonblock", path, "true").Run(); err != nil {
		t.Fatalf("flock after unlock: %v", err)
	}
	// And it can be taken again.
	unlock, err = Lock(path)
	if err != nil {
		t.Fatal(err)
	}
	unlock()
}

// TryOpen takes the lock without waiting: a second TryOpen of the file, in
// this process, fails with ErrLocked while the first file is open, and so
// does one while Lock holds it; the holder can read the file and remove it.
func TestTryOpen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "entry")
	if _, err := TryOpen(path); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("TryOpen of a missing file: %v", err)
	}
	if err := os.WriteFile(path, []byte("content"), 0o600); err != nil {
		t.Fatal(err)
	}
	f, err := TryOpen(path)
	if err != nil {
		t.Fatal(err)
	}
	if g, err := TryOpen(path); !errors.Is(err, ErrLocked) {
		if g != nil {
			g.Close()
		}
		t.Fatalf("second TryOpen while the first file is open: %v", err)
	}
	if b, err := io.ReadAll(f); err != nil || string(b) != "content" {
		t.Fatalf("reading the locked file: %q %v", b, err)
	}
	f.Close()

	unlock, err := Lock(path)
	if err != nil {
		t.Fatal(err)
	}
	if g, err := TryOpen(path); !errors.Is(err, ErrLocked) {
		if g != nil {
			g.Close()
		}
		t.Fatalf("TryOpen while Lock holds the file: %v", err)
	}
	unlock()

	f, err = TryOpen(path)
	if err != nil {
		t.Fatalf("TryOpen after unlock: %v", err)
	}
	defer f.Close()
	if err := os.Remove(path); err != nil {
		t.Fatalf("removing the file while it is locked: %v", err)
	}
}
