package cms

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/des"
	"crypto/rand"
	"crypto/subtle"
	"encoding/asn1"
	"errors"
	"fmt"
	"io"
	"slices"

	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"
)

// contentAlgorithm is a parsed ContentEncryptionAlgorithmIdentifier.
type contentAlgorithm struct {
	name   string // "AES-256-GCM", "3DES-CBC", ...
	gcm    bool
	keyLen int
	iv     []byte // CBC IV or GCM nonce
	icvLen int    // GCM tag length (12..16)
	des3   bool
}

func (a contentAlgorithm) newBlock(key []byte) (cipher.Block, error) {
	if err := a.checkKey(key); err != nil {
		return nil, err
	}
	if a.des3 {
		return des.NewTripleDESCipher(key)
	}
	return aes.NewCipher(key)
}

// parseContentAlgorithm reads the algorithm OID and its DER parameters.
func parseContentAlgorithm(oid asn1.ObjectIdentifier, params []byte) (contentAlgorithm, error) {
	var a contentAlgorithm
	switch {
	case oid.Equal(oidAES128CBC):
		a = contentAlgorithm{name: "AES-128-CBC", keyLen: 16}
	case oid.Equal(oidAES192CBC):
		a = contentAlgorithm{name: "AES-192-CBC", keyLen: 24}
	case oid.Equal(oidAES256CBC):
		a = contentAlgorithm{name: "AES-256-CBC", keyLen: 32}
	case oid.Equal(oidDESEDE3CBC):
		a = contentAlgorithm{name: "3DES-CBC", keyLen: 24, des3: true}
	case oid.Equal(oidAES128GCM):
		a = contentAlgorithm{name: "AES-128-GCM", keyLen: 16, gcm: true}
	case oid.Equal(oidAES192GCM):
		a = contentAlgorithm{name: "AES-192-GCM", keyLen: 24, gcm: true}
	case oid.Equal(oidAES256GCM):
		a = contentAlgorithm{name: "AES-256-GCM", keyLen: 32, gcm: true}
	default:
		return a, fmt.Errorf("unsupported content-encryption algorithm %v", oid)
	}
	in := cryptobyte.String(params)
	if !a.gcm {
		// IV ::= OCTET STRING
		blockSize := 16
		if a.des3 {
			blockSize = 8
		}
		var iv cryptobyte.String
		if !in.ReadASN1(&iv, cbasn1.OCTET_STRING) || !in.Empty() || len(iv) != blockSize {
			return a, fmt.Errorf("%s: bad IV parameter", a.name)
		}
		a.iv = iv
		return a, nil
	}
	// GCMParameters ::= SEQUENCE { aes-nonce OCTET STRING, aes-ICVlen INTEGER DEFAULT 12 }
	var seq, nonce cryptobyte.String
	if !in.ReadASN1(&seq, cbasn1.SEQUENCE) || !in.Empty() || !seq.ReadASN1(&nonce, cbasn1.OCTET_STRING) {
		return a, fmt.Errorf("%s: bad GCMParameters", a.name)
	}
	a.icvLen = 12
	if !seq.Empty() {
		if !seq.ReadASN1Integer(&a.icvLen) || !seq.Empty() {
			return a, fmt.Errorf("%s: bad GCMParameters", a.name)
		}
	}
	if a.icvLen < 12 || a.icvLen > 16 {
		return a, fmt.Errorf("%s: unsupported tag length %d", a.name, a.icvLen)
	}
	if len(nonce) < 1 || len(nonce) > 64 {
		return a, fmt.Errorf("%s: unsupported nonce length %d", a.name, len(nonce))
	}
	a.iv = nonce
	return a, nil
}

// contentDecrypter decrypts the content stream into out (a spool that
// withholds it); finish checks the tag or the padding.
type contentDecrypter interface {
	decrypt(out io.Writer, ciphertext []byte) error
	// finish returns false on any integrity failure; mac and aad are used
	// by GCM only.
	finish(out io.Writer, mac, aad []byte) (bool, error)
}

// checkKey refuses a content-encryption key of the wrong length for a (a
// key transport can deliver any length).
func (a contentAlgorithm) checkKey(key []byte) error {
	if len(key) != a.keyLen {
		return errors.New("content-encryption key has the wrong length")
	}
	return nil
}

func newContentDecrypter(alg contentAlgorithm, key []byte) (contentDecrypter, error) {
	if alg.gcm {
		if err := alg.checkKey(key); err != nil {
			return nil, err
		}
		g, err := newStreamingGCM(key, alg.iv)
		if err != nil {
			return nil, err
		}
		return &gcmDecrypter{gcm: g, icvLen: alg.icvLen}, nil
	}
	block, err := alg.newBlock(key)
	if err != nil {
		return nil, err
	}
	return &cbcDecrypter{mode: cipher.NewCBCDecrypter(block, alg.iv), blockSize: block.BlockSize()}, nil
}

type gcmDecrypter struct {
	gcm    *streamingGCM
	icvLen int
	buf    []byte
}

func (d *gcmDecrypter) decrypt(out io.Writer, ciphertext []byte) error {
	if cap(d.buf) < len(ciphertext) {
		d.buf = make([]byte, len(ciphertext))
	}
	buf := d.buf[:len(ciphertext)]
	if err := d.gcm.open(buf, ciphertext); err != nil {
		return err
	}
	_, err := out.Write(buf)
	return err
}

func (d *gcmDecrypter) finish(out io.Writer, mac, aad []byte) (bool, error) {
	return len(mac) == d.icvLen && d.gcm.checkTag(aad, mac), nil
}

// cbcDecrypter keeps the last ciphertext block back until the end, where
// the PKCS #7 padding is checked without branching on its bytes.
type cbcDecrypter struct {
	mode      cipher.BlockMode
	blockSize int
	pending   []byte // ciphertext not yet decrypted (< 2 blocks after each call)
	buf       []byte
}

func (d *cbcDecrypter) decrypt(out io.Writer, ciphertext []byte) error {
	d.pending = append(d.pending, ciphertext...)
	// decrypt all whole blocks except the last one
	n := (len(d.pending) - 1) / d.blockSize * d.blockSize
	if n <= 0 {
		return nil
	}
	if cap(d.buf) < n {
		d.buf = make([]byte, n)
	}
	buf := d.buf[:n]
	d.mode.CryptBlocks(buf, d.pending[:n])
	rest := copy(d.pending, d.pending[n:])
	d.pending = d.pending[:rest]
	_, err := out.Write(buf)
	return err
}

func (d *cbcDecrypter) finish(out io.Writer, _, _ []byte) (bool, error) {
	if len(d.pending) != d.blockSize {
		return false, nil
	}
	last := make([]byte, d.blockSize)
	d.mode.CryptBlocks(last, d.pending)
	padLen := int(last[len(last)-1])
	good := subtle.ConstantTimeLessOrEq(1, padLen) & subtle.ConstantTimeLessOrEq(padLen, d.blockSize)
	for i := 1; i <= d.blockSize; i++ {
		inPad := subtle.ConstantTimeLessOrEq(i, padLen)
		match := subtle.ConstantTimeByteEq(last[len(last)-i], byte(padLen))
		good &= subtle.ConstantTimeSelect(inPad, match, 1)
	}
	if good != 1 {
		return false, nil
	}
	_, err := out.Write(last[:d.blockSize-padLen])
	return true, err
}

// Content encryption for Encrypt.

type contentEncrypter interface {
	// encrypt appends to dst the ciphertext for plaintext (possibly
	// holding part of it back).
	encrypt(dst, plaintext []byte) ([]byte, error)
	// finish appends the remaining ciphertext to dst, and returns the tag
	// too, for GCM.
	finish(dst []byte) (ciphertext, mac []byte)
}

// wholeSealer is a contentEncrypter that can encrypt and finish content
// that comes whole, in one call, faster than encrypt and finish.
type wholeSealer interface {
	sealWhole(dst, plaintext []byte) (ciphertext, mac []byte, ok bool)
}

// newContentEncryption picks a fresh key and IV/nonce for c and returns the
// encrypter, the key, and the DER AlgorithmIdentifier.
func newContentEncryption(c Cipher) (contentEncrypter, []byte, []byte, error) {
	var oid asn1.ObjectIdentifier
	var keyLen int
	switch c {
	case AES256GCM:
		oid, keyLen = oidAES256GCM, 32
	case AES128GCM:
		oid, keyLen = oidAES128GCM, 16
	case AES256CBC:
		oid, keyLen = oidAES256CBC, 32
	case AES128CBC:
		oid, keyLen = oidAES128CBC, 16
	default:
		return nil, nil, nil, fmt.Errorf("unknown cipher %d", int(c))
	}
	key := make([]byte, keyLen)
	if _, err := rand.Read(key); err != nil {
		return nil, nil, nil, err
	}
	var b cryptobyte.Builder
	var enc contentEncrypter
	if c.authenticated() {
		nonce := make([]byte, 12)
		if _, err := rand.Read(nonce); err != nil {
			return nil, nil, nil, err
		}
		g, err := newStreamingGCM(key, nonce)
		if err != nil {
			return nil, nil, nil, err
		}
		enc = &gcmEncrypter{gcm: g}
		b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
			b.AddASN1ObjectIdentifier(oid)
			b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
				b.AddASN1OctetString(nonce)
				b.AddASN1Int64(16)
			})
		})
	} else {
		iv := make([]byte, 16)
		if _, err := rand.Read(iv); err != nil {
			return nil, nil, nil, err
		}
		block, err := aes.NewCipher(key)
		if err != nil {
			return nil, nil, nil, err
		}
		enc = &cbcEncrypter{mode: cipher.NewCBCEncrypter(block, iv)}
		b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
			b.AddASN1ObjectIdentifier(oid)
			b.AddASN1OctetString(iv)
		})
	}
	algID, err := b.Bytes()
	if err != nil {
		return nil, nil, nil, err
	}
	return enc, key, algID, nil
}

type gcmEncrypter struct {
	gcm *streamingGCM
}

func (e *gcmEncrypter) encrypt(dst, plaintext []byte) ([]byte, error) {
	dst = slices.Grow(dst, len(plaintext))
	n := len(dst) + len(plaintext)
	if err := e.gcm.seal(dst[len(dst):n], plaintext); err != nil {
		return nil, err
	}
	return dst[:n], nil
}

// sealWhole is encrypt and finish at once, for content that comes whole
// (streamingGCM.sealWhole); ok is false where that does not apply.
func (e *gcmEncrypter) sealWhole(dst, plaintext []byte) (ct, mac []byte, ok bool) {
	out, tag, ok := e.gcm.sealWhole(slices.Grow(dst, len(plaintext)+16), plaintext)
	if !ok {
		return nil, nil, false
	}
	return out, tag[:], true
}

func (e *gcmEncrypter) finish(dst []byte) ([]byte, []byte) {
	tag := e.gcm.tag(nil)
	return dst, tag[:]
}

type cbcEncrypter struct {
	mode    cipher.BlockMode
	pending []byte // < one block of plaintext
}

func (e *cbcEncrypter) encrypt(dst, plaintext []byte) ([]byte, error) {
	bs := e.mode.BlockSize()
	total := len(e.pending) + len(plaintext)
	n := total / bs * bs
	if n == 0 {
		e.pending = append(e.pending, plaintext...)
		return dst, nil
	}
	dst = slices.Grow(dst, n)
	out := dst[len(dst) : len(dst)+n]
	k := copy(out, e.pending)
	copy(out[k:], plaintext[:n-len(e.pending)])
	rest := plaintext[n-len(e.pending):]
	e.pending = append(e.pending[:0], rest...)
	e.mode.CryptBlocks(out, out)
	return dst[:len(dst)+n], nil
}

func (e *cbcEncrypter) finish(dst []byte) ([]byte, []byte) {
	bs := e.mode.BlockSize()
	padLen := bs - len(e.pending)
	last := append(e.pending, make([]byte, padLen)...)
	for i := len(last) - padLen; i < len(last); i++ {
		last[i] = byte(padLen)
	}
	e.mode.CryptBlocks(last, last)
	return append(dst, last...), nil
}
