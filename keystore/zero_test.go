package keystore

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mailseal/mailseal"
)

// A Session or Store not made by Open and Store.Session is refused with a
// usage error that says how to make one (issue 13 audit: a zero Session
// panicked on a nil store; a zero Store wrote into the working directory).
func TestZeroSessionAndStore(t *testing.T) {
	var se Session
	if _, _, err := se.RecipientKeys(mailseal.ProtocolOpenPGP, "a@example.org"); !errors.Is(err, mailseal.ErrUsage) || !strings.Contains(err.Error(), "keystore.Open") {
		t.Errorf("RecipientKeys: %v", err)
	}
	if _, err := se.Signer(mailseal.ProtocolSMIME, "a@example.org"); !errors.Is(err, mailseal.ErrUsage) {
		t.Errorf("Signer: %v", err)
	}
	if _, err := se.SignerMatching("a", ""); !errors.Is(err, mailseal.ErrUsage) {
		t.Errorf("SignerMatching: %v", err)
	}
	if _, err := se.HasSigner(mailseal.ProtocolOpenPGP, "a@example.org"); !errors.Is(err, mailseal.ErrUsage) {
		t.Errorf("HasSigner: %v", err)
	}
	if _, err := se.Trust(); !errors.Is(err, mailseal.ErrUsage) {
		t.Errorf("Trust: %v", err)
	}
	if _, err := se.Keys().SMIMETrust(); !errors.Is(err, mailseal.ErrUsage) {
		t.Errorf("Keys: %v", err)
	}
	f, err := os.Open(filepath.Join(corpus, "samples/bob.pgp"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	wd := t.TempDir()
	t.Chdir(wd)
	var s Store
	if _, err := s.ImportPGP(f, nil); !errors.Is(err, mailseal.ErrUsage) || !strings.Contains(err.Error(), "keystore.Open") {
		t.Errorf("ImportPGP into a zero Store: %v", err)
	}
	if ents, _ := os.ReadDir(wd); len(ents) != 0 {
		t.Errorf("a zero Store wrote into the working directory: %v", ents)
	}
}
