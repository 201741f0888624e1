package atomicfile

import (
	"bytes"
	"errors"
	"io"
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

// Where a file made by CreateUnnamed cannot be linked, LinkUnnamed
// copies it to a new file of the name. A file that was linked once and
// whose name was then removed can no longer be linked (the kernel clears
// its linkable flag), which makes the copy run here.
func TestUnnamedCopied(t *testing.T) {
	dir := t.TempDir()
	f, err := CreateUnnamed(dir, 0o640)
	if err != nil {
		t.Skipf("no O_TMPFILE here: %v", err)
	}
	defer f.Close()
	content := bytes.Repeat([]byte("0123456789"), 10000)
	f.Write(content)
	f.Seek(10, io.SeekStart) // the copy reads from the start whatever the offset
	first := filepath.Join(dir, "first")
	if err := LinkUnnamed(f, first); err != nil {
		t.Fatal(err)
	}
	os.Remove(first)
	second := filepath.Join(dir, "second")
	if err := LinkUnnamed(f, second); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(second)
	if err != nil || !bytes.Equal(data, content) {
		t.Fatalf("%d bytes, %v", len(data), err)
	}
	fst, _ := f.Stat()
	sst, _ := os.Stat(second)
	if os.SameFile(fst, sst) {
		t.Fatal("linked, not copied: the test does not reach the copy")
	}
	if sst.Mode().Perm()&^0o640 != 0 {
		t.Fatalf("mode %v", sst.Mode())
	}
}
