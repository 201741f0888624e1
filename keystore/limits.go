package keystore

import (
	"crypto/dsa"
	"fmt"

	"github.com/ProtonMail/go-crypto/openpgp/elgamal"
	"github.com/ProtonMail/go-crypto/openpgp/packet"
)

// Limits of a stored OpenPGP certificate. Real keys stay far below them:
// a key with a hundred user IDs or a few dozen subkeys is rare, and only
// self-signatures are kept (third-party certifications are dropped at
// import, which also undoes certificate flooding as in CVE-2019-13050,
// where keyservers served keys with 150,000 signatures). They bound what a
// verification that needs the key parses, and an import that would exceed
// one fails with an error naming it.
const (
	maxUserIDs = 1000
	maxSubkeys = 256
	// maxComponentSigs bounds the self-signatures and revocations of one
	// user ID, one subkey, or the primary key itself.
	maxComponentSigs = 500
	maxCertBytes     = 1 << 20
)

// DSA and ElGamal keys are limited in size: go-crypto validates an
// unprotected secret key when it reads one, for ElGamal with 2^18
// multiplications modulo the prime (over a second for a 3072-bit key with
// a full-size generator, and growing with the square of the prime's
// size), and a DSA subgroup order is tested for primality. gpg makes at
// most 3072-bit DSA and 4096-bit ElGamal keys, with 256-bit subgroups.
const (
	maxDSAElGamalBits  = 4096
	maxDSASubgroupBits = 512
)

// checkKeySize refuses DSA and ElGamal keys beyond the limits above.
func checkKeySize(key *packet.PublicKey, subkey bool) error {
	what := "primary key"
	if subkey {
		what = "subkey"
	}
	switch k := key.PublicKey.(type) {
	case *dsa.PublicKey:
		if n := k.P.BitLen(); n > maxDSAElGamalBits {
			return fmt.Errorf("the DSA %s %X has a %d-bit prime; mailseal accepts DSA and ElGamal keys of at most %d bits",
				what, key.KeyId, n, maxDSAElGamalBits)
		}
		if n := k.Q.BitLen(); n > maxDSASubgroupBits {
			return fmt.Errorf("the DSA %s %X has a %d-bit subgroup order; mailseal accepts at most %d bits",
				what, key.KeyId, n, maxDSASubgroupBits)
		}
	case *elgamal.PublicKey:
		if n := k.P.BitLen(); n > maxDSAElGamalBits {
			return fmt.Errorf("the ElGamal %s %X has a %d-bit prime; mailseal accepts DSA and ElGamal keys of at most %d bits",
				what, key.KeyId, n, maxDSAElGamalBits)
		}
	}
	return nil
}
