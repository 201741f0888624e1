package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// TestInstallScript: scripts/install.sh builds mailseal and installs the
// binary, the man pages and the completions under a PREFIX.
func TestInstallScript(t *testing.T) {
	if testing.Short() || runtime.GOOS == "windows" {
		t.Skip("builds the binary")
	}
	prefix := t.TempDir()
	cmd := exec.Command("sh", "../../scripts/install.sh")
	cmd.Env = append(os.Environ(), "PREFIX="+prefix)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("install.sh: %v\n%s", err, out)
	}
	for _, f := range []string{"bin/mailseal", "share/man/man1/mailseal.1", "share/man/man1/mailseal-keys-list.1",
		"share/bash-completion/completions/mailseal", "share/zsh/site-functions/_mailseal",
		"share/fish/vendor_completions.d/mailseal.fish"} {
		if st, err := os.Stat(filepath.Join(prefix, f)); err != nil || st.Size() == 0 {
			t.Errorf("%s: %v", f, err)
		}
	}
	out, err := exec.Command(filepath.Join(prefix, "bin/mailseal"), "version").Output()
	if err != nil || !strings.HasPrefix(string(out), "mailseal ") {
		t.Errorf("installed mailseal version: %q, %v", out, err)
	}
}
