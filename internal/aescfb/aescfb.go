// Package aescfb is AES in CFB mode (NIST SP 800-38A, CFB-128), the cipher
// of OpenPGP's version 1 SEIPD packets, for the pgp package's SEIPDv1
// reader and writer.
//
// CFB encryption is serial: each block's key stream is the encryption of
// the ciphertext block before it, so one message cannot use more than one
// core for it, and encrypting a large message with a version 4 key is
// bounded by how fast one core chains AES encryptions. Calling
// crypto/aes's cipher.Block once per block costs about 40 % more than the
// AES rounds themselves (the call, its checks, the XOR and the copy
// around it): BenchmarkEncrypter runs at about 880 MB/s with AES-256 on
// the 2-core machine of BENCHMARKS.md, BenchmarkEncrypterGeneric (the
// same through cipher.Block) at about 650, and pgp's encrypter before this
// package at 590. CFB decryption is parallel by block (each key stream
// block is the encryption of a ciphertext block already there): KeyStream
// encrypts eight blocks side by side, at about 6.1 GB/s against 1.1 for
// one call per block (BenchmarkKeyStream, BenchmarkKeyStreamGeneric).
//
// Both run in assembly (cfb_amd64.s) on amd64 processors with AES-NI and
// AVX, using round keys this package expands from the key (FIPS 197,
// section 5.2); elsewhere, or with the purego build tag, crypto/aes does
// every block. TestMatchesStdlib and FuzzEncrypter compare the results
// with crypto/cipher's CFB for every key size, with writes of every size
// and alignment; TestSP80038A checks NIST's CFB128 vectors and
// TestKeyExpansion FIPS 197's expanded keys and the round keys' use
// against crypto/aes for random keys (scripts/test.sh also runs the
// package with purego).
package aescfb

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/subtle"
	"encoding/binary"
	"sync"
)

// BlockSize is AES's block size.
const BlockSize = aes.BlockSize

// Cipher is an AES key ready for CFB mode.
type Cipher struct {
	block  cipher.Block
	rounds int      // 10, 12 or 14, or 0 where the assembly does not run
	xk     []uint32 // rounds+1 round keys, in memory order, for the assembly
}

// New returns the cipher of an AES-128, AES-192 or AES-256 key.
func New(key []byte) (*Cipher, error) {
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	c := &Cipher{block: block}
	if haveAESNI {
		c.xk, c.rounds = expandKey(key)
	}
	return c, nil
}

// Encrypter encrypts in CFB mode, a stream of any length written in
// pieces of any size.
type Encrypter struct {
	c    *Cipher
	reg  [BlockSize]byte // the last ciphertext block (the IV at first)
	ks   [BlockSize]byte // its encryption: the key stream of the current block
	used int             // bytes of ks used
}

// NewEncrypter returns an encrypter starting from iv (BlockSize bytes).
func (c *Cipher) NewEncrypter(iv []byte) *Encrypter {
	e := &Encrypter{c: c, used: BlockSize}
	copy(e.reg[:], iv)
	return e
}

// XORKeyStream encrypts src into dst, which may be src itself but must
// not overlap it otherwise.
func (e *Encrypter) XORKeyStream(dst, src []byte) {
	dst = dst[:len(src)]
	for len(src) > 0 {
		if e.used == BlockSize && len(src) >= BlockSize {
			n := e.c.encryptBlocks(&e.reg, dst, src)
			dst, src = dst[n:], src[n:]
			continue
		}
		if e.used == BlockSize {
			e.c.block.Encrypt(e.ks[:], e.reg[:])
			e.used = 0
		}
		n := subtle.XORBytes(dst, src, e.ks[e.used:])
		copy(e.reg[e.used:], dst[:n])
		e.used += n
		dst, src = dst[n:], src[n:]
	}
}

// encryptBlocks encrypts the whole blocks at the start of src into dst,
// chaining from reg (which it updates), and returns how many bytes.
func (c *Cipher) encryptBlocks(reg *[BlockSize]byte, dst, src []byte) int {
	n := len(src) / BlockSize * BlockSize
	if c.rounds != 0 {
		encryptBlocksAESNI(c.rounds, &c.xk[0], &reg[0], &dst[0], &src[0], n/BlockSize)
		return n
	}
	for off := 0; off < n; off += BlockSize {
		c.block.Encrypt(reg[:], reg[:])
		subtle.XORBytes(reg[:], reg[:], src[off:off+BlockSize])
		copy(dst[off:], reg[:])
	}
	return n
}

// KeyStream writes into ks the CFB decryption key stream of the ciphertext
// ct, whose first block follows the ciphertext block prev (the IV at the
// start): for each block of ct, the encryption of the ciphertext block
// before it; for a last partial block, the key stream of its bytes. ks
// must be as long as ct and must not overlap it. The plaintext is ct XOR
// ks.
func (c *Cipher) KeyStream(ks, ct []byte, prev *[BlockSize]byte) {
	ks = ks[:len(ct)]
	whole := len(ct) / BlockSize * BlockSize
	done := 0
	if c.rounds != 0 && whole >= 8*BlockSize {
		groups := whole / (8 * BlockSize)
		keyStream8AESNI(c.rounds, &c.xk[0], &prev[0], &ct[0], &ks[0], groups)
		done = groups * 8 * BlockSize
	}
	for off := done; off < len(ct); off += BlockSize {
		from := prev[:]
		if off > 0 {
			from = ct[off-BlockSize : off]
		}
		if off+BlockSize <= len(ct) {
			c.block.Encrypt(ks[off:off+BlockSize], from)
			continue
		}
		var last [BlockSize]byte
		c.block.Encrypt(last[:], from)
		copy(ks[off:], last[:])
	}
}

// sbox is AES's S-box (FIPS 197, section 5.1.1), computed when a key is
// first expanded rather than when the program starts.
var sbox = sync.OnceValue(func() *[256]byte {
	var s [256]byte
	// p runs through the multiplicative group of GF(2^8) by powers of 3
	// and q through the inverses (powers of 3^-1); the S-box value of p
	// is the affine transformation of its inverse q.
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
	return &s
})

// expandKey is AES's key expansion (FIPS 197, section 5.2): the round keys
// of key, each four words in memory order (the bytes of the state they are
// XORed into), and the number of rounds.
func expandKey(key []byte) (xk []uint32, rounds int) {
	s := sbox()
	subWord := func(w uint32) uint32 {
		return uint32(s[w>>24])<<24 | uint32(s[w>>16&0xff])<<16 | uint32(s[w>>8&0xff])<<8 | uint32(s[w&0xff])
	}
	nk := len(key) / 4
	rounds = nk + 6
	w := make([]uint32, 4*(rounds+1))
	for i := range nk {
		w[i] = binary.BigEndian.Uint32(key[4*i:])
	}
	rcon := uint32(1)
	for i := nk; i < len(w); i++ {
		t := w[i-1]
		switch {
		case i%nk == 0:
			t = subWord(t<<8|t>>24) ^ rcon<<24
			rcon <<= 1
			if rcon&0x100 != 0 {
				rcon ^= 0x11b
			}
		case nk > 6 && i%nk == 4:
			t = subWord(t)
		}
		w[i] = w[i-nk] ^ t
	}
	for i, v := range w {
		var b [4]byte
		binary.BigEndian.PutUint32(b[:], v)
		w[i] = binary.LittleEndian.Uint32(b[:])
	}
	return w, rounds
}
