package main

import (
	"bytes"
	"os"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// openPTY opens a pseudo-terminal: its master and its terminal side.
func openPTY(t *testing.T) (master, tty *os.File) {
	t.Helper()
	master, err := os.OpenFile("/dev/ptmx", os.O_RDWR, 0)
	if err != nil {
		t.Skipf("no pseudo-terminal: %v", err)
	}
	t.Cleanup(func() { master.Close() })
	fd := int(master.Fd())
	if err := unix.IoctlSetPointerInt(fd, unix.TIOCSPTLCK, 0); err != nil {
		t.Skipf("unlockpt: %v", err)
	}
	n, err := unix.IoctlGetInt(fd, unix.TIOCGPTN)
	if err != nil {
		t.Skipf("ptsname: %v", err)
	}
	tty, err = os.OpenFile("/dev/pts/"+strconv.Itoa(n), os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Skipf("open the terminal: %v", err)
	}
	t.Cleanup(func() { tty.Close() })
	return master, tty
}

// TestTerminalHint: a message command reading a terminal says so on
// stderr, with how to end the input; a pipe gets no such line.
func TestTerminalHint(t *testing.T) {
	master, tty := openPTY(t)
	// What a user types: a message, then Ctrl-D on a line of its own.
	if _, err := master.Write([]byte("From: a@example.org\nSubject: typed\n\nhello\n\x04")); err != nil {
		t.Fatal(err)
	}
	var stdout, stderr bytes.Buffer
	code := run([]string{"mailseal", "--home", t.TempDir(), "verify"}, tty, &stdout, &stderr)
	if code != 1 || !strings.Contains(stderr.String(), "status: unsigned") {
		t.Fatalf("exit %d, stderr %q", code, stderr.String())
	}
	if !strings.HasPrefix(stderr.String(), "mailseal: reading a message from the terminal; end with Ctrl-D") {
		t.Errorf("no hint first on stderr: %q", stderr.String())
	}

	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	w.Write([]byte("From: a@example.org\nSubject: piped\n\nhello\n"))
	w.Close()
	defer r.Close()
	stderr.Reset()
	run([]string{"mailseal", "--home", t.TempDir(), "verify"}, r, &stdout, &stderr)
	if strings.Contains(stderr.String(), "terminal") {
		t.Errorf("hint for a pipe: %q", stderr.String())
	}
}
