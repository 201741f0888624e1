package cms

import (
	"crypto/x509"
	"encoding/asn1"
	"errors"
	"fmt"
	"io"

	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"

	"github.com/mailseal/mailseal/core"
	"github.com/mailseal/mailseal/internal/spool"
	"github.com/mailseal/mailseal/internal/stage"
)

// Decrypted is a decrypted message. Body holds the plaintext, released
// only after the integrity check; Close discards it.
type Decrypted struct {
	// Body is the plaintext, available only after the GCM tag (or, for
	// CBC, the whole stream and the padding) checked out.
	Body io.Reader
	// Integrity is core.IntegrityGCM for AuthEnvelopedData and
	// core.IntegrityNone for EnvelopedData (CBC has no integrity).
	Integrity string
	// Cipher names the content cipher: "AES-256-GCM", "AES-128-CBC", "3DES-CBC", ...
	Cipher string
	// Recipient is the certificate of the identity that decrypted it.
	Recipient *x509.Certificate

	spool *spool.Spool
}

// Close discards the plaintext.
func (d *Decrypted) Close() error { return d.spool.Close() }

const (
	maxRecipientInfosBytes = 1 << 20  // all RecipientInfos together
	maxSmallElementBytes   = 64 << 10 // algorithm identifiers, mac, attributes
	maxSkippedBytes        = 16 << 20 // originatorInfo, unprotected attributes
)

// Decrypt reads a BER or DER ContentInfo holding EnvelopedData or
// AuthEnvelopedData incrementally, finds a RecipientInfo for one of ids
// (by issuer and serial number or subject key identifier), recovers the
// content-encryption key and decrypts the content into a spool that keeps
// up to memLimit bytes in memory. The plaintext is released only when the
// whole structure has been read and the GCM tag or CBC padding is good.
//
// Errors: no RecipientInfo for any identity wraps core.ErrNoKey and
// names the message's recipients; every decryption failure (key unwrap,
// padding, tag, truncated ciphertext) is the one generic error wrapping
// core.ErrIntegrity; malformed or unsupported structure wraps
// core.ErrInput.
func Decrypt(r io.Reader, ids []Identity, memLimit int64) (*Decrypted, error) {
	return DecryptTapped(r, ids, memLimit, nil)
}

// DecryptTapped is Decrypt that also writes the content, in order and as
// it is decrypted (before its integrity is known), to tap, unless tap is
// nil: what it writes is exactly what the spool holds. The tap must not
// release it (mime.SignedPartTap only hashes it).
func DecryptTapped(r io.Reader, ids []Identity, memLimit int64, tap io.Writer) (*Decrypted, error) {
	br := newBERReader(r)
	d, err := decrypt(br, ids, memLimit, tap)
	if err != nil {
		if errors.Is(err, core.ErrNoKey) || errors.Is(err, core.ErrIntegrity) || errors.Is(err, core.ErrInput) {
			return nil, err
		}
		return nil, inputError("%v", err)
	}
	return d, nil
}

func expectHeader(br *berReader, tag byte, what string) (berHeader, error) {
	h, err := br.header()
	if err != nil {
		return h, fmt.Errorf("%s: %w", what, err)
	}
	if h.tag != tag {
		return h, fmt.Errorf("%s: unexpected tag 0x%02x", what, h.tag)
	}
	return h, nil
}

func readOID(br *berReader, what string) (asn1.ObjectIdentifier, error) {
	der, _, err := br.readElement(256)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	s := cryptobyte.String(der)
	var oid asn1.ObjectIdentifier
	if !s.ReadASN1ObjectIdentifier(&oid) {
		return nil, fmt.Errorf("%s: not an object identifier", what)
	}
	return oid, nil
}

func decrypt(br *berReader, ids []Identity, memLimit int64, tap io.Writer) (*Decrypted, error) {
	contentInfo, err := expectHeader(br, 0x30, "ContentInfo")
	if err != nil {
		return nil, err
	}
	contentType, err := readOID(br, "ContentInfo contentType")
	if err != nil {
		return nil, err
	}
	var authenticated bool
	switch {
	case contentType.Equal(oidEnvelopedData):
	case contentType.Equal(oidAuthEnvelopedData):
		authenticated = true
	default:
		return nil, inputError("content type %v is neither EnvelopedData nor AuthEnvelopedData", contentType)
	}
	explicit, err := expectHeader(br, 0xa0, "ContentInfo content")
	if err != nil {
		return nil, err
	}
	envelope, err := expectHeader(br, 0x30, "EnvelopedData")
	if err != nil {
		return nil, err
	}
	if _, _, err := br.readElement(16); err != nil { // version: not needed
		return nil, fmt.Errorf("version: %w", err)
	}
	tag, err := br.peekTag()
	if err != nil {
		return nil, err
	}
	if tag == 0xa0 { // originatorInfo: certificates and CRLs, not needed
		h, _ := br.header()
		if err := br.skip(h, maxSkippedBytes); err != nil {
			return nil, fmt.Errorf("originatorInfo: %w", err)
		}
	}
	set, setTag, err := br.readElement(maxRecipientInfosBytes)
	if err != nil {
		return nil, fmt.Errorf("RecipientInfos: %w", err)
	}
	if setTag != 0x31 {
		return nil, fmt.Errorf("RecipientInfos: unexpected tag 0x%02x", setTag)
	}
	setContents := cryptobyte.String(set)
	if !setContents.ReadASN1(&setContents, cbasn1.SET) {
		return nil, errors.New("RecipientInfos: bad SET")
	}
	recipients, err := parseRecipientInfos(setContents)
	if err != nil {
		return nil, fmt.Errorf("RecipientInfos: %w", err)
	}

	eci, err := expectHeader(br, 0x30, "EncryptedContentInfo")
	if err != nil {
		return nil, err
	}
	if _, err := readOID(br, "EncryptedContentInfo contentType"); err != nil {
		return nil, err
	}
	algDER, algTag, err := br.readElement(maxSmallElementBytes)
	if err != nil || algTag != 0x30 {
		return nil, fmt.Errorf("contentEncryptionAlgorithm: bad AlgorithmIdentifier")
	}
	algIn := cryptobyte.String(algDER)
	algOID, algParams, err := parseAlgorithm(&algIn)
	if err != nil {
		return nil, fmt.Errorf("contentEncryptionAlgorithm: %w", err)
	}
	alg, err := parseContentAlgorithm(algOID, algParams)
	if err != nil {
		return nil, err
	}
	if alg.gcm != authenticated {
		if authenticated {
			return nil, inputError("AuthEnvelopedData with the unauthenticated cipher %s", alg.name)
		}
		return nil, inputError("EnvelopedData with %s, which needs AuthEnvelopedData", alg.name)
	}

	cek, recipient, err := chooseRecipient(recipients, ids, alg.keyLen)
	if err != nil {
		return nil, err
	}
	defer clear(cek)
	dec, err := newContentDecrypter(alg, cek)
	if err != nil {
		return nil, errDecrypt
	}

	out := spool.New(memLimit)
	var target io.Writer = out
	if tap != nil {
		target = io.MultiWriter(out, tap)
	}
	// The spool (its encryption and writes) runs on a goroutine of its
	// own, beside the decryption; sink.Close waits for it.
	sink := stage.NewWriter(target)
	ok := false
	defer func() {
		if !ok {
			sink.Close()
			out.Close()
		}
	}()
	// From here on every failure is the generic one: a truncated or
	// damaged ciphertext must look like a bad key or a bad tag.
	more, err := br.more(eci)
	if err != nil || !more {
		return nil, errDecrypt // no encryptedContent: detached content is not supported
	}
	content, err := br.header()
	if err != nil || (content.tag != 0x80 && content.tag != 0xa0) {
		return nil, errDecrypt
	}
	var writeErr error
	buf := make([]byte, 32<<10)
	err = br.streamOctets(content, 0, buf, func(p []byte) error {
		if err := dec.decrypt(sink, p); err != nil {
			writeErr = err
			return err
		}
		return nil
	})
	if writeErr != nil && !errors.Is(writeErr, errGCMTooLong) {
		return nil, fmt.Errorf("cms: decrypt: %w", writeErr) // the spool failed
	}
	if err != nil {
		return nil, errDecrypt
	}
	if more, err := br.more(eci); err != nil || more {
		return nil, errDecrypt
	}

	var aad, mac []byte
	for {
		more, err := br.more(envelope)
		if err != nil {
			return nil, errDecrypt
		}
		if !more {
			break
		}
		el, elTag, err := br.readElement(maxSkippedBytes)
		if err != nil {
			return nil, errDecrypt
		}
		switch {
		case authenticated && elTag == 0xa1 && mac == nil: // authAttrs [1] IMPLICIT SET OF: AAD is its DER with the SET tag
			aad = append([]byte{0x31}, el[1:]...)
		case authenticated && elTag == 0x04 && mac == nil:
			s := cryptobyte.String(el)
			s.ReadASN1((*cryptobyte.String)(&mac), cbasn1.OCTET_STRING)
			if mac == nil {
				mac = []byte{}
			}
		case authenticated && elTag == 0xa2 && mac != nil: // unauthAttrs
		case !authenticated && elTag == 0xa1: // unprotectedAttrs
		default:
			return nil, errDecrypt
		}
	}
	if authenticated && mac == nil {
		return nil, errDecrypt
	}
	for _, h := range []berHeader{explicit, contentInfo} {
		if more, err := br.more(h); err != nil || more {
			return nil, errDecrypt
		}
	}
	if err := sink.Close(); err != nil {
		return nil, fmt.Errorf("cms: decrypt: %w", err) // the spool failed
	}
	good, err := dec.finish(target, mac, aad)
	if err != nil {
		return nil, fmt.Errorf("cms: decrypt: %w", err)
	}
	if !good {
		return nil, errDecrypt
	}
	ok = true
	integrity := core.IntegrityNone
	if authenticated {
		integrity = core.IntegrityGCM
	}
	return &Decrypted{Body: out.Reader(), Integrity: integrity, Cipher: alg.name, Recipient: recipient, spool: out}, nil
}

// chooseRecipient recovers the content-encryption key with the first
// identity that is a recipient. PKCS #1 v1.5 never fails here (implicit
// rejection); OAEP and key-wrap failures try the next candidate and end
// in the generic error.
func chooseRecipient(recipients []parsedRecipient, ids []Identity, keyLen int) ([]byte, *x509.Certificate, error) {
	matched := false
	var unsupported error
	for _, id := range ids {
		if id.Cert == nil {
			continue
		}
		for i := range recipients {
			ri := &recipients[i]
			for _, k := range ri.keys {
				if !k.rid.matches(id.Cert) {
					continue
				}
				cek, res, err := unwrapCEK(ri, k.encryptedKey, id.Key, keyLen)
				switch {
				case err != nil:
					unsupported = err
				case res == unwrapOK:
					return cek, id.Cert, nil
				case res == unwrapFailed:
					matched = true
				}
			}
		}
	}
	switch {
	case matched:
		return nil, nil, errDecrypt
	case unsupported != nil:
		return nil, nil, inputError("%v", unsupported)
	}
	return nil, nil, noKeyError(recipients)
}
