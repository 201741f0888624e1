package flow

import (
	"bytes"
	"crypto"
	"crypto/x509"
	"fmt"
	"io"
	stdmime "mime"
	"strings"

	"github.com/mailseal/mailseal/core"
	"github.com/mailseal/mailseal/internal/b64lines"
	"github.com/mailseal/mailseal/internal/stage"
	"github.com/mailseal/mailseal/mime"
	"github.com/mailseal/mailseal/smime"
)

// RFC 8551 media types. The x-pkcs7 forms are what older clients send.
const (
	smimeSignatureType = "application/pkcs7-signature"
	smimeMimeType      = "application/pkcs7-mime"
)

// SMIME is the S/MIME engine as the message flow uses it: multipart/signed
// with application/pkcs7-signature, and application/pkcs7-mime signed-data,
// enveloped-data and authEnveloped-data.
type SMIME struct {
	Engine *smime.Engine
	// LoadTrust gives what signers are judged against. It is called when
	// an S/MIME entity is first opened, so that trust anchors are read
	// only for S/MIME messages. Nil: no one is trusted.
	LoadTrust func() (smime.Trust, error)
	trust     *smime.Trust // what LoadTrust gave
	// Identities returns the private keys to decrypt with; called only
	// when a message is to be decrypted.
	Identities func() ([]smime.Identity, error)
	// KeepSubject leaves the Subject of what Encrypt writes readable
	// outside (mime.ProtectOptions.KeepSubject).
	KeepSubject bool
}

func (s *SMIME) Protocol() string { return core.ProtocolSMIME }

func isSignatureType(t string) bool {
	return t == smimeSignatureType || t == "application/x-pkcs7-signature"
}

func isMimeType(t string) bool {
	return t == smimeMimeType || t == "application/x-pkcs7-mime"
}

// signaturePart reports whether e is an S/MIME detached signature: by its
// media type, or as application/octet-stream named *.p7s (as some clients
// send it).
func signaturePart(e *mime.Entity) bool {
	return isSignatureType(e.MediaType) || e.MediaType == "application/octet-stream" && strings.HasSuffix(fileName(e), ".p7s")
}

// mimePart reports whether e is an S/MIME application/pkcs7-mime entity:
// by its media type, or as application/octet-stream named *.p7m.
func mimePart(e *mime.Entity) bool {
	return isMimeType(e.MediaType) || e.MediaType == "application/octet-stream" && strings.HasSuffix(fileName(e), ".p7m")
}

// fileName is e's file name in lower case: the Content-Type name
// parameter, else the Content-Disposition filename; "" without.
func fileName(e *mime.Entity) string {
	if n := e.Params["name"]; n != "" {
		return strings.ToLower(n)
	}
	if _, params, err := stdmime.ParseMediaType(e.Header.Get("Content-Disposition")); err == nil {
		return strings.ToLower(params["filename"])
	}
	return ""
}

// Detect recognises S/MIME entities as clients send them: multipart/signed
// whose protocol parameter names an S/MIME signature or, missing, whose
// second part is one; application/pkcs7-mime (also x-pkcs7-mime, or
// application/octet-stream named *.p7m), classified by the CMS content type
// at the start of its body, which counts over a missing or wrong
// smime-type parameter.
func (s *SMIME) Detect(e *mime.Entity) (Kind, bool) {
	switch {
	case e.MediaType == "multipart/signed":
		protocol := strings.ToLower(e.Params["protocol"])
		if isSignatureType(protocol) || protocol == "" && len(e.Children) == 2 && signaturePart(e.Children[1]) {
			return KindSigned, true
		}
	case mimePart(e):
		prefix, _ := io.ReadAll(io.LimitReader(e.Body(), 64))
		kind := smime.PeekKind(prefix)
		param := smimeKind(e.Params["smime-type"])
		if kind == smime.KindUnknown || kind == smime.KindSignedData && param == smime.KindCertsOnly {
			kind = param
		}
		switch kind {
		case smime.KindSignedData:
			return KindSigned, true
		case smime.KindEnvelopedData, smime.KindAuthEnvelopedData:
			return KindEncrypted, true
		}
	}
	return KindPlain, false
}

func smimeKind(param string) smime.Kind {
	switch strings.ToLower(param) {
	case "signed-data":
		return smime.KindSignedData
	case "enveloped-data":
		return smime.KindEnvelopedData
	case "authenveloped-data":
		return smime.KindAuthEnvelopedData
	case "certs-only":
		return smime.KindCertsOnly
	}
	return smime.KindUnknown
}

// signedPartHashes are the hashes micalg names.
func (s *SMIME) signedPartHashes(params map[string]string) []crypto.Hash {
	return smime.MicalgHashes(params["micalg"])
}

// digestedContent is a signed part that may have been hashed already.
type digestedContent struct {
	*stage.Reader
	part *mime.Entity
}

func (c digestedContent) Digest(h crypto.Hash) ([]byte, bool) { return c.part.Digest(h) }

// open verifies or decrypts an S/MIME entity found by Detect.
func (s *SMIME) open(f Found) (*Opened, error) {
	if s.Engine == nil {
		return nil, fmt.Errorf("smime: no engine: %w", core.ErrUsage)
	}
	if s.trust == nil {
		var trust smime.Trust
		if s.LoadTrust != nil {
			t, err := s.LoadTrust()
			if err != nil {
				return nil, err
			}
			trust = t
		}
		s.trust = &trust
	}
	e := f.Entity
	if f.Kind == KindSigned && e.MediaType == "multipart/signed" {
		if len(e.Children) < 2 {
			return nil, fmt.Errorf("multipart/signed has %d parts, want 2: %w", len(e.Children), core.ErrInput)
		}
		if !signaturePart(e.Children[1]) {
			return nil, fmt.Errorf("signature part is %s, want %s: %w", e.Children[1].MediaType, smimeSignatureType, core.ErrInput)
		}
		sig, err := s.Engine.ParseDetached(e.Children[1].Body())
		if err != nil {
			return nil, err
		}
		part := e.Children[0]
		check := func() ([]core.Signature, []string, error) {
			// The signed part is read on a goroutine of its own, beside
			// hashing, unless it was hashed while it was parsed.
			content := digestedContent{stage.NewReader(part.Raw()), part}
			defer content.Close()
			return sig.Verify(content, *s.trust)
		}
		return &Opened{Inner: part.Raw(), Unprotected: partsAfterSignature(e), check: check}, nil
	}
	switch f.Kind {
	case KindSigned:
		body := e.BodyStaged()
		v, err := s.Engine.VerifyOpaque(body, *s.trust)
		body.Close()
		if err != nil {
			return nil, err
		}
		return &Opened{Signers: v.Signers, Warnings: v.Warnings, Inner: v.Content, Unwraps: true, closer: v.Close}, nil
	case KindEncrypted:
		if s.Identities == nil {
			return nil, fmt.Errorf("smime: decrypt: no keys: %w", core.ErrNoKey)
		}
		ids, err := s.Identities()
		if err != nil {
			return nil, err
		}
		// base64 is decoded on goroutines of its own, beside decryption,
		// and a signed part inside is hashed beside it too.
		body := e.BodyStaged()
		tap := mime.NewSignedPartTap(signedPartHashes([]Engine{s}))
		d, err := s.Engine.DecryptHashing(body, ids, tap)
		body.Close()
		tap.Close()
		if err != nil {
			return nil, err
		}
		return &Opened{Encrypted: true, Integrity: d.Integrity, Cipher: d.Cipher, DecryptedWith: d.DecryptedWith, Inner: d.Body, closer: d.Close, tap: tap}, nil
	}
	return nil, fmt.Errorf("not an S/MIME entity: %w", core.ErrInput)
}

// Sign writes m as an S/MIME signed message: multipart/signed with a
// detached signature, or with opts.Opaque application/pkcs7-mime
// signed-data. For multipart/signed the content is made 7-bit safe first
// (RFC 8551 §3.1.3); opaque content travels inside the base64 blob as is.
func (s *SMIME) Sign(w io.Writer, m *mime.Message, ids []smime.Identity, opts smime.SignOptions) error {
	outer, payload := mime.Protect(m, mime.ProtectOptions{SevenBit: !opts.Opaque})
	return s.signEntity(w, outer, payload, ids, opts)
}

// signEntity writes content signed, with the given outer fields.
func (s *SMIME) signEntity(w io.Writer, outer mime.Header, content io.Reader, ids []smime.Identity, opts smime.SignOptions) error {
	for _, id := range ids {
		if err := s.Engine.CheckSigner(id); err != nil {
			return err
		}
	}
	if opts.Opaque {
		part, err := mime.WriteBase64Part(w, outer, mime.Header{
			{Key: "Content-Type", Value: smimeMimeType + "; smime-type=signed-data; name=smime.p7m"},
			{Key: "Content-Disposition", Value: "attachment; filename=smime.p7m"},
		})
		if err != nil {
			return err
		}
		sw, err := s.Engine.Sign(part, ids, opts)
		if err != nil {
			return err
		}
		if _, err := copyBody(sw, content); err != nil {
			return err
		}
		if err := sw.Close(); err != nil {
			return err
		}
		return part.Close()
	}
	var sig bytes.Buffer
	sw, err := s.Engine.Sign(&sig, ids, opts)
	if err != nil {
		return err
	}
	sigHeader := mime.Header{
		{Key: "Content-Type", Value: smimeSignatureType + "; name=smime.p7s"},
		{Key: "Content-Transfer-Encoding", Value: "base64"},
		{Key: "Content-Disposition", Value: "attachment; filename=smime.p7s"},
	}
	return mime.WriteSigned(w, outer, smimeSignatureType, opts.Micalg(ids), content, sw, sigHeader,
		func() ([]byte, error) {
			if err := sw.Close(); err != nil {
				return nil, err
			}
			var b64 bytes.Buffer
			enc := b64lines.NewWriter(&b64, 76, "\r\n")
			enc.Write(sig.Bytes())
			if err := enc.Close(); err != nil {
				return nil, err
			}
			return b64.Bytes(), nil
		})
}

// Encrypt writes m as application/pkcs7-mime (authEnveloped-data for GCM,
// enveloped-data for CBC) to the recipients, signed first by ids if any
// (sign-then-encrypt, RFC 8551 §3.7). The Bcc field is dropped.
func (s *SMIME) Encrypt(w io.Writer, m *mime.Message, to []*x509.Certificate, enc smime.EncryptOptions, ids []smime.Identity, sign smime.SignOptions) error {
	for _, id := range ids {
		if err := s.Engine.CheckSigner(id); err != nil {
			return err
		}
	}
	smimeType := "enveloped-data"
	if enc.Cipher.Authenticated() {
		smimeType = "authEnveloped-data"
	}
	outer, payload := mime.Protect(m, mime.ProtectOptions{Encrypt: true, KeepSubject: s.KeepSubject})
	part, err := mime.WriteBase64Part(w, outer, mime.Header{
		{Key: "Content-Type", Value: smimeMimeType + "; smime-type=" + smimeType + "; name=smime.p7m"},
		{Key: "Content-Disposition", Value: "attachment; filename=smime.p7m"},
	})
	if err != nil {
		return err
	}
	// Three goroutines share a large message: this one produces (and
	// signs) the content, one encrypts, one encodes base64 and writes.
	out := stage.NewWriter(part)
	ct, err := s.Engine.Encrypt(out, to, enc)
	if err != nil {
		out.Close()
		return err
	}
	pt := stage.NewWriter(ct)
	if len(ids) > 0 {
		err = s.signEntity(pt, nil, payload, ids, sign)
	} else {
		_, err = copyBody(pt, payload)
	}
	// Every stage is closed, even after an error, so no goroutine is left.
	if cerr := pt.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = ct.Close()
	}
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	return part.Close()
}
