//go:build unix

package keystore

import (
	"bytes"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/mailseal/mailseal/core"
	"github.com/mailseal/mailseal/internal/atomicfile"
)

// A named pipe put in the place of a stored certificate is an error (or
// skipped), not a wait for ever: listing, finding and exporting the keys
// read every certificate file with a plain open, and `keys list` hung.
func TestStoredFileThatIsAPipe(t *testing.T) {
	s := newStore(t)
	if _, err := s.ImportPGP(bytes.NewReader(publicBytes(t, newKey(t, "Alice <alice@example.org>"))), nil); err != nil {
		t.Fatal(err)
	}
	bob := newKey(t, "Bob <bob@example.org>")
	if _, err := s.ImportPGP(bytes.NewReader(publicBytes(t, bob)), nil); err != nil {
		t.Fatal(err)
	}
	path := s.certPath(strings.ToLower(fingerprintOf(bob)))
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	if err := unix.Mkfifo(path, 0o600); err != nil {
		t.Fatal(err)
	}
	for name, f := range map[string]func() error{
		"ListPGP":      func() error { _, err := s.ListPGP(""); return err },
		"FindPGP":      func() error { _, err := s.FindPGP("bob@example.org"); return err },
		"ExportAllPGP": func() error { return s.ExportAllPGP(&bytes.Buffer{}, false) },
	} {
		done := make(chan error, 1)
		go func() { done <- f() }()
		select {
		case err := <-done:
			// Bob's certificate cannot be read: an error naming it, or
			// no key for him.
			if err != nil && !errors.Is(err, atomicfile.ErrNotRegular) && !errors.Is(err, core.ErrNoKey) {
				t.Fatalf("%s: %v", name, err)
			}
		case <-time.After(20 * time.Second):
			t.Fatalf("%s: still reading after 20 s", name)
		}
	}
}
