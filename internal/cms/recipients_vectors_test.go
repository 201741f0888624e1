package cms

import (
	"bytes"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/x509"
	"encoding/asn1"
	"errors"
	"testing"

	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"

	"github.com/mailseal/mailseal/internal/testvectors"
)

// Wycheproof vectors for the key management of EnvelopedData and
// AuthEnvelopedData: AES key wrap, ECDH key agreement (KARI) and RSA-OAEP
// key transport (KTRI), each through the code that reads a RecipientInfo.

// Wycheproof aes_wrap_test.json (RFC 3394 with the default IV).
func TestWycheproofAESKeyWrap(t *testing.T) {
	w := testvectors.LoadWycheproof(t, "aes_wrap_test.json")
	for _, g := range w.TestGroups {
		for _, tc := range g.Tests {
			wrapped, wrapErr := aesKeyWrap(tc.Key, tc.Msg)
			unwrapped, unwrapErr := aesKeyUnwrap(tc.Key, tc.CT)
			switch {
			case tc.Valid():
				if wrapErr != nil || !bytes.Equal(wrapped, tc.CT) || unwrapErr != nil || !bytes.Equal(unwrapped, tc.Msg) {
					t.Fatalf("%v: wrap %x, %v; unwrap %x, %v", tc, wrapped, wrapErr, unwrapped, unwrapErr)
				}
			case tc.Invalid():
				if unwrapErr == nil {
					t.Fatalf("%v: unwrapped to %x", tc, unwrapped)
				}
				// keys RFC 3394 cannot wrap (empty, 8 bytes, not a multiple of 8)
				if (len(tc.Msg) < 16 || len(tc.Msg)%8 != 0) && wrapErr == nil {
					t.Fatalf("%v: wrapped a %d-byte key", tc, len(tc.Msg))
				}
			default: // an 8-byte key: RFC 3394 needs two blocks; refused both ways
				if wrapErr == nil || unwrapErr == nil {
					t.Fatalf("%v: an 8-byte key is not refused (wrap %v, unwrap %v)", tc, wrapErr, unwrapErr)
				}
			}
		}
	}
}

// kariVectors are the Wycheproof ECDH files and the key agreement each is
// run through (the schemes Encrypt writes for the curve).
var kariVectors = []struct {
	file   string
	curve  ecdh.Curve
	scheme asn1.ObjectIdentifier
	wrap   asn1.ObjectIdentifier
}{
	{"ecdh_secp256r1_test.json", ecdh.P256(), oidStdDHSHA256KDF, oidAES128Wrap},
	{"ecdh_secp384r1_ecpoint_test.json", ecdh.P384(), oidStdDHSHA384KDF, oidAES192Wrap},
	{"ecdh_secp521r1_ecpoint_test.json", ecdh.P521(), oidStdDHSHA512KDF, oidAES256Wrap},
	{"x25519_test.json", ecdh.X25519(), oidStdDHHKDFSHA256, oidAES256Wrap},
}

// wycheproofECDHKey returns the recipient key of an ECDH test: for the
// NIST curves an *ecdsa.PrivateKey, as certificates' keys are, else the
// *ecdh.PrivateKey.
func wycheproofECDHKey(t *testing.T, curve ecdh.Curve, private []byte) (any, *ecdh.PrivateKey) {
	t.Helper()
	if curve == ecdh.X25519() {
		k, err := curve.NewPrivateKey(private)
		if err != nil {
			t.Fatal(err)
		}
		return k, k
	}
	ec := map[ecdh.Curve]elliptic.Curve{ecdh.P256(): elliptic.P256(), ecdh.P384(): elliptic.P384(), ecdh.P521(): elliptic.P521()}[curve]
	size := (ec.Params().BitSize + 7) / 8
	private = bytes.TrimLeft(private, "\x00") // Wycheproof writes the scalar as a DER INTEGER's contents
	scalar := append(make([]byte, size-len(private)), private...)
	k, err := ecdsa.ParseRawPrivateKey(ec, scalar)
	if err != nil {
		t.Fatal(err)
	}
	e, err := k.ECDH()
	if err != nil {
		t.Fatal(err)
	}
	return k, e
}

// kariOriginator returns the originator [1] OriginatorPublicKey for the
// public key of an ECDH test: a SubjectPublicKeyInfo has the same
// structure and becomes one by its tag; a bare point or X25519 key gets
// the AlgorithmIdentifier Encrypt writes.
func kariOriginator(curve ecdh.Curve, encoding string, public []byte) []byte {
	if encoding == "asn" {
		der := bytes.Clone(public)
		if len(der) > 0 && der[0] == 0x30 {
			der[0] = 0xa1 // [1] IMPLICIT; any other tag stays and is malformed
		}
		return der
	}
	alg := oidECPublicKey
	if curve == ecdh.X25519() {
		alg = oidX25519
	}
	var b cryptobyte.Builder
	b.AddASN1(tagContext1, func(b *cryptobyte.Builder) {
		b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) { b.AddASN1ObjectIdentifier(alg) })
		b.AddASN1BitString(public)
	})
	return b.BytesOrPanic()
}

// keyAgreeRecipient returns a KeyAgreeRecipientInfo with the given
// originator key, optional ukm, scheme and wrapped key.
func keyAgreeRecipient(originator, ukm []byte, scheme, wrap asn1.ObjectIdentifier, wrapped []byte) []byte {
	var b cryptobyte.Builder
	b.AddASN1(tagContext1, func(b *cryptobyte.Builder) {
		b.AddASN1Int64(3)
		b.AddASN1(tagContext0, func(b *cryptobyte.Builder) { b.AddBytes(originator) })
		if ukm != nil {
			b.AddASN1(tagContext1, func(b *cryptobyte.Builder) { b.AddASN1OctetString(ukm) })
		}
		b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
			b.AddASN1ObjectIdentifier(scheme)
			b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) { b.AddASN1ObjectIdentifier(wrap) })
		})
		b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
			b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
				b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
					b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {}) // issuer: any Name
					b.AddASN1Int64(1)
				})
				b.AddASN1OctetString(wrapped)
			})
		})
	})
	return b.BytesOrPanic()
}

// Wycheproof ECDH through the KeyAgreeRecipientInfo path: the test's public
// key is the originator key of a KARI. Valid cases must agree on the
// test's shared secret and unwrap the key wrapped under the KEK derived
// from it; invalid public keys (off the curve, on another curve, the point
// at infinity, malformed) must be refused before any secret is computed;
// acceptable ones (compressed points, explicit curve parameters, X25519
// twist and low-order points) may be refused, and if not must agree on
// the test's secret.
func TestWycheproofECDHKeyAgreement(t *testing.T) {
	cek := []byte("0123456789abcdef0123456789abcdef")[:16]
	for _, f := range kariVectors {
		w := testvectors.LoadWycheproof(t, f.file)
		scheme, _ := keyAgreementSchemeFor(f.scheme)
		kekLen, _ := keyWrapSize(f.wrap)
		refused := map[string]int{}
		type keyPair struct {
			key  any
			priv *ecdh.PrivateKey
		}
		keys := map[string]keyPair{} // the files reuse few private keys
		accepted, doubling, skipped := 0, 0, 0
		for _, g := range w.TestGroups {
			for _, tc := range g.Tests {
				// 1399 valid cases probe crypto/ecdh's point doubling, not
				// this package, and cost seconds on P-384 and P-521: one in
				// four is run
				if tc.HasFlag("EdgeCaseDoubling") {
					if doubling++; doubling%4 != 1 {
						skipped++
						continue
					}
				}
				k, ok := keys[string(tc.Private)]
				if !ok {
					k.key, k.priv = wycheproofECDHKey(t, f.curve, tc.Private)
					keys[string(tc.Private)] = k
				}
				key, priv := k.key, k.priv
				var ukm []byte
				if tc.TcID%2 == 1 { // half of them with a ukm: X9.63 entityUInfo, the HKDF salt
					ukm = []byte{byte(tc.TcID), 1, 2, 3, 4, 5, 6, 7}
				}
				wrapped := []byte("not wrapped: no shared secret!!!")
				if tc.Shared != nil && !tc.Invalid() {
					kek, err := scheme.deriveKEK(tc.Shared, ukm, f.wrap, kekLen)
					if err != nil {
						t.Fatal(err)
					}
					if wrapped, err = aesKeyWrap(kek, cek); err != nil {
						t.Fatal(err)
					}
				}
				der := keyAgreeRecipient(kariOriginator(f.curve, g.Encoding, tc.Public), ukm, f.scheme, f.wrap, wrapped)

				// the path of chooseRecipient: parse, check the originator key's kind, agree
				var z []byte
				ris, err := parseRecipientInfos(der)
				if err == nil && !ris[0].originatorFits(priv) {
					err = errOriginatorKind
				}
				if err == nil {
					z, err = ris[0].sharedSecret(priv)
				}
				switch {
				case tc.Valid() && err != nil:
					t.Fatalf("%s %v: refused: %v", f.file, tc, err)
				case tc.Invalid() && err == nil:
					t.Fatalf("%s %v: public key accepted", f.file, tc)
				case g.Encoding == "asn" && trailingData(tc.Public) && err == nil:
					t.Fatalf("%s %v: data after the originator key accepted", f.file, tc)
				case err != nil:
					refused[tc.Result]++
					continue
				case !bytes.Equal(z, tc.Shared):
					t.Fatalf("%s %v: shared secret %x, want %x", f.file, tc, z, tc.Shared)
				}
				// the whole path, KDF and key unwrap included, for a sample
				// (the P-521 scalar multiplications are slow) and every
				// secret with an edge case (leading zero bytes, ...)
				if accepted++; accepted%8 == 1 || tc.HasFlag("EdgeCaseSharedSecret") {
					got, res, err := unwrapCEK(&ris[0], ris[0].keys[0].encryptedKey, key, len(cek))
					if err != nil || res != unwrapOK || !bytes.Equal(got, cek) {
						t.Fatalf("%s %v: unwrap: %v, %v", f.file, tc, res, err)
					}
				}
			}
		}
		t.Logf("%s: %d tests, %d point-doubling cases skipped; refused: %v", f.file, w.NumberOfTests, skipped, refused)
	}
}

// trailingData reports whether the SubjectPublicKeyInfo spki has data
// after its BIT STRING, inside the SEQUENCE or after it (in a KARI: inside
// the OriginatorPublicKey, or after it in the originator field).
func trailingData(spki []byte) bool {
	in := cryptobyte.String(spki)
	var seq cryptobyte.String
	var alg cryptobyte.String
	var bits asn1.BitString
	if !in.ReadASN1(&seq, cbasn1.SEQUENCE) || !seq.ReadASN1(&alg, cbasn1.SEQUENCE) || !seq.ReadASN1BitString(&bits) {
		return false
	}
	return !seq.Empty() || !in.Empty()
}

// errOriginatorKind stands for unwrapKeyAgree's unwrapWrongKeyType.
var errOriginatorKind = errors.New("originator key of another kind")

// oaepHashes maps Wycheproof hash names to digest algorithm identifiers.
var oaepHashes = map[string]asn1.ObjectIdentifier{"SHA-1": oidSHA1, "SHA-256": oidSHA256}

// keyTransRecipient returns a KeyTransRecipientInfo for RSAES-OAEP with
// the given hashes and label, writing only fields that differ from the
// defaults (SHA-1, MGF1 with SHA-1, empty label).
func keyTransRecipient(t *testing.T, hash, mgfHash string, label, encrypted []byte) []byte {
	hashOID, ok1 := oaepHashes[hash]
	mgfOID, ok2 := oaepHashes[mgfHash]
	if !ok1 || !ok2 {
		t.Fatalf("no OID for %s or %s", hash, mgfHash)
	}
	var b cryptobyte.Builder
	b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
		b.AddASN1Int64(0)
		b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
			b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {})
			b.AddASN1Int64(1)
		})
		b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
			b.AddASN1ObjectIdentifier(oidRSAESOAEP)
			b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
				if hash != "SHA-1" {
					b.AddASN1(tagContext0, func(b *cryptobyte.Builder) {
						b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) { b.AddASN1ObjectIdentifier(hashOID) })
					})
				}
				if mgfHash != "SHA-1" {
					b.AddASN1(tagContext1, func(b *cryptobyte.Builder) {
						b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
							b.AddASN1ObjectIdentifier(oidMGF1)
							b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) { b.AddASN1ObjectIdentifier(mgfOID) })
						})
					})
				}
				if len(label) > 0 {
					b.AddASN1(cbasn1.Tag(2).Constructed().ContextSpecific(), func(b *cryptobyte.Builder) {
						b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
							b.AddASN1ObjectIdentifier(oidPSpecified)
							b.AddASN1OctetString(label)
						})
					})
				}
			})
		})
		b.AddASN1OctetString(encrypted)
	})
	return b.BytesOrPanic()
}

// Wycheproof RSA-OAEP through the KeyTransRecipientInfo path (parameters
// parsed from the message): valid cases give the message as the key,
// invalid ones give no key of any length a content cipher uses.
func TestWycheproofRSAOAEPKeyTransport(t *testing.T) {
	for _, file := range []string{
		"rsa_oaep_2048_sha1_mgf1sha1_test.json",
		"rsa_oaep_2048_sha256_mgf1sha256_test.json",
		"rsa_oaep_2048_sha256_mgf1sha1_test.json",
	} {
		w := testvectors.LoadWycheproof(t, file)
		for _, g := range w.TestGroups {
			k, err := x509.ParsePKCS8PrivateKey(g.PrivateKeyPKCS8)
			if err != nil {
				t.Fatal(err)
			}
			priv := k.(*rsa.PrivateKey)
			for _, tc := range g.Tests {
				ris, err := parseRecipientInfos(keyTransRecipient(t, g.SHA, g.MGFSHA, tc.Label, tc.CT))
				if err != nil {
					t.Fatalf("%s %v: %v", file, tc, err)
				}
				ri := &ris[0]
				if tc.Valid() {
					got, res, err := unwrapCEK(ri, ri.keys[0].encryptedKey, priv, len(tc.Msg))
					if err != nil || res != unwrapOK || !bytes.Equal(got, tc.Msg) {
						t.Fatalf("%s %v: got %x, %v, %v", file, tc, got, res, err)
					}
					continue
				}
				for _, keyLen := range []int{16, 24, 32, len(tc.Msg)} {
					if got, res, err := unwrapCEK(ri, ri.keys[0].encryptedKey, priv, keyLen); res != unwrapFailed || err != nil {
						t.Fatalf("%s %v: %d-byte key: got %x, %v, %v", file, tc, keyLen, got, res, err)
					}
				}
			}
		}
	}
}
