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
	needUnnamed(t, dir)
	f, err := CreateUnnamed(filepath.Join(dir, "new"), 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteString("whole"); err != nil {
		t.Fatal(err)
	}
	if names, _ := os.ReadDir(dir); len(names) != 0 {
		t.Fatalf("named already: %v", names)
	}
	if f.Name() != filepath.Join(dir, "new") {
		t.Fatalf("errors writing it would name %s", f.Name())
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
	needUnnamed(t, dir)
	f, err := CreateUnnamed(filepath.Join(dir, "new"), 0o640)
	if err != nil {
		t.Fatal(err)
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

// While Write and WriteOutput write, the directory holds nothing new:
// the content is in a file without a name until it is whole, so that a
// process stopped meanwhile (a decrypt -o FILE killed while it writes the
// plaintext) leaves nothing; then the file replaces the old one.
func TestWriteUnnamedWhileWriting(t *testing.T) {
	dir := t.TempDir()
	needUnnamed(t, dir)
	path := filepath.Join(dir, "out")
	os.WriteFile(path, []byte("old"), 0o600)
	for name, write := range map[string]func(string, os.FileMode, func(io.Writer) error) error{"Write": Write, "WriteOutput": WriteOutput} {
		var during []string
		err := write(path, 0o600, func(w io.Writer) error {
			names, _ := os.ReadDir(dir)
			for _, n := range names {
				during = append(during, n.Name())
			}
			_, err := io.WriteString(w, "new from "+name)
			return err
		})
		if err != nil || len(during) != 1 || during[0] != "out" {
			t.Fatalf("%s: %v; the directory while writing: %v", name, err, during)
		}
		if data, _ := os.ReadFile(path); string(data) != "new from "+name {
			t.Fatalf("%s: %q", name, data)
		}
		if names, _ := os.ReadDir(dir); len(names) != 1 {
			t.Fatalf("%s: left behind: %v", name, names)
		}
	}
}

// needUnnamed skips a test where the kernel makes no unnamed file in dir
// (UnnamedSupported); where it does, the test fails if CreateUnnamed
// fails.
func needUnnamed(t *testing.T, dir string) {
	t.Helper()
	if !UnnamedSupported(dir) {
		t.Skip("no O_TMPFILE here")
	}
}
