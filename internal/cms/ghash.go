package cms

import (
	"crypto/cipher"
	"encoding/binary"
	"math/bits"
)

// GHASH (NIST SP 800-38D section 6.4) for the streaming GCM in gcm.go.
//
// Go's crypto/cipher only offers GCM as a one-shot AEAD, but CMS
// AuthEnvelopedData authenticates the whole content with one GCM operation,
// so the content would have to sit in memory. This file provides GHASH
// incrementally; gcm.go combines it with AES-CTR.
//
// Representation: an element of GF(2^128) is held as two uint64 words in
// which bit i of lo is the coefficient of x^i (i < 64) and bit i of hi the
// coefficient of x^(64+i). GCM's own bit order puts the coefficient of x^0
// in the most significant bit of the first byte, so loading a block is a
// big-endian load plus a bit reversal of each word.
//
// Side channels: there are no table look-ups and no branches on secret data.
// The 64x64-bit carry-less products use ordinary integer multiplication on
// operands whose set bits are spaced four apart ("multiplication with
// holes"): in x&m_i * y&m_j every column sum is at most 16 and the carries
// of a column fit into the three hole bits above it, so each kept bit is
// the XOR (parity) of its column, that is, the carry-less product. Integer
// multiplication takes constant time on the platforms Go supports for this
// code (amd64, arm64). This is slower than a PCLMULQDQ implementation
// but constant-time enough for message encryption; long runs of content
// blocks go through fastGHASH instead, which crypto/cipher's GCM computes
// with the CPU's carry-less multiplication: BenchmarkGHASH measures 280
// MB/s block by block and 5.7 GB/s in runs of 64 KiB, 20 times as fast, so
// that GCM content is no longer limited by GHASH. The tests check both
// against crypto/cipher's GCM, NIST's CAVP and Wycheproof's vectors.

// fieldElement is an element of GCM's GF(2^128), modulus x^128+x^7+x^2+x+1.
type fieldElement struct{ lo, hi uint64 }

func loadElement(b []byte) fieldElement {
	return fieldElement{
		lo: bits.Reverse64(binary.BigEndian.Uint64(b[0:8])),
		hi: bits.Reverse64(binary.BigEndian.Uint64(b[8:16])),
	}
}

func (e fieldElement) store(b []byte) {
	binary.BigEndian.PutUint64(b[0:8], bits.Reverse64(e.lo))
	binary.BigEndian.PutUint64(b[8:16], bits.Reverse64(e.hi))
}

const (
	holes0 = 0x1111111111111111
	holes1 = 0x2222222222222222
	holes2 = 0x4444444444444444
	holes3 = 0x8888888888888888
)

// clmulLow returns the low 64 bits of the carry-less product x*y.
func clmulLow(x, y uint64) uint64 {
	x0, x1, x2, x3 := x&holes0, x&holes1, x&holes2, x&holes3
	y0, y1, y2, y3 := y&holes0, y&holes1, y&holes2, y&holes3
	z0 := x0*y0 ^ x1*y3 ^ x2*y2 ^ x3*y1
	z1 := x0*y1 ^ x1*y0 ^ x2*y3 ^ x3*y2
	z2 := x0*y2 ^ x1*y1 ^ x2*y0 ^ x3*y3
	z3 := x0*y3 ^ x1*y2 ^ x2*y1 ^ x3*y0
	return z0&holes0 | z1&holes1 | z2&holes2 | z3&holes3
}

// clmul returns the 128-bit carry-less product of x and y. The high half is
// the low half of the product of the bit-reversed operands, reversed back
// and shifted by one (the product has degree at most 126).
func clmul(x, y uint64) (lo, hi uint64) {
	lo = clmulLow(x, y)
	hi = bits.Reverse64(clmulLow(bits.Reverse64(x), bits.Reverse64(y))) >> 1
	return lo, hi
}

// mul returns a*b in GF(2^128) (Karatsuba: three 64-bit products).
func (a fieldElement) mul(b fieldElement) fieldElement {
	z0lo, z0hi := clmul(a.lo, b.lo)
	z2lo, z2hi := clmul(a.hi, b.hi)
	zmlo, zmhi := clmul(a.lo^a.hi, b.lo^b.hi)
	zmlo ^= z0lo ^ z2lo
	zmhi ^= z0hi ^ z2hi
	// 256-bit product p3:p2:p1:p0.
	p0, p1 := z0lo, z0hi^zmlo
	p2, p3 := z2lo^zmhi, z2hi
	// Reduce: U*x^128 = U*(x^7+x^2+x+1) for U = p3:p2. The shifted copies
	// spill at most 6 bits past x^127; fold those in the same way.
	w0 := p2 ^ p2<<1 ^ p2<<2 ^ p2<<7
	w1 := p3 ^ (p3<<1 | p2>>63) ^ (p3<<2 | p2>>62) ^ (p3<<7 | p2>>57)
	over := p3>>63 ^ p3>>62 ^ p3>>57
	w0 ^= over ^ over<<1 ^ over<<2 ^ over<<7
	return fieldElement{lo: p0 ^ w0, hi: p1 ^ w1}
}

// inverse returns a^-1 = a^(2^128-2) for a != 0.
func (a fieldElement) inverse() fieldElement {
	result := fieldElement{lo: 1}
	for i := 127; i >= 0; i-- {
		result = result.mul(result)
		if i > 0 { // every exponent bit is 1 except bit 0
			result = result.mul(a)
		}
	}
	return result
}

// pow returns a^n (n is public: the number of blocks).
func (a fieldElement) pow(n uint64) fieldElement {
	result := fieldElement{lo: 1} // the polynomial 1
	for base := a; n > 0; n >>= 1 {
		if n&1 == 1 {
			result = result.mul(base)
		}
		base = base.mul(base)
	}
	return result
}

// ghash accumulates GHASH_H over a sequence of 16-byte blocks; update
// buffers partial blocks, pad closes a string (zero-padding it to a block
// boundary, as GCM does for the AAD and the ciphertext).
type ghash struct {
	key    fieldElement
	acc    fieldElement
	buf    [16]byte
	nbuf   int
	blocks uint64     // blocks folded in so far
	fast   *fastGHASH // nil: block by block only
}

// fastGHASH computes GHASH over long runs of blocks with crypto/cipher's
// GCM, which uses the CPU's carry-less multiplication (PCLMULQDQ, PMULL):
// sealing nothing with the run as additional data under a fixed nonce gives
// tag = E_K(J0) ^ GHASH(run || L) = E_K(J0) ^ Poly(run)*H ^ L*H, where
// Poly(run) is what block-by-block folding adds to the accumulator and L is
// the length block. So Poly(run) = (tag ^ E_K(J0) ^ L*H) * H^-1, and the
// accumulator becomes acc*H^k ^ Poly(run) for a run of k blocks: two
// software multiplications per run instead of one per block.
type fastGHASH struct {
	aead   cipher.AEAD
	minRun int // shortest run (in blocks) taken: fastRunBlocks (tests lower it)
	// firstRun is the shortest first run (firstRunBlocks; tests lower
	// it): the first pays for H^-1.
	firstRun int
	mask     fieldElement // E_K(J0) for the all-zero nonce
	inv      fieldElement // H^-1, computed at the first run (zero until then)
	k        uint64       // run length the next two values are for
	hk       fieldElement // H^k
	lh       fieldElement // L*H for a run of k blocks
	tag      [16]byte
	nonce    [12]byte
}

// fastRunBlocks is the shortest run worth the fixed cost of the fast path;
// firstRunBlocks the shortest first run, which also pays for computing
// H^-1: below 4 KiB block-by-block folding is faster
// (BenchmarkGHASHFirstRun: 1 KiB 3.1 against 13.0 µs, 4 KiB 15.4 against
// 15.9, 8 KiB 31.2 against 16.8), and a small message has one short run.
const (
	fastRunBlocks  = 64
	firstRunBlocks = 256
)

// newFastGHASH returns the fast path for GHASH keyed by h = E_K(0) of
// block, or nil where crypto/cipher cannot provide it.
func newFastGHASH(block cipher.Block, h fieldElement) *fastGHASH {
	if h == (fieldElement{}) {
		return nil // H = 0 has no inverse (and GHASH is then constant)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil
	}
	f := &fastGHASH{aead: aead, minRun: fastRunBlocks, firstRun: firstRunBlocks}
	var j0 [16]byte
	j0[15] = 1
	block.Encrypt(j0[:], j0[:])
	f.mask = loadElement(j0[:])
	return f
}

// run folds the k = len(p)/16 whole blocks of p into g.
func (f *fastGHASH) run(g *ghash, p []byte) {
	k := uint64(len(p) / 16)
	if f.inv == (fieldElement{}) {
		f.inv = g.key.inverse() // 255 multiplications: not for content that never gets here
	}
	if k != f.k {
		var l [16]byte
		binary.BigEndian.PutUint64(l[0:8], k*128)
		f.k, f.hk, f.lh = k, g.key.pow(k), loadElement(l[:]).mul(g.key)
	}
	tag := f.aead.Seal(f.tag[:0], f.nonce[:], nil, p)
	t := loadElement(tag)
	poly := fieldElement{t.lo ^ f.mask.lo ^ f.lh.lo, t.hi ^ f.mask.hi ^ f.lh.hi}.mul(f.inv)
	acc := g.acc.mul(f.hk)
	g.acc = fieldElement{acc.lo ^ poly.lo, acc.hi ^ poly.hi}
	g.blocks += k
}

func newGHASH(key []byte) ghash { return ghash{key: loadElement(key)} }

func (g *ghash) block(b []byte) {
	x := loadElement(b)
	g.acc = fieldElement{g.acc.lo ^ x.lo, g.acc.hi ^ x.hi}.mul(g.key)
	g.blocks++
}

func (g *ghash) update(p []byte) {
	if g.nbuf > 0 {
		n := copy(g.buf[g.nbuf:], p)
		g.nbuf += n
		p = p[n:]
		if g.nbuf < 16 {
			return
		}
		g.block(g.buf[:])
		g.nbuf = 0
	}
	if f := g.fast; f != nil && len(p) >= f.minRun*16 && (f.inv != (fieldElement{}) || len(p) >= f.firstRun*16) {
		n := len(p) &^ 15
		g.fast.run(g, p[:n])
		p = p[n:]
	}
	for len(p) >= 16 {
		g.block(p[:16])
		p = p[16:]
	}
	g.nbuf = copy(g.buf[:], p)
}

func (g *ghash) pad() {
	if g.nbuf > 0 {
		clear(g.buf[g.nbuf:])
		g.block(g.buf[:])
		g.nbuf = 0
	}
}
