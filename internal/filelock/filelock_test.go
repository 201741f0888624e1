package filelock

import (
	"errors"
	"os/exec"
	"path/filepath"
	"testing"
)

// flock(1), another process, cannot take the lock while Lock holds it,
// and can once it is released.
func TestLockExcludesOtherProcesses(t *testing.T) {
	flock, err := exec.LookPath("flock")
	if err != nil {
		t.Skip("no flock(1) here")
	}
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
