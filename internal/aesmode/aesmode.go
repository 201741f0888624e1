// Package aesmode is AES in the two modes mailseal runs over whole
// messages: CFB (NIST SP 800-38A, CFB-128), the cipher of OpenPGP's
// version 1 SEIPD packets, for the pgp package's SEIPDv1 reader and
// writer; and CTR, for the spool's temporary file and the counter mode of
// S/MIME's AES-GCM (internal/cms).
//
// CFB encryption is serial: each block's key stream is the encryption of
// the ciphertext block before it, so one message cannot use more than one
// core for it, and encrypting a large message with a version 4 key is
// bounded by how fast one core chains AES encryptions. Calling
// crypto/aes's cipher.Block once per block added two thirds to the AES
// rounds themselves (the call, its checks, the XOR and the copy around
// it: 100 ms beside the rounds' 150 in a profile of a 100 MiB message).
// The chain holds nothing but the rounds: round key 0 and the plaintext
// are folded into the last round's key (see encryptBlocksAESNI), which
// took BenchmarkEncrypter from about 876 MB/s to 901-910 with AES-256 on the
// 2-core machine of BENCHMARKS.md; BenchmarkEncrypterGeneric (the same through
// cipher.Block) at about 650, and pgp's encrypter before this package at
// 590. CFB decryption is parallel by block (each key stream block is the
// encryption of a ciphertext block already there): KeyStream encrypts
// sixteen blocks side by side, two to a 256-bit register, where the
// processor has VAES (about 11.7 GB/s with AES-256, BenchmarkKeyStream),
// and eight with 128-bit AES-NI where it has not (about 6.3 GB/s,
// BenchmarkKeyStreamNoVAES), against 1.2 for one call per block
// (BenchmarkKeyStreamGeneric). CTR (XORKeyStreamAt) runs sixteen blocks
// side by side with VAES too: BenchmarkCTR 16.4 GB/s with AES-128 and
// 12.2 with AES-256, against crypto/cipher's CTR (its own 128-bit
// AES-NI assembly) at 7.8 and 5.9; without VAES, crypto/cipher's CTR does
// it all.
//
// The loops run in assembly (aes_amd64.s) on amd64 processors with AES-NI
// and AVX (elsewhere, amd64 without them included, crypto/aes does every
// block; VAES is asked of CPUID, since golang.org/x/sys/cpu reports it
// only with AVX-512, and needs AVX2 too), using round keys this package
// expands from the key (FIPS 197, section 5.2) with SubWord done by
// AESENCLAST, so that, as in crypto/aes on such processors, no table is
// indexed by key bytes; with the purego build tag too, crypto/aes does
// every block. The assembly runs at most maxRun bytes per call, so that a
// goroutine is never long out of the scheduler's reach.
//
// Tests: TestMatchesStdlib and FuzzEncrypter compare CFB with
// crypto/cipher's for every key size, written in pieces of many sizes, in
// place and not; TestCTRMatchesStdlib, TestCTRLongRuns and FuzzCTR
// compare CTR with crypto/cipher's from any offset, with counters about to
// wrap; TestBounds puts every buffer against an unmapped page, before and
// after it. These run every path this processor has (generic, AES-NI, and
// VAES; CTR has no AES-NI path of its own), and are what checks the
// assembly's 8- and 16-block groups against crypto/cipher. NIST's vectors
// (TestSP80038A, TestSP80038ACTR: four blocks) check the single-block
// paths and the API; TestKeyExpansion checks FIPS 197's expanded keys and
// S-box, and TestRoundKeysAgainstCryptoAES the round keys' use against
// crypto/aes for random keys. scripts/test.sh also runs the package with
// purego, and internal/cms's GCM tests (Wycheproof and NIST vectors, and
// crypto/cipher's GCM on messages up to 1 MiB) run through its CTR.
package aesmode

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/subtle"
	"encoding/binary"
	"unsafe"

	"github.com/mailseal/mailseal/internal/asmrun"
)

// BlockSize is AES's block size.
const BlockSize = aes.BlockSize

// Cipher is an AES key ready for CFB and CTR mode.
type Cipher struct {
	block  cipher.Block
	rounds int      // 10, 12 or 14, or 0 where the assembly does not run
	xk     []uint32 // rounds+1 round keys, in memory order, for the assembly
	xk2    []uint32 // each of xk's round keys twice, for 256-bit VAES; nil without it
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
		if haveVAES() {
			c.xk2 = make([]uint32, 0, 2*len(c.xk))
			for r := 0; r < len(c.xk); r += 4 {
				c.xk2 = append(c.xk2, c.xk[r:r+4]...)
				c.xk2 = append(c.xk2, c.xk[r:r+4]...)
			}
		}
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

// maxRun is the most the assembly handles in one call.
const maxRun = 64 << 10

// asmCalls is told the bytes of each assembly call (TestAssemblyRuns
// checks them against maxRun).
var asmCalls asmrun.Hook

// NewEncrypter returns an encrypter starting from iv (BlockSize bytes).
func (c *Cipher) NewEncrypter(iv []byte) *Encrypter {
	if len(iv) != BlockSize {
		panic("aesmode: IV length is not the block size")
	}
	e := &Encrypter{c: c, used: BlockSize}
	copy(e.reg[:], iv)
	return e
}

// XORKeyStream encrypts src into dst, which may be src itself but must
// not overlap it otherwise. It panics if dst is shorter than src.
func (e *Encrypter) XORKeyStream(dst, src []byte) {
	if len(dst) < len(src) {
		panic("aesmode: output smaller than input")
	}
	if inexactOverlap(dst[:len(src)], src) {
		panic("aesmode: invalid buffer overlap")
	}
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
	n := min(len(src), maxRun) / BlockSize * BlockSize
	if c.rounds != 0 {
		asmCalls.Called(n)
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
// must be at least as long as ct and must not overlap it (it panics
// otherwise). The plaintext is ct XOR ks.
func (c *Cipher) KeyStream(ks, ct []byte, prev *[BlockSize]byte) {
	if len(ks) < len(ct) {
		panic("aesmode: key stream buffer smaller than the ciphertext")
	}
	ks = ks[:len(ct)]
	if overlap(ks, ct) {
		panic("aesmode: key stream buffer overlaps the ciphertext")
	}
	done := 0
	// Groups of 16 blocks with VAES, then of 8 with AES-NI, then one by one.
	for _, g := range [...]struct {
		blocks int
		run    func(from, ct, ks *byte, groups int)
	}{
		{16, func(from, ct, ks *byte, groups int) { keyStream16VAES(c.rounds, &c.xk2[0], from, ct, ks, groups) }},
		{8, func(from, ct, ks *byte, groups int) { keyStream8AESNI(c.rounds, &c.xk[0], from, ct, ks, groups) }},
	} {
		if g.blocks == 16 && c.xk2 == nil || c.rounds == 0 {
			continue
		}
		for len(ct)-done >= g.blocks*BlockSize {
			groups := min(len(ct)-done, maxRun) / (g.blocks * BlockSize)
			from := prev
			if done > 0 {
				from = (*[BlockSize]byte)(ct[done-BlockSize : done])
			}
			asmCalls.Called(groups * g.blocks * BlockSize)
			g.run(&from[0], &ct[done], &ks[done], groups)
			done += groups * g.blocks * BlockSize
		}
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

// expandKey is AES's key expansion (FIPS 197, section 5.2): the round keys
// of key, each four words in memory order (the bytes of the state they are
// XORed into), and the number of rounds.
//
// It runs only where the assembly does: SubWord is subWordAESNI.
func expandKey(key []byte) (xk []uint32, rounds int) {
	subWord := subWordAESNI
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

// overlap reports whether x and y share any byte; inexactOverlap whether
// they do other than by starting at the same place (in-place use).
func overlap(x, y []byte) bool {
	if len(x) == 0 || len(y) == 0 {
		return false
	}
	xs, ys := uintptr(unsafe.Pointer(&x[0])), uintptr(unsafe.Pointer(&y[0]))
	return xs < ys+uintptr(len(y)) && ys < xs+uintptr(len(x))
}

func inexactOverlap(x, y []byte) bool {
	if len(x) == 0 || len(y) == 0 || &x[0] == &y[0] {
		return false
	}
	return overlap(x, y)
}
