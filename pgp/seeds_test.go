package pgp

import (
	"os"
	"path/filepath"
	"testing"
)

// saveSeed writes a test output to testdata/seeds when MAILSEAL_SAVE_SEEDS
// is set (to refresh the fuzz seeds checked into the repository).
func saveSeed(t *testing.T, name string, data []byte) {
	if os.Getenv("MAILSEAL_SAVE_SEEDS") == "" {
		return
	}
	dir := filepath.Join("testdata", "seeds")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
		t.Fatal(err)
	}
}
