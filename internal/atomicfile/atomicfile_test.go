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

func TestWrite(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "f")
	if err := WriteBytes(path, 0o600, []byte("one")); err != nil {
		t.Fatal(err)
	}
	st, _ := os.Stat(path)
	if st.Mode().Perm() != 0o600 {
		t.Fatalf("mode %v", st.Mode())
	}
	// A failing writer leaves the old content and no temporary file.
	err := Write(path, 0o600, func(w io.Writer) error {
		w.Write([]byte("partial"))
		return errors.New("boom")
	})
	if err == nil {
		t.Fatal("no error")
	}
	if data, _ := os.ReadFile(path); string(data) != "one" {
		t.Fatalf("content %q", data)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Fatalf("left behind: %v", entries)
	}
}

// ReadFile reads up to its bound and refuses one byte more; a missing
// file is fs.ErrNotExist.
func TestReadFile(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "state.json")
	if _, err := ReadFile(p, 10); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("missing: %v", err)
	}
	if err := WriteBytes(p, 0o600, []byte("0123456789")); err != nil {
		t.Fatal(err)
	}
	if data, err := ReadFile(p, 10); err != nil || string(data) != "0123456789" {
		t.Fatalf("at the bound: %q, %v", data, err)
	}
	if _, err := ReadFile(p, 9); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("over the bound: %v", err)
	}
}

// WriteOutput replaces the file with all that was written, in the mode
// asked for, and a writer that fails, even after more than one piece of
// outputBuffer bytes reached the temporary file, leaves the old content and
// no temporary file.
func TestWriteOutput(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "out.eml")
	want := bytes.Repeat([]byte("0123456789abcdef"), 3*outputBuffer/16+5)
	err := WriteOutput(path, 0o600, func(w io.Writer) error {
		for p := want; len(p) > 0; {
			n := min(len(p), 65000)
			if _, err := w.Write(p[:n]); err != nil {
				return err
			}
			p = p[n:]
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(path); !bytes.Equal(got, want) {
		t.Fatalf("content: %d bytes, want %d", len(got), len(want))
	}
	if st, _ := os.Stat(path); st.Mode().Perm() != 0o600 {
		t.Fatalf("mode %v", st.Mode())
	}
	err = WriteOutput(path, 0o600, func(w io.Writer) error {
		w.Write(make([]byte, 2*outputBuffer+1))
		return errors.New("boom")
	})
	if err == nil {
		t.Fatal("no error")
	}
	if got, _ := os.ReadFile(path); !bytes.Equal(got, want) {
		t.Fatalf("old content changed: %d bytes", len(got))
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Fatalf("left behind: %v", entries)
	}
	// A new file is not made at all.
	fresh := filepath.Join(dir, "new.eml")
	if err := WriteOutput(fresh, 0o666, func(w io.Writer) error { return errors.New("boom") }); err == nil {
		t.Fatal("no error")
	}
	if _, err := os.Stat(fresh); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("made a file: %v", err)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Fatalf("left behind: %v", entries)
	}
}

// WriteOutput leaves no blocks allocated past the output's end (on ext4
// they are allocated ahead of the writes, internal/reserve).
func TestWriteOutputBlocks(t *testing.T) {
	path := filepath.Join(t.TempDir(), "out")
	data := bytes.Repeat([]byte("0123456789abcdef"), 20<<16+777) // 20 MiB and some
	if err := WriteOutput(path, 0o600, func(w io.Writer) error {
		for p := data; len(p) > 0; p = p[min(len(p), 65536):] { // as the encoders write
			if _, err := w.Write(p[:min(len(p), 65536)]); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(path)
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("content differs (%v)", err)
	}
	if blocks, ok := allocatedBytes(path); ok && blocks > int64(len(data))+1<<20 {
		t.Fatalf("%d bytes allocated for %d written", blocks, len(data))
	}
}
