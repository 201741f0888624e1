package pkcs12

import (
	"os"
	"path/filepath"
	"testing"
)

// Decode never panics, and fails or returns what it found, on any input.
func FuzzDecode(f *testing.F) {
	files, _ := filepath.Glob("testdata/*.p12")
	for _, name := range files {
		data, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data, "hello world")
	}
	f.Fuzz(func(t *testing.T, data []byte, password string) {
		file, err := Decode(data, password)
		if err == nil && file == nil {
			t.Fatal("no error and no file")
		}
		normalize(data)
		IsPFX(data)
	})
}
