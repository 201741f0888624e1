package cms

import (
	"bufio"
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/asn1"
	"errors"
	"fmt"
	"hash"
	"io"
	"slices"
	"sort"
	"strings"
	"time"

	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"

	"github.com/mailseal/mailseal/core"
)

// SignOptions select how Sign signs.
type SignOptions struct {
	Hash         crypto.Hash // crypto.SHA256 (default when 0), SHA384, SHA512
	PSS          bool        // RSA keys sign with RSASSA-PSS (salt length = hash length, MGF1 with the same hash)
	SubjectKeyID bool        // identify signers by subjectKeyIdentifier (SignerInfo v3) instead of issuerAndSerialNumber (v1)
	SigningTime  time.Time   // zero: time.Now()
	Detached     bool        // no eContent (multipart/signed); otherwise the content is encapsulated (opaque signed-data)
}

// Signer is one signer: its certificate, private key and the intermediates to include.
type Signer struct {
	Cert  *x509.Certificate
	Key   crypto.Signer       // *rsa.PrivateKey, *ecdsa.PrivateKey, ed25519.PrivateKey
	Chain []*x509.Certificate // intermediates, included with Cert
}

// Micalg is the RFC 8551 micalg parameter for a hash.
func Micalg(h crypto.Hash) string {
	switch h {
	case crypto.SHA384:
		return "sha-384"
	case crypto.SHA512:
		return "sha-512"
	case crypto.SHA1:
		return "sha-1"
	}
	return "sha-256"
}

// MicalgHashes are the hashes a micalg parameter names (a comma-separated
// list, RFC 8551 §3.5.3); SHA-256, the usual one, when it names none this
// package knows.
func MicalgHashes(micalg string) []crypto.Hash {
	var hs []crypto.Hash
	for _, name := range strings.Split(strings.ToLower(micalg), ",") {
		var h crypto.Hash
		switch strings.TrimSpace(name) {
		case "sha-1", "sha1":
			h = crypto.SHA1
		case "sha-224", "sha224":
			h = crypto.SHA224
		case "sha-256", "sha256":
			h = crypto.SHA256
		case "sha-384", "sha384":
			h = crypto.SHA384
		case "sha-512", "sha512":
			h = crypto.SHA512
		default:
			continue
		}
		if !slices.Contains(hs, h) {
			hs = append(hs, h)
		}
	}
	if len(hs) == 0 {
		return []crypto.Hash{crypto.SHA256}
	}
	return hs
}

// contentChunk is how much encapsulated content goes into one OCTET STRING piece.
const contentChunk = 32 << 10

// Sign returns a writer for the content (id-data). Detached: on Close, w
// receives the SignedData ContentInfo (DER) without eContent. Opaque: the
// ContentInfo is written to w as BER with indefinite lengths while the
// content is written (eContent as a constructed OCTET STRING of chunks, as
// `openssl cms -stream` does), the certificates and signerInfos on Close.
// Memory does not grow with the content. Several signers sign the same
// content, all with opts.Hash.
func Sign(w io.Writer, signers []Signer, opts SignOptions) (io.WriteCloser, error) {
	if opts.Hash == 0 {
		opts.Hash = crypto.SHA256
		for _, s := range signers {
			if _, ok := s.Key.(ed25519.PrivateKey); ok {
				opts.Hash = crypto.SHA512 // RFC 8419 section 3
			}
		}
	}
	digestOID, ok := hashOIDs[opts.Hash]
	if !ok || opts.Hash == crypto.SHA1 || !opts.Hash.Available() {
		return nil, fmt.Errorf("cms: sign: hash %v is not supported: %w", opts.Hash, core.ErrUsage)
	}
	if len(signers) == 0 {
		return nil, fmt.Errorf("cms: sign: no signer: %w", core.ErrUsage)
	}
	if opts.SigningTime.IsZero() {
		opts.SigningTime = time.Now()
	}
	for _, s := range signers {
		if s.Cert == nil || s.Key == nil {
			return nil, fmt.Errorf("cms: sign: a signer lacks its certificate or key: %w", core.ErrUsage)
		}
		if _, err := signatureAlgorithm(s.Key, opts); err != nil {
			return nil, err
		}
		if opts.SubjectKeyID && len(s.Cert.SubjectKeyId) == 0 {
			return nil, fmt.Errorf("cms: sign: certificate %q has no subjectKeyIdentifier to identify the signer by: %w", s.Cert.Subject, core.ErrUsage)
		}
	}
	// A detached signature is written in one piece, at Close: it needs no
	// buffer (one would be most of a small message's allocations).
	sw := &signWriter{out: w, signers: signers, opts: opts, digestOID: digestOID, h: opts.Hash.New()}
	if !opts.Detached {
		sw.bw = bufio.NewWriterSize(w, 64<<10)
		sw.out = sw.bw
		var hdr []byte
		hdr = appendIndefinite(hdr, cbasn1.SEQUENCE) // ContentInfo
		hdr = appendOID(hdr, oidSignedData)
		hdr = appendIndefinite(hdr, cbasn1.Tag(0).ContextSpecific())
		hdr = appendIndefinite(hdr, cbasn1.SEQUENCE) // SignedData
		hdr = append(hdr, sw.prefix()...)
		hdr = appendIndefinite(hdr, cbasn1.SEQUENCE) // EncapsulatedContentInfo
		hdr = appendOID(hdr, oidData)
		hdr = appendIndefinite(hdr, cbasn1.Tag(0).ContextSpecific())
		hdr = appendIndefinite(hdr, cbasn1.OCTET_STRING)
		if _, err := sw.out.Write(hdr); err != nil {
			return nil, fmt.Errorf("cms: sign: %w", err)
		}
		sw.buf = make([]byte, 0, contentChunk)
	}
	return sw, nil
}

// sizedBuilder is a builder whose buffer holds size bytes before it grows:
// a zero Builder grows its buffer append by append, and the structures
// of one message were a tenth of the time of a batch of small ones.
func sizedBuilder(size int) *cryptobyte.Builder {
	return cryptobyte.NewBuilder(make([]byte, 0, size))
}

func appendOID(b []byte, oid asn1.ObjectIdentifier) []byte {
	var cb cryptobyte.Builder
	cb.AddASN1ObjectIdentifier(oid)
	return append(b, cb.BytesOrPanic()...)
}

type signWriter struct {
	out       io.Writer     // bw, or (detached) the caller's writer
	bw        *bufio.Writer // opaque: the content's pieces are gathered here
	signers   []Signer
	opts      SignOptions
	digestOID asn1.ObjectIdentifier
	h         hash.Hash
	buf       []byte // opaque: content waiting for a full chunk
	err       error
	closed    bool
}

// prefix is the DER of version and digestAlgorithms.
func (s *signWriter) prefix() []byte {
	var b cryptobyte.Builder
	version := int64(1)
	if s.opts.SubjectKeyID {
		version = 3
	}
	b.AddASN1Int64(version)
	b.AddASN1(cbasn1.SET, func(b *cryptobyte.Builder) {
		addAlgorithm(b, s.digestOID, nil)
	})
	return b.BytesOrPanic()
}

func addAlgorithm(b *cryptobyte.Builder, oid asn1.ObjectIdentifier, params []byte) {
	b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
		b.AddASN1ObjectIdentifier(oid)
		if params != nil {
			b.AddBytes(params)
		}
	})
}

func (s *signWriter) Write(p []byte) (int, error) {
	if s.err != nil {
		return 0, s.err
	}
	if s.closed {
		return 0, errors.New("cms: sign: write after close")
	}
	s.h.Write(p)
	if s.opts.Detached {
		return len(p), nil
	}
	n := len(p)
	for len(p) > 0 {
		k := copy(s.buf[len(s.buf):cap(s.buf)], p)
		s.buf = s.buf[:len(s.buf)+k]
		p = p[k:]
		if len(s.buf) == cap(s.buf) {
			if err := s.flush(); err != nil {
				return n - len(p), err
			}
		}
	}
	return n, nil
}

func (s *signWriter) flush() error {
	if len(s.buf) == 0 {
		return nil
	}
	hdr := appendDefiniteHeader(nil, cbasn1.OCTET_STRING, len(s.buf))
	if _, err := s.out.Write(hdr); err != nil {
		s.err = fmt.Errorf("cms: sign: %w", err)
		return s.err
	}
	if _, err := s.out.Write(s.buf); err != nil {
		s.err = fmt.Errorf("cms: sign: %w", err)
		return s.err
	}
	s.buf = s.buf[:0]
	return nil
}

// Close signs and writes the rest of the structure. It does not close the
// underlying writer.
func (s *signWriter) Close() error {
	if s.closed {
		return s.err
	}
	s.closed = true
	if s.err != nil {
		return s.err
	}
	digest := s.h.Sum(nil)
	infos, err := s.signerInfos(digest)
	if err != nil {
		s.err = err
		return err
	}
	certs := s.certificates()
	var tail []byte
	if s.opts.Detached {
		b := sizedBuilder(len(certs) + len(infos) + 64)
		b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
			b.AddASN1ObjectIdentifier(oidSignedData)
			b.AddASN1(cbasn1.Tag(0).ContextSpecific().Constructed(), func(b *cryptobyte.Builder) {
				b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
					b.AddBytes(s.prefix())
					b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
						b.AddASN1ObjectIdentifier(oidData)
					})
					b.AddBytes(certs)
					b.AddBytes(infos)
				})
			})
		})
		der, err := b.Bytes()
		if err != nil {
			s.err = fmt.Errorf("cms: sign: %w", err)
			return s.err
		}
		tail = der
	} else {
		if err := s.flush(); err != nil {
			return err
		}
		tail = appendEndOfContents(tail) // eContent OCTET STRING
		tail = appendEndOfContents(tail) // [0]
		tail = appendEndOfContents(tail) // EncapsulatedContentInfo
		tail = append(tail, certs...)
		tail = append(tail, infos...)
		tail = appendEndOfContents(tail) // SignedData
		tail = appendEndOfContents(tail) // [0]
		tail = appendEndOfContents(tail) // ContentInfo
	}
	if _, err := s.out.Write(tail); err != nil {
		s.err = fmt.Errorf("cms: sign: %w", err)
		return s.err
	}
	if s.bw != nil {
		if err := s.bw.Flush(); err != nil {
			s.err = fmt.Errorf("cms: sign: %w", err)
		}
	}
	return s.err
}

// certificates is the [0] IMPLICIT CertificateSet with every signer's
// certificate and chain, each once.
func (s *signWriter) certificates() []byte {
	size := 8
	for _, sg := range s.signers {
		for _, c := range append([]*x509.Certificate{sg.Cert}, sg.Chain...) {
			if c != nil {
				size += len(c.Raw)
			}
		}
	}
	b := sizedBuilder(size)
	seen := map[string]bool{}
	b.AddASN1(cbasn1.Tag(0).ContextSpecific().Constructed(), func(b *cryptobyte.Builder) {
		for _, sg := range s.signers {
			for _, c := range append([]*x509.Certificate{sg.Cert}, sg.Chain...) {
				if c == nil || seen[string(c.Raw)] {
					continue
				}
				seen[string(c.Raw)] = true
				b.AddBytes(c.Raw)
			}
		}
	})
	return b.BytesOrPanic()
}

// signerInfos is the DER SET OF SignerInfo.
func (s *signWriter) signerInfos(digest []byte) ([]byte, error) {
	var encoded [][]byte
	for _, sg := range s.signers {
		info, err := s.signerInfo(sg, digest)
		if err != nil {
			return nil, err
		}
		encoded = append(encoded, info)
	}
	size := 8
	for _, e := range encoded {
		size += len(e)
	}
	b := sizedBuilder(size)
	b.AddASN1(cbasn1.SET, func(b *cryptobyte.Builder) {
		for _, e := range sortedDER(encoded) {
			b.AddBytes(e)
		}
	})
	return b.Bytes()
}

func (s *signWriter) signerInfo(sg Signer, digest []byte) ([]byte, error) {
	attrs, err := s.signedAttributes(sg, digest)
	if err != nil {
		return nil, err
	}
	sigAlg, err := signatureAlgorithm(sg.Key, s.opts)
	if err != nil {
		return nil, err
	}
	var sig []byte
	if _, ok := sg.Key.(ed25519.PrivateKey); ok {
		sig, err = sg.Key.Sign(rand.Reader, attrs, crypto.Hash(0))
	} else {
		h := s.opts.Hash.New()
		h.Write(attrs)
		var so crypto.SignerOpts = s.opts.Hash
		if sigAlg.pss {
			so = &rsa.PSSOptions{SaltLength: s.opts.Hash.Size(), Hash: s.opts.Hash}
		}
		sig, err = sg.Key.Sign(rand.Reader, h.Sum(nil), so)
	}
	if err != nil {
		return nil, fmt.Errorf("cms: sign: %w", err)
	}
	b := sizedBuilder(len(attrs) + len(sig) + len(sg.Cert.RawIssuer) + 128)
	b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
		if s.opts.SubjectKeyID {
			b.AddASN1Int64(3)
			b.AddASN1(cbasn1.Tag(0).ContextSpecific(), func(b *cryptobyte.Builder) { b.AddBytes(sg.Cert.SubjectKeyId) })
		} else {
			b.AddASN1Int64(1)
			b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
				b.AddBytes(sg.Cert.RawIssuer)
				b.AddASN1BigInt(sg.Cert.SerialNumber)
			})
		}
		addAlgorithm(b, s.digestOID, nil)
		// [0] IMPLICIT: the SET OF with its tag replaced.
		b.AddASN1(cbasn1.Tag(0).ContextSpecific().Constructed(), func(b *cryptobyte.Builder) {
			inner := cryptobyte.String(attrs)
			var content cryptobyte.String
			inner.ReadASN1(&content, cbasn1.SET)
			b.AddBytes(content)
		})
		addAlgorithm(b, sigAlg.oid, sigAlg.params)
		b.AddASN1OctetString(sig)
	})
	return b.Bytes()
}

// signedAttributes is the DER SET OF the signed attributes, as signed.
func (s *signWriter) signedAttributes(sg Signer, digest []byte) ([]byte, error) {
	var attrs [][]byte
	add := func(oid asn1.ObjectIdentifier, value func(b *cryptobyte.Builder)) {
		b := sizedBuilder(128)
		b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
			b.AddASN1ObjectIdentifier(oid)
			b.AddASN1(cbasn1.SET, value)
		})
		attrs = append(attrs, b.BytesOrPanic())
	}
	add(oidAttrContentType, func(b *cryptobyte.Builder) { b.AddASN1ObjectIdentifier(oidData) })
	t := s.opts.SigningTime.UTC().Truncate(time.Second)
	add(oidAttrSigningTime, func(b *cryptobyte.Builder) {
		if t.Year() >= 1950 && t.Year() < 2050 {
			b.AddASN1UTCTime(t)
		} else {
			b.AddASN1GeneralizedTime(t)
		}
	})
	add(oidAttrMessageDigest, func(b *cryptobyte.Builder) { b.AddASN1OctetString(digest) })
	add(oidAttrSMIMECapabilities, func(b *cryptobyte.Builder) {
		b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
			for _, oid := range []asn1.ObjectIdentifier{oidAES256GCM, oidAES128GCM, oidAES256CBC, oidAES128CBC, oidRSAESOAEP} {
				addAlgorithm(b, oid, nil)
			}
		})
	})
	certHash := sha256.Sum256(sg.Cert.Raw)
	add(oidAttrSigningCertificateV2, func(b *cryptobyte.Builder) {
		b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) { // SigningCertificateV2
			b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) { // certs
				b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) { // ESSCertIDv2, SHA-256 by default
					b.AddASN1OctetString(certHash[:])
				})
			})
		})
	})
	size := 8
	for _, a := range attrs {
		size += len(a)
	}
	b := sizedBuilder(size)
	b.AddASN1(cbasn1.SET, func(b *cryptobyte.Builder) {
		for _, a := range sortedDER(attrs) {
			b.AddBytes(a)
		}
	})
	return b.Bytes()
}

// sortedDER orders the encodings of a DER SET OF.
func sortedDER(elems [][]byte) [][]byte {
	out := append([][]byte(nil), elems...)
	sort.Slice(out, func(i, j int) bool { return bytes.Compare(out[i], out[j]) < 0 })
	return out
}

type sigAlgorithm struct {
	oid    asn1.ObjectIdentifier
	params []byte // DER, nil for absent
	pss    bool
}

var asn1NULL = []byte{0x05, 0x00}

// signatureAlgorithm is the signatureAlgorithm a key signs with.
func signatureAlgorithm(key crypto.Signer, opts SignOptions) (sigAlgorithm, error) {
	switch key.Public().(type) {
	case *rsa.PublicKey:
		if opts.PSS {
			return sigAlgorithm{oid: oidRSASSAPSS, params: pssParams(opts.Hash), pss: true}, nil
		}
		return sigAlgorithm{oid: oidRSAEncryption, params: asn1NULL}, nil
	case *ecdsa.PublicKey:
		if opts.PSS {
			return sigAlgorithm{}, fmt.Errorf("cms: sign: RSA-PSS needs an RSA key: %w", core.ErrUsage)
		}
		return sigAlgorithm{oid: ecdsaOIDs[opts.Hash]}, nil
	case ed25519.PublicKey:
		if opts.PSS {
			return sigAlgorithm{}, fmt.Errorf("cms: sign: RSA-PSS needs an RSA key: %w", core.ErrUsage)
		}
		return sigAlgorithm{oid: oidEd25519}, nil
	}
	return sigAlgorithm{}, fmt.Errorf("cms: sign: %T keys cannot sign S/MIME: %w", key.Public(), core.ErrUsage)
}

// pssParams is RSASSA-PSS-params for hash h, MGF1 with h, salt = hash size.
func pssParams(h crypto.Hash) []byte {
	var b cryptobyte.Builder
	b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
		b.AddASN1(cbasn1.Tag(0).ContextSpecific().Constructed(), func(b *cryptobyte.Builder) {
			addAlgorithm(b, hashOIDs[h], nil)
		})
		b.AddASN1(cbasn1.Tag(1).ContextSpecific().Constructed(), func(b *cryptobyte.Builder) {
			b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
				b.AddASN1ObjectIdentifier(oidMGF1)
				addAlgorithm(b, hashOIDs[h], nil)
			})
		})
		b.AddASN1(cbasn1.Tag(2).ContextSpecific().Constructed(), func(b *cryptobyte.Builder) {
			b.AddASN1Int64(int64(h.Size()))
		})
	})
	return b.BytesOrPanic()
}
