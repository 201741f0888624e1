package gpgtest

import (
	"bytes"
	"strings"
	"testing"
)

func TestRoundTrip(t *testing.T) {
	h := New(t)
	fpr := h.GenKey("Test <test@example.org>", "ed25519", "cv25519")
	if len(fpr) != 40 {
		t.Fatalf("fingerprint %q", fpr)
	}
	data := []byte("hello gpg\n")

	sig := h.DetachSign(fpr, data)
	if !bytes.Contains(sig, []byte("BEGIN PGP SIGNATURE")) {
		t.Fatalf("not a signature: %s", sig)
	}
	res := h.Verify(sig, data)
	if res.Err != nil || !res.HasStatus("GOODSIG") {
		t.Fatalf("verify: %v\n%s", res.Err, res.Status)
	}
	if v := res.StatusLines("VALIDSIG"); len(v) != 1 || !strings.HasPrefix(v[0], fpr) {
		t.Fatalf("VALIDSIG %q", v)
	}
	if res := h.Verify(sig, []byte("changed")); res.Err == nil || !res.HasStatus("BADSIG") {
		t.Fatalf("changed data verified: %s", res.Status)
	}

	ct := h.Encrypt(data, []string{fpr})
	res = h.Decrypt(ct)
	if res.Err != nil || !bytes.Equal(res.Stdout, data) || !res.HasStatus("DECRYPTION_OKAY") {
		t.Fatalf("decrypt: %v %q\n%s", res.Err, res.Stdout, res.Status)
	}
	ct = h.SignEncrypt(fpr, data, []string{fpr})
	res = h.Decrypt(ct)
	if res.Err != nil || !res.HasStatus("GOODSIG") {
		t.Fatalf("decrypt signed: %v\n%s", res.Err, res.Status)
	}
	if cs := h.ClearSign(fpr, data); !bytes.Contains(cs, []byte("BEGIN PGP SIGNED MESSAGE")) {
		t.Fatalf("clearsign: %s", cs)
	}
	if s := h.Sign(fpr, data); !bytes.Contains(s, []byte("BEGIN PGP MESSAGE")) {
		t.Fatalf("sign: %s", s)
	}
	pub := h.Export(fpr)
	sec := h.ExportSecret(fpr)
	h2 := New(t)
	h2.Import(pub)
	h2.Import(sec)
	if res := h2.Decrypt(ct); res.Err != nil || !bytes.Equal(res.Stdout, data) {
		t.Fatalf("decrypt in second home: %v", res.Err)
	}
}
