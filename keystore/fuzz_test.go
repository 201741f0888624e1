package keystore

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

// FuzzImportPGP feeds arbitrary key data to the importer: it must never
// panic, and whatever it stores must read back.
func FuzzImportPGP(f *testing.F) {
	for _, dir := range []string{"samples", "rfc9580"} {
		files, _ := filepath.Glob(filepath.Join(corpus, dir, "*"))
		for _, name := range files {
			if data, err := os.ReadFile(name); err == nil && len(data) < 64<<10 {
				f.Add(data)
			}
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := Open(t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		HasUnprotectedSecrets(data)
		if _, err := s.ImportPGP(bytes.NewReader(data), nil); err != nil {
			return
		}
		if _, err := s.AllPGPCerts(); err != nil {
			t.Fatalf("stored certificate does not read back: %v", err)
		}
		if _, err := s.ListPGP(""); err != nil {
			t.Fatal(err)
		}
	})
}
