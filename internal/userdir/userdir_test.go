package userdir

import (
	"path/filepath"
	"runtime"
	"testing"
)

func TestDirs(t *testing.T) {
	t.Setenv("XDG_DATA_HOME", filepath.FromSlash("/x/data"))
	t.Setenv("XDG_CONFIG_HOME", filepath.FromSlash("/x/config"))
	check(t, "/x/data/mailseal", "/x/config/mailseal")
	if runtime.GOOS == "windows" {
		return
	}
	t.Setenv("XDG_DATA_HOME", "")
	t.Setenv("XDG_CONFIG_HOME", "")
	t.Setenv("HOME", "/home/alice")
	check(t, "/home/alice/.local/share/mailseal", "/home/alice/.config/mailseal")
	t.Setenv("HOME", "")
	if got, err := Data(); err == nil {
		t.Errorf("no home: got %q", got)
	}
}

func check(t *testing.T, data, config string) {
	t.Helper()
	if got, err := Data(); err != nil || got != filepath.FromSlash(data) {
		t.Errorf("Data: got %q, %v; want %q", got, err, data)
	}
	if got, err := Config(); err != nil || got != filepath.FromSlash(config) {
		t.Errorf("Config: got %q, %v; want %q", got, err, config)
	}
}
