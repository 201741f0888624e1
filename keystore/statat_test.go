package keystore

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
)

// dirFiles.stat answers as os.Stat of the whole path does: for a file, a
// directory, links to each (followed), a dangling link and a missing
// name; the tags (size, modification and change times) are the same.
func TestDirFiles(t *testing.T) {
	dir, elsewhere := t.TempDir(), t.TempDir()
	write := func(path, data string) {
		t.Helper()
		if err := os.WriteFile(path, []byte(data), 0o640); err != nil {
			t.Fatal(err)
		}
	}
	write(filepath.Join(dir, "file.pem"), "certificate")
	write(filepath.Join(elsewhere, "target.pem"), "a longer certificate")
	if err := os.Mkdir(filepath.Join(dir, "sub"), 0o700); err != nil {
		t.Fatal(err)
	}
	links := map[string]string{
		"link.pem": filepath.Join(elsewhere, "target.pem"), "linkdir": elsewhere,
		"dangling.pem": filepath.Join(elsewhere, "gone.pem"), "relative.pem": "file.pem",
	}
	for name, target := range links {
		if err := os.Symlink(target, filepath.Join(dir, name)); err != nil {
			t.Skipf("no symbolic links here: %v", err)
		}
	}
	d, err := openDirFiles(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer d.close()
	for _, name := range []string{"file.pem", "sub", "link.pem", "linkdir", "dangling.pem", "relative.pem", "missing.pem"} {
		want, werr := os.Stat(filepath.Join(dir, name))
		got, gerr := d.stat(name)
		if (werr == nil) != (gerr == nil) || errors.Is(werr, fs.ErrNotExist) != errors.Is(gerr, fs.ErrNotExist) {
			t.Errorf("%s: error %v, os.Stat's %v", name, gerr, werr)
			continue
		}
		if werr != nil {
			if gerr.Error() != werr.Error() {
				t.Errorf("%s: error %q, os.Stat's %q", name, gerr, werr)
			}
			continue
		}
		if got.Name() != want.Name() || got.Size() != want.Size() || got.Mode() != want.Mode() || got.IsDir() != want.IsDir() ||
			!got.ModTime().Equal(want.ModTime()) || fileTag(got) != fileTag(want) || changeTime(got) != changeTime(want) {
			t.Errorf("%s: %s %d %v %v %v %s, os.Stat's %s %d %v %v %v %s", name,
				got.Name(), got.Size(), got.Mode(), got.IsDir(), got.ModTime(), fileTag(got),
				want.Name(), want.Size(), want.Mode(), want.IsDir(), want.ModTime(), fileTag(want))
		}
	}
	if _, err := openDirFiles(filepath.Join(dir, "missing")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("a missing directory: %v", err)
	}
}

// BenchmarkStatInDir takes the tags of 2,000 files of one directory:
// with dirFiles, and with os.Stat of each whole path (the plain version).
func BenchmarkStatInDir(b *testing.B) {
	dir := filepath.Join(b.TempDir(), "home", "x509", "certs")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		b.Fatal(err)
	}
	var names []string
	for i := range 2000 {
		name := fmt.Sprintf("%064X.pem", i)
		if err := os.WriteFile(filepath.Join(dir, name), []byte("certificate"), 0o600); err != nil {
			b.Fatal(err)
		}
		names = append(names, name)
	}
	b.Run("dirFiles", func(b *testing.B) {
		for b.Loop() {
			d, err := openDirFiles(dir)
			if err != nil {
				b.Fatal(err)
			}
			for _, n := range names {
				if info, err := d.stat(n); err != nil || fileTag(info) == "" {
					b.Fatal(err)
				}
			}
			d.close()
		}
	})
	b.Run("os.Stat", func(b *testing.B) {
		for b.Loop() {
			for _, n := range names {
				if info, err := os.Stat(filepath.Join(dir, n)); err != nil || fileTag(info) == "" {
					b.Fatal(err)
				}
			}
		}
	})
}
