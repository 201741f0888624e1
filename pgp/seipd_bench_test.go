package pgp

import (
	"bytes"
	"io"
	"testing"

	"github.com/ProtonMail/go-crypto/openpgp/armor"
	openpgp "github.com/ProtonMail/go-crypto/openpgp/v2"
)

// BenchmarkSEIPDV1 measures what the SEIPDv1 fast path (seipdV1Reader,
// seipdV1Writer with the encryption on a goroutine of its own) buys: 64
// MiB encrypted to, and decrypted by, a v4 key (AES-256, SEIPDv1), signed
// or not, by go-crypto alone and by the engine (which also armors). The engine's
// decryption also withholds the plaintext in a spool until the MDC is
// checked, which go-crypto's reader does not, so "engine" pays for more
// than "go-crypto" does.
func BenchmarkSEIPDV1(b *testing.B) {
	e := testEngine()
	key := genKey(b, "B", "b@example.org", keyOpts{})
	to := []*openpgp.Entity{publicOf(b, key)}
	data := make([]byte, 64<<20)
	ct := encrypt(b, e, data, nil, to...)
	kr := Keyring{Secrets: openpgp.EntityList{key}}
	for _, c := range []struct {
		name string
		run  func() error
	}{
		{"encrypt/go-crypto", func() error {
			w, err := openpgp.Encrypt(io.Discard, to, nil, nil, nil, e.Config())
			if err != nil {
				return err
			}
			if _, err := w.Write(data); err != nil {
				return err
			}
			return w.Close()
		}},
		{"encrypt/engine", func() error {
			w, err := e.Encrypt(io.Discard, to, nil)
			if err != nil {
				return err
			}
			if _, err := w.Write(data); err != nil {
				return err
			}
			return w.Close()
		}},
		{"sign+encrypt/go-crypto", func() error {
			w, err := openpgp.Encrypt(io.Discard, to, nil, []*openpgp.Entity{key}, nil, e.Config())
			if err != nil {
				return err
			}
			if _, err := w.Write(data); err != nil {
				return err
			}
			return w.Close()
		}},
		{"sign+encrypt/engine", func() error {
			w, err := e.Encrypt(io.Discard, to, key)
			if err != nil {
				return err
			}
			if _, err := w.Write(data); err != nil {
				return err
			}
			return w.Close()
		}},
		{"decrypt/go-crypto", func() error {
			block, err := armor.Decode(bytes.NewReader(ct))
			if err != nil {
				return err
			}
			md, err := openpgp.ReadMessage(block.Body, openpgp.EntityList{key}, nil, e.Config())
			if err != nil {
				return err
			}
			_, err = io.Copy(io.Discard, md.UnverifiedBody)
			return err
		}},
		{"decrypt/engine", func() error {
			d, err := e.Decrypt(bytes.NewReader(ct), kr)
			if err != nil {
				return err
			}
			defer d.Close()
			_, err = io.Copy(io.Discard, d.Body)
			return err
		}},
	} {
		b.Run(c.name, func(b *testing.B) {
			b.SetBytes(int64(len(data)))
			for b.Loop() {
				if err := c.run(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
