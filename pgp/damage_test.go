package pgp

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"

	openpgp "github.com/ProtonMail/go-crypto/openpgp/v2"

	"github.com/mailseal/mailseal/core"
)

// flipInArmor changes one base64 character of a line in the middle of the
// armor into another: the data changes and the checksum no longer
// matches, as when a message is damaged in transit.
func flipInArmor(block []byte, line, col int) []byte {
	lines := strings.Split(string(block), "\n")
	n := line
	if n < 0 {
		n = len(lines) / 2
	}
	l := []byte(lines[n])
	if l[col] == 'A' {
		l[col] = 'B'
	} else {
		l[col] = 'A'
	}
	lines[n] = string(l)
	return []byte(strings.Join(lines, "\n"))
}

// Damaged transport encoding (issue 14 class 8): armor whose checksum does
// not match data that then fails keeps its verdict (the checksum has no
// key: a tamperer can leave a stale one) and says it may be damage in
// transit, for encrypted data and for signatures; the same change with a
// matching checksum says nothing of the kind; armor a lenient reading
// repairs (non-breaking spaces, a broken soft line break) opens with a
// warning.
func TestDamagedArmor(t *testing.T) {
	e := testEngine()
	key := genKey(t, "R", "r@example.org", keyOpts{})
	kr := Keyring{Secrets: openpgp.EntityList{key}}
	data := bytes.Repeat([]byte("transport encoding "), 200)
	ct := encrypt(t, e, data, nil, publicOf(t, key))

	// Input that can be read again (bytes.Reader) is checksummed only
	// after the failure, by reading it again; a stream as it is read.
	damaged := flipInArmor(ct, -1, 5)
	for name, r := range map[string]io.Reader{"seekable": bytes.NewReader(damaged), "stream": struct{ io.Reader }{bytes.NewReader(damaged)}} {
		_, err := e.Decrypt(r, kr)
		if !errors.Is(err, core.ErrIntegrity) || !strings.Contains(err.Error(), "may have been damaged in transit") {
			t.Fatalf("damaged armor, %s: %v", name, err)
		}
	}
	// Read again from where it started, not from the start of the input.
	offset := io.NewSectionReader(bytes.NewReader(append([]byte("junk"), damaged...)), 0, int64(len(damaged))+4)
	offset.Seek(4, io.SeekStart)
	if _, err := e.Decrypt(offset, kr); err == nil || !strings.Contains(err.Error(), "may have been damaged in transit") {
		t.Fatalf("damaged armor after an offset: %v", err)
	}
	bin := dearmor(t, ct)
	bin[len(bin)/2] ^= 1
	tampered := rearmor(t, "PGP MESSAGE", bin)
	if _, err := e.Decrypt(bytes.NewReader(tampered), kr); !errors.Is(err, core.ErrIntegrity) || strings.Contains(err.Error(), "transit") {
		t.Fatalf("tampered, checksum matching: %v", err)
	}

	lines := strings.Split(string(ct), "\n")
	lines[3] = lines[3][:7] + "\u00a0" + lines[3][7:]
	d, err := e.Decrypt(strings.NewReader(strings.Join(lines, "\n")), kr)
	if err != nil {
		t.Fatalf("non-breaking space: %v", err)
	}
	body, _ := io.ReadAll(d.Body)
	d.Close()
	if !bytes.Equal(body, data) || len(d.Warnings) != 1 || !strings.Contains(d.Warnings[0], "read leniently") {
		t.Fatalf("non-breaking space: %d bytes, warnings %q", len(body), d.Warnings)
	}
	if d, err := e.Decrypt(bytes.NewReader(ct), kr); err != nil || len(d.Warnings) != 0 {
		t.Fatalf("clean armor: %v, warnings %v", err, d)
	}

	// A detached signature.
	signer := genKey(t, "S", "s@example.org", keyOpts{})
	certs := openpgp.EntityList{publicOf(t, signer)}
	sig := sign(t, e, signer, data)
	signers, _, err := e.VerifyDetached(bytes.NewReader(data), bytes.NewReader(flipInArmor(sig, 2, 50)), certs)
	if err != nil {
		t.Fatal(err)
	}
	if s := oneSigner(t, signers, core.SignerBad); !strings.Contains(s.Error, "may have been damaged in transit") {
		t.Fatalf("damaged signature armor: %q", s.Error)
	}
	sbin := dearmor(t, sig)
	sbin[len(sbin)-3] ^= 1
	forged := rearmor(t, "PGP SIGNATURE", sbin)
	signers, _, err = e.VerifyDetached(bytes.NewReader(data), bytes.NewReader(forged), certs)
	if err != nil {
		t.Fatal(err)
	}
	if s := oneSigner(t, signers, core.SignerBad); strings.Contains(s.Error, "transit") {
		t.Fatalf("re-armored forgery: %q", s.Error)
	}
}
