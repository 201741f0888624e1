// Package gpgtest runs the real GnuPG in a throw-away home directory so that
// tests can check mailseal's OpenPGP output against gpg and feed gpg's output
// to mailseal. Every gpg call uses --batch --pinentry-mode loopback (with an
// empty passphrase unless one is given) and --trust-model always, and
// collects stdout, stderr and the machine-readable status lines.
//
// If gpg is not installed, New fails the test with "install gnupg": interop
// tests are never skipped silently.
package gpgtest

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"
)

// Home is a temporary GNUPGHOME with its own gpg-agent, removed (and the
// agent stopped) when the test ends.
type Home struct {
	Dir string
	gpg string
	t   testing.TB
}

// Result is the outcome of one gpg run.
type Result struct {
	Stdout []byte
	Stderr []byte
	Status []byte // lines written to --status-fd, "[GNUPG:] KEYWORD args"
	Err    error  // non-nil if gpg exited with an error
}

// StatusLines returns the arguments of every status line with the keyword.
func (r Result) StatusLines(keyword string) []string {
	var out []string
	for _, l := range strings.Split(string(r.Status), "\n") {
		l = strings.TrimSpace(strings.TrimPrefix(l, "[GNUPG:] "))
		if l == keyword || strings.HasPrefix(l, keyword+" ") {
			out = append(out, strings.TrimSpace(strings.TrimPrefix(l, keyword)))
		}
	}
	return out
}

// HasStatus reports whether a status line with the keyword was written.
func (r Result) HasStatus(keyword string) bool { return len(r.StatusLines(keyword)) > 0 }

// Path returns the gpg executable, or fails the test asking to install gnupg.
func Path(t testing.TB) string {
	t.Helper()
	p, err := exec.LookPath("gpg")
	if err != nil {
		t.Fatalf("gpg is not in PATH: install gnupg (e.g. apt-get install gnupg) to run the OpenPGP interoperability tests")
	}
	return p
}

// New creates a temporary GNUPGHOME. The directory is short (under the
// system temp dir) because gpg-agent's socket path must be short.
func New(t testing.TB) *Home {
	t.Helper()
	gpg := Path(t)
	dir, err := os.MkdirTemp("", "gpgtest")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	conf := "allow-loopback-pinentry\n"
	if err := os.WriteFile(dir+"/gpg-agent.conf", []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	h := &Home{Dir: dir, gpg: gpg, t: t}
	t.Cleanup(func() {
		if p, err := exec.LookPath("gpgconf"); err == nil {
			cmd := exec.Command(p, "--kill", "all")
			cmd.Env = h.env()
			_ = cmd.Run()
		}
		os.RemoveAll(dir)
	})
	return h
}

func (h *Home) env() []string {
	var env []string
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "GNUPGHOME=") || strings.HasPrefix(kv, "GPG_AGENT_INFO=") {
			continue
		}
		env = append(env, kv)
	}
	return append(env, "GNUPGHOME="+h.Dir, "LC_ALL=C")
}

// Run runs gpg with the standard options, then args, feeding stdin. It does
// not fail the test; see Result.Err.
func (h *Home) Run(stdin []byte, args ...string) Result {
	return h.RunPass(stdin, "", args...)
}

// RunPass is Run with a passphrase for loopback pinentry.
func (h *Home) RunPass(stdin []byte, passphrase string, args ...string) Result {
	h.t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		h.t.Fatal(err)
	}
	base := []string{"--homedir", h.Dir, "--batch", "--no-tty", "--yes", "--pinentry-mode", "loopback",
		"--passphrase", passphrase, "--trust-model", "always", "--status-fd", "3", "--no-auto-key-locate"}
	cmd := exec.Command(h.gpg, append(base, args...)...)
	cmd.Env = h.env()
	cmd.Stdin = bytes.NewReader(stdin)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	cmd.ExtraFiles = []*os.File{w}
	var status bytes.Buffer
	done := make(chan struct{})
	go func() {
		defer close(done)
		_, _ = status.ReadFrom(r)
	}()
	runErr := cmd.Run()
	w.Close()
	<-done
	r.Close()
	if runErr != nil {
		runErr = fmt.Errorf("gpg %s: %v\n%s", strings.Join(args, " "), runErr, stderr.String())
	}
	return Result{Stdout: stdout.Bytes(), Stderr: stderr.Bytes(), Status: status.Bytes(), Err: runErr}
}

// must runs gpg and fails the test on error.
func (h *Home) must(stdin []byte, args ...string) Result {
	h.t.Helper()
	res := h.Run(stdin, args...)
	if res.Err != nil {
		h.t.Fatal(res.Err)
	}
	return res
}

var fprRE = regexp.MustCompile(`(?m)^fpr:+([0-9A-F]{40,64}):`)

// GenKey creates a key without passphrase: a primary key of signAlgo
// (e.g. "ed25519", "rsa3072") for signing and certifying, and, unless
// encAlgo is empty, an encryption subkey of encAlgo (e.g. "cv25519",
// "rsa3072"). It returns the primary key fingerprint.
func (h *Home) GenKey(uid, signAlgo, encAlgo string) string {
	h.t.Helper()
	h.must(nil, "--quick-gen-key", uid, signAlgo, "sign,cert", "never")
	res := h.must(nil, "--with-colons", "--fingerprint", "--list-secret-keys", "="+uid)
	m := fprRE.FindSubmatch(res.Stdout)
	if m == nil {
		h.t.Fatalf("no fingerprint for %s in\n%s", uid, res.Stdout)
	}
	fpr := string(m[1])
	if encAlgo != "" {
		h.must(nil, "--quick-add-key", fpr, encAlgo, "encr", "never")
	}
	return fpr
}

// Import imports keys (armored or binary, public or secret).
func (h *Home) Import(keys []byte) Result {
	h.t.Helper()
	return h.must(keys, "--import")
}

// Export returns the armored public key(s) matching who.
func (h *Home) Export(who string) []byte {
	h.t.Helper()
	return h.must(nil, "--armor", "--export", who).Stdout
}

// ExportSecret returns the armored secret key(s) matching who.
func (h *Home) ExportSecret(who string) []byte {
	h.t.Helper()
	return h.must(nil, "--armor", "--export-secret-keys", who).Stdout
}

// DetachSign makes an armored detached signature by signer over data.
func (h *Home) DetachSign(signer string, data []byte, extra ...string) []byte {
	h.t.Helper()
	args := append([]string{"--local-user", signer, "--armor", "--detach-sign"}, extra...)
	return h.must(data, args...).Stdout
}

// ClearSign makes a cleartext-signed message.
func (h *Home) ClearSign(signer string, data []byte, extra ...string) []byte {
	h.t.Helper()
	args := append([]string{"--local-user", signer, "--clearsign"}, extra...)
	return h.must(data, args...).Stdout
}

// Sign makes an inline-signed armored message (gpg --armor --sign).
func (h *Home) Sign(signer string, data []byte, extra ...string) []byte {
	h.t.Helper()
	args := append([]string{"--local-user", signer, "--armor", "--sign"}, extra...)
	return h.must(data, args...).Stdout
}

// Encrypt encrypts data (armored) to the recipients.
func (h *Home) Encrypt(data []byte, recipients []string, extra ...string) []byte {
	h.t.Helper()
	args := []string{"--armor", "--encrypt"}
	for _, r := range recipients {
		args = append(args, "--recipient", r)
	}
	return h.must(data, append(args, extra...)...).Stdout
}

// SignEncrypt signs by signer and encrypts to the recipients (armored).
func (h *Home) SignEncrypt(signer string, data []byte, recipients []string, extra ...string) []byte {
	h.t.Helper()
	args := []string{"--local-user", signer, "--armor", "--sign", "--encrypt"}
	for _, r := range recipients {
		args = append(args, "--recipient", r)
	}
	return h.must(data, append(args, extra...)...).Stdout
}

// Decrypt runs gpg --decrypt; check Result.Err and the status lines.
func (h *Home) Decrypt(msg []byte) Result {
	h.t.Helper()
	return h.Run(msg, "--decrypt")
}

// Verify runs gpg --verify on a detached signature over data.
func (h *Home) Verify(sig, data []byte) Result {
	h.t.Helper()
	f, err := os.CreateTemp(h.Dir, "sig-*.asc")
	if err != nil {
		h.t.Fatal(err)
	}
	defer os.Remove(f.Name())
	if _, err := f.Write(sig); err != nil {
		h.t.Fatal(err)
	}
	f.Close()
	return h.Run(data, "--verify", f.Name(), "-")
}
