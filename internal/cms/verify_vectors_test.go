package cms

import (
	"crypto"
	"crypto/x509"
	"encoding/asn1"
	"errors"
	"strings"
	"testing"

	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"

	"github.com/mailseal/mailseal/core"
	"github.com/mailseal/mailseal/internal/sigalg"
	"github.com/mailseal/mailseal/internal/testvectors"
)

// pssParameters returns the DER RSASSA-PSS-params of a Wycheproof PSS group.
func pssParameters(t *testing.T, g *testvectors.Group) []byte {
	hashes := map[string]asn1.ObjectIdentifier{"SHA-256": oidSHA256, "SHA-384": oidSHA384, "SHA-512": oidSHA512}
	h, mgf := hashes[g.SHA], hashes[g.MGFSHA]
	if h == nil || mgf == nil || g.MGF != "MGF1" {
		t.Fatalf("no parameters for %s with %s %s", g.SHA, g.MGF, g.MGFSHA)
	}
	var b cryptobyte.Builder
	b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
		b.AddASN1(tagContext0, func(b *cryptobyte.Builder) {
			b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) { b.AddASN1ObjectIdentifier(h) })
		})
		b.AddASN1(tagContext1, func(b *cryptobyte.Builder) {
			b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
				b.AddASN1ObjectIdentifier(oidMGF1)
				b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) { b.AddASN1ObjectIdentifier(mgf) })
			})
		})
		b.AddASN1(cbasn1.Tag(2).Constructed().ContextSpecific(), func(b *cryptobyte.Builder) {
			b.AddASN1Int64(int64(g.SLen))
		})
	})
	return b.BytesOrPanic()
}

// Wycheproof signatures through checkSignature, the SignerInfo's
// signature-algorithm dispatch, with signed attributes (the message
// standing for their DER) and, for every fourth test, also without (the
// message's digest standing for the content digest). Valid signatures must
// verify; invalid ones (modified, BER or otherwise malformed DER,
// out-of-range values, wrong padding or hash) must fail with a
// verification error that says the signature is invalid, not refused.
func TestWycheproofSignatures(t *testing.T) {
	n := 0
	for _, c := range []struct {
		file string
		alg  asn1.ObjectIdentifier
		hash crypto.Hash
	}{
		{"ecdsa_secp256r1_sha256_test.json", oidECDSAWithSHA256, crypto.SHA256},
		{"ecdsa_secp384r1_sha384_test.json", oidECDSAWithSHA384, crypto.SHA384},
		{"ecdsa_secp521r1_sha512_test.json", oidECDSAWithSHA512, crypto.SHA512},
		{"rsa_signature_2048_sha256_test.json", oidSHA256WithRSA, crypto.SHA256},
		{"rsa_signature_2048_sha256_test.json", oidRSAEncryption, crypto.SHA256}, // the key's OID, as some writers put it
		{"rsa_pss_2048_sha256_mgf1_32_test.json", oidRSASSAPSS, crypto.SHA256},
		{"ed25519_test.json", oidEd25519, crypto.SHA512},
	} {
		testvectors.CheckSignatures(t, c.file, func(g *testvectors.Group, pub crypto.PublicKey, msg, sig []byte) error {
			si := signerInfo{sigAlg: c.alg, signature: sig}
			if c.alg.Equal(oidRSASSAPSS) {
				si.sigParams = pssParameters(t, g)
			}
			err := checkSignature(&si, c.hash, nil, msg, pub, sigalg.Policy{})
			if err != nil && (!errors.Is(err, core.ErrVerification) || !errors.Is(err, sigalg.ErrInvalid)) {
				t.Fatalf("%s: not a verification error of an invalid signature: %v", c.file, err)
			}
			// Ed25519 signs the attributes themselves: there is no digest-only form
			if n++; c.alg.Equal(oidEd25519) || n%4 != 1 {
				return err
			}
			h := c.hash.New()
			h.Write(msg)
			if err2 := checkSignature(&si, c.hash, h.Sum(nil), nil, pub, sigalg.Policy{}); (err == nil) != (err2 == nil) {
				t.Fatalf("%s: with signed attributes %v, over the content digest %v", c.file, err, err2)
			}
			return err
		})
	}
}

// A saltLength of 0 cannot be checked with crypto/rsa, which reads 0 as
// "any length": every signature of Wycheproof's zero-salt PSS file is
// refused, the valid ones and those with another salt length (tcId 67,
// "s_len changed to 1", used to verify).
func TestPSSEmptySaltRefused(t *testing.T) {
	w := testvectors.LoadWycheproof(t, "rsa_pss_2048_sha256_mgf1_0_test.json")
	for _, g := range w.TestGroups {
		pub, err := x509.ParsePKIXPublicKey(g.PublicKeyDER)
		if err != nil {
			t.Fatal(err)
		}
		si := signerInfo{sigAlg: oidRSASSAPSS, sigParams: pssParameters(t, &g)}
		for _, tc := range g.Tests {
			si.signature = tc.Sig
			err := checkSignature(&si, crypto.SHA256, nil, append([]byte{}, tc.Msg...), pub, sigalg.Policy{})
			if !errors.Is(err, core.ErrVerification) || !errors.Is(err, sigalg.ErrRefused) || !strings.Contains(err.Error(), "empty salt") {
				t.Fatalf("%v: got %v, want the refusal of an empty salt", tc, err)
			}
		}
	}
}
