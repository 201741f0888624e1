package cms

import (
	"bytes"
	"crypto"
	"crypto/sha1"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"math/big"
	"slices"
	"time"

	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"

	"github.com/mailseal/mailseal/core"
	"github.com/mailseal/mailseal/internal/sigalg"
	"github.com/mailseal/mailseal/internal/spool"
	"github.com/mailseal/mailseal/internal/x509path"
)

// VerifyOptions steer verification of the CMS structure and signatures
// (not of the certificate chain: the caller validates chains with
// internal/x509path).
type VerifyOptions struct {
	// AllowSHA1 accepts SHA-1 digests; MD5 never. A refused digest gives
	// that signer an Err. The signer's RSA key size is path validation's
	// to check (x509path.Options.MinRSABits).
	AllowSHA1 bool
	// AcceptSHA1Before accepts SHA-1 digests of signatures whose signing
	// time (a signed attribute) is before it; without one, they are refused.
	AcceptSHA1Before time.Time
	// Certificates are extra candidates for finding signer certificates
	// (e.g. the keystore), besides those carried in the message.
	Certificates []*x509.Certificate
	// MoreCertificates, if set, gives further candidates (every stored
	// certificate, costly to read), asked for only when a signer's
	// certificate is neither in the message nor in Certificates; an error
	// leaves that signer without a certificate, its Err saying why.
	MoreCertificates func() ([]*x509.Certificate, error)
	// MemLimit is how much opaque content is kept in memory before it is
	// spooled to an encrypted temporary file; 0 means 8 MiB.
	MemLimit int64
}

// SignerResult is the outcome for one SignerInfo.
type SignerResult struct {
	// Cert is the signer certificate found by the signer identifier, nil
	// if it is neither in the message nor in VerifyOptions.Certificates.
	Cert *x509.Certificate
	// SignerID describes the signer identifier (issuer and serial, or
	// subject key identifier) for reports.
	SignerID    string
	Hash        crypto.Hash
	Algorithm   string    // "RSA", "RSA-PSS", "ECDSA", "Ed25519", "DSA"
	SigningTime time.Time // zero if the attribute is absent
	// Err is nil iff the signature verified over the content and the
	// signed attributes (contentType equal to the eContentType,
	// messageDigest equal to the content digest, signingCertificate(V2)
	// matching Cert). It wraps core.ErrVerification and, when the
	// signature check failed, sigalg.ErrRefused (digest or signature
	// algorithm refused by policy or unsupported; a SHA-1 signature only
	// once it verified) or sigalg.ErrInvalid (the signature is wrong).
	Err error
	// check verifies the signature with another public key (for DSA keys
	// whose parameters are inherited along the certificate path).
	check func(pub crypto.PublicKey) error
}

// ErrKeyParametersInherited is the Err of a signer whose certificate's
// DSA key inherits its parameters from the issuer: the signature can only
// be checked with the key path validation derives (VerifyWithKey).
var ErrKeyParametersInherited = fmt.Errorf("cms: verify: the signer's DSA key inherits its parameters from its issuer: %w", core.ErrVerification)

// VerifyWithKey checks the signature again with pub (the signer's key as
// derived by path validation) and sets Err.
func (r *SignerResult) VerifyWithKey(pub crypto.PublicKey) error {
	if r.check == nil {
		return r.Err
	}
	r.Err = r.check(pub)
	return r.Err
}

// Signed is a parsed and checked SignedData.
type Signed struct {
	ContentType  asn1.ObjectIdentifier
	Certificates []*x509.Certificate    // as carried in the message: intermediates only, never trust anchors
	CRLs         []*x509.RevocationList // as carried
	// Signers has one result per SignerInfo; empty means the message
	// carries no signature at all (the caller reports it unsigned).
	Signers []SignerResult
	// Content is, for VerifyOpaque, the encapsulated content, readable
	// once every signature was checked. It is returned even when a
	// signature failed: the caller decides what to show.
	Content io.Reader
	// CarriedContent: a detached signature (VerifyDetached) carried
	// content of its own, which was not what its signatures were checked
	// over.
	CarriedContent bool
	spool          *spool.Spool
}

// Close releases the spooled content.
func (s *Signed) Close() error {
	if s == nil || s.spool == nil {
		return nil
	}
	return s.spool.Close()
}

// Limits on the parts of a SignedData that are read whole.
const (
	maxSignedPartBytes = 16 << 20 // certificates, CRLs, signerInfos
	maxSigners         = 64
)

func signedInputError(format string, args ...any) error {
	return fmt.Errorf("cms: verify: malformed signature: %s: %w", fmt.Sprintf(format, args...), core.ErrInput)
}

// VerifyDetached checks a detached SignedData (the body of an
// application/pkcs7-signature part, DER or BER) over content, the exact
// signed bytes, which are read once. A SignedData that carries content
// of its own as well is checked over content all the same (its own
// content is read past), and says so in Signed.CarriedContent.
//
// When content is a Digester whose digests cover every hash the signers
// use (the MIME parser hashes a large signed part while it parses), it is
// not read.
func VerifyDetached(sig io.Reader, content io.Reader, opts VerifyOptions) (*Signed, error) {
	d, err := ParseDetached(sig)
	if err != nil {
		return nil, err
	}
	return d.Verify(content, opts)
}

// Detached is a detached SignedData that was read, to be checked over its
// content: VerifyDetached in two steps, so that every error in the
// signature shows before the content is looked at.
type Detached struct {
	p *parsedSigned
}

// ParseDetached reads a detached SignedData.
func ParseDetached(sig io.Reader) (*Detached, error) {
	p, err := parseSignedData(newBERReader(sig), nil)
	if err != nil {
		return nil, wrapParseError(err)
	}
	return &Detached{p}, nil
}

// Verify checks the signatures over content (see VerifyDetached); the
// only errors left are those of reading content.
func (d *Detached) Verify(content io.Reader, opts VerifyOptions) (*Signed, error) {
	p := d.p
	var needed []crypto.Hash
	for _, si := range p.infos {
		if h, ok := hashForDigestOID(si.digestAlg); ok && h.Available() && !slices.Contains(needed, h) {
			needed = append(needed, h)
		}
	}
	if known, ok := content.(Digester); ok {
		sums := map[crypto.Hash][]byte{}
		for _, h := range needed {
			if sum, ok := known.Digest(h); ok {
				sums[h] = sum
			}
		}
		if len(sums) == len(needed) {
			return p.checkSums(sums, opts), nil
		}
	}
	hashes := map[crypto.Hash]hash.Hash{}
	ws := make([]io.Writer, 0, len(needed))
	for _, h := range needed {
		hashes[h] = h.New()
		ws = append(ws, hashes[h])
	}
	if _, err := io.Copy(io.MultiWriter(ws...), content); err != nil {
		return nil, fmt.Errorf("cms: verify: reading the signed content: %w", err)
	}
	return p.check(hashes, opts), nil
}

// Digester is signed content whose digests may be known already.
type Digester interface {
	// Digest returns the digest of the content under h, or false.
	Digest(h crypto.Hash) ([]byte, bool)
}

// VerifyOpaque reads an encapsulating SignedData (application/pkcs7-mime
// signed-data) incrementally, hashing and spooling the content; memory
// does not grow with the content.
func VerifyOpaque(r io.Reader, opts VerifyOptions) (*Signed, error) {
	limit := opts.MemLimit
	if limit == 0 {
		limit = 8 << 20
	}
	sp := spool.New(limit)
	hashes := map[crypto.Hash]hash.Hash{}
	sink := &contentSink{spool: sp, hashes: hashes}
	p, err := parseSignedData(newBERReader(r), sink)
	if err != nil {
		sp.Close()
		return nil, wrapParseError(err)
	}
	if !p.hasContent && len(p.infos) > 0 {
		sp.Close()
		return nil, signedInputError("signed-data without content (a detached signature needs multipart/signed)")
	}
	s := p.check(hashes, opts)
	s.spool = sp
	s.Content = sp.Reader()
	return s, nil
}

func wrapParseError(err error) error {
	if errors.Is(err, core.ErrInput) {
		return err
	}
	return signedInputError("%v", err)
}

// contentSink receives the encapsulated content.
type contentSink struct {
	spool  io.Writer
	hashes map[crypto.Hash]hash.Hash
}

// parsedSigned is a SignedData before its signatures are checked.
type parsedSigned struct {
	contentType asn1.ObjectIdentifier
	hasContent  bool
	// detachedWithContent: a SignedData read as detached carried content.
	detachedWithContent bool
	certs               []*x509.Certificate
	crls                []*x509.RevocationList
	infos               []signerInfo
}

type signerInfo struct {
	version     int64
	issuer      []byte // issuerAndSerialNumber, or nil
	serial      *big.Int
	skid        []byte // subjectKeyIdentifier, or nil
	digestAlg   asn1.ObjectIdentifier
	signedAttrs []byte // the [0] element as received, nil if absent
	sigAlg      asn1.ObjectIdentifier
	sigParams   []byte
	signature   []byte
}

func parseSignedData(br *berReader, sink *contentSink) (*parsedSigned, error) {
	contentInfo, err := expectHeader(br, 0x30, "ContentInfo")
	if err != nil {
		return nil, err
	}
	ct, err := readOID(br, "ContentInfo contentType")
	if err != nil {
		return nil, err
	}
	if !ct.Equal(oidSignedData) {
		return nil, signedInputError("content type %v is not SignedData", ct)
	}
	explicit, err := expectHeader(br, 0xa0, "ContentInfo content")
	if err != nil {
		return nil, err
	}
	sd, err := expectHeader(br, 0x30, "SignedData")
	if err != nil {
		return nil, err
	}
	if _, _, err := br.readElement(16); err != nil {
		return nil, fmt.Errorf("version: %w", err)
	}
	algs, algsTag, err := br.readElement(64 << 10)
	if err != nil || algsTag != 0x31 {
		return nil, fmt.Errorf("digestAlgorithms: %v", err)
	}
	p := &parsedSigned{}
	if sink != nil {
		in := cryptobyte.String(algs)
		var set cryptobyte.String
		if !in.ReadASN1(&set, cbasn1.SET) {
			return nil, errors.New("bad digestAlgorithms")
		}
		for !set.Empty() {
			var alg cryptobyte.String
			var oid asn1.ObjectIdentifier
			if !set.ReadASN1(&alg, cbasn1.SEQUENCE) || !alg.ReadASN1ObjectIdentifier(&oid) {
				return nil, errors.New("bad digestAlgorithms")
			}
			if h, ok := hashForDigestOID(oid); ok && h.Available() && len(sink.hashes) < 8 {
				sink.hashes[h] = h.New()
			}
		}
	}
	eci, err := expectHeader(br, 0x30, "EncapsulatedContentInfo")
	if err != nil {
		return nil, err
	}
	if p.contentType, err = readOID(br, "eContentType"); err != nil {
		return nil, err
	}
	more, err := br.more(eci)
	if err != nil {
		return nil, err
	}
	if more {
		if sink == nil {
			// A detached signature that carries content as well (seen
			// from real clients): the content is read past, unhashed, and
			// the signatures are checked over the signed part as for any
			// detached signature, so they verify only if the part is what
			// was signed.
			sink = &contentSink{spool: io.Discard, hashes: map[crypto.Hash]hash.Hash{}}
			p.detachedWithContent = true
		}
		eContent, err := expectHeader(br, 0xa0, "eContent")
		if err != nil {
			return nil, err
		}
		octets, err := br.header()
		if err != nil {
			return nil, err
		}
		if octets.tag != 0x04 && octets.tag != 0x24 {
			return nil, errors.New("eContent is not an OCTET STRING")
		}
		buf := make([]byte, 32<<10)
		var spoolErr error
		err = br.streamOctets(octets, 0, buf, func(b []byte) error {
			for _, h := range sink.hashes {
				h.Write(b)
			}
			if _, err := sink.spool.Write(b); err != nil {
				spoolErr = err
				return err
			}
			return nil
		})
		if spoolErr != nil {
			return nil, fmt.Errorf("cms: verify: %w", spoolErr)
		}
		if err != nil {
			return nil, fmt.Errorf("eContent: %w", err)
		}
		p.hasContent = true
		for _, h := range []berHeader{eContent, eci} {
			if more, err := br.more(h); err != nil || more {
				return nil, errors.New("unexpected data after eContent")
			}
		}
	}
	for {
		more, err := br.more(sd)
		if err != nil {
			return nil, err
		}
		if !more {
			break
		}
		el, tag, err := br.readElement(maxSignedPartBytes)
		if err != nil {
			return nil, err
		}
		switch tag {
		case 0xa0:
			p.certs = parseCertificateSet(el)
		case 0xa1:
			p.crls = parseCRLSet(el)
		case 0x31:
			if p.infos, err = parseSignerInfos(el); err != nil {
				return nil, err
			}
		default:
			return nil, fmt.Errorf("unexpected element 0x%02x in SignedData", tag)
		}
	}
	for _, h := range []berHeader{explicit, contentInfo} {
		if more, err := br.more(h); err != nil || more {
			return nil, errors.New("unexpected data after SignedData")
		}
	}
	return p, nil
}

// parseCertificateSet reads the certificates of a CertificateSet; other
// certificate choices and certificates that do not parse are skipped.
func parseCertificateSet(el []byte) []*x509.Certificate {
	var out []*x509.Certificate
	for _, der := range sequencesInSet(el) {
		if c, err := x509path.ParseCertificate(der); err == nil {
			out = append(out, c)
		}
	}
	return out
}

// parseCRLSet reads the CRLs of a RevocationInfoChoices; other choices and
// CRLs that do not parse are skipped.
func parseCRLSet(el []byte) []*x509.RevocationList {
	var out []*x509.RevocationList
	for _, der := range sequencesInSet(el) {
		if l, err := x509.ParseRevocationList(der); err == nil {
			out = append(out, l)
		}
	}
	return out
}

// sequencesInSet returns the SEQUENCE elements of a (tagged) SET OF.
func sequencesInSet(el []byte) [][]byte {
	in := cryptobyte.String(el)
	var set cryptobyte.String
	if !in.ReadAnyASN1(&set, new(cbasn1.Tag)) {
		return nil
	}
	var out [][]byte
	for !set.Empty() {
		var one cryptobyte.String
		var tag cbasn1.Tag
		if !set.ReadAnyASN1Element(&one, &tag) {
			break
		}
		if tag == cbasn1.SEQUENCE {
			out = append(out, one)
		}
	}
	return out
}

func parseSignerInfos(el []byte) ([]signerInfo, error) {
	in := cryptobyte.String(el)
	var set cryptobyte.String
	if !in.ReadASN1(&set, cbasn1.SET) {
		return nil, errors.New("bad signerInfos")
	}
	var out []signerInfo
	for !set.Empty() {
		if len(out) == maxSigners {
			return nil, fmt.Errorf("more than %d signers", maxSigners)
		}
		var seq cryptobyte.String
		if !set.ReadASN1(&seq, cbasn1.SEQUENCE) {
			return nil, errors.New("bad SignerInfo")
		}
		var si signerInfo
		if !seq.ReadASN1Int64WithTag(&si.version, cbasn1.INTEGER) {
			return nil, errors.New("bad SignerInfo version")
		}
		var tag cbasn1.Tag
		var sid cryptobyte.String
		if !seq.ReadAnyASN1(&sid, &tag) {
			return nil, errors.New("bad signer identifier")
		}
		switch tag {
		case cbasn1.SEQUENCE:
			var issuer cryptobyte.String
			si.serial = new(big.Int)
			if !sid.ReadASN1Element(&issuer, cbasn1.SEQUENCE) || !sid.ReadASN1Integer(si.serial) || !sid.Empty() {
				return nil, errors.New("bad issuerAndSerialNumber")
			}
			si.issuer = issuer
		case cbasn1.Tag(0).ContextSpecific():
			si.skid = sid
		default:
			return nil, errors.New("bad signer identifier")
		}
		var alg cryptobyte.String
		if !seq.ReadASN1(&alg, cbasn1.SEQUENCE) || !alg.ReadASN1ObjectIdentifier(&si.digestAlg) {
			return nil, errors.New("bad digestAlgorithm")
		}
		if seq.PeekASN1Tag(cbasn1.Tag(0).ContextSpecific().Constructed()) {
			var attrs cryptobyte.String
			if !seq.ReadASN1Element(&attrs, cbasn1.Tag(0).ContextSpecific().Constructed()) {
				return nil, errors.New("bad signedAttrs")
			}
			si.signedAttrs = attrs
		}
		var sigAlg cryptobyte.String
		if !seq.ReadASN1(&sigAlg, cbasn1.SEQUENCE) || !sigAlg.ReadASN1ObjectIdentifier(&si.sigAlg) {
			return nil, errors.New("bad signatureAlgorithm")
		}
		if !sigAlg.Empty() {
			si.sigParams = sigAlg
		}
		if !seq.ReadASN1Bytes(&si.signature, cbasn1.OCTET_STRING) {
			return nil, errors.New("bad signature")
		}
		out = append(out, si)
	}
	return out, nil
}

func hashForDigestOID(oid asn1.ObjectIdentifier) (crypto.Hash, bool) {
	if oid.Equal(oidMD5) {
		return crypto.MD5, true
	}
	if h, ok := hashForOID(oid); ok {
		return h, true
	}
	// Some writers put an RSA signature algorithm where the digest belongs.
	if e, ok := lookupSignatureOID(oid); ok && e.scheme == sigalg.PKCS1v15 && e.hash != 0 {
		return e.hash, true
	}
	return 0, false
}

// check verifies every signer against the content digests.
func (p *parsedSigned) check(digests map[crypto.Hash]hash.Hash, opts VerifyOptions) *Signed {
	sums := map[crypto.Hash][]byte{}
	for h, hh := range digests {
		sums[h] = hh.Sum(nil)
	}
	return p.checkSums(sums, opts)
}

// checkSums verifies every signer against the content digests.
func (p *parsedSigned) checkSums(sums map[crypto.Hash][]byte, opts VerifyOptions) *Signed {
	s := &Signed{ContentType: p.contentType, Certificates: p.certs, CRLs: p.crls, Signers: []SignerResult{}, CarriedContent: p.detachedWithContent}
	for i := range p.infos {
		s.Signers = append(s.Signers, p.checkSigner(&p.infos[i], sums, opts))
	}
	return s
}

// signedWhen says when a signature claims to be made.
func signedWhen(t time.Time) string {
	if t.IsZero() {
		return "at no stated time (no signing-time attribute)"
	}
	return "at " + t.UTC().Format(time.RFC3339)
}

func verifyErr(format string, args ...any) error {
	return fmt.Errorf("cms: verify: %s: %w", fmt.Sprintf(format, args...), core.ErrVerification)
}

func (p *parsedSigned) checkSigner(si *signerInfo, sums map[crypto.Hash][]byte, opts VerifyOptions) SignerResult {
	var r SignerResult
	r.SignerID = describeSID(si)
	r.Cert = p.findCert(si, opts.Certificates)
	if r.Cert == nil && opts.MoreCertificates != nil {
		more, err := opts.MoreCertificates()
		if err != nil {
			r.Err = fmt.Errorf("cms: verify: finding the signer's certificate (%s): %w", r.SignerID, err)
			return r
		}
		r.Cert = p.findCert(si, more)
	}
	h, ok := hashForDigestOID(si.digestAlg)
	if !ok {
		r.Err = signatureErr(sigalg.Refusedf("unsupported digest algorithm %v", si.digestAlg))
		return r
	}
	r.Hash = h
	r.Algorithm = algorithmName(si.sigAlg)
	policy := sigalg.Policy{AllowSHA1: opts.AllowSHA1}
	// A SHA-1 signature the policy refuses (unless AcceptSHA1Before a
	// signing time after it) is checked all the same: a forgery is then
	// bad, and only one that verifies is refused.
	var refusal error
	if h == crypto.SHA1 && !opts.AllowSHA1 {
		made := claimedSigningTime(si)
		if !(core.Policy{AcceptSHA1Before: opts.AcceptSHA1Before}.SHA1Accepted(made)) {
			refusal = signatureErr(fmt.Errorf("%w; it claims to be signed %s", policy.CheckHash(h), signedWhen(made)))
		}
		policy.AllowSHA1 = true
	}
	if err := policy.CheckHash(h); err != nil {
		r.Err = signatureErr(err)
		return r
	}
	digest, ok := sums[h]
	if !ok {
		r.Err = verifyErr("the digest algorithm %s is not announced in digestAlgorithms", core.HashName(h))
		return r
	}
	// What the signature covers.
	var signed []byte
	if si.signedAttrs != nil {
		attrs, err := p.checkAttributes(si, digest, r.Cert)
		if err != nil {
			r.Err = err
			return r
		}
		r.SigningTime = attrs.signingTime
		signed = append([]byte{0x31}, si.signedAttrs[1:]...)
	} else if !p.contentType.Equal(oidData) {
		r.Err = verifyErr("signed attributes are required for content type %v", p.contentType)
		return r
	}
	if r.Cert == nil {
		r.Err = verifyErr("the signer's certificate (%s) is neither in the message nor known", r.SignerID)
		return r
	}
	r.check = func(pub crypto.PublicKey) error {
		if err := checkSignature(si, h, digest, signed, pub, policy); err != nil {
			return err
		}
		return refusal
	}
	if r.Cert.PublicKey == nil {
		r.Err = ErrKeyParametersInherited
		return r
	}
	r.Err = r.check(r.Cert.PublicKey)
	return r
}

type signatureOID struct {
	oid    asn1.ObjectIdentifier
	scheme sigalg.Scheme
	hash   crypto.Hash
}

// signatureAlgorithms maps the signature algorithm identifiers of a
// SignerInfo to a scheme and, where the identifier names one, a hash. An
// identifier without a hash (a key's OID, as some writers put it) takes
// the digest algorithm's; RSA-PSS takes it from its parameters.
var signatureAlgorithms = []signatureOID{
	{oidRSAEncryption, sigalg.PKCS1v15, 0},
	{oidMD5WithRSA, sigalg.PKCS1v15, crypto.MD5},
	{oidSHA1WithRSA, sigalg.PKCS1v15, crypto.SHA1},
	{oidSHA224WithRSA, sigalg.PKCS1v15, crypto.SHA224},
	{oidSHA256WithRSA, sigalg.PKCS1v15, crypto.SHA256},
	{oidSHA384WithRSA, sigalg.PKCS1v15, crypto.SHA384},
	{oidSHA512WithRSA, sigalg.PKCS1v15, crypto.SHA512},
	{oidRSASSAPSS, sigalg.PSS, 0},
	{oidECPublicKey, sigalg.ECDSA, 0},
	{oidECDSAWithSHA1, sigalg.ECDSA, crypto.SHA1},
	{oidECDSAWithSHA224, sigalg.ECDSA, crypto.SHA224},
	{oidECDSAWithSHA256, sigalg.ECDSA, crypto.SHA256},
	{oidECDSAWithSHA384, sigalg.ECDSA, crypto.SHA384},
	{oidECDSAWithSHA512, sigalg.ECDSA, crypto.SHA512},
	{oidEd25519, sigalg.Ed25519, 0},
	{oidDSA, sigalg.DSA, 0},
	{oidDSAWithSHA1, sigalg.DSA, crypto.SHA1},
	{oidDSAWithSHA224, sigalg.DSA, crypto.SHA224},
	{oidDSAWithSHA256, sigalg.DSA, crypto.SHA256},
}

// signerAlgorithm returns si's signature algorithm, h being its digest
// algorithm; the errors match sigalg.ErrRefused or sigalg.ErrInvalid.
func signerAlgorithm(si *signerInfo, h crypto.Hash) (sigalg.Algorithm, error) {
	e, ok := lookupSignatureOID(si.sigAlg)
	if !ok {
		return sigalg.Algorithm{}, sigalg.Refusedf("unsupported signature algorithm %v", si.sigAlg)
	}
	alg := sigalg.Algorithm{Scheme: e.scheme, Hash: h}
	if e.scheme == sigalg.PSS {
		var err error
		if alg.Hash, alg.SaltLength, err = parsePSSParams(si.sigParams); err != nil {
			return sigalg.Algorithm{}, err
		}
		e.hash = alg.Hash
	}
	if e.hash != 0 && e.hash != h {
		return sigalg.Algorithm{}, sigalg.Invalidf("the %v signature does not match the digest algorithm %s", sigalg.Algorithm{Scheme: e.scheme, Hash: e.hash}, core.HashName(h))
	}
	return alg, nil
}

// checkSignature verifies si's signature with pub: over signed (the DER of
// the signed attributes) if not nil, else over the content digest.
func checkSignature(si *signerInfo, h crypto.Hash, contentDigest, signed []byte, pub crypto.PublicKey, p sigalg.Policy) error {
	alg, err := signerAlgorithm(si, h)
	switch {
	case err != nil:
	case signed != nil:
		err = alg.Verify(pub, signed, si.signature, p)
	case alg.Scheme == sigalg.Ed25519:
		err = sigalg.Refusedf("Ed25519 signatures without signed attributes are not supported")
	default:
		err = alg.VerifyDigest(pub, contentDigest, si.signature, p)
	}
	if err != nil {
		return signatureErr(err)
	}
	return nil
}

// signatureErr wraps an error of sigalg's as a SignerResult.Err.
func signatureErr(err error) error {
	return fmt.Errorf("cms: verify: %w: %w", err, core.ErrVerification)
}

func lookupSignatureOID(oid asn1.ObjectIdentifier) (signatureOID, bool) {
	i := slices.IndexFunc(signatureAlgorithms, func(e signatureOID) bool { return e.oid.Equal(oid) })
	if i < 0 {
		return signatureOID{}, false
	}
	return signatureAlgorithms[i], true
}

// parsePSSParams reads RSASSA-PSS-params (RFC 4055 section 3.1); the
// mask generation function must be MGF1 with the same hash. Malformed
// parameters are invalid (sigalg.ErrInvalid), unsupported ones refused
// (sigalg.ErrRefused).
func parsePSSParams(params []byte) (crypto.Hash, int, error) {
	h, mgfHash, salt := crypto.SHA1, crypto.SHA1, 20
	if params == nil {
		return h, salt, nil
	}
	in := cryptobyte.String(params)
	var seq cryptobyte.String
	if !in.ReadASN1(&seq, cbasn1.SEQUENCE) {
		return 0, 0, sigalg.Invalidf("bad RSASSA-PSS parameters")
	}
	var field cryptobyte.String
	var present bool
	if !seq.ReadOptionalASN1(&field, &present, cbasn1.Tag(0).ContextSpecific().Constructed()) {
		return 0, 0, sigalg.Invalidf("bad RSASSA-PSS hashAlgorithm")
	}
	if present {
		var alg cryptobyte.String
		var oid asn1.ObjectIdentifier
		if !field.ReadASN1(&alg, cbasn1.SEQUENCE) || !alg.ReadASN1ObjectIdentifier(&oid) {
			return 0, 0, sigalg.Invalidf("bad RSASSA-PSS hashAlgorithm")
		}
		var ok bool
		if h, ok = hashForOID(oid); !ok {
			return 0, 0, sigalg.Refusedf("unsupported RSASSA-PSS hash %v", oid)
		}
	}
	if !seq.ReadOptionalASN1(&field, &present, cbasn1.Tag(1).ContextSpecific().Constructed()) {
		return 0, 0, sigalg.Invalidf("bad RSASSA-PSS maskGenAlgorithm")
	}
	if present {
		var alg, inner cryptobyte.String
		var oid, hoid asn1.ObjectIdentifier
		if !field.ReadASN1(&alg, cbasn1.SEQUENCE) || !alg.ReadASN1ObjectIdentifier(&oid) || !oid.Equal(oidMGF1) ||
			!alg.ReadASN1(&inner, cbasn1.SEQUENCE) || !inner.ReadASN1ObjectIdentifier(&hoid) {
			return 0, 0, sigalg.Refusedf("unsupported RSASSA-PSS mask generation function")
		}
		var ok bool
		if mgfHash, ok = hashForOID(hoid); !ok {
			return 0, 0, sigalg.Refusedf("unsupported MGF1 hash %v", hoid)
		}
	}
	if mgfHash != h {
		return 0, 0, sigalg.Refusedf("RSASSA-PSS with an MGF1 hash other than the message hash is not supported")
	}
	if !seq.ReadOptionalASN1(&field, &present, cbasn1.Tag(2).ContextSpecific().Constructed()) {
		return 0, 0, sigalg.Invalidf("bad RSASSA-PSS saltLength")
	}
	if present {
		var n int64
		if !field.ReadASN1Int64WithTag(&n, cbasn1.INTEGER) || n < 0 || n > 1024 {
			return 0, 0, sigalg.Invalidf("bad RSASSA-PSS saltLength")
		}
		salt = int(n)
	}
	return h, salt, nil
}

type checkedAttributes struct {
	signingTime time.Time
}

// checkAttributes applies RFC 5652 section 5.3 and RFC 5035 to the signed
// attributes: one contentType equal to the eContentType, one
// messageDigest equal to the content digest, no duplicates; a
// signingCertificate(V2) must name the signer's certificate.
// readTime reads a signingTime value (UTCTime or GeneralizedTime); zero
// when it is neither.
func readTime(values cryptobyte.String) time.Time {
	var t time.Time
	switch {
	case values.PeekASN1Tag(cbasn1.UTCTime):
		values.ReadASN1UTCTime(&t)
	case values.PeekASN1Tag(cbasn1.GeneralizedTime):
		values.ReadASN1GeneralizedTime(&t)
	}
	return t
}

// claimedSigningTime is the signingTime attribute of si, unchecked (zero
// without one): what decides whether a SHA-1 signature is old enough to be
// checked at all (VerifyOptions.AcceptSHA1Before).
func claimedSigningTime(si *signerInfo) time.Time {
	in := cryptobyte.String(si.signedAttrs)
	var set cryptobyte.String
	if !in.ReadASN1(&set, cbasn1.Tag(0).ContextSpecific().Constructed()) {
		return time.Time{}
	}
	for !set.Empty() {
		var attr, values cryptobyte.String
		var oid asn1.ObjectIdentifier
		if !set.ReadASN1(&attr, cbasn1.SEQUENCE) || !attr.ReadASN1ObjectIdentifier(&oid) || !attr.ReadASN1(&values, cbasn1.SET) {
			return time.Time{}
		}
		if oid.Equal(oidAttrSigningTime) {
			return readTime(values)
		}
	}
	return time.Time{}
}

func (p *parsedSigned) checkAttributes(si *signerInfo, digest []byte, cert *x509.Certificate) (*checkedAttributes, error) {
	in := cryptobyte.String(si.signedAttrs)
	var set cryptobyte.String
	if !in.ReadASN1(&set, cbasn1.Tag(0).ContextSpecific().Constructed()) {
		return nil, verifyErr("malformed signed attributes")
	}
	out := &checkedAttributes{}
	seen := map[string]bool{}
	var gotType, gotDigest bool
	for !set.Empty() {
		var attr, values cryptobyte.String
		var oid asn1.ObjectIdentifier
		if !set.ReadASN1(&attr, cbasn1.SEQUENCE) || !attr.ReadASN1ObjectIdentifier(&oid) || !attr.ReadASN1(&values, cbasn1.SET) {
			return nil, verifyErr("malformed signed attribute")
		}
		if seen[oid.String()] {
			return nil, verifyErr("signed attribute %v appears twice", oid)
		}
		seen[oid.String()] = true
		switch {
		case oid.Equal(oidAttrContentType):
			var ct asn1.ObjectIdentifier
			if !values.ReadASN1ObjectIdentifier(&ct) || !values.Empty() {
				return nil, verifyErr("malformed contentType attribute")
			}
			if !ct.Equal(p.contentType) {
				return nil, verifyErr("the signed contentType %v differs from the content's type %v", ct, p.contentType)
			}
			gotType = true
		case oid.Equal(oidAttrMessageDigest):
			var md []byte
			if !values.ReadASN1Bytes(&md, cbasn1.OCTET_STRING) || !values.Empty() {
				return nil, verifyErr("malformed messageDigest attribute")
			}
			if !bytes.Equal(md, digest) {
				return nil, verifyErr("the content does not match the signed digest: the content was altered")
			}
			gotDigest = true
		case oid.Equal(oidAttrSigningTime):
			out.signingTime = readTime(values)
		case oid.Equal(oidAttrSigningCertificateV2), oid.Equal(oidAttrSigningCertificate):
			if cert == nil {
				continue
			}
			if err := checkSigningCertificate(values, oid.Equal(oidAttrSigningCertificateV2), cert); err != nil {
				return nil, err
			}
		}
	}
	if !gotType || !gotDigest {
		return nil, verifyErr("the signed attributes lack contentType or messageDigest")
	}
	return out, nil
}

// checkSigningCertificate compares the first ESSCertID(v2) with cert.
func checkSigningCertificate(values cryptobyte.String, v2 bool, cert *x509.Certificate) error {
	var sc, certs, id cryptobyte.String
	if !values.ReadASN1(&sc, cbasn1.SEQUENCE) || !sc.ReadASN1(&certs, cbasn1.SEQUENCE) || !certs.ReadASN1(&id, cbasn1.SEQUENCE) {
		return verifyErr("malformed signingCertificate attribute")
	}
	var sum []byte
	if v2 {
		h := crypto.SHA256
		if id.PeekASN1Tag(cbasn1.SEQUENCE) {
			var alg cryptobyte.String
			var oid asn1.ObjectIdentifier
			if !id.ReadASN1(&alg, cbasn1.SEQUENCE) || !alg.ReadASN1ObjectIdentifier(&oid) {
				return verifyErr("malformed signingCertificateV2 attribute")
			}
			var ok bool
			if h, ok = hashForOID(oid); !ok || !h.Available() {
				return nil // an unknown hash cannot be checked; the signature still binds the attribute
			}
		}
		hh := h.New()
		hh.Write(cert.Raw)
		sum = hh.Sum(nil)
	} else {
		s := sha1.Sum(cert.Raw)
		sum = s[:]
	}
	var got []byte
	if !id.ReadASN1Bytes(&got, cbasn1.OCTET_STRING) {
		return verifyErr("malformed signingCertificate attribute")
	}
	if !bytes.Equal(got, sum) {
		return verifyErr("the signed signingCertificate attribute names another certificate than the signer's")
	}
	return nil
}

// findCert finds the signer certificate: in the message first, then among
// extra.
func (p *parsedSigned) findCert(si *signerInfo, extra []*x509.Certificate) *x509.Certificate {
	for _, list := range [][]*x509.Certificate{p.certs, extra} {
		for _, c := range list {
			if si.skid != nil {
				if len(c.SubjectKeyId) > 0 && bytes.Equal(c.SubjectKeyId, si.skid) {
					return c
				}
				continue
			}
			if c.SerialNumber != nil && c.SerialNumber.Cmp(si.serial) == 0 && sameName(c.RawIssuer, si.issuer) {
				return c
			}
		}
	}
	return nil
}

// sameName compares two encoded Names: bytewise, else by their parsed form.
func sameName(a, b []byte) bool {
	if bytes.Equal(a, b) {
		return true
	}
	var na, nb pkix.RDNSequence
	if rest, err := asn1.Unmarshal(a, &na); err != nil || len(rest) > 0 {
		return false
	}
	if rest, err := asn1.Unmarshal(b, &nb); err != nil || len(rest) > 0 {
		return false
	}
	return na.String() == nb.String()
}

func describeSID(si *signerInfo) string {
	if si.skid != nil {
		return "subject key identifier " + hex.EncodeToString(si.skid)
	}
	var name pkix.RDNSequence
	issuer := "?"
	if _, err := asn1.Unmarshal(si.issuer, &name); err == nil {
		issuer = name.String()
	}
	return fmt.Sprintf("issuer %q serial %X", issuer, si.serial)
}

func algorithmName(oid asn1.ObjectIdentifier) string {
	if e, ok := lookupSignatureOID(oid); ok {
		return e.scheme.String()
	}
	return oid.String()
}
