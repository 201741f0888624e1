package pgp

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/sha1"
	"crypto/subtle"
	"hash"
	"io"

	pgperrors "github.com/ProtonMail/go-crypto/openpgp/errors"
	"github.com/ProtonMail/go-crypto/openpgp/packet"
)

// mdcPacketSize is the size of the MDC packet that ends the plaintext of
// a version 1 SEIPD packet: tag 0xD3, length 20, SHA-1 digest.
const mdcPacketSize = 2 + sha1.Size

// seipdV1ChunkSize is how much ciphertext is decrypted at a time.
const seipdV1ChunkSize = 64 << 10

// seipdV1Reader decrypts the body of a version 1 SEIPD packet (RFC 9580
// 5.13.1) encrypted with AES: CFB mode with an all-zero IV, a random
// prefix of one block plus two bytes, the plaintext, then an MDC packet
// holding the SHA-1 of everything before its digest.
//
// It does what go-crypto's SymmetricallyEncrypted.Decrypt does, several
// times faster: go-crypto's OpenPGP CFB works a byte at a time, while CFB
// decryption can compute the key stream of a whole chunk at once (each
// block's key stream is the encryption of the previous ciphertext block).
//
// The last 22 bytes read are withheld, and the MDC is checked when the
// ciphertext ends: Read returns io.EOF only if it matches, and
// pgperrors.ErrMDCHashMismatch or ErrMDCMissing otherwise. The plaintext
// returned before that is not yet authenticated: the caller must read to
// the end before releasing any of it.
type seipdV1Reader struct {
	in    io.Reader
	block cipher.Block
	iv    [aes.BlockSize]byte // the previous ciphertext block
	// buf[start:dec] is decrypted plaintext not yet returned (the last
	// mdcPacketSize bytes of it withheld), buf[dec:n] ciphertext not yet
	// decrypted (less than a block unless more was read).
	buf           []byte
	keyStream     []byte
	start, dec, n int
	prefixLeft    int // prefix bytes still to be skipped (they are hashed)
	h             hash.Hash
	eof           bool  // in is exhausted
	err           error // sticky: io.EOF once the MDC matched
}

// newSEIPDV1Reader returns the plaintext of the SEIPD body in, or ok false
// if the cipher is not AES (then go-crypto's reader is used).
func newSEIPDV1Reader(in io.Reader, c packet.CipherFunction, key []byte) (r io.ReadCloser, ok bool, err error) {
	switch c {
	case packet.CipherAES128, packet.CipherAES192, packet.CipherAES256:
	default:
		return nil, false, nil
	}
	if len(key) != c.KeySize() {
		return nil, true, pgperrors.InvalidArgumentError("SEIPD: wrong session key length")
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, true, err
	}
	return &seipdV1Reader{
		in:         in,
		block:      block,
		buf:        make([]byte, seipdV1ChunkSize+2*aes.BlockSize+mdcPacketSize),
		keyStream:  make([]byte, seipdV1ChunkSize+2*aes.BlockSize+mdcPacketSize),
		prefixLeft: aes.BlockSize + 2,
		h:          sha1.New(),
	}, true, nil
}

func (r *seipdV1Reader) Read(p []byte) (int, error) {
	for {
		if r.err != nil {
			return 0, r.err
		}
		if r.prefixLeft > 0 && r.dec-r.start > 0 {
			k := min(r.prefixLeft, r.dec-r.start)
			r.h.Write(r.buf[r.start : r.start+k])
			r.start += k
			r.prefixLeft -= k
		}
		if avail := r.dec - r.start - mdcPacketSize; r.prefixLeft == 0 && avail > 0 {
			if len(p) == 0 {
				return 0, nil
			}
			m := copy(p, r.buf[r.start:r.start+avail])
			r.h.Write(p[:m])
			r.start += m
			return m, nil
		}
		if r.eof && r.dec == r.n {
			r.err = r.checkMDC()
			continue
		}
		r.fill()
	}
}

// checkMDC is called once all the ciphertext is decrypted.
func (r *seipdV1Reader) checkMDC() error {
	if r.prefixLeft > 0 || r.dec-r.start != mdcPacketSize {
		return pgperrors.ErrMDCMissing
	}
	mdc := r.buf[r.start:r.dec]
	r.h.Write(mdc[:2])
	sum := r.h.Sum(nil)
	if subtle.ConstantTimeCompare(sum, mdc[2:]) != 1 || mdc[0] != 0xD3 || mdc[1] != sha1.Size {
		return pgperrors.ErrMDCHashMismatch
	}
	return io.EOF
}

// fill reads more ciphertext and decrypts every whole block of it (and
// the last, partial block at the end of the data).
func (r *seipdV1Reader) fill() {
	copy(r.buf, r.buf[r.start:r.n])
	r.n -= r.start
	r.dec -= r.start
	r.start = 0
	for !r.eof && r.n-r.dec < aes.BlockSize {
		m, err := r.in.Read(r.buf[r.n:])
		r.n += m
		if err == io.EOF {
			r.eof = true
		} else if err != nil {
			r.err = err
			return
		}
	}
	end := r.dec + (r.n-r.dec)/aes.BlockSize*aes.BlockSize
	if r.eof {
		end = r.n
	}
	ct := r.buf[r.dec:end]
	ks := r.keyStream[:len(ct)]
	// Key stream first (independent block encryptions, which the CPU
	// overlaps), then one XOR over the chunk.
	prev := r.iv[:]
	for off := 0; off < len(ct); off += aes.BlockSize {
		if off+aes.BlockSize <= len(ct) {
			r.block.Encrypt(ks[off:off+aes.BlockSize], prev)
			prev = ct[off : off+aes.BlockSize]
			continue
		}
		var last [aes.BlockSize]byte
		r.block.Encrypt(last[:], prev)
		copy(ks[off:], last[:])
	}
	if len(ct) >= aes.BlockSize {
		copy(r.iv[:], ct[(len(ct)/aes.BlockSize-1)*aes.BlockSize:])
	}
	subtle.XORBytes(ct, ct, ks)
	r.dec = end
}

// Close reads what is left and reports whether the MDC matched.
func (r *seipdV1Reader) Close() error {
	var scratch [4096]byte
	for r.err == nil {
		_, _ = r.Read(scratch[:])
	}
	if r.err == io.EOF {
		return nil
	}
	return r.err
}
