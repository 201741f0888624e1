package keystore

import (
	"bytes"
	"crypto"
	"crypto/sha256"
	"crypto/x509"
	"encoding/asn1"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"mime"
	"net/mail"
	"os"
	"strings"
	"time"

	"go.mozilla.org/pkcs7"
	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"
	gopkcs12 "software.sslmate.com/src/go-pkcs12"

	"github.com/mailseal/mailseal/core"
	"github.com/mailseal/mailseal/internal/dn"
	"github.com/mailseal/mailseal/internal/pkcs12"
	"github.com/mailseal/mailseal/internal/upperhex"
	"github.com/mailseal/mailseal/internal/x509path"
)

// x509Input is what one import brought: certificates, CRLs (DER, parsed)
// and private keys, before anything is stored.
type x509Input struct {
	certs []*x509.Certificate
	crls  []parsedCRL
	keys  []crypto.PrivateKey
	seen  map[string]bool // the certificates' DER, each added once
}

type parsedCRL struct {
	der []byte
	crl *x509.RevocationList
}

// addCert adds c unless the import brought it already. A set: comparing
// each with every one (as it did) made an import of 32,000 certificates
// take 38 s.
func (in *x509Input) addCert(c *x509.Certificate) {
	if in.seen == nil {
		in.seen = map[string]bool{}
	}
	if in.seen[string(c.Raw)] {
		return
	}
	in.seen[string(c.Raw)] = true
	in.certs = append(in.certs, c)
}

// LooksLikeX509 reports whether key data is X.509 material (PEM other
// than OpenPGP armor, DER — certificates, CRLs, PKCS#7, PKCS#12 all start
// with a SEQUENCE, which no OpenPGP packet does — or an S/MIME certs-only
// message) rather than OpenPGP.
func LooksLikeX509(data []byte) bool {
	trimmed := bytes.TrimLeft(data, " \t\r\n")
	if len(trimmed) > 0 && trimmed[0] == 0x30 {
		return true
	}
	for _, label := range pemLabels(data) {
		if !strings.HasPrefix(label, "PGP ") {
			return true
		}
	}
	_, ok := certsOnlyBody(data)
	return ok
}

// SplitMixed splits key data that holds both OpenPGP armor and other PEM
// blocks (certificates, CRLs: what keys export --all writes) into its
// OpenPGP blocks and its other blocks, each with the blocks in their order
// and the text around them left out. Other data comes back whole, alone.
func SplitMixed(data []byte) [][]byte {
	var pgpPart, other bytes.Buffer
	var cur *bytes.Buffer
	for rest := data; len(rest) > 0; {
		line := rest
		if i := bytes.IndexByte(rest, '\n'); i >= 0 {
			line = rest[:i+1]
		}
		rest = rest[len(line):]
		trimmed := bytes.TrimSpace(line)
		if cur == nil && bytes.HasPrefix(trimmed, []byte("-----BEGIN ")) {
			cur = &other
			if bytes.HasPrefix(trimmed, []byte("-----BEGIN PGP ")) {
				cur = &pgpPart
			}
		}
		if cur == nil {
			continue
		}
		cur.Write(line)
		if bytes.HasPrefix(trimmed, []byte("-----END ")) {
			if len(line) == len(trimmed) {
				cur.WriteByte('\n')
			}
			cur = nil
		}
	}
	if pgpPart.Len() == 0 || other.Len() == 0 {
		return [][]byte{data}
	}
	return [][]byte{pgpPart.Bytes(), other.Bytes()}
}

// X509HasPrivateKey reports whether X.509 key data may hold a private key
// (PEM private keys, or a PKCS#12 file, which cannot be looked into without
// its password): importing it needs a passphrase to protect the key, or an
// explicit decision to store it unprotected.
func X509HasPrivateKey(data []byte) bool {
	for _, label := range pemLabels(data) {
		// parsePEM takes keys from these labels, and from PKCS#12 in PEM.
		if strings.HasSuffix(label, "PRIVATE KEY") || label == "PKCS12" {
			return true
		}
	}
	kind, _ := derKind(data)
	return kind == derPKCS12
}

// pemLabels lists the labels of the "-----BEGIN X-----" lines in data,
// lines of any length: pem.Decode skips text of any length before a block,
// so a scanner that gave up at a long line would miss the blocks after it.
func pemLabels(data []byte) []string {
	var out []string
	for rest := data; len(rest) > 0; {
		line := rest
		if i := bytes.IndexByte(rest, '\n'); i >= 0 {
			line = rest[:i]
			rest = rest[i+1:]
		} else {
			rest = nil
		}
		line = bytes.TrimSpace(line)
		if bytes.HasPrefix(line, []byte("-----BEGIN ")) && bytes.HasSuffix(line, []byte("-----")) && len(line) > 16 {
			out = append(out, string(line[11:len(line)-5]))
		}
	}
	return out
}

type derType int

const (
	derUnknown derType = iota
	derPKCS12
	derPKCS7
	derCertOrCRL
)

// derKind tells DER structures apart by their first element: PFX starts
// with the version INTEGER, ContentInfo with its content type OID,
// certificates and CRLs with their TBS SEQUENCE. BER with indefinite
// lengths (PKCS#7 from some mail clients) is reported as PKCS#7.
func derKind(data []byte) (derType, error) {
	if pkcs12.IsPFX(data) {
		return derPKCS12, nil
	}
	in := cryptobyte.String(data)
	var outer cryptobyte.String
	if len(data) >= 2 && data[0] == 0x30 && data[1] == 0x80 {
		return derPKCS7, nil
	}
	if !in.ReadASN1(&outer, cbasn1.SEQUENCE) {
		return derUnknown, errors.New("not DER: no outer SEQUENCE")
	}
	switch {
	case outer.PeekASN1Tag(cbasn1.INTEGER):
		return derPKCS12, nil
	case outer.PeekASN1Tag(cbasn1.OBJECT_IDENTIFIER):
		return derPKCS7, nil
	case outer.PeekASN1Tag(cbasn1.SEQUENCE):
		return derCertOrCRL, nil
	}
	return derUnknown, errors.New("not a certificate, CRL, PKCS#7 or PKCS#12 structure")
}

// certsOnlyBody returns the decoded body of an S/MIME certs-only message
// (application/pkcs7-mime; smime-type=certs-only).
func certsOnlyBody(data []byte) ([]byte, bool) {
	if !bytes.Contains(bytes.ToLower(data), []byte("pkcs7-mime")) {
		return nil, false
	}
	msg, err := mail.ReadMessage(bytes.NewReader(data))
	if err != nil {
		return nil, false
	}
	mt, params, err := mime.ParseMediaType(msg.Header.Get("Content-Type"))
	if err != nil || (mt != "application/pkcs7-mime" && mt != "application/x-pkcs7-mime") {
		return nil, false
	}
	if t := strings.ToLower(params["smime-type"]); t != "" && t != "certs-only" {
		return nil, false
	}
	body, err := io.ReadAll(io.LimitReader(msg.Body, maxImport))
	if err != nil {
		return nil, false
	}
	if strings.EqualFold(strings.TrimSpace(msg.Header.Get("Content-Transfer-Encoding")), "base64") {
		clean := strings.Map(func(r rune) rune {
			if r == ' ' || r == '\t' || r == '\r' || r == '\n' {
				return -1
			}
			return r
		}, string(body))
		dec, err := base64.StdEncoding.DecodeString(clean)
		if err != nil {
			return nil, false
		}
		body = dec
	}
	return body, true
}

// parseX509 reads key data of any supported kind.
func parseX509(data []byte, password PassphraseFunc) (*x509Input, error) {
	in := &x509Input{}
	if body, ok := certsOnlyBody(data); ok {
		if err := in.parsePKCS7(body); err != nil {
			return nil, fmt.Errorf("certs-only message: %w", err)
		}
		return in, nil
	}
	if bytes.Contains(data, []byte("-----BEGIN ")) {
		return in, in.parsePEM(data, password)
	}
	return in, in.parseDER(data, password)
}

func (in *x509Input) parsePEM(data []byte, password PassphraseFunc) error {
	rest := data
	found := 0
	for {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			break
		}
		found++
		if _, encrypted := block.Headers["DEK-Info"]; encrypted || block.Type == "ENCRYPTED PRIVATE KEY" {
			return errors.New("encrypted PEM private keys are not supported: convert the key and its certificate with `openssl pkcs12 -export`")
		}
		var err error
		switch block.Type {
		case "CERTIFICATE", "X509 CERTIFICATE":
			err = in.parseCertDER(block.Bytes)
		case "TRUSTED CERTIFICATE":
			// OpenSSL's form: the certificate followed by its trust settings,
			// which are not carried over (trust is decided by keys trust).
			s := cryptobyte.String(block.Bytes)
			var el cryptobyte.String
			if !s.ReadASN1Element(&el, cbasn1.SEQUENCE) {
				err = errors.New("malformed TRUSTED CERTIFICATE")
			} else {
				err = in.parseCertDER(el)
			}
		case "X509 CRL":
			err = in.parseCRL(block.Bytes)
		case "PKCS7", "CMS":
			err = in.parsePKCS7(block.Bytes)
		case "PKCS12":
			err = in.parsePKCS12(block.Bytes, password)
		case "PRIVATE KEY":
			var k any
			if k, err = x509.ParsePKCS8PrivateKey(block.Bytes); err == nil {
				in.keys = append(in.keys, k)
			}
		case "EC PRIVATE KEY":
			var k any
			if k, err = x509.ParseECPrivateKey(block.Bytes); err == nil {
				in.keys = append(in.keys, k)
			}
		case "RSA PRIVATE KEY":
			var k any
			if k, err = x509.ParsePKCS1PrivateKey(block.Bytes); err == nil {
				in.keys = append(in.keys, k)
			}
		case "CERTIFICATE REQUEST", "NEW CERTIFICATE REQUEST":
			err = errors.New("a certificate request is not a certificate: import the certificate the CA issued for it")
		case "EC PARAMETERS":
			// openssl ecparam -genkey writes these before the key; nothing to keep.
		default:
			err = fmt.Errorf("PEM %q is not supported", block.Type)
		}
		if err != nil {
			return fmt.Errorf("PEM block %d (%s): %w", found, block.Type, err)
		}
	}
	if found == 0 {
		return errors.New("no PEM block could be decoded")
	}
	return nil
}

func (in *x509Input) parseDER(data []byte, password PassphraseFunc) error {
	kind, err := derKind(data)
	if err != nil {
		return err
	}
	switch kind {
	case derPKCS12:
		return in.parsePKCS12(data, password)
	case derPKCS7:
		return in.parsePKCS7(data)
	}
	cerr := in.parseCertDER(data)
	if cerr == nil {
		return nil
	}
	if lerr := in.parseCRL(data); lerr == nil {
		return nil
	}
	return fmt.Errorf("neither a certificate nor a CRL: %w", cerr)
}

func (in *x509Input) parseCertDER(der []byte) error {
	c, err := x509path.ParseCertificate(der)
	if err != nil {
		return err
	}
	in.addCert(c)
	return nil
}

func (in *x509Input) parseCRL(der []byte) error {
	crl, err := x509.ParseRevocationList(der)
	if err != nil {
		return err
	}
	in.crls = append(in.crls, parsedCRL{der: bytes.Clone(der), crl: crl})
	return nil
}

// parsePKCS7 reads the certificates and CRLs of a PKCS#7/CMS SignedData
// (a .p7b/.p7c bundle or a certs-only message; signatures are not checked,
// there usually are none).
func (in *x509Input) parsePKCS7(data []byte) (err error) {
	defer func() {
		// The parser is not ours; malformed input must not take the caller down.
		if r := recover(); r != nil {
			err = fmt.Errorf("malformed PKCS#7: %v", r)
		}
	}()
	p7, err := pkcs7.Parse(data)
	if err != nil {
		return fmt.Errorf("PKCS#7: %w", err)
	}
	if len(p7.Certificates) == 0 && len(p7.CRLs) == 0 {
		return errors.New("PKCS#7 without certificates")
	}
	for _, c := range p7.Certificates {
		in.addCert(c)
	}
	for _, l := range p7.CRLs {
		der, err := asn1.Marshal(l)
		if err != nil {
			return fmt.Errorf("PKCS#7 CRL: %w", err)
		}
		if err := in.parseCRL(der); err != nil {
			return fmt.Errorf("PKCS#7 CRL: %w", err)
		}
	}
	return nil
}

// parsePKCS12 reads a PKCS#12 file, as Windows, macOS, Java and OpenSSL
// old and new write them (see internal/pkcs12). It tries the empty
// password first, then asks.
func (in *x509Input) parsePKCS12(data []byte, password PassphraseFunc) error {
	f, err := openPKCS12(data, password, "the PKCS#12 file")
	switch {
	case errors.Is(err, errPasswordNeeded):
		return fmt.Errorf("the PKCS#12 file needs its password: %w", core.ErrLocked)
	case errors.Is(err, pkcs12.ErrPassword):
		return fmt.Errorf("wrong password for the PKCS#12 file: %w", core.ErrLocked)
	case err != nil:
		return err
	}
	if len(f.Certs) == 0 {
		return errors.New("PKCS#12: the file holds no certificate")
	}
	for _, k := range f.Keys {
		in.keys = append(in.keys, k.Key)
	}
	for _, c := range f.Certs {
		in.addCert(c.Cert)
	}
	return nil
}

// errPasswordNeeded: a PKCS#12 file does not open with the empty
// password, and there is no PassphraseFunc to ask for another.
var errPasswordNeeded = errors.New("a password is needed")

// openPKCS12 decodes a PKCS#12 file with the empty password, or else with
// the one pass gives for what (asked only then). A wrong password is
// pkcs12.ErrPassword.
func openPKCS12(data []byte, pass PassphraseFunc, what string) (*pkcs12.File, error) {
	f, err := pkcs12.Decode(data, "")
	if !errors.Is(err, pkcs12.ErrPassword) {
		return f, err
	}
	if pass == nil {
		return nil, errPasswordNeeded
	}
	p, err := pass(what)
	if err != nil {
		return nil, err
	}
	return pkcs12.Decode(data, string(p))
}

// ImportX509 imports X.509 material: PEM (CERTIFICATE, TRUSTED
// CERTIFICATE, X509 CRL, PKCS7, PRIVATE KEY, EC PRIVATE KEY, RSA PRIVATE
// KEY), DER certificates and CRLs, PKCS#7 bundles (.p7b/.p7c) and S/MIME
// certs-only messages, and PKCS#12 files (password from password, asked
// only when the empty one does not open the file).
//
// A private key is accepted only when its certificate is in the input or
// already stored; it is kept as a PKCS#12 file encrypted with protect (nil:
// unencrypted, which the result says). A certificate whose key was stored
// before (by Request) is paired with it. A CRL's signature is checked
// against a stored or imported certificate of its issuer: when one exists
// the signature must verify; when none does the CRL is stored all the same
// and the result says "issuer unknown". Nothing is stored when any part of
// the input is unreadable.
func (s *Store) ImportX509(data []byte, password PassphraseFunc, protect []byte) ([]ImportResult, error) {
	if len(data) > maxImport {
		return nil, fmt.Errorf("keystore: x509: import: more than %d MiB of key data: %w", maxImport>>20, core.ErrInput)
	}
	in, err := parseX509(data, password)
	if err != nil {
		if errors.Is(err, core.ErrLocked) || errors.Is(err, core.ErrUsage) {
			return nil, fmt.Errorf("keystore: x509: import: %w", err)
		}
		return nil, fmt.Errorf("keystore: x509: import: %w: %w", err, core.ErrInput)
	}
	if len(in.certs) == 0 && len(in.crls) == 0 && len(in.keys) == 0 {
		return nil, fmt.Errorf("keystore: x509: import: no certificates, keys or CRLs found: %w", core.ErrInput)
	}
	unlock, err := s.lock()
	if err != nil {
		return nil, err
	}
	defer unlock()
	return s.storeX509(in, protect, Provenance{Source: SourceImport})
}

// storeX509 stores what an import or a generation brought and records
// prov for the certificates new to the store; the caller holds the lock.
func (s *Store) storeX509(in *x509Input, protect []byte, prov Provenance) ([]ImportResult, error) {
	results, err := s.storeX509Locked(in, protect)
	var certs []ImportResult // not the CRLs
	for _, r := range results {
		if _, serr := os.Stat(s.x509CertPath(r.Fingerprint)); serr == nil {
			certs = append(certs, r)
		}
	}
	if rerr := s.recordNew(true, certs, prov); err == nil {
		err = rerr
	}
	return results, err
}

func (s *Store) storeX509Locked(in *x509Input, protect []byte) ([]ImportResult, error) {
	// Every key needs its certificate, and a CRL its issuer's (imported
	// with it, or stored). The stored ones are parsed only for those:
	// importing certificates one by one must not parse every stored
	// certificate each time; a CRL's issuer may sign CRLs (mayIssue).
	var stored []*x509.Certificate
	if len(in.keys) > 0 || len(in.crls) > 0 {
		st, err := s.storedCertificates()
		if err != nil {
			return nil, err
		}
		if len(in.keys) > 0 {
			stored, err = st.all()
		} else {
			stored, err = st.issuers()
		}
		if err != nil {
			return nil, err
		}
	}
	// The certificates a key or CRL may belong to: the imported ones
	// first. Each key and CRL looks its own up (by public key, by
	// subject), so that an import of many of both is not each against
	// every one.
	candidates := append(append([]*x509.Certificate{}, in.certs...), stored...)
	// Check every key before writing anything.
	keyCert := make([]*x509.Certificate, len(in.keys))
	byKey := map[string]*x509.Certificate{}
	if len(in.keys) > 0 {
		for _, c := range candidates {
			if der, err := x509.MarshalPKIXPublicKey(c.PublicKey); err == nil && byKey[string(der)] == nil {
				byKey[string(der)] = c
			}
		}
	}
	for i, k := range in.keys {
		if pub, ok := k.(interface{ Public() crypto.PublicKey }); ok {
			if der, err := x509.MarshalPKIXPublicKey(pub.Public()); err == nil {
				if c := byKey[string(der)]; c != nil && publicKeyMatches(k, c.PublicKey) {
					keyCert[i] = c
				}
			}
		}
		if keyCert[i] == nil {
			return nil, fmt.Errorf("keystore: x509: import: a private key without its certificate (import them together): %w", core.ErrInput)
		}
	}
	var results []ImportResult
	index := map[string]int{}
	for _, c := range in.certs {
		fpr := CertFingerprint(c)
		res := ImportResult{Fingerprint: fpr, UserIDs: []string{dn.String(c.Subject)}}
		if _, err := os.Stat(s.x509CertPath(fpr)); errors.Is(err, fs.ErrNotExist) {
			if err := writeAtomic(s.x509CertPath(fpr), certPEM(c), 0o644); err != nil {
				return results, fmt.Errorf("keystore: x509: %w", err)
			}
			res.New = true
			res.Changes = append(res.Changes, "certificate added")
			if s.hasKey(c) {
				res.Secret = true
				res.Changes = append(res.Changes, "paired with the stored private key")
			}
		} else if err != nil {
			return results, fmt.Errorf("keystore: x509: %w", err)
		}
		index[fpr] = len(results)
		results = append(results, res)
	}
	for i, k := range in.keys {
		c := keyCert[i]
		change, err := s.storeKey(k, c, protect)
		if err != nil {
			return results, err
		}
		fpr := CertFingerprint(c)
		j, ok := index[fpr]
		if !ok {
			j = len(results)
			index[fpr] = j
			results = append(results, ImportResult{Fingerprint: fpr, UserIDs: []string{dn.String(c.Subject)}})
		}
		results[j].Secret = true
		results[j].Changes = append(results[j].Changes, change)
	}
	bySubject := map[string][]*x509.Certificate{}
	if len(in.crls) > 0 {
		for _, c := range candidates {
			bySubject[string(c.RawSubject)] = append(bySubject[string(c.RawSubject)], c)
		}
	}
	checks := maxCRLChecks
	for _, l := range in.crls {
		res, err := s.storeCRL(l, bySubject[string(l.crl.RawIssuer)], &checks)
		if err != nil {
			return results, err
		}
		results = append(results, res)
	}
	for i := range results {
		if len(results[i].Changes) == 0 {
			results[i].Changes = []string{"unchanged"}
		}
	}
	return results, nil
}

// storeKey keeps a private key as keys/<keyID>.p12, encrypted with protect
// (nil: unencrypted). The PKCS#12 format needs a certificate next to the
// key: cert, or for a key stored by Request a self-signed placeholder made
// with the key. An existing key file is never replaced.
func (s *Store) storeKey(key crypto.PrivateKey, cert *x509.Certificate, protect []byte) (string, error) {
	signer, _ := key.(crypto.Signer)
	if signer == nil {
		return "", fmt.Errorf("keystore: x509: unsupported private key type %T: %w", key, core.ErrInput)
	}
	id := keyID(signer.Public())
	if id == "" {
		return "", fmt.Errorf("keystore: x509: unsupported private key type %T: %w", key, core.ErrInput)
	}
	path := s.x509KeyPath(id)
	if _, err := os.Stat(path); err == nil {
		return "private key already stored", nil
	}
	if cert == nil {
		var err error
		if cert, err = placeholderCert(signer); err != nil {
			return "", fmt.Errorf("keystore: x509: %w", err)
		}
	}
	enc, password, note := keyFileEncoder, string(protect), "private key added"
	if protect == nil {
		enc, password, note = gopkcs12.Passwordless, "", "private key added (not passphrase-protected)"
	}
	pfx, err := enc.Encode(key, cert, nil, password)
	if err != nil {
		return "", fmt.Errorf("keystore: x509: protecting the private key: %w", err)
	}
	if err := writeAtomic(path, pfx, 0o600); err != nil {
		return "", fmt.Errorf("keystore: x509: %w", err)
	}
	return note, nil
}

// maxCRLChecks bounds the signature checks of the CRLs of one import: a
// CRL is checked against every certificate with its issuer's name (a CA
// has a few; a cap on those would let certificates planted under a CA's
// name keep its CRLs out), so that an import of many CRLs and many
// certificates of one name is not each against every one without end.
var maxCRLChecks = 10000 // a variable for the tests

// storeCRL checks a CRL's signature against the candidate issuers,
// counting the checks down in checks, and stores it as crls/<SHA-256 of
// the DER>.crl.
func (s *Store) storeCRL(l parsedCRL, candidates []*x509.Certificate, checks *int) (ImportResult, error) {
	sum := sha256.Sum256(l.der)
	id := upperhex.Encode(sum[:])
	res := ImportResult{Fingerprint: id, UserIDs: []string{"CRL of " + dn.String(l.crl.Issuer)}}
	verdict, issuers := "issuer unknown", 0
	for _, c := range candidates {
		if !bytes.Equal(c.RawSubject, l.crl.RawIssuer) {
			continue
		}
		if *checks == 0 {
			return res, core.WithKind(fmt.Errorf("keystore: x509: the CRL of %s was not checked: with the other CRLs of this import it needs more than %d signature checks against the %d certificates of its issuer's name (check those with mailseal keys list --smime %q, delete the ones that are not the CA's with mailseal keys delete --smime FINGERPRINT, and import the CRLs again, a few at a time)",
				l.crl.Issuer, maxCRLChecks, len(candidates), l.crl.Issuer.CommonName), core.ErrInput)
		}
		*checks--
		issuers++
		if l.crl.CheckSignatureFrom(c) == nil {
			verdict = "signature verified with " + CertFingerprint(c)
			issuers = 0
			break
		}
	}
	if issuers > 0 {
		return res, core.WithKind(fmt.Errorf("keystore: x509: the CRL of %s does not verify against its issuer's certificate; it is not imported", l.crl.Issuer), core.ErrInput)
	}
	if _, err := os.Stat(s.crlPath(id)); err == nil {
		res.Changes = []string{"CRL unchanged"}
		return res, nil
	}
	if err := writeAtomic(s.crlPath(id), l.der, 0o644); err != nil {
		return res, fmt.Errorf("keystore: x509: %w", err)
	}
	res.New = true
	next := ""
	if !l.crl.NextUpdate.IsZero() {
		next = ", next update " + l.crl.NextUpdate.UTC().Format(time.DateOnly)
	}
	res.Changes = []string{fmt.Sprintf("CRL added (%d revoked%s), %s", len(l.crl.RevokedCertificateEntries), next, verdict)}
	return res, nil
}
