package pgp

import (
	"bytes"
	"crypto/rand"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/ProtonMail/go-crypto/openpgp/packet"
	openpgp "github.com/ProtonMail/go-crypto/openpgp/v2"

	"github.com/mailseal/mailseal/core"
)

// Policy.MaxDecompressed caps what compressed data expands to, not the
// plaintext: data that was not compressed is as large as the ciphertext
// that carried it, and a large message must decrypt whatever the cap
// (issue 14: 1 GiB mail). Both the small path (go-crypto reads the whole
// message) and the SEIPDv1 fast path (above prescanSize) are checked.
func TestDecompressionCapIsForCompressedDataOnly(t *testing.T) {
	p := testPolicy()
	p.MaxDecompressed = 1 << 20
	e := New(p)
	// A key that lists ZLIB among its preferences, so that go-crypto
	// compresses what it encrypts to it.
	key, err := openpgp.NewEntity("R", "", "r@example.org", &packet.Config{
		Algorithm: packet.PubKeyAlgoEdDSA, DefaultCompressionAlgo: packet.CompressionZLIB})
	if err != nil {
		t.Fatal(err)
	}
	kr := Keyring{Secrets: openpgp.EntityList{key}}
	for _, size := range []int{prescanSize / 2, 3 << 20} {
		data := make([]byte, size)
		rand.Read(data)
		if size > int(p.MaxDecompressed) {
			_, body := decryptAll(t, e, encrypt(t, e, data, nil, publicOf(t, key)), kr)
			if !bytes.Equal(body, data) {
				t.Fatalf("%d bytes, not compressed: decrypted %d bytes", size, len(body))
			}
		}
		// Compressed (as gpg does by default), the same cap stops data that
		// expands beyond it, and only that.
		zeros := make([]byte, size)
		var ct bytes.Buffer
		cfg := &packet.Config{DefaultCompressionAlgo: packet.CompressionZLIB, DefaultCipher: packet.CipherAES256}
		w, err := openpgp.Encrypt(&ct, []*openpgp.Entity{publicOf(t, key)}, nil, nil, nil, cfg)
		if err != nil {
			t.Fatal(err)
		}
		w.Write(zeros)
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		if ct.Len() > size/10 {
			t.Fatalf("%d zeros compressed to %d bytes: not compressed?", size, ct.Len())
		}
		d, err := e.Decrypt(bytes.NewReader(ct.Bytes()), kr)
		if size <= int(p.MaxDecompressed) {
			if err != nil {
				t.Fatalf("%d compressed bytes, under the cap: %v", size, err)
			}
			body, _ := io.ReadAll(d.Body)
			d.Close()
			if !bytes.Equal(body, zeros) {
				t.Fatalf("%d compressed bytes: decrypted %d", size, len(body))
			}
			continue
		}
		wantErr(t, err, core.ErrInput)
		var le *core.LimitError
		if !strings.Contains(err.Error(), "decompressed data exceeds the 1 MiB limit") || !errors.As(err, &le) || le.Limit != "MaxDecompressed" {
			t.Fatalf("%d compressed bytes: %v", size, err)
		}
	}
}

// The cap holds at any value, not only at multiples of go-crypto's read
// size: with 1M or 100K a bomb was reported as tampering (go-crypto's own
// cap, inside encrypted data, is a parsing error like any other), exit 1
// instead of naming the limit. Both decryption paths: a small ciphertext
// (go-crypto reads it) and one over prescanSize (the SEIPDv1 path).
func TestDecompressionCapAnyValue(t *testing.T) {
	key, err := openpgp.NewEntity("R", "", "r@example.org", &packet.Config{
		Algorithm: packet.PubKeyAlgoEdDSA, DefaultCompressionAlgo: packet.CompressionZLIB})
	if err != nil {
		t.Fatal(err)
	}
	kr := Keyring{Secrets: openpgp.EntityList{key}}
	noise := make([]byte, prescanSize+prescanSize/4)
	rand.Read(noise)
	for _, in := range []struct {
		name string
		data []byte
	}{
		{"small ciphertext", make([]byte, 3<<20)},
		{"large ciphertext", append(noise, make([]byte, 8<<20)...)},
	} {
		var ct bytes.Buffer
		cfg := &packet.Config{DefaultCompressionAlgo: packet.CompressionZLIB, DefaultCipher: packet.CipherAES256}
		w, err := openpgp.Encrypt(&ct, []*openpgp.Entity{publicOf(t, key)}, nil, nil, nil, cfg)
		if err != nil {
			t.Fatal(err)
		}
		w.Write(in.data)
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		if (ct.Len() > prescanSize) != (in.name == "large ciphertext") {
			t.Fatalf("%s: %d bytes of ciphertext", in.name, ct.Len())
		}
		for _, max := range []int64{100_000, 102_400, 1_000_000, 1<<20 + 1, 2_500_000} {
			p := testPolicy()
			p.MaxDecompressed = max
			_, err := New(p).Decrypt(bytes.NewReader(ct.Bytes()), kr)
			var le *core.LimitError
			if !errors.Is(err, core.ErrInput) || errors.Is(err, core.ErrIntegrity) || !errors.As(err, &le) || le.Limit != "MaxDecompressed" || le.Value != max {
				t.Errorf("%s, cap %d: %v", in.name, max, err)
			}
		}
		// Over the expansion, it decrypts.
		p := testPolicy()
		p.MaxDecompressed = int64(len(in.data))
		d, err := New(p).Decrypt(bytes.NewReader(ct.Bytes()), kr)
		if err != nil {
			t.Fatalf("%s, cap at its size: %v", in.name, err)
		}
		body, _ := io.ReadAll(d.Body)
		d.Close()
		if !bytes.Equal(body, in.data) {
			t.Fatalf("%s: decrypted %d bytes of %d", in.name, len(body), len(in.data))
		}
	}
}
