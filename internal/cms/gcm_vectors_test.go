package cms

import (
	"bytes"
	"crypto/aes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/asn1"
	"errors"
	"fmt"
	"io"
	"testing"

	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"

	"github.com/mailseal/mailseal/core"
	"github.com/mailseal/mailseal/internal/testvectors"
)

// Known-answer tests of the streaming GCM (Wycheproof, NIST CAVP), at three
// levels: streamingGCM itself (any nonce length, the tag truncated as the
// vector says), the content decrypter behind a parsed GCMParameters (nonces
// of 1..64 bytes, tags of 12..16 bytes; anything else must be refused), and
// Decrypt on a whole AuthEnvelopedData message (vectors without additional
// data: CMS's additional data is the DER of authAttrs), where a bad tag must
// release no plaintext at all.

// gcmCase is one known answer: under key and nonce, with additional data
// aad, msg encrypts to ct with tag (len(tag) bytes of the full tag). If
// good is false, ct and tag are a forgery that decryption must refuse.
type gcmCase struct {
	name                          string
	key, nonce, aad, msg, ct, tag []byte
	good                          bool
}

// cmsSupported reports whether a GCMParameters with this nonce and tag
// length is accepted (parseContentAlgorithm).
func (c gcmCase) cmsSupported() bool {
	return len(c.nonce) >= 1 && len(c.nonce) <= 64 && len(c.tag) >= 12 && len(c.tag) <= 16
}

// ghashPaths are the two ways a streamingGCM hashes its content: block by
// block, and fastGHASH (crypto/cipher's GCM) for every run of whole blocks,
// which normally starts only at 64 blocks, longer than any vector here.
var ghashPaths = []struct {
	name string
	set  func(t *testing.T, g *streamingGCM)
}{
	{"plain", func(t *testing.T, g *streamingGCM) { g.hash.fast = nil }},
	{"fast", func(t *testing.T, g *streamingGCM) {
		if g.hash.fast == nil {
			t.Fatal("no fast GHASH path on this platform")
		}
		g.hash.fast.minRun, g.hash.fast.firstRun = 1, 1
	}},
}

// gcmChunkings are the piece sizes (cycled) content is fed in: whole,
// byte by byte, odd sizes that straddle block boundaries, whole blocks.
var gcmChunkings = [][]int{{1 << 20}, {1}, {7}, {16}, {17}, {5, 11, 3, 32}}

// inPieces calls fn with consecutive pieces of p of the sizes in pieces
// (cycled); an empty p gives no call.
func inPieces(p []byte, pieces []int, fn func([]byte)) {
	for i := 0; len(p) > 0; i++ {
		n := min(pieces[i%len(pieces)], len(p))
		fn(p[:n])
		p = p[n:]
	}
}

func newTestGCM(t *testing.T, c gcmCase) (*streamingGCM, error) {
	t.Helper()
	if _, err := aes.NewCipher(c.key); err != nil {
		t.Fatalf("%s: %v", c.name, err)
	}
	return newStreamingGCM(c.key, c.nonce)
}

// checkStreamingGCM runs c through streamingGCM's seal and open on both
// GHASH paths and every chunking.
func checkStreamingGCM(t *testing.T, c gcmCase) {
	t.Helper()
	if len(c.nonce) == 0 {
		if _, err := newTestGCM(t, c); err == nil {
			t.Fatalf("%s: an empty nonce was accepted", c.name)
		}
		return
	}
	for _, path := range ghashPaths {
		for _, pieces := range gcmChunkings {
			where := fmt.Sprintf("%s (%s GHASH, pieces %v)", c.name, path.name, pieces)
			// run passes in through a fresh streamingGCM's seal or open
			run := func(open bool, in []byte) (*streamingGCM, []byte) {
				g, err := newTestGCM(t, c)
				if err != nil {
					t.Fatalf("%s: %v", where, err)
				}
				path.set(t, g)
				op := g.seal
				if open {
					op = g.open
				}
				var out []byte
				inPieces(in, pieces, func(p []byte) {
					o := make([]byte, len(p))
					if err := op(o, p); err != nil {
						t.Fatalf("%s: %v", where, err)
					}
					out = append(out, o...)
				})
				return g, out
			}
			if c.good {
				g, ct := run(false, c.msg)
				tag := g.tag(c.aad)
				if !bytes.Equal(ct, c.ct) || !bytes.Equal(tag[:len(c.tag)], c.tag) {
					t.Fatalf("%s: sealed to %x tag %x, want %x tag %x", where, ct, tag[:len(c.tag)], c.ct, c.tag)
				}
			}
			g, pt := run(true, c.ct)
			// tags shorter than 96 bits are never accepted
			wantTag := c.good && len(c.tag) >= 12
			if got := g.checkTag(c.aad, c.tag); got != wantTag {
				t.Fatalf("%s: tag check %v, want %v", where, got, wantTag)
			}
			if c.good && !bytes.Equal(pt, c.msg) {
				t.Fatalf("%s: opened to %x, want %x", where, pt, c.msg)
			}
		}
	}
}

// gcmParameters returns the DER GCMParameters for nonce and tag length.
func gcmParameters(nonce []byte, icvLen int) []byte {
	var b cryptobyte.Builder
	b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
		b.AddASN1OctetString(nonce)
		b.AddASN1Int64(int64(icvLen))
	})
	return b.BytesOrPanic()
}

func gcmOID(t *testing.T, keyLen int) asn1.ObjectIdentifier {
	switch keyLen {
	case 16:
		return oidAES128GCM
	case 24:
		return oidAES192GCM
	case 32:
		return oidAES256GCM
	}
	t.Fatalf("no AES-GCM for a %d-byte key", keyLen)
	return nil
}

// checkContentGCM runs c through parseContentAlgorithm and the content
// decrypter Decrypt uses, in every chunking.
func checkContentGCM(t *testing.T, c gcmCase) {
	t.Helper()
	alg, err := parseContentAlgorithm(gcmOID(t, len(c.key)), gcmParameters(c.nonce, len(c.tag)))
	if !c.cmsSupported() {
		if err == nil {
			t.Fatalf("%s: GCMParameters with a %d-byte nonce and a %d-byte tag accepted", c.name, len(c.nonce), len(c.tag))
		}
		return
	}
	if err != nil {
		t.Fatalf("%s: %v", c.name, err)
	}
	for _, pieces := range gcmChunkings {
		dec, err := newContentDecrypter(alg, c.key)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		var out bytes.Buffer
		inPieces(c.ct, pieces, func(p []byte) {
			if err := dec.decrypt(&out, p); err != nil {
				t.Fatalf("%s: %v", c.name, err)
			}
		})
		good, err := dec.finish(&out, c.tag, c.aad)
		if err != nil || good != c.good {
			t.Fatalf("%s (pieces %v): finish = %v, %v; want %v", c.name, pieces, good, err, c.good)
		}
		if c.good && !bytes.Equal(out.Bytes(), c.msg) {
			t.Fatalf("%s (pieces %v): decrypted to %x, want %x", c.name, pieces, out.Bytes(), c.msg)
		}
	}
}

// authEnvelopedData returns a ContentInfo with AuthEnvelopedData: ri as
// its one RecipientInfo, AES-GCM with nonce and tag length len(tag), and
// the ciphertext as a constructed OCTET STRING in pieces of the given
// sizes.
func authEnvelopedData(t *testing.T, ri []byte, c gcmCase, pieces []int) []byte {
	var b cryptobyte.Builder
	b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
		b.AddASN1ObjectIdentifier(oidAuthEnvelopedData)
		b.AddASN1(cbasn1.Tag(0).Constructed().ContextSpecific(), func(b *cryptobyte.Builder) {
			b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
				b.AddASN1Int64(0)
				b.AddASN1(cbasn1.SET, func(b *cryptobyte.Builder) { b.AddBytes(ri) })
				b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
					b.AddASN1ObjectIdentifier(oidData)
					b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
						b.AddASN1ObjectIdentifier(gcmOID(t, len(c.key)))
						b.AddBytes(gcmParameters(c.nonce, len(c.tag)))
					})
					b.AddASN1(cbasn1.Tag(0).Constructed().ContextSpecific(), func(b *cryptobyte.Builder) {
						inPieces(c.ct, pieces, func(p []byte) { b.AddASN1OctetString(p) })
					})
				})
				b.AddASN1OctetString(c.tag)
			})
		})
	})
	return b.BytesOrPanic()
}

// checkDecryptGCM decrypts c (which has no additional data) as a whole
// message to id: a good case gives exactly msg, a forgery nothing but the
// integrity error, unsupported parameters nothing but an input error.
func checkDecryptGCM(t *testing.T, c gcmCase, id Identity) {
	t.Helper()
	ri, _, err := recipientInfo(id.Cert, c.key, EncryptOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, pieces := range [][]int{{1 << 20}, {1}, {5, 11, 3, 32}} {
		msg := authEnvelopedData(t, ri, c, pieces)
		d, err := Decrypt(bytes.NewReader(msg), []Identity{id}, 1<<20)
		switch {
		case !c.cmsSupported():
			if d != nil || !errors.Is(err, core.ErrInput) {
				t.Fatalf("%s: unsupported GCMParameters: got %v, %v; want an input error", c.name, d, err)
			}
		case !c.good:
			if d != nil || !errors.Is(err, core.ErrIntegrity) {
				t.Fatalf("%s: forgery: got %v, %v; want the integrity error and no plaintext", c.name, d, err)
			}
		default:
			if err != nil {
				t.Fatalf("%s (pieces %v): %v", c.name, pieces, err)
			}
			body, err := io.ReadAll(d.Body)
			d.Close()
			if err != nil || !bytes.Equal(body, c.msg) || d.Integrity != core.IntegrityGCM {
				t.Fatalf("%s (pieces %v): got %x (%s), %v; want %x", c.name, pieces, body, d.Integrity, err, c.msg)
			}
		}
	}
}

func checkGCMCase(t *testing.T, c gcmCase, id Identity) {
	t.Helper()
	checkStreamingGCM(t, c)
	checkContentGCM(t, c)
	if len(c.aad) == 0 {
		checkDecryptGCM(t, c, id)
	}
}

// Wycheproof aes_gcm_test.json: all tags are 128 bits; nonces of 0 to 257
// bytes (the empty one must be refused everywhere, those over 64 bytes by
// CMS); the invalid cases are modified tags; "CounterWrap" cases make the
// 32-bit counter wrap.
func TestWycheproofAESGCM(t *testing.T) {
	id := testIdentity(t, "gcm", mustECDSAKey(t))
	w := testvectors.LoadWycheproof(t, "aes_gcm_test.json")
	refused := 0
	for _, g := range w.TestGroups {
		for _, tc := range g.Tests {
			if tc.Acceptable() {
				t.Fatalf("%v: no acceptable AES-GCM cases expected", tc)
			}
			c := gcmCase{name: "Wycheproof AES-GCM " + tc.String(), key: tc.Key, nonce: tc.IV, aad: tc.AAD,
				msg: tc.Msg, ct: tc.CT, tag: tc.Tag, good: tc.Valid()}
			if !c.cmsSupported() {
				refused++
			}
			checkGCMCase(t, c, id)
		}
	}
	t.Logf("%d tests; %d refused by CMS for their nonce length", w.NumberOfTests, refused)
}

// NIST CAVP gcmEncryptExtIV*.rsp and gcmDecrypt*.rsp (the subset in
// testdata/corpora/cavp-gcm): nonces of 1, 12 and 128 bytes, tags of 4 to
// 16 bytes, additional data of 0 to 90 bytes.
func TestCAVPGCM(t *testing.T) {
	id := testIdentity(t, "gcm", mustECDSAKey(t))
	n := 0
	for _, file := range []string{
		"gcmEncryptExtIV128.rsp", "gcmEncryptExtIV192.rsp", "gcmEncryptExtIV256.rsp",
		"gcmDecrypt128.rsp", "gcmDecrypt192.rsp", "gcmDecrypt256.rsp",
	} {
		for _, v := range testvectors.LoadCAVPGCM(t, file) {
			checkGCMCase(t, gcmCase{name: "CAVP " + v.String(), key: v.Key, nonce: v.IV, aad: v.AAD,
				msg: v.PT, ct: v.CT, tag: v.Tag, good: !v.Fail}, id)
			n++
		}
	}
	t.Logf("%d vectors", n)
}

func mustECDSAKey(t *testing.T) *ecdsa.PrivateKey {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}
