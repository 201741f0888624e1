package aesmode

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"encoding/binary"
	"encoding/hex"
	"math/rand"
	"testing"
)

// generic is c without the assembly: what runs elsewhere.
func generic(c *Cipher) *Cipher { return &Cipher{block: c.block} }

// noVAES is c with 128-bit AES-NI alone: what runs on processors without
// 256-bit VAES.
func noVAES(c *Cipher) *Cipher { return &Cipher{block: c.block, rounds: c.rounds, xk: c.xk} }

// ciphers returns the cipher of key as New makes it and, where that runs
// the assembly, its generic twin, and where it runs 256-bit VAES, its
// twin without.
func ciphers(t testing.TB, key []byte) map[string]*Cipher {
	c, err := New(key)
	if err != nil {
		t.Fatal(err)
	}
	cs := map[string]*Cipher{"generic": generic(c)}
	if c.rounds != 0 {
		cs["assembly"] = c
	}
	if c.xk2 != nil {
		cs["assembly without VAES"] = noVAES(c)
	}
	return cs
}

// referenceSBox is AES's S-box (FIPS 197, section 5.1.1) computed from its
// definition: p runs through GF(2^8)'s nonzero elements by powers of 3 and
// q through their inverses; the S-box value of p is the affine
// transformation of its inverse.
func referenceSBox() [256]byte {
	var s [256]byte
	p, q := byte(1), byte(1)
	for {
		p ^= p<<1 ^ byte(int8(p)>>7)&0x1b // p * 3
		q ^= q << 1                       // q / 3
		q ^= q << 2
		q ^= q << 4
		if q&0x80 != 0 {
			q ^= 0x09
		}
		s[p] = q ^ (q<<1 | q>>7) ^ (q<<2 | q>>6) ^ (q<<3 | q>>5) ^ (q<<4 | q>>4) ^ 0x63
		if p == 1 {
			break
		}
	}
	s[0] = 0x63
	return s
}

func mustHex(s string) []byte {
	b, err := hex.DecodeString(s)
	if err != nil {
		panic(err)
	}
	return b
}

// NIST SP 800-38A, appendix F.3.13 to F.3.18: CFB128 with AES-128, -192 and
// -256, the same IV and plaintext.
var sp80038a = []struct{ key, ciphertext string }{
	{"2b7e151628aed2a6abf7158809cf4f3c",
		"3b3fd92eb72dad20333449f8e83cfb4a" + "c8a64537a0b3a93fcde3cdad9f1ce58b" +
			"26751f67a3cbb140b1808cf187a4f4df" + "c04b05357c5d1c0eeac4c66f9ff7f2e6"},
	{"8e73b0f7da0e6452c810f32b809079e562f8ead2522c6b7b",
		"cdc80d6fddf18cab34c25909c99a4174" + "67ce7f7f81173621961a2b70171d3d7a" +
			"2e1e8a1dd59b88b1c8e60fed1efac4c9" + "c05f9f9ca9834fa042ae8fba584b09ff"},
	{"603deb1015ca71be2b73aef0857d77811f352c073b6108d72d9810a30914dff4",
		"dc7e84bfda79164b7ecd8486985d3860" + "39ffed143b28b1c832113c6331e5407b" +
			"df10132415e54b92a13ed0a8267ae2f9" + "75a385741ab9cef82031623d55b1e471"},
}

const (
	sp80038aIV        = "000102030405060708090a0b0c0d0e0f"
	sp80038aPlaintext = "6bc1bee22e409f96e93d7e117393172a" + "ae2d8a571e03ac9c9eb76fac45af8e51" +
		"30c81c46a35ce411e5fbc1191a0a52ef" + "f69f2445df4f9b17ad2b417be66c3710"
)

func TestSP80038A(t *testing.T) {
	iv, pt := mustHex(sp80038aIV), mustHex(sp80038aPlaintext)
	for _, v := range sp80038a {
		want := mustHex(v.ciphertext)
		for name, c := range ciphers(t, mustHex(v.key)) {
			got := make([]byte, len(pt))
			c.NewEncrypter(iv).XORKeyStream(got, pt)
			if !bytes.Equal(got, want) {
				t.Errorf("AES-%d %s: encryption %x, want %x", len(v.key)*4, name, got, want)
			}
			// Decryption: the key stream of the ciphertext XOR it.
			var prev [BlockSize]byte
			copy(prev[:], iv)
			ks := make([]byte, len(want))
			c.KeyStream(ks, want, &prev)
			if dec := xor(want, ks); !bytes.Equal(dec, pt) {
				t.Errorf("AES-%d %s: decryption %x, want %x", len(v.key)*4, name, dec, pt)
			}
		}
	}
}

func xor(a, b []byte) []byte {
	out := make([]byte, len(a))
	for i := range a {
		out[i] = a[i] ^ b[i]
	}
	return out
}

// FIPS 197, appendix A: the key expansion examples' first and last words;
// and SubWord against the S-box.
func TestKeyExpansion(t *testing.T) {
	if !haveAESNI {
		t.Skip("the key expansion runs only with the assembly (crypto/aes does every block without it)")
	}
	for _, v := range []struct {
		key         string
		first, last uint32
	}{
		{"2b7e151628aed2a6abf7158809cf4f3c", 0x2b7e1516, 0xb6630ca6},
		{"8e73b0f7da0e6452c810f32b809079e562f8ead2522c6b7b", 0x8e73b0f7, 0x01002202},
		{"603deb1015ca71be2b73aef0857d77811f352c073b6108d72d9810a30914dff4", 0x603deb10, 0x706c631e},
	} {
		xk, rounds := expandKey(mustHex(v.key))
		if rounds != len(v.key)/8+6 || len(xk) != 4*(rounds+1) {
			t.Fatalf("%s: %d rounds, %d words", v.key, rounds, len(xk))
		}
		word := func(i int) uint32 { // back from memory order
			var b [4]byte
			binary.LittleEndian.PutUint32(b[:], xk[i])
			return binary.BigEndian.Uint32(b[:])
		}
		if word(0) != v.first || word(len(xk)-1) != v.last {
			t.Errorf("%s: w[0] %08x, w[%d] %08x; want %08x, %08x", v.key, word(0), len(xk)-1, word(len(xk)-1), v.first, v.last)
		}
	}
	// SubWord against the S-box, for every byte in every place of the
	// word.
	ref := referenceSBox()
	for in, out := range map[byte]byte{0x00: 0x63, 0x01: 0x7c, 0x53: 0xed, 0xff: 0x16, 0x10: 0xca, 0x8f: 0x73} {
		if ref[in] != out {
			t.Fatalf("reference S-box(%02x) = %02x, want %02x", in, ref[in], out)
		}
	}
	for b := 0; b < 256; b++ {
		for shift := 0; shift < 32; shift += 8 {
			w := uint32(b)<<shift | uint32(byte(b+85))<<((shift+8)%32) | uint32(byte(b*7))<<((shift+16)%32) | uint32(byte(b^0xa5))<<((shift+24)%32)
			var want uint32
			for k := 0; k < 32; k += 8 {
				want |= uint32(ref[byte(w>>k)]) << k
			}
			if got := subWordAESNI(w); got != want {
				t.Fatalf("SubWord(%08x) = %08x, want %08x", w, got, want)
			}
		}
	}
}

// The assembly's use of the round keys against crypto/aes, for random keys
// of every size: a single block's CFB encryption from a zero register is
// the AES encryption of that register XOR the plaintext.
func TestRoundKeysAgainstCryptoAES(t *testing.T) {
	rng := rand.New(rand.NewSource(1))
	for i := 0; i < 3000; i++ {
		key := make([]byte, []int{16, 24, 32}[i%3])
		rng.Read(key)
		var reg [BlockSize]byte
		rng.Read(reg[:])
		block, _ := aes.NewCipher(key)
		var want [BlockSize]byte
		block.Encrypt(want[:], reg[:])
		for name, c := range ciphers(t, key) {
			r := reg
			got := make([]byte, BlockSize)
			c.encryptBlocks(&r, got, make([]byte, BlockSize))
			if !bytes.Equal(got, want[:]) || r != want {
				t.Fatalf("AES-%d key %x %s: %x, want %x", len(key)*8, key, name, got, want)
			}
		}
	}
}

// check compares the encryption of src through write sizes and the
// decryption key stream, in chunks of chunk bytes, with crypto/cipher's
// CFB for every cipher of key.
func check(t testing.TB, key, iv, src []byte, sizes []int, chunk int) {
	block, err := aes.NewCipher(key)
	if err != nil {
		t.Fatal(err)
	}
	want := make([]byte, len(src))
	cipher.NewCFBEncrypter(block, iv).XORKeyStream(want, src) // the reference
	for name, c := range ciphers(t, key) {
		e := c.NewEncrypter(iv)
		got := bytes.Clone(src)
		for i, k := 0, 0; i < len(got); k++ {
			n := min(max(sizes[k%len(sizes)], 1), len(got)-i)
			e.XORKeyStream(got[i:i+n], got[i:i+n]) // in place
			i += n
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("%s, key %d bytes, %d bytes in writes of %v: differs from crypto/cipher's CFB", name, len(key), len(src), sizes)
		}
		e = c.NewEncrypter(iv)
		got = make([]byte, len(src))
		for i, k := 0, 0; i < len(got); k++ {
			n := min(max(sizes[k%len(sizes)], 1), len(got)-i)
			e.XORKeyStream(got[i:i+n], src[i:i+n]) // into another buffer
			i += n
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("%s, key %d bytes, %d bytes in writes of %v into another buffer: differs from crypto/cipher's CFB", name, len(key), len(src), sizes)
		}
		// Decryption key streams of chunks of whole blocks (the last
		// may be partial), chained through prev.
		var prev [BlockSize]byte
		copy(prev[:], iv)
		dec := make([]byte, 0, len(want))
		step := max(chunk/BlockSize*BlockSize, BlockSize)
		for off := 0; off < len(want); off += step {
			ct := want[off:min(off+step, len(want))]
			ks := make([]byte, len(ct))
			c.KeyStream(ks, ct, &prev)
			dec = append(dec, xor(ct, ks)...)
			if len(ct) == step {
				copy(prev[:], ct[len(ct)-BlockSize:])
			}
		}
		if !bytes.Equal(dec, src) {
			t.Fatalf("%s, key %d bytes, %d bytes in chunks of %d: decryption differs", name, len(key), len(src), step)
		}
	}
}

func TestMatchesStdlib(t *testing.T) {
	rng := rand.New(rand.NewSource(2))
	for i := 0; i < 600; i++ {
		key := make([]byte, []int{16, 24, 32}[i%3])
		rng.Read(key)
		iv := make([]byte, BlockSize)
		rng.Read(iv)
		src := make([]byte, rng.Intn(3000))
		rng.Read(src)
		sizes := []int{len(src)}
		if i%2 == 1 {
			sizes = []int{1 + rng.Intn(40), 1 + rng.Intn(300), 16, 15, 17}
		}
		check(t, key, iv, src, sizes, 1+rng.Intn(2000))
	}
}

func FuzzEncrypter(f *testing.F) {
	f.Add(uint8(0), []byte("0123456789abcdef"), []byte("a message"), uint16(3), uint16(16))
	f.Add(uint8(2), bytes.Repeat([]byte{7}, 16), bytes.Repeat([]byte("x"), 300), uint16(129), uint16(130))
	f.Fuzz(func(t *testing.T, size uint8, seed, src []byte, write, chunk uint16) {
		key := make([]byte, []int{16, 24, 32}[size%3])
		iv := make([]byte, BlockSize)
		for i := range key {
			if len(seed) > 0 {
				key[i] = seed[i%len(seed)]
				iv[i%BlockSize] ^= seed[(i+7)%len(seed)]
			}
		}
		check(t, key, iv, src, []int{int(write)}, int(chunk))
	})
}

func BenchmarkEncrypter(b *testing.B)        { benchEncrypter(b, false) }
func BenchmarkEncrypterGeneric(b *testing.B) { benchEncrypter(b, true) }
func BenchmarkKeyStream(b *testing.B)        { benchKeyStream(b, false) }
func BenchmarkKeyStreamGeneric(b *testing.B) { benchKeyStream(b, true) }

// BenchmarkKeyStreamNoVAES: KeyStream on processors without 256-bit VAES.
func BenchmarkKeyStreamNoVAES(b *testing.B) {
	c, _ := New(make([]byte, 32))
	if c.xk2 == nil {
		b.Skip("no 256-bit VAES here")
	}
	ct := make([]byte, 64<<10)
	ks := make([]byte, len(ct))
	var prev [BlockSize]byte
	b.SetBytes(int64(len(ct)))
	for b.Loop() {
		noVAES(c).KeyStream(ks, ct, &prev)
	}
}

func benchEncrypter(b *testing.B, plain bool) {
	c, _ := New(make([]byte, 32))
	if plain {
		c = generic(c)
	}
	buf := make([]byte, 64<<10)
	e := c.NewEncrypter(make([]byte, BlockSize))
	b.SetBytes(int64(len(buf)))
	for b.Loop() {
		e.XORKeyStream(buf, buf)
	}
}

func benchKeyStream(b *testing.B, plain bool) {
	c, _ := New(make([]byte, 32))
	if plain {
		c = generic(c)
	}
	ct := make([]byte, 64<<10)
	ks := make([]byte, len(ct))
	var prev [BlockSize]byte
	b.SetBytes(int64(len(ct)))
	for b.Loop() {
		c.KeyStream(ks, ct, &prev)
	}
}

// Writes longer than maxRun go to the assembly in pieces, chained right.
func TestLongRuns(t *testing.T) {
	rng := rand.New(rand.NewSource(3))
	key := make([]byte, 32)
	rng.Read(key)
	src := make([]byte, 3*maxRun+8*BlockSize+5)
	rng.Read(src)
	check(t, key, make([]byte, BlockSize), src, []int{len(src)}, len(src))
	check(t, key, make([]byte, BlockSize), src, []int{maxRun + 3}, maxRun+8*BlockSize)
}

// Misuse panics rather than writing past dst's length or computing a
// wrong key stream.
func TestMisusePanics(t *testing.T) {
	c, err := New(make([]byte, 16))
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 256)
	var prev [BlockSize]byte
	mustPanic(t, map[string]func(){
		"short dst":              func() { c.NewEncrypter(make([]byte, 16)).XORKeyStream(buf[:0:100], buf[100:110]) },
		"overlapping dst":        func() { c.NewEncrypter(make([]byte, 16)).XORKeyStream(buf[1:65], buf[:64]) },
		"short key stream":       func() { c.KeyStream(buf[:10], buf[100:200], &prev) },
		"key stream in place":    func() { c.KeyStream(buf[:128], buf[:128], &prev) },
		"overlapping key stream": func() { c.KeyStream(buf[64:192], buf[:128], &prev) },
		"short IV":               func() { c.NewEncrypter(make([]byte, 8)) },
	})
}

// No assembly call takes more than maxRun bytes (a goroutine in one is
// out of the scheduler's reach), however long the input; and the long
// inputs do go to the assembly.
func TestAssemblyRuns(t *testing.T) {
	c, err := New(make([]byte, 32))
	if err != nil {
		t.Fatal(err)
	}
	if c.rounds == 0 {
		t.Skip("no assembly here")
	}
	asmCalls.Record(t)
	buf := make([]byte, 5*maxRun+100)
	ks := make([]byte, len(buf))
	var iv [BlockSize]byte
	c.NewEncrypter(iv[:]).XORKeyStream(buf, buf)
	c.KeyStream(ks, buf, &iv)
	noVAES(c).KeyStream(ks, buf, &iv)
	c.XORKeyStreamAt(buf, buf, &iv, 7)
	if calls, most := asmCalls.Calls(); most > maxRun || calls < 4*5 {
		t.Fatalf("%d assembly calls, the largest %d bytes (maxRun %d)", calls, most, maxRun)
	}
}

// mustPanic runs each case and fails those that do not panic.
func mustPanic(t *testing.T, cases map[string]func()) {
	t.Helper()
	for name, f := range cases {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("%s: no panic", name)
				}
			}()
			f()
		}()
	}
}
