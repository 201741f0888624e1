package cms

import (
	"crypto/cipher"
	"crypto/subtle"
	"encoding/binary"
	"errors"

	"github.com/mailseal/mailseal/internal/aesmode"
)

// gcmMaxBytes is GCM's limit on one message: 2^39-256 bits.
const gcmMaxBytes = 1<<36 - 32

var errGCMTooLong = errors.New("content exceeds the GCM limit of 64 GiB")

// streamingGCM is one GCM operation (NIST SP 800-38D) over content that
// arrives in pieces: AES in GCM's counter mode for the data, GHASH (ghash.go)
// for the tag. It gives byte-for-byte the output of crypto/cipher's GCM for
// the same key, nonce and additional data, without holding the content.
//
// The additional data is passed at the end (tag), because CMS puts
// authAttrs after the content; GHASH's linearity lets its contribution be
// added last (multiplied by H^(number of ciphertext blocks)).
type streamingGCM struct {
	block  cipher.Block
	ctr    gcmCounter
	hash   ghash
	j0     [16]byte
	length uint64
	// nonce96: the nonce was 96 bits, the first 12 bytes of j0.
	nonce96 bool
}

// newStreamingGCM starts a GCM operation with an AES key (16, 24 or 32
// bytes).
func newStreamingGCM(key, nonce []byte) (*streamingGCM, error) {
	c, err := aesmode.New(key)
	if err != nil {
		return nil, err
	}
	block := c.Block()
	if len(nonce) == 0 {
		return nil, errors.New("GCM nonce is empty")
	}
	var h [16]byte
	block.Encrypt(h[:], h[:])
	g := &streamingGCM{block: block, hash: newGHASH(h[:])}
	g.hash.fast = newFastGHASH(block, g.hash.key)
	if len(nonce) == 12 {
		copy(g.j0[:], nonce)
		g.j0[15] = 1
		g.nonce96 = true
	} else {
		// J0 = GHASH(nonce || padding || 0^64 || [len(nonce)]_64)
		nh := newGHASH(h[:])
		nh.update(nonce)
		nh.pad()
		var lengths [16]byte
		binary.BigEndian.PutUint64(lengths[8:], uint64(len(nonce))*8)
		nh.block(lengths[:])
		nh.acc.store(g.j0[:])
	}
	first := g.j0
	binary.BigEndian.PutUint32(first[12:], binary.BigEndian.Uint32(first[12:])+1)
	g.ctr = newGCMCounter(c, first)
	return g, nil
}

// seal encrypts src into dst (which may be src itself).
func (g *streamingGCM) seal(dst, src []byte) error {
	if g.length+uint64(len(src)) > gcmMaxBytes {
		return errGCMTooLong
	}
	g.ctr.XORKeyStream(dst[:len(src)], src)
	g.hash.update(dst[:len(src)])
	g.length += uint64(len(src))
	return nil
}

// sealWhole appends to dst the encryption of src, the whole content, and
// returns the tag (no additional data): what seal and then tag give,
// when nothing was sealed before and the nonce is 96 bits. It is one
// crypto/cipher GCM Seal, which folds GHASH with the CPU's carry-less
// multiplication even for short content, where the streaming path folds
// in software (below firstRunBlocks): GHASH was a twentieth of the time of
// a batch of small S/MIME messages. It ends the operation: neither seal
// nor tag may follow. ok is false where it does not apply.
func (g *streamingGCM) sealWhole(dst, src []byte) (out []byte, tag [16]byte, ok bool) {
	f := g.hash.fast
	if f == nil || !g.nonce96 || g.length != 0 || g.hash.nbuf != 0 || g.hash.blocks != 0 || uint64(len(src)) > gcmMaxBytes {
		return nil, tag, false
	}
	n := len(dst)
	sealed := f.aead.Seal(dst, g.j0[:12], src, nil)
	copy(tag[:], sealed[n+len(src):])
	g.length = uint64(len(src))
	return sealed[:n+len(src)], tag, true
}

// open decrypts src into dst (which may be src itself). The plaintext must
// be withheld until tag has been checked.
func (g *streamingGCM) open(dst, src []byte) error {
	if g.length+uint64(len(src)) > gcmMaxBytes {
		return errGCMTooLong
	}
	g.hash.update(src)
	g.ctr.XORKeyStream(dst[:len(src)], src)
	g.length += uint64(len(src))
	return nil
}

// tag returns the full 16-byte tag over aad and all data so far.
func (g *streamingGCM) tag(aad []byte) [16]byte {
	g.hash.pad()
	h := g.hash.key
	x := g.hash.acc
	if len(aad) > 0 {
		ah := ghash{key: h}
		ah.update(aad)
		ah.pad()
		a := ah.acc.mul(h.pow(g.hash.blocks))
		x = fieldElement{x.lo ^ a.lo, x.hi ^ a.hi}
	}
	var lengths [16]byte
	binary.BigEndian.PutUint64(lengths[0:], uint64(len(aad))*8)
	binary.BigEndian.PutUint64(lengths[8:], g.length*8)
	l := loadElement(lengths[:])
	x = fieldElement{x.lo ^ l.lo, x.hi ^ l.hi}.mul(h)
	var t, mask [16]byte
	x.store(t[:])
	g.block.Encrypt(mask[:], g.j0[:])
	subtle.XORBytes(t[:], t[:], mask[:])
	return t
}

// checkTag compares the received tag (12 to 16 bytes, a truncation of the
// full tag) in constant time.
func (g *streamingGCM) checkTag(aad, received []byte) bool {
	if len(received) < 12 || len(received) > 16 {
		return false
	}
	t := g.tag(aad)
	return subtle.ConstantTimeCompare(t[:len(received)], received) == 1
}

// gcmCounter is GCM's counter mode: only the low 32 bits of the counter
// block are incremented (inc32). AES-CTR as aesmode does it increments all
// 128 bits, which is the same until the low word wraps; that can only
// happen for nonces that are not 96 bits long (J0 derived by GHASH), and
// then the stream is restarted with the low word at zero. aesmode runs
// sixteen blocks side by side where the processor has 256-bit VAES (about
// twice crypto/cipher's CTR with AES-256), crypto/cipher's CTR elsewhere.
type gcmCounter struct {
	aes       *aesmode.Cipher
	counter   [16]byte // counter block the current stream started at
	pos       uint64   // bytes of the current stream used
	untilWrap uint64   // bytes the current stream may still produce
}

func newGCMCounter(c *aesmode.Cipher, first [16]byte) gcmCounter {
	low := uint64(binary.BigEndian.Uint32(first[12:]))
	return gcmCounter{
		aes:       c,
		counter:   first,
		untilWrap: (1<<32 - low) * 16,
	}
}

func (c *gcmCounter) XORKeyStream(dst, src []byte) {
	for len(src) > 0 {
		if c.untilWrap == 0 {
			binary.BigEndian.PutUint32(c.counter[12:], 0)
			c.pos = 0
			c.untilWrap = 1 << 32 * 16
		}
		n := len(src)
		if uint64(n) > c.untilWrap {
			n = int(c.untilWrap)
		}
		c.aes.XORKeyStreamAt(dst[:n], src[:n], &c.counter, c.pos)
		c.pos += uint64(n)
		c.untilWrap -= uint64(n)
		dst, src = dst[n:], src[n:]
	}
}
