package aesmode

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"encoding/binary"
	"math"
	"math/rand"
	"testing"
)

// NIST SP 800-38A, appendix F.5.1, F.5.3 and F.5.5: CTR with AES-128,
// -192 and -256, the same initial counter block and plaintext (that of
// the CFB vectors).
var sp80038aCTR = []struct{ key, ciphertext string }{
	{"2b7e151628aed2a6abf7158809cf4f3c",
		"874d6191b620e3261bef6864990db6ce" + "9806f66b7970fdff8617187bb9fffdff" +
			"5ae4df3edbd5d35e5b4f09020db03eab" + "1e031dda2fbe03d1792170a0f3009cee"},
	{"8e73b0f7da0e6452c810f32b809079e562f8ead2522c6b7b",
		"1abc932417521ca24f2b0459fe7e6e0b" + "090339ec0aa6faefd5ccc2c6f4ce8e94" +
			"1e36b26bd1ebc670d1bd1d665620abf7" + "4f78a7f6d29809585a97daec58c6b050"},
	{"603deb1015ca71be2b73aef0857d77811f352c073b6108d72d9810a30914dff4",
		"601ec313775789a5b7a7f504bbf3d228" + "f443e3ca4d62b59aca84e990cacaf5c5" +
			"2b0930daa23de94ce87017ba2d84988d" + "dfc9c58db67aada613c2dd08457941a6"},
}

const sp80038aCounter = "f0f1f2f3f4f5f6f7f8f9fafbfcfdfeff"

func TestSP80038ACTR(t *testing.T) {
	iv := (*[BlockSize]byte)(mustHex(sp80038aCounter))
	pt := mustHex(sp80038aPlaintext)
	for _, v := range sp80038aCTR {
		want := mustHex(v.ciphertext)
		for name, c := range ciphers(t, mustHex(v.key)) {
			got := make([]byte, len(pt))
			c.XORKeyStreamAt(got, pt, iv, 0)
			if !bytes.Equal(got, want) {
				t.Fatalf("AES-%d %s: %x, want %x", len(v.key)*4, name, got, want)
			}
			// Any piece, from its offset.
			for off := 0; off < len(pt); off++ {
				for end := off; end <= len(pt); end += 7 {
					got := make([]byte, end-off)
					c.XORKeyStreamAt(got, pt[off:end], iv, uint64(off))
					if !bytes.Equal(got, want[off:end]) {
						t.Fatalf("AES-%d %s: bytes %d to %d differ", len(v.key)*4, name, off, end)
					}
				}
			}
		}
	}
}

// checkCTR compares XORKeyStreamAt, into another buffer and in place, with
// crypto/cipher's CTR for every cipher of key.
func checkCTR(t testing.TB, key []byte, iv *[BlockSize]byte, src []byte, off uint64) {
	block, err := aes.NewCipher(key)
	if err != nil {
		t.Fatal(err)
	}
	// The reference: the stream from the counter block off/16 blocks on,
	// its first off%16 bytes discarded.
	hi, lo := binary.BigEndian.Uint64(iv[:8]), binary.BigEndian.Uint64(iv[8:])
	nlo := lo + off/BlockSize
	if nlo < lo {
		hi++
	}
	var start [BlockSize]byte
	binary.BigEndian.PutUint64(start[:8], hi)
	binary.BigEndian.PutUint64(start[8:], nlo)
	ref := cipher.NewCTR(block, start[:])
	skip := make([]byte, off%BlockSize)
	ref.XORKeyStream(skip, skip)
	want := make([]byte, len(src))
	ref.XORKeyStream(want, src)
	for name, c := range ciphers(t, key) {
		got := make([]byte, len(src))
		c.XORKeyStreamAt(got, src, iv, off)
		if !bytes.Equal(got, want) {
			t.Fatalf("%s AES-%d, iv %x, off %d, %d bytes: differs from crypto/cipher's CTR", name, len(key)*8, iv[:], off, len(src))
		}
		got = bytes.Clone(src)
		c.XORKeyStreamAt(got, got, iv, off)
		if !bytes.Equal(got, want) {
			t.Fatalf("%s AES-%d, iv %x, off %d, %d bytes, in place: differs from crypto/cipher's CTR", name, len(key)*8, iv[:], off, len(src))
		}
	}
}

func TestCTRMatchesStdlib(t *testing.T) {
	rng := rand.New(rand.NewSource(4))
	for i := 0; i < 600; i++ {
		key := make([]byte, []int{16, 24, 32}[i%3])
		rng.Read(key)
		var iv [BlockSize]byte
		rng.Read(iv[:])
		switch i % 4 {
		case 0: // the spool's: a block number from zero
			iv = [BlockSize]byte{}
		case 1: // the low half about to wrap into the high one
			binary.BigEndian.PutUint64(iv[8:], math.MaxUint64-uint64(rng.Intn(80)))
		case 2: // the whole counter about to wrap
			for j := range iv {
				iv[j] = 0xff
			}
			iv[15] -= byte(rng.Intn(80))
		}
		src := make([]byte, rng.Intn(5000))
		rng.Read(src)
		checkCTR(t, key, &iv, src, uint64(rng.Intn(3000)))
	}
}

// Runs longer than maxRun go to the assembly in pieces, counted on right.
func TestCTRLongRuns(t *testing.T) {
	rng := rand.New(rand.NewSource(5))
	key := make([]byte, 16)
	rng.Read(key)
	src := make([]byte, 3*maxRun+16*BlockSize+5)
	rng.Read(src)
	var iv [BlockSize]byte
	checkCTR(t, key, &iv, src, 0)
	checkCTR(t, key, &iv, src, 1<<40+3)
	binary.BigEndian.PutUint64(iv[8:], math.MaxUint64-maxRun/BlockSize-40)
	checkCTR(t, key, &iv, src, 0)
}

func FuzzCTR(f *testing.F) {
	f.Add(uint8(0), []byte("0123456789abcdef"), []byte("a message"), uint64(3))
	f.Add(uint8(1), bytes.Repeat([]byte{0xff}, 16), bytes.Repeat([]byte("x"), 600), uint64(250))
	f.Fuzz(func(t *testing.T, size uint8, seed, src []byte, off uint64) {
		key := make([]byte, []int{16, 24, 32}[size%3])
		var iv [BlockSize]byte
		for i := range key {
			if len(seed) > 0 {
				key[i] = seed[i%len(seed)]
				iv[i%BlockSize] ^= seed[(i+5)%len(seed)]
			}
		}
		checkCTR(t, key, &iv, src, off)
	})
}

func TestCTRMisusePanics(t *testing.T) {
	c, err := New(make([]byte, 16))
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 1024)
	var iv [BlockSize]byte
	mustPanic(t, map[string]func(){
		"short dst":       func() { c.XORKeyStreamAt(buf[:0:600], buf[600:1000], &iv, 0) },
		"overlapping dst": func() { c.XORKeyStreamAt(buf[1:513], buf[:512], &iv, 0) },
	})
}

func BenchmarkCTR(b *testing.B) {
	for _, kl := range []int{16, 32} {
		c, _ := New(make([]byte, kl))
		buf := make([]byte, 256<<10)
		var iv [BlockSize]byte
		for _, v := range []struct {
			name string
			c    *Cipher
		}{{"", c}, {"crypto-cipher-", generic(c)}} {
			b.Run(v.name+"AES-"+[]string{16: "128", 32: "256"}[kl], func(b *testing.B) {
				b.SetBytes(int64(len(buf)))
				for b.Loop() {
					v.c.XORKeyStreamAt(buf, buf, &iv, 0)
				}
			})
		}
	}
}
