//go:build unix

package atomicfile

import (
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// Named pipes and /dev/null are written to, not replaced by a regular
// file (a rename over /dev/null would break every later "> /dev/null").
// The pipe goes first: if it is replaced, the test fails before it could
// do that to /dev/null.
func TestWriteToDeviceAndPipe(t *testing.T) {
	fifo := filepath.Join(t.TempDir(), "fifo")
	if err := unix.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	got := make(chan []byte, 1)
	go func() {
		f, err := os.Open(fifo)
		if err != nil {
			got <- nil
			return
		}
		b, _ := io.ReadAll(f)
		f.Close()
		got <- b
	}()
	if err := WriteBytes(fifo, 0o600, []byte("through the pipe")); err != nil {
		t.Fatal(err)
	}
	if st, _ := os.Stat(fifo); st.Mode()&os.ModeNamedPipe == 0 {
		t.Fatalf("the pipe was replaced: %v", st.Mode())
	}
	select {
	case b := <-got:
		if string(b) != "through the pipe" {
			t.Fatalf("read %q", b)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("nothing came through the pipe")
	}

	if err := WriteBytes(os.DevNull, 0o600, []byte("discarded")); err != nil {
		t.Fatal(err)
	}
	if st, err := os.Stat(os.DevNull); err != nil || st.Mode()&os.ModeCharDevice == 0 {
		t.Fatalf("%s is no longer a character device: %v %v", os.DevNull, st.Mode(), err)
	}
}

// A link to one of the process's open files (as /dev/stdout is) is written
// through the descriptor, appending where it is open for appending, and
// stays a link; a link to a file replaces the file and stays a link.
func TestWriteThroughLinks(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "out.eml")
	if err := os.WriteFile(out, []byte("before\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	f, err := os.OpenFile(out, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	link := filepath.Join(dir, "stdout")
	if err := os.Symlink("/proc/self/fd/"+strconv.Itoa(int(f.Fd())), link); err != nil {
		t.Fatal(err)
	}
	if err := WriteBytes(link, 0o600, []byte("through the descriptor\n")); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(out); string(b) != "before\nthrough the descriptor\n" {
		t.Fatalf("the file holds %q", b)
	}
	if st, err := os.Lstat(link); err != nil || st.Mode()&os.ModeSymlink == 0 {
		t.Fatalf("the link was replaced: %v %v", st.Mode(), err)
	}
	if _, err := f.Write([]byte("still open\n")); err != nil {
		t.Fatalf("the descriptor was closed: %v", err)
	}

	target := filepath.Join(dir, "target.eml")
	os.WriteFile(target, []byte("old"), 0o600)
	link2 := filepath.Join(dir, "link.eml")
	if err := os.Symlink("target.eml", link2); err != nil {
		t.Fatal(err)
	}
	if err := WriteBytes(link2, 0o600, []byte("new")); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(target); string(b) != "new" {
		t.Fatalf("the target holds %q", b)
	}
	if st, err := os.Lstat(link2); err != nil || st.Mode()&os.ModeSymlink == 0 {
		t.Fatalf("the link was replaced: %v %v", st.Mode(), err)
	}
}

// TestUmask: the new file's mode is perm less the umask, as os.OpenFile
// makes it: 0666 under umask 027 is 0640; 0600 stays private.
func TestUmask(t *testing.T) {
	old := unix.Umask(0o027)
	defer unix.Umask(old)
	dir := t.TempDir()
	for perm, want := range map[os.FileMode]os.FileMode{0o666: 0o640, 0o600: 0o600} {
		path := filepath.Join(dir, perm.String())
		if err := WriteBytes(path, perm, []byte("x")); err != nil {
			t.Fatal(err)
		}
		// replacing a file gives the new mode too
		if err := WriteBytes(path, perm, []byte("y")); err != nil {
			t.Fatal(err)
		}
		st, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if st.Mode().Perm() != want {
			t.Errorf("perm %v under umask 027: %v, want %v", perm, st.Mode().Perm(), want)
		}
	}
}

// allocatedBytes is the space the file at path takes on its disk.
func allocatedBytes(path string) (int64, bool) {
	var st syscall.Stat_t
	if err := syscall.Stat(path, &st); err != nil {
		return 0, false
	}
	return st.Blocks * 512, true
}

// OpenRegular opens a regular file, through a link too, and refuses a
// named pipe at once (no writer is waiting: a plain open would wait for
// ever), a device, a directory and a socket, naming what each is.
func TestOpenRegular(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "file")
	if err := os.WriteFile(file, []byte("content"), 0o600); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "link")
	if err := os.Symlink(file, link); err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{file, link} {
		f, err := OpenRegular(path)
		if err != nil {
			t.Fatal(err)
		}
		data, err := io.ReadAll(f)
		f.Close()
		if err != nil || string(data) != "content" {
			t.Fatalf("%s: %q, %v", path, data, err)
		}
	}
	fifo := filepath.Join(dir, "fifo")
	if err := unix.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	devLink := filepath.Join(dir, "zero")
	if err := os.Symlink("/dev/zero", devLink); err != nil {
		t.Fatal(err)
	}
	sock := filepath.Join(dir, "sock")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	for path, kind := range map[string]string{fifo: "a named pipe", "/dev/null": "a device", devLink: "a device", dir: "a directory", sock: "a socket"} {
		if err := promptly(t, path, func() error { return opened(OpenRegular(path)) }); !errors.Is(err, ErrNotRegular) || !strings.Contains(err.Error(), kind+", not a regular file") {
			t.Fatalf("%s: %v", path, err)
		}
	}
	if _, err := OpenRegular(filepath.Join(dir, "missing")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("missing file: %v", err)
	}
	// ReadFile, for state files, opens them so: a named pipe planted at a
	// state file's path is an error, not a wait.
	if err := promptly(t, "ReadFile of a named pipe", func() error { _, err := ReadFile(fifo, 100); return err }); !errors.Is(err, ErrNotRegular) {
		t.Fatalf("ReadFile of a named pipe: %v", err)
	}
}

// promptly returns what f returns, failing the test if f has not
// returned after 10 s (a wait for a named pipe's writer).
func promptly(t *testing.T, what string, f func() error) error {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- f() }()
	select {
	case err := <-done:
		return err
	case <-time.After(10 * time.Second):
		t.Fatalf("%s: still opening after 10 s", what)
		return nil
	}
}

// opened closes what an open returned and gives its error.
func opened(f *os.File, err error) error {
	if err == nil {
		f.Close()
	}
	return err
}

// OpenDir opens a directory, through a link too, and refuses a named
// pipe at once (a plain open waits for a writer) and a regular file.
func TestOpenDir(t *testing.T) {
	dir := t.TempDir()
	link := filepath.Join(dir, "link")
	if err := os.Symlink(dir, link); err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{dir, link} {
		if err := opened(OpenDir(path)); err != nil {
			t.Fatal(err)
		}
	}
	fifo := filepath.Join(dir, "fifo")
	if err := unix.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(dir, "file")
	os.WriteFile(file, nil, 0o600)
	for _, path := range []string{fifo, file} {
		if err := promptly(t, path, func() error { return opened(OpenDir(path)) }); !errors.Is(err, syscall.ENOTDIR) {
			t.Fatalf("%s: %v", path, err)
		}
	}
}
