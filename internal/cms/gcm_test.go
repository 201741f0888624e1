package cms

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"testing"

	"github.com/mailseal/mailseal/internal/aesmode"
)

func gcmReference(t testing.TB, key, nonce, aad, plaintext []byte) []byte {
	t.Helper()
	block, err := aes.NewCipher(key)
	if err != nil {
		t.Fatal(err)
	}
	var aead cipher.AEAD
	if len(nonce) == 12 {
		aead, err = cipher.NewGCM(block)
	} else {
		aead, err = cipher.NewGCMWithNonceSize(block, len(nonce))
	}
	if err != nil {
		t.Fatal(err)
	}
	return aead.Seal(nil, nonce, plaintext, aad)
}

// streamSeal encrypts plaintext through streamingGCM in pieces of the given
// sizes (cycled), returning ciphertext || tag.
func streamSeal(t testing.TB, key, nonce, aad, plaintext []byte, pieces []int) []byte {
	t.Helper()
	g, err := newStreamingGCM(key, nonce)
	if err != nil {
		t.Fatal(err)
	}
	out := make([]byte, 0, len(plaintext)+16)
	for i := 0; len(plaintext) > 0; i++ {
		n := min(pieces[i%len(pieces)], len(plaintext))
		buf := make([]byte, n)
		if err := g.seal(buf, plaintext[:n]); err != nil {
			t.Fatal(err)
		}
		out = append(out, buf...)
		plaintext = plaintext[n:]
	}
	tag := g.tag(aad)
	return append(out, tag[:]...)
}

func TestStreamingGCMMatchesCryptoCipher(t *testing.T) {
	sizes := []int{}
	for n := 0; n <= 80; n++ {
		sizes = append(sizes, n)
	}
	sizes = append(sizes, 255, 256, 257, 1023, 1024, 1025, 4095, 4096, 4097, 65536+7, 1<<20)
	pieceSets := [][]int{{1}, {7, 13}, {16}, {1024}, {1000, 5000, 17}, {4096}, {1 << 20}}
	for _, keyLen := range []int{16, 24, 32} {
		for _, nonceLen := range []int{12, 8, 16, 60} {
			for _, aadLen := range []int{0, 5, 16, 33} {
				for _, size := range sizes {
					if size > 4097 && (keyLen != 32 || aadLen != 0 || nonceLen != 12) {
						continue
					}
					key, nonce := randomBytes(keyLen), randomBytes(nonceLen)
					aad, plaintext := randomBytes(aadLen), randomBytes(size)
					want := gcmReference(t, key, nonce, aad, plaintext)
					for _, pieces := range pieceSets {
						if size > 4097 && pieces[0] < 16 {
							continue
						}
						got := streamSeal(t, key, nonce, aad, plaintext, pieces)
						if !bytes.Equal(got, want) {
							t.Fatalf("key %d nonce %d aad %d size %d pieces %v: output differs from crypto/cipher GCM", keyLen, nonceLen, aadLen, size, pieces)
						}
						// and decryption gives back the plaintext with a good tag
						g, _ := newStreamingGCM(key, nonce)
						pt := make([]byte, size)
						if err := g.open(pt, got[:size]); err != nil {
							t.Fatal(err)
						}
						if !bytes.Equal(pt, plaintext) || !g.checkTag(aad, got[size:]) {
							t.Fatalf("key %d nonce %d aad %d size %d: streaming open failed", keyLen, nonceLen, aadLen, size)
						}
					}
				}
			}
		}
	}
}

// sealWhole gives what crypto/cipher's GCM gives (and so what seal and
// tag give), appended to dst, and declines where it does not apply: a
// nonce other than 96 bits, or content already sealed in part.
func TestSealWhole(t *testing.T) {
	for _, keyLen := range []int{16, 32} {
		for size := 0; size <= 300; size++ {
			checkSealWhole(t, keyLen, size)
		}
		for _, size := range []int{4095, 4096, 16 << 10, 1<<20 + 3} {
			checkSealWhole(t, keyLen, size)
		}
	}
	key := randomBytes(32)
	g, _ := newStreamingGCM(key, randomBytes(16))
	if _, _, ok := g.sealWhole(nil, []byte("x")); ok {
		t.Fatal("sealWhole with a 128-bit nonce")
	}
	g, _ = newStreamingGCM(key, randomBytes(12))
	g.seal(make([]byte, 1), []byte("x"))
	if _, _, ok := g.sealWhole(nil, []byte("y")); ok {
		t.Fatal("sealWhole after seal")
	}
}

func checkSealWhole(t *testing.T, keyLen, size int) {
	t.Helper()
	key, nonce, plaintext := randomBytes(keyLen), randomBytes(12), randomBytes(size)
	want := gcmReference(t, key, nonce, nil, plaintext)
	g, _ := newStreamingGCM(key, nonce)
	out, tag, ok := g.sealWhole([]byte("head"), plaintext)
	if !ok {
		t.Fatalf("key %d size %d: sealWhole declined", keyLen, size)
	}
	if string(out[:4]) != "head" || !bytes.Equal(append(out[4:], tag[:]...), want) {
		t.Fatalf("key %d size %d: sealWhole differs from crypto/cipher GCM", keyLen, size)
	}
}

func TestStreamingGCMTagFailsOnTamper(t *testing.T) {
	key, nonce, plaintext := randomBytes(32), randomBytes(12), randomBytes(1000)
	sealed := gcmReference(t, key, nonce, nil, plaintext)
	for _, pos := range []int{0, 500, 999, 1000, 1015} {
		bad := bytes.Clone(sealed)
		bad[pos] ^= 0x20
		g, _ := newStreamingGCM(key, nonce)
		pt := make([]byte, 1000)
		g.open(pt, bad[:1000])
		if g.checkTag(nil, bad[1000:]) {
			t.Fatalf("tampered byte %d not detected", pos)
		}
	}
	// truncated tags: 12..16 bytes accepted as prefixes, others refused
	g, _ := newStreamingGCM(key, nonce)
	g.open(make([]byte, 1000), sealed[:1000])
	if !g.checkTag(nil, sealed[1000:1012]) {
		t.Fatal("12-byte tag prefix refused")
	}
	if g.checkTag(nil, sealed[1000:1011]) {
		t.Fatal("11-byte tag accepted")
	}
}

// The low 32 bits of the counter wrap only with non-96-bit nonces; force a
// counter just below the wrap and compare with a plain block-by-block
// inc32 implementation, in pieces that take the 16-block path (where the
// processor has VAES) before, across and after the wrap.
func TestGCMCounterWrapsLow32Bits(t *testing.T) {
	for _, keyLen := range []int{16, 32} {
		c0, err := aesmode.New(randomBytes(keyLen))
		if err != nil {
			t.Fatal(err)
		}
		block := c0.Block()
		for _, below := range []uint32{1, 2, 17, 40} {
			var first [16]byte
			copy(first[:], randomBytes(16))
			binary.BigEndian.PutUint32(first[12:], 0xffffffff-below+1)
			for _, pieces := range [][]int{{20, 1 << 20}, {1 << 20}, {16 * 16, 5, 3 * 16 * 16}} {
				c := newGCMCounter(c0, first)
				got := make([]byte, 100*16+3)
				for p := got; len(p) > 0; {
					for _, n := range pieces {
						n = min(n, len(p))
						c.XORKeyStream(p[:n], p[:n])
						p = p[n:]
					}
				}
				want := make([]byte, 0, len(got)+16)
				ctr := first
				for len(want) < len(got) {
					var ks [16]byte
					block.Encrypt(ks[:], ctr[:])
					want = append(want, ks[:]...)
					binary.BigEndian.PutUint32(ctr[12:], binary.BigEndian.Uint32(ctr[12:])+1)
				}
				if !bytes.Equal(got, want[:len(got)]) {
					t.Fatalf("AES-%d, %d blocks below the wrap, pieces %v: the counter does not wrap within the low 32 bits", keyLen*8, below, pieces)
				}
			}
		}
	}
}

func TestFieldMultiplication(t *testing.T) {
	// a*1 = a, a*b = b*a, (a*b)*c = a*(b*c), a^3 = a*a*a
	for i := 0; i < 200; i++ {
		a, b, c := loadElement(randomBytes(16)), loadElement(randomBytes(16)), loadElement(randomBytes(16))
		one := fieldElement{lo: 1}
		if a.mul(one) != a || a.mul(b) != b.mul(a) || a.mul(b).mul(c) != a.mul(b.mul(c)) || a.pow(3) != a.mul(a).mul(a) {
			t.Fatal("field laws fail")
		}
	}
}

func randomBytes(n int) []byte {
	b := make([]byte, n)
	rand.Read(b)
	return b
}

func TestFieldInverse(t *testing.T) {
	for i := 0; i < 20; i++ {
		a := loadElement(randomBytes(16))
		if p := a.mul(a.inverse()); p != (fieldElement{lo: 1}) {
			t.Fatalf("a * a^-1 = %x", p)
		}
	}
}

// BenchmarkGHASH compares GHASH block by block (software multiplication)
// with the run path (fastGHASH) on 64 KiB updates, the size the streaming
// codec hands it.
func BenchmarkGHASH(b *testing.B) {
	block, _ := aes.NewCipher(randomBytes(32))
	var h [16]byte
	block.Encrypt(h[:], h[:])
	buf := make([]byte, 64<<10)
	for _, c := range []struct {
		name string
		fast bool
	}{{"blocks", false}, {"runs", true}} {
		b.Run(c.name, func(b *testing.B) {
			g := newGHASH(h[:])
			if c.fast {
				g.fast = newFastGHASH(block, g.key)
			}
			b.SetBytes(int64(len(buf)))
			for b.Loop() {
				g.update(buf)
			}
		})
	}
}

func BenchmarkStreamingGCMSeal(b *testing.B) {
	key := randomBytes(32)
	buf := make([]byte, 64<<10)
	b.SetBytes(int64(len(buf)))
	for b.Loop() {
		g, _ := newStreamingGCM(key, randomBytes(12))
		g.seal(buf, buf)
		g.tag(nil)
	}
}

// BenchmarkGHASHFirstRun: a fresh GHASH over one run, as a small message
// has: the fast path then pays for H's inverse, which the block path does
// not (firstRunBlocks is where the two meet).
func BenchmarkGHASHFirstRun(b *testing.B) {
	block, _ := aes.NewCipher(randomBytes(32))
	var h [16]byte
	block.Encrypt(h[:], h[:])
	for _, size := range []int{1 << 10, 2 << 10, 4 << 10, 8 << 10, 16 << 10} {
		buf := make([]byte, size)
		for _, fast := range []bool{false, true} {
			b.Run(fmt.Sprintf("%dKiB/fast=%v", size>>10, fast), func(b *testing.B) {
				b.SetBytes(int64(size))
				for b.Loop() {
					g := newGHASH(h[:])
					if fast {
						g.fast = newFastGHASH(block, g.key)
						g.fast.minRun, g.fast.firstRun = 1, 1
					}
					g.update(buf)
				}
			})
		}
	}
}

// TestGHASHFirstRunThreshold: a fresh GHASH takes the fast path for a
// first run of firstRunBlocks blocks, not for one block less, and after
// that for runs of fastRunBlocks (the tag is the same either way; this
// pins which path runs, which only the speed would show).
func TestGHASHFirstRunThreshold(t *testing.T) {
	block, _ := aes.NewCipher(randomBytes(32))
	var h [16]byte
	block.Encrypt(h[:], h[:])
	fresh := func() ghash {
		g := newGHASH(h[:])
		g.fast = newFastGHASH(block, g.key)
		if g.fast == nil {
			t.Skip("no fast GHASH path on this platform")
		}
		return g
	}
	g := fresh()
	g.update(make([]byte, (firstRunBlocks-1)*16))
	if g.fast.inv != (fieldElement{}) {
		t.Errorf("a first run of %d blocks took the fast path", firstRunBlocks-1)
	}
	g = fresh()
	g.update(make([]byte, firstRunBlocks*16))
	if g.fast.inv == (fieldElement{}) {
		t.Fatalf("a first run of %d blocks did not take the fast path", firstRunBlocks)
	}
	k := g.fast.k
	g.update(make([]byte, fastRunBlocks*16))
	if g.fast.k == k || g.fast.k != fastRunBlocks {
		t.Errorf("a later run of %d blocks did not take the fast path (k %d)", fastRunBlocks, g.fast.k)
	}
}
