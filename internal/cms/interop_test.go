package cms

import (
	"bytes"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mailseal/mailseal/core"
)

var allCiphers = []Cipher{AES256GCM, AES128GCM, AES256CBC, AES128CBC}

type recipientCase struct {
	name string
	id   Identity
	oaep bool
}

func (k testKeys) cases() []recipientCase {
	return []recipientCase{
		{"rsa-v1.5", k.rsa, false}, {"rsa-oaep", k.rsa, true},
		{"p256", k.p256, false}, {"p384", k.p384, false}, {"p521", k.p521, false},
		{"x25519", k.x25519, false},
	}
}

func TestRoundTrip(t *testing.T) {
	keys := newTestKeys(t)
	for _, c := range allCiphers {
		for _, rc := range keys.cases() {
			for _, size := range []int{0, 1, 15, 16, 17, 100000} {
				plaintext := randomBytes(size)
				msg := encryptBytes(t, []*x509.Certificate{rc.id.Cert}, EncryptOptions{Cipher: c, RSAOAEP: rc.oaep}, plaintext, 1000)
				body, d, err := decryptAll(msg, keys.all())
				if err != nil {
					t.Fatalf("%s %s %d: %v", c, rc.name, size, err)
				}
				if !bytes.Equal(body, plaintext) || d.Cipher != c.String() || d.Recipient != rc.id.Cert {
					t.Fatalf("%s %s %d: wrong result", c, rc.name, size)
				}
				wantIntegrity := core.IntegrityNone
				if c.authenticated() {
					wantIntegrity = core.IntegrityGCM
				}
				if d.Integrity != wantIntegrity {
					t.Fatalf("%s: integrity %q", c, d.Integrity)
				}
			}
		}
	}
}

// (a) openssl cms -decrypt reads what we write: every cipher, every key
// type, one message to all recipients at once.
func TestOpenSSLDecryptsOurMessages(t *testing.T) {
	requireOpenSSL(t)
	dir := t.TempDir()
	keys := newTestKeys(t)
	plaintext := []byte(strings.Repeat("streaming CMS test line\r\n", 2000))
	for _, c := range allCiphers {
		for _, oaep := range []bool{false, true} {
			var to []*x509.Certificate
			for _, id := range keys.all() {
				to = append(to, id.Cert)
			}
			msg := encryptBytes(t, to, EncryptOptions{Cipher: c, RSAOAEP: oaep}, plaintext, 4000)
			in := filepath.Join(dir, fmt.Sprintf("ours-%s-%v.der", c, oaep))
			os.WriteFile(in, msg, 0o600)
			for _, rc := range keys.cases() {
				if rc.oaep != oaep && rc.id.Cert == keys.rsa.Cert {
					continue
				}
				certPath, keyPath := writeIdentity(t, dir, rc.id)
				out, err := runOpenSSL(t, "cms", "-decrypt", "-binary", "-inform", "DER", "-in", in, "-recip", certPath, "-inkey", keyPath)
				if rc.name == "x25519" {
					// OpenSSL 3.0's CMS has no X25519 key agreement (its
					// KARI code handles only DH and EC keys), so it must
					// refuse; our own reader is tested in TestRoundTrip.
					if err == nil {
						t.Logf("openssl now decrypts X25519 KARI: %s", c)
						if !bytes.Equal(out, plaintext) {
							t.Fatalf("%s x25519: openssl output differs", c)
						}
					}
					continue
				}
				if err != nil {
					t.Fatalf("%s oaep=%v %s: openssl: %v", c, oaep, rc.name, err)
				}
				if !bytes.Equal(out, plaintext) {
					t.Fatalf("%s oaep=%v %s: openssl output differs", c, oaep, rc.name)
				}
			}
		}
	}
}

var opensslCipherFlags = map[Cipher]string{AES256GCM: "-aes-256-gcm", AES128GCM: "-aes-128-gcm", AES256CBC: "-aes-256-cbc", AES128CBC: "-aes-128-cbc"}

// opensslEncrypt runs openssl cms -encrypt to certPath.
func opensslEncrypt(t *testing.T, dir string, c Cipher, certPath string, oaep, stream bool, plaintext []byte) ([]byte, error) {
	t.Helper()
	in := filepath.Join(dir, "plain")
	os.WriteFile(in, plaintext, 0o600)
	args := []string{"cms", "-encrypt", "-binary", opensslCipherFlags[c], "-outform", "DER", "-in", in, "-recip", certPath}
	if oaep {
		args = append(args, "-keyopt", "rsa_padding_mode:oaep", "-keyopt", "rsa_oaep_md:sha256")
	}
	if stream {
		args = append(args, "-stream")
	}
	return runOpenSSL(t, args...)
}

// (b) we read what openssl writes, DER and streamed BER.
func TestWeDecryptOpenSSLMessages(t *testing.T) {
	requireOpenSSL(t)
	dir := t.TempDir()
	keys := newTestKeys(t)
	plaintext := []byte(strings.Repeat("openssl to mailseal\n", 3000))
	for _, c := range allCiphers {
		for _, rc := range keys.cases() {
			for _, stream := range []bool{false, true} {
				certPath, _ := writeIdentity(t, dir, rc.id)
				msg, err := opensslEncrypt(t, dir, c, certPath, rc.oaep, stream, plaintext)
				if rc.name == "x25519" {
					if err == nil {
						t.Logf("openssl now encrypts to X25519 recipients")
					} else {
						continue
					}
				}
				if err != nil {
					t.Fatalf("%s %s: openssl: %v", c, rc.name, err)
				}
				body, d, err := decryptAll(msg, keys.all())
				if err != nil {
					t.Fatalf("%s %s stream=%v: %v", c, rc.name, stream, err)
				}
				if !bytes.Equal(body, plaintext) || d.Cipher != c.String() {
					t.Fatalf("%s %s stream=%v: wrong plaintext", c, rc.name, stream)
				}
			}
		}
	}
}

// (c) tampering: ciphertext, tag and padding failures are the one generic
// error for us and a failure for openssl.
func TestTamperedMessagesFail(t *testing.T) {
	requireOpenSSL(t)
	dir := t.TempDir()
	keys := newTestKeys(t)
	certPath, keyPath := writeIdentity(t, dir, keys.p256)
	plaintext := bytes.Repeat([]byte("0123456789abcdef"), 4096) // whole blocks: CBC padding is a full block
	var messages []string
	for _, c := range allCiphers {
		ours := encryptBytes(t, []*x509.Certificate{keys.p256.Cert}, EncryptOptions{Cipher: c}, plaintext, 5000)
		theirs, err := opensslEncrypt(t, dir, c, certPath, false, false, plaintext)
		if err != nil {
			t.Fatal(err)
		}
		for origin, msg := range map[string][]byte{"ours": ours, "openssl": theirs} {
			contentStart, contentEnd, macStart := locateContent(t, msg)
			tampers := map[string]int{"ciphertext": contentStart + (contentEnd-contentStart)/2}
			if c.authenticated() {
				tampers["tag"] = macStart + 3
			} else {
				// the last byte of the next-to-last block flips the last
				// padding byte: 0x10 becomes 0x11, invalid padding
				tampers["padding"] = contentEnd - 17
			}
			for what, pos := range tampers {
				bad := bytes.Clone(msg)
				bad[pos] ^= 0x01
				_, _, err := decryptAll(bad, []Identity{keys.p256})
				if c.authenticated() || what == "padding" {
					if !errors.Is(err, core.ErrIntegrity) {
						t.Fatalf("%s %s %s: got %v", origin, c, what, err)
					}
					messages = append(messages, err.Error())
				}
				path := filepath.Join(dir, "bad.der")
				os.WriteFile(path, bad, 0o600)
				out, oerr := runOpenSSL(t, "cms", "-decrypt", "-binary", "-inform", "DER", "-in", path, "-recip", certPath, "-inkey", keyPath)
				if (c.authenticated() || what == "padding") && oerr == nil {
					t.Fatalf("%s %s %s: openssl accepted it (%d bytes)", origin, c, what, len(out))
				}
			}
		}
	}
	for _, m := range messages {
		if m != messages[0] {
			t.Fatalf("integrity errors differ:\n%s\n%s", m, messages[0])
		}
	}
}

// locateContent finds the encrypted content (offsets of its first and
// just past its last ciphertext byte, for one single primitive or the
// whole run of pieces) and the mac contents, by walking the structure.
func locateContent(t *testing.T, msg []byte) (start, end, mac int) {
	t.Helper()
	br := newBERReader(bytes.NewReader(msg))
	for _, tag := range []byte{0x30} {
		if _, err := expectHeader(br, tag, "ContentInfo"); err != nil {
			t.Fatal(err)
		}
	}
	readOID(br, "")
	br.header() // [0]
	env, _ := br.header()
	br.readElement(16) // version
	br.readElement(1 << 20)
	eci, _ := br.header()
	br.readElement(100)
	br.readElement(1000)
	content, _ := br.header()
	start = -1
	br.streamOctets(content, 0, make([]byte, 1), func(p []byte) error {
		if start < 0 {
			start = int(br.offset) - 1
		}
		end = int(br.offset)
		return nil
	})
	br.more(eci)
	mac = -1
	if more, _ := br.more(env); more {
		h, _ := br.header()
		if h.tag == 0x04 {
			mac = int(br.offset)
		}
	}
	return start, end, mac
}

// RSAES-OAEP as openssl writes it with every hash and with a label
// (RFC 8551 requires reading SHA-1/256/384/512, with and without label).
func TestWeDecryptOpenSSLOAEPVariants(t *testing.T) {
	requireOpenSSL(t)
	dir := t.TempDir()
	keys := newTestKeys(t)
	certPath, _ := writeIdentity(t, dir, keys.rsa)
	in := filepath.Join(dir, "plain")
	plaintext := []byte("OAEP variants\r\n")
	os.WriteFile(in, plaintext, 0o600)
	for _, md := range []string{"sha1", "sha256", "sha384", "sha512"} {
		for _, label := range []string{"", "6d61696c7365616c"} {
			args := []string{"cms", "-encrypt", "-binary", "-aes-256-gcm", "-outform", "DER", "-in", in, "-recip", certPath,
				"-keyopt", "rsa_padding_mode:oaep", "-keyopt", "rsa_oaep_md:" + md, "-keyopt", "rsa_mgf1_md:" + md}
			if label != "" {
				args = append(args, "-keyopt", "rsa_oaep_label:"+label)
			}
			msg, err := runOpenSSL(t, args...)
			if err != nil {
				t.Fatalf("%s label=%q: openssl: %v", md, label, err)
			}
			body, _, err := decryptAll(msg, []Identity{keys.rsa})
			if err != nil || !bytes.Equal(body, plaintext) {
				t.Fatalf("%s label=%q: %v", md, label, err)
			}
		}
	}
}
