package flow

import (
	"bytes"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"

	"github.com/mailseal/mailseal/core"
	"github.com/mailseal/mailseal/internal/cmstest"
	"github.com/mailseal/mailseal/mime"
	"github.com/mailseal/mailseal/smime"
)

// cbcMessage is an S/MIME message whose EnvelopedData (AES-256-CBC, to the
// fixture's identity) holds plaintext exactly as given.
func cbcMessage(t *testing.T, sf *smimeFixture, plaintext []byte) []byte {
	t.Helper()
	var blob bytes.Buffer
	w, err := sf.engine.Encrypt(&blob, []*x509.Certificate{sf.id.Cert}, smime.EncryptOptions{Cipher: smime.AES256CBC})
	if err != nil {
		t.Fatal(err)
	}
	w.Write(plaintext)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return []byte("From: alice@example.org\r\nTo: alice@example.org\r\nSubject: cbc\r\nMIME-Version: 1.0\r\n" +
		"Content-Type: application/pkcs7-mime; smime-type=enveloped-data; name=smime.p7m\r\n" +
		"Content-Transfer-Encoding: base64\r\n\r\n" + base64.StdEncoding.EncodeToString(blob.Bytes()) + "\r\n")
}

// openCBC opens msg for decryption with sm; written is what Options.Output
// received (nil if it was not called).
func openCBC(t *testing.T, sm *SMIME, msg []byte, allow bool) (res *Result, written []byte, err error) {
	t.Helper()
	opts := Options{Decrypt: true, Limits: mime.DefaultLimits(), MemLimit: 1 << 20, AllowUnauthenticated: allow,
		Output: func(outer mime.Header, inner io.Reader) error {
			var b bytes.Buffer
			err := mime.WriteMessage(&b, outer, inner)
			written = b.Bytes()
			return err
		}}
	res, err = Open(parse(t, msg), []Engine{sm}, opts)
	if res != nil {
		t.Cleanup(func() { res.Close() })
	}
	return res, written, err
}

// S/MIME CBC content is released only under good signatures that cover
// all of it: a bad signature, or content that says it is signed and holds
// no signature, is never released; unsigned content, or content from a
// signer that is not trusted, only with AllowUnauthenticated, and then
// marked. Content under GCM is released as before.
func TestSMIMECBCRelease(t *testing.T) {
	sf := newSMIMEFixture(t)
	sm := sf.flow()
	var signed bytes.Buffer
	if err := sm.Sign(&signed, parse(t, []byte(smimePlain)), []smime.Identity{sf.id}, smime.SignOptions{}); err != nil {
		t.Fatal(err)
	}
	altered := bytes.Replace(signed.Bytes(), []byte("hello"), []byte("hellp"), 1)
	// The same signer, judged by the same engine without a trust anchor:
	// untrusted.
	untrusted := &SMIME{Engine: sm.Engine, Identities: sm.Identities}

	for _, tc := range []struct {
		name      string
		sm        *SMIME
		plaintext []byte
		allow     bool
		status    core.Status
		released  bool
	}{
		{"good", sm, signed.Bytes(), false, core.StatusGood, true},
		{"bad-signature", sm, altered, false, core.StatusBad, false},
		{"bad-signature-allowed", sm, altered, true, core.StatusBad, false},
		{"unsigned", sm, []byte(smimePlain), false, core.StatusUnsigned, false},
		{"unsigned-allowed", sm, []byte(smimePlain), true, core.StatusUnsigned, true},
		{"untrusted", untrusted, signed.Bytes(), false, core.StatusUntrusted, false},
		{"untrusted-allowed", untrusted, signed.Bytes(), true, core.StatusUntrusted, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res, written, err := openCBC(t, tc.sm, cbcMessage(t, sf, tc.plaintext), tc.allow)
			if err != nil {
				t.Fatal(err)
			}
			rep := res.Report
			if rep.Status != tc.status || rep.Integrity != core.IntegrityNone {
				t.Fatalf("status %s, integrity %s, want %s, none (%+v)", rep.Status, rep.Integrity, tc.status, rep)
			}
			if (written != nil) != tc.released || (res.Inner != nil) != tc.released {
				t.Fatalf("released %v (Output called %v), want %v", res.Inner != nil, written != nil, tc.released)
			}
			if !tc.released && !strings.Contains(rep.Error, "nothing was released") {
				t.Errorf("withheld, but the report does not say so: %q", rep.Error)
			}
			marked := tc.released && tc.status != core.StatusGood
			if rep.Unauthenticated != marked || (marked && !strings.HasPrefix(rep.Warnings[0], "unauthenticated content: the message was encrypted with AES-256-CBC")) {
				t.Errorf("unauthenticated %v, warnings %q", rep.Unauthenticated, rep.Warnings)
			}
			if tc.released && !bytes.Contains(written, []byte("hello")) {
				t.Errorf("released content:\n%s", written)
			}
		})
	}

	// Content that says it is signed but holds no signature that can be
	// checked is an integrity failure, also with AllowUnauthenticated:
	// a signature part that is not one, a protocol no engine knows, a
	// media type that does not parse.
	broken := bytes.Replace(signed.Bytes(), []byte("\r\n\r\nMII"), []byte("\r\n\r\nAAA"), 1)
	unknownProtocol := bytes.Replace(signed.Bytes(), []byte("pkcs7-signature\""), []byte("pkcs7-signaturf\""), 1)
	damagedType := bytes.Replace(signed.Bytes(), []byte("Content-Type: multipart/signed"), []byte("Content-Type: multipart\x93signed"), 1)
	for name, plaintext := range map[string][]byte{"broken": broken, "unknown-protocol": unknownProtocol, "damaged-type": damagedType} {
		if bytes.Equal(plaintext, signed.Bytes()) {
			t.Fatalf("%s: nothing was changed", name)
		}
		res, written, err := openCBC(t, sm, cbcMessage(t, sf, plaintext), true)
		if !errors.Is(err, core.ErrIntegrity) || res != nil || written != nil {
			t.Errorf("%s: error %v, output %d bytes", name, err, len(written))
		}
	}

	// GCM needs no signature: unsigned content is released, unmarked.
	res, written, err := openCBC(t, sm, smimeEncrypt(t, sf, []byte(smimePlain)), false)
	if err != nil || res.Report.Integrity != core.IntegrityGCM || res.Report.Status != core.StatusUnsigned ||
		written == nil || res.Report.Unauthenticated || len(res.Report.Warnings) != 0 {
		t.Fatalf("GCM, unsigned: error %v, output %d bytes, report %+v", err, len(written), res.Report)
	}
}

// An attacker who flips a bit of the IV or of any ciphertext block of a
// signed S/MIME CBC message gets nothing past: every flip is an integrity
// failure, or a report that is not good with nothing released, or (for
// damage where no signature and no output reach, e.g. the signature
// part's header fields) exactly the output of the message as sent.
// (With AllowUnauthenticated, damage that hides every trace of the
// signature is released as unsigned content, marked: the flag's risk.)
func TestSMIMECBCBitFlips(t *testing.T) {
	sf := newSMIMEFixture(t)
	sm := sf.flow()
	var enc bytes.Buffer
	if err := sm.Encrypt(&enc, parse(t, []byte(smimePlain)), []*x509.Certificate{sf.id.Cert},
		smime.EncryptOptions{Cipher: smime.AES256CBC}, []smime.Identity{sf.id}, smime.SignOptions{}); err != nil {
		t.Fatal(err)
	}
	res, want, err := openCBC(t, sm, enc.Bytes(), false)
	if err != nil || res.Report.Status != core.StatusGood || want == nil {
		t.Fatalf("as sent: error %v, report %+v", err, res.Report)
	}
	var blocks int
	cmstest.RewriteBody(enc.Bytes(), func(der []byte) error {
		_, _, ctLen, err := cmstest.CBCLayout(der)
		blocks = ctLen / 16
		return err
	})
	if blocks < 50 {
		t.Fatalf("%d ciphertext blocks", blocks)
	}
	outcomes := map[string]int{}
	for b := -1; b < blocks; b++ {
		where := fmt.Sprint("block", b)
		if b < 0 {
			where = "iv"
		}
		for at := 0; at < 16; at++ {
			flipped, err := cmstest.RewriteBody(enc.Bytes(), func(der []byte) error { return cmstest.FlipCBC(der, where, at) })
			if err != nil {
				t.Fatal(err)
			}
			res, written, err := openCBC(t, sm, flipped, false)
			switch {
			case err != nil:
				if !errors.Is(err, core.ErrIntegrity) {
					t.Fatalf("%s byte %d: error %v, want an integrity failure", where, at, err)
				}
				outcomes["integrity failure"]++
			case res.Report.Status != core.StatusGood:
				if written != nil || res.Inner != nil {
					t.Fatalf("%s byte %d: status %s, and %d bytes released", where, at, res.Report.Status, len(written))
				}
				outcomes[string(res.Report.Status)]++
			default:
				if !bytes.Equal(written, want) {
					t.Fatalf("%s byte %d: good, with altered output:\n%s", where, at, written)
				}
				outcomes["good, as sent"]++
			}
		}
	}
	// The IV changes the first plaintext block: "MIME-Version: 1."; a
	// flip of its colon ends the header before Content-Type.
	if _, _, err := openCBC(t, sm, mustFlip(t, enc.Bytes(), "iv", 12), true); !errors.Is(err, core.ErrIntegrity) {
		t.Errorf("IV flip before Content-Type: %v", err)
	}
	if outcomes["integrity failure"] == 0 || outcomes["bad"] == 0 || outcomes["good, as sent"] == 0 {
		t.Errorf("outcomes %v: each kind should occur", outcomes)
	}
	t.Logf("%d flips: %v", 16*(blocks+1), outcomes)
}

func mustFlip(t *testing.T, msg []byte, where string, at int) []byte {
	t.Helper()
	out, err := cmstest.RewriteBody(msg, func(der []byte) error { return cmstest.FlipCBC(der, where, at) })
	if err != nil {
		t.Fatal(err)
	}
	return out
}
