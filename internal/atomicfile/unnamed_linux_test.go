package atomicfile

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
)

// A file made by CreateUnnamed is nowhere in its directory until
// LinkUnnamed names it; it keeps its mode, and an existing name is never
// replaced.
func TestUnnamed(t *testing.T) {
	dir := t.TempDir()
	f, err := CreateUnnamed(dir, 0o600)
	if err != nil {
		t.Skipf("no O_TMPFILE here: %v", err)
	}
	defer f.Close()
	if _, err := f.WriteString("whole"); err != nil {
		t.Fatal(err)
	}
	if names, _ := os.ReadDir(dir); len(names) != 0 {
		t.Fatalf("named already: %v", names)
	}
	taken := filepath.Join(dir, "taken")
	os.WriteFile(taken, []byte("mine"), 0o600)
	if err := LinkUnnamed(f, taken); !errors.Is(err, fs.ErrExist) {
		t.Fatalf("over an existing file: %v", err)
	}
	if data, _ := os.ReadFile(taken); string(data) != "mine" {
		t.Fatalf("the existing file became %q", data)
	}
	path := filepath.Join(dir, "out")
	if err := LinkUnnamed(f, path); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(path)
	st, serr := os.Stat(path)
	if err != nil || string(data) != "whole" || serr != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("%q, %v, %v, %v", data, err, st.Mode(), serr)
	}
}
