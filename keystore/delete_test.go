package keystore

import (
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/mailseal/mailseal/core"
)

// raceDeletes runs n concurrent deletes, each with its own Store on the
// same directory (as separate processes would), and checks that exactly
// one succeeds and every other one says the key is missing, with the exit
// code of a missing key, as a delete of a key that never existed does.
func raceDeletes(t *testing.T, dir string, n int, del func(*Store) error) {
	t.Helper()
	start := make(chan struct{})
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s, err := Open(dir)
			if err == nil {
				<-start
				err = del(s)
			}
			errs[i] = err
		}()
	}
	close(start)
	wg.Wait()
	ok := 0
	for _, err := range errs {
		switch {
		case err == nil:
			ok++
		case !errors.Is(err, core.ErrNoKey) || core.ExitCode(err) != core.ExitKey:
			t.Fatalf("a concurrent delete failed with exit code %d, not as a missing key: %v", core.ExitCode(err), err)
		}
	}
	if ok != 1 {
		t.Fatalf("%d of %d concurrent deletes succeeded, want 1", ok, n)
	}
}

// Two deletes of the same key at once: the loser finds the key gone, which
// is a missing key (exit 3), never a file-system error (exit 2).
func TestConcurrentDeletes(t *testing.T) {
	for round := 0; round < 10; round++ {
		s := newStore(t)
		importFile(t, s, "samples/alice-secret.pgp", nil)
		// By address, as the CLI finds it: the loser may list the key and find
		// its file gone.
		raceDeletes(t, s.Dir(), 8, func(s *Store) error { return s.DeletePGP("alice@openpgp.example", true) })
		if _, err := s.FindPGP(aliceFpr); !errors.Is(err, core.ErrNoKey) {
			t.Fatalf("deleted key still found: %v", err)
		}
		if _, err := s.PGPSecret(aliceFpr); !errors.Is(err, core.ErrNoKey) {
			t.Fatalf("deleted secret key still found: %v", err)
		}
		// The same for an X.509 certificate with its private key.
		email := fmt.Sprintf("race%d@example.org", round)
		if _, err := s.GenerateX509(X509Options{Email: email, SelfSigned: true, NoPassphrase: true}); err != nil {
			t.Fatal(err)
		}
		raceDeletes(t, s.Dir(), 8, func(s *Store) error { return s.DeleteX509(email, true) })
		if _, err := s.FindX509(email); !errors.Is(err, core.ErrNoKey) {
			t.Fatalf("deleted certificate still found: %v", err)
		}
	}
}
