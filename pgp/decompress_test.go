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
