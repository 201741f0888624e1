package x509path

import (
	"crypto"
	"crypto/x509"
	"errors"
	"testing"

	"github.com/mailseal/mailseal/internal/sigalg"
	"github.com/mailseal/mailseal/internal/testvectors"
)

// Wycheproof signatures through checkSignature, the dispatch on a
// certificate's or CRL's signature algorithm: valid signatures must
// verify; invalid ones (modified, BER or otherwise malformed DER,
// out-of-range values, wrong padding or hash) must not, with an error
// that says the signature is invalid, not refused.
func TestWycheproofSignatures(t *testing.T) {
	for _, c := range []struct {
		file string
		algo x509.SignatureAlgorithm
	}{
		{"ecdsa_secp256r1_sha256_test.json", x509.ECDSAWithSHA256},
		{"ecdsa_secp384r1_sha384_test.json", x509.ECDSAWithSHA384},
		{"ecdsa_secp521r1_sha512_test.json", x509.ECDSAWithSHA512},
		{"rsa_signature_2048_sha256_test.json", x509.SHA256WithRSA},
		{"rsa_pss_2048_sha256_mgf1_32_test.json", x509.SHA256WithRSAPSS}, // crypto/x509's name for PSS with a 32-byte salt
		{"ed25519_test.json", x509.PureEd25519},
	} {
		testvectors.CheckSignatures(t, c.file, func(_ *testvectors.Group, pub crypto.PublicKey, msg, sig []byte) error {
			err := checkSignature(c.algo, msg, sig, pub, sigalg.Policy{})
			if err != nil && !errors.Is(err, sigalg.ErrInvalid) {
				t.Fatalf("%s: an invalid signature taken for a refused one: %v", c.file, err)
			}
			return err
		})
	}
}
