package flow

import (
	"bytes"
	"compress/zlib"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ProtonMail/go-crypto/openpgp/packet"
	openpgp "github.com/ProtonMail/go-crypto/openpgp/v2"

	"github.com/mailseal/mailseal/core"
	"github.com/mailseal/mailseal/mime"
	"github.com/mailseal/mailseal/pgp"
)

// The tests below are PGP/MIME messages that an LF file and its CRLF
// form must open alike: each made a difference when the armored part was
// handed to the decryption in the file's own LF lines (a review of an
// optimisation that was then taken back). The encrypted part is read in
// its canonical form, whatever the file's line endings.

// pgpMIME wraps armor (LF line endings) in a PGP/MIME message with LF
// line endings.
func pgpMIME(armor string) string {
	return "From: Alice <alice@example.org>\nTo: Bob <bob@example.org>\nSubject: x\nMIME-Version: 1.0\n" +
		"Content-Type: multipart/encrypted; protocol=\"application/pgp-encrypted\"; boundary=\"BB\"\n\n" +
		"--BB\nContent-Type: application/pgp-encrypted\n\nVersion: 1\n\n" +
		"--BB\nContent-Type: application/octet-stream\n\n" + armor + "\n--BB--\n"
}

// openFile writes msg to a file, parses it as the command-line tool
// does (ParseFile) and opens it; it returns a summary of the outcome.
func openFile(t *testing.T, op *OpenPGP, msg string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "m.eml")
	if err := os.WriteFile(path, []byte(msg), 0o600); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	m, err := mime.ParseFile(f, mime.DefaultLimits(), 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	res, err := Open(m, []Engine{op}, Options{Limits: mime.DefaultLimits(), MemLimit: 1 << 20, Decrypt: true})
	if err != nil {
		return "error: " + err.Error()
	}
	defer res.Close()
	inner, _ := io.ReadAll(res.Inner)
	return fmt.Sprintf("opened: encrypted %v, %d bytes", res.Report.Encrypted, len(inner))
}

// alike opens lf and its CRLF form, which must give the same outcome, the
// one that holds want.
func alike(t *testing.T, op *OpenPGP, lf, want string) {
	t.Helper()
	a := openFile(t, op, lf)
	b := openFile(t, op, strings.ReplaceAll(lf, "\n", "\r\n"))
	if a != b {
		t.Errorf("the verdict depends on the message's line endings:\nLF   %s\nCRLF %s", a, b)
	}
	if !strings.Contains(a, want) {
		t.Errorf("outcome %q, want one with %q", a, want)
	}
}

func encryptBinary(t *testing.T, f *fixture, msg []byte) []byte {
	var ct bytes.Buffer
	w, err := f.op.Engine.EncryptData(&ct, []*openpgp.Entity{f.bob}, nil, nil, pgp.DataOptions{})
	if err != nil {
		t.Fatal(err)
	}
	w.Write(msg)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return ct.Bytes()
}

// An armor body line of 65535 characters: with its LF it fills the armor
// reader's 64 KiB buffer exactly, with CRLF it would be one byte too long.
func TestOpenSameForLineEndingsArmorLineAtBufferSize(t *testing.T) {
	f := newFixture(t)
	pad := make([]byte, 60<<10)
	rand.Read(pad)
	inner := "Content-Type: application/octet-stream\nContent-Transfer-Encoding: base64\n\n" +
		base64.StdEncoding.EncodeToString(pad) + "\n"
	b64 := base64.StdEncoding.EncodeToString(encryptBinary(t, f, []byte(strings.ReplaceAll(inner, "\n", "\r\n"))))
	if len(b64) < 65535+4 {
		t.Fatalf("only %d base64 characters", len(b64))
	}
	var armor strings.Builder
	armor.WriteString("-----BEGIN PGP MESSAGE-----\n\n")
	armor.WriteString(b64[:65535] + "\n")
	for rest := b64[65535:]; len(rest) > 0; {
		k := min(len(rest), 64)
		armor.WriteString(rest[:k] + "\n")
		rest = rest[k:]
	}
	armor.WriteString("-----END PGP MESSAGE-----")
	alike(t, f.op, pgpMIME(armor.String()), "invalid ASCII armor")
}

// go-crypto's decompression backstop is worked out from the size of the
// armored input (pgp.decompressBackstop): the LF bytes of an LF message
// would have given another cap than the CRLF bytes.
func TestOpenSameForLineEndingsDecompressionCap(t *testing.T) {
	f := newFixture(t)
	policy := core.DefaultPolicy()
	policy.MaxDecompressed = 64 << 10
	op := &OpenPGP{Engine: pgp.New(policy), Keyring: f.op.Keyring}
	content := []byte("Content-Type: text/plain\r\n\r\nhello\r\n")
	pad := make([]byte, 48<<10) // incompressible: the armor is long
	rand.Read(pad)
	build := func(skipped int) string {
		// Encrypted: a compressed packet holding an unknown packet of
		// skipped bytes (go-crypto reads and skips it), then the literal.
		sk := make([]byte, 16)
		rand.Read(sk)
		var keys bytes.Buffer
		cfg := &packet.Config{DefaultCipher: packet.CipherAES128}
		kw, err := openpgp.EncryptWithParams(io.Discard, []*openpgp.Entity{f.bob}, nil, &openpgp.EncryptParams{KeyWriter: &keys, SessionKey: sk, Config: cfg})
		if err != nil {
			t.Fatal(err)
		}
		kw.Close()
		var bin bytes.Buffer
		bin.Write(keys.Bytes())
		pt, err := packet.SerializeSymmetricallyEncrypted(nopCloser{&bin}, packet.CipherAES128, false, packet.CipherSuite{}, sk, cfg)
		if err != nil {
			t.Fatal(err)
		}
		var comp bytes.Buffer
		zw, _ := zlib.NewWriterLevel(&comp, 9)
		// private tag 60, a five-octet length
		n := len(pad) + skipped
		zw.Write([]byte{0xC0 | 60, 0xFF, byte(n >> 24), byte(n >> 16), byte(n >> 8), byte(n)})
		zw.Write(pad)
		zw.Write(make([]byte, skipped))
		var lit bytes.Buffer
		lw, _ := packet.SerializeLiteral(nopCloser{&lit}, true, "", 0)
		lw.Write(content)
		lw.Close()
		zw.Write(lit.Bytes())
		zw.Close()
		body := append([]byte{2}, comp.Bytes()...) // ZLIB
		pt.Write([]byte{0xC0 | 8, 0xFF, byte(len(body) >> 24), byte(len(body) >> 16), byte(len(body) >> 8), byte(len(body))})
		pt.Write(body)
		pt.Close()
		b64 := base64.StdEncoding.EncodeToString(bin.Bytes())
		var armor strings.Builder
		armor.WriteString("-----BEGIN PGP MESSAGE-----\n\n")
		for len(b64) > 0 {
			k := min(len(b64), 64)
			armor.WriteString(b64[:k] + "\n")
			b64 = b64[k:]
		}
		armor.WriteString("-----END PGP MESSAGE-----")
		return armor.String()
	}
	// The decompressed bytes: the unknown packet (header, pad, zeros) and
	// the literal packet.
	total := func(skipped int) int64 { return int64(6 + len(pad) + skipped + 6 + 2 + len(content)) }
	skipped := 1 << 20
	var armor string
	found := false
	for i := 0; i < 4 && !found; i++ {
		armor = build(skipped)
		lfSize := int64(len(armor))
		crlfSize := lfSize + int64(strings.Count(armor, "\n"))
		lo := 2*(policy.MaxDecompressed+lfSize) + 1<<20
		hi := 2*(policy.MaxDecompressed+crlfSize) + 1<<20
		if tot := total(skipped); tot > lo && tot < hi-64 && i > 0 {
			t.Logf("decompressed %d, backstops %d (LF) and %d (CRLF)", tot, lo, hi)
			found = true
			break
		}
		skipped += int((lo+hi)/2 - total(skipped))
	}
	if !found {
		t.Fatal("test set-up: no size between the two backstops")
	}
	alike(t, op, pgpMIME(armor), "opened: encrypted true")
}

// Binary OpenPGP data (no armor) in a part: the LF message's own bytes
// would be the packets, its canonical form has a CR before every 0x0A.
func TestOpenSameForLineEndingsBinaryPart(t *testing.T) {
	// Ciphertext with a LF and no CR: a few tries in most cases, but never
	// with a recipient whose key ID (in every ciphertext) holds a CR, so
	// the keys are made anew every 50 tries.
	var f *fixture
	var ct []byte
	for tries := 0; ct == nil; tries++ {
		if tries == 2000 {
			t.Fatal("no ciphertext with a LF and no CR in 2,000 tries")
		}
		if tries%50 == 0 {
			f = newFixture(t)
		}
		c := encryptBinary(t, f, []byte("Content-Type: text/plain\r\n\r\nhello\r\n"))
		if bytes.IndexByte(c, '\r') < 0 && bytes.IndexByte(c, '\n') >= 0 && !bytes.Contains(c, []byte("\n--")) {
			ct = c
		}
	}
	msg := "From: Alice <alice@example.org>\nTo: Bob <bob@example.org>\nSubject: x\nMIME-Version: 1.0\n" +
		"Content-Type: multipart/encrypted; protocol=\"application/pgp-encrypted\"; boundary=\"BB\"\n\n" +
		strings.Repeat("preamble text\n", 6000) + // over 64 KiB: ParseFile reads it through a crlfView
		"--BB\nContent-Type: application/pgp-encrypted\n\nVersion: 1\n\n" +
		"--BB\nContent-Type: application/octet-stream\nContent-Transfer-Encoding: binary\n\n" + string(ct) + "\n--BB--\n"
	alike(t, f.op, msg, "error: pgp: decrypt:") // the canonical form is not the packets
}
