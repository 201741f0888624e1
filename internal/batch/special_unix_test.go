//go:build unix

package batch

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/mailseal/mailseal/core"
	"github.com/mailseal/mailseal/mime"
)

// within runs f, failing the test if it has not returned after 20 s.
func within(t *testing.T, what string, f func()) {
	t.Helper()
	done := make(chan struct{})
	go func() {
		defer close(done)
		f()
	}()
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		t.Fatalf("%s: still running after 20 s", what)
	}
}

// A named pipe or a device among a Maildir's messages is that message's
// error, and the others are worked on: opening the pipe waited for a
// writer for ever, and a link to /dev/zero would have been read until
// the size limit.
func TestRunMaildirSpecialFiles(t *testing.T) {
	md := filepath.Join(t.TempDir(), "in")
	makeMaildir(t, md)
	os.WriteFile(filepath.Join(md, "cur", "a"), []byte(message(0)), 0o600)
	if err := unix.Mkfifo(filepath.Join(md, "cur", "b"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("/dev/zero", filepath.Join(md, "cur", "c")); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(md, "cur", "d"), []byte(message(1)), 0o600)
	var got []doneRecord
	var n int
	var err error
	within(t, "a Maildir with a named pipe", func() {
		got, n, err = run(t, Options{Input: md, Workers: 2, MemLimit: 1 << 20}, func() Work { return subjectWork(false) })
	})
	if err != nil || n != 4 {
		t.Fatalf("%d messages: %v", n, err)
	}
	want := []struct{ id, what string }{
		{"cur/a", "message 0"},
		{"cur/b", "error: open " + filepath.Join(md, "cur", "b") + ": a named pipe, not a regular file"},
		{"cur/c", "error: open " + filepath.Join(md, "cur", "c") + ": a device, not a regular file"},
		{"cur/d", "message 1"},
	}
	for i, w := range want {
		if got[i].id != w.id || !strings.HasPrefix(got[i].what, w.what) {
			t.Fatalf("message %d: %+v, want %+v", i, got[i], w)
		}
	}
}

// An mbox is read where it lies: a named pipe (a shell's <(...)) or a
// device is refused at once with what to do, where the pipe was read to
// its end and each message then failed ("illegal seek").
func TestRunMboxNotAFile(t *testing.T) {
	fifo := filepath.Join(t.TempDir(), "mbox")
	if err := unix.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, in := range []string{fifo, "/dev/null"} {
		var err error
		within(t, in, func() {
			_, _, err = run(t, Options{Input: in, Workers: 1, MemLimit: 1 << 20}, func() Work { return subjectWork(false) })
		})
		if !errors.Is(err, core.ErrInput) || !strings.Contains(err.Error(), "not a regular file: give an mbox file or a Maildir") {
			t.Fatalf("%s: %v", in, err)
		}
	}
}

// A named pipe in the place of a Maildir's cur/ (or new/) is an error at
// once: listing it waited for a writer for ever.
func TestRunMaildirPipeForSubdirectory(t *testing.T) {
	md := filepath.Join(t.TempDir(), "in")
	os.MkdirAll(filepath.Join(md, "new"), 0o700)
	os.WriteFile(filepath.Join(md, "new", "a"), []byte(message(0)), 0o600)
	if err := unix.Mkfifo(filepath.Join(md, "cur"), 0o600); err != nil {
		t.Fatal(err)
	}
	var err error
	within(t, "a Maildir whose cur/ is a named pipe", func() {
		_, _, err = run(t, Options{Input: md, Workers: 1, MemLimit: 1 << 20}, func() Work { return subjectWork(false) })
	})
	if !errors.Is(err, core.ErrInput) || !errors.Is(err, unix.ENOTDIR) {
		t.Fatalf("%v", err)
	}
}

// Under a low limit on open files a batch into a Maildir holds fewer
// messages ahead of the writer (inFlight), so that each is worked on: a
// review found eight workers under a limit of 40 failing a quarter of the
// messages with "too many open files" (each waiting message may hold its
// input and its unnamed output).
func TestRunUnderLowFileLimit(t *testing.T) {
	var old unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &old); err != nil {
		t.Fatal(err)
	}
	low := old
	low.Cur = 36
	if err := unix.Setrlimit(unix.RLIMIT_NOFILE, &low); err != nil {
		t.Skipf("cannot lower the limit on open files: %v", err)
	}
	defer unix.Setrlimit(unix.RLIMIT_NOFILE, &old)
	dir := t.TempDir()
	in := writeMbox(t, dir, 400)
	var failed []string
	n, err := Run(Options{Input: in, Output: filepath.Join(dir, "out"), OutputFormat: FormatMaildir, Workers: 8, MemLimit: 1 << 20},
		func() (Work, error) {
			w := subjectWork(true)
			return func(m *mime.Message, output func(func(io.Writer) error) error) Result {
				// The first message slow, so that the others wait for the
				// writer with their outputs done.
				if m.Root.Header.Get("Subject") == "message 0" {
					time.Sleep(300 * time.Millisecond)
				}
				return w(m, output)
			}, nil
		},
		func(id string, r Result) {
			if r.Err != nil {
				failed = append(failed, id+": "+r.Err.Error())
			}
		})
	if err != nil || n != 400 || len(failed) > 0 {
		t.Fatalf("%d messages, %v; %d failed: %.300q", n, err, len(failed), failed)
	}
}
