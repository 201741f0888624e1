// Package mailseal signs, encrypts, verifies and decrypts whole email
// messages with OpenPGP (PGP/MIME, RFC 3156, and inline PGP) or S/MIME
// (RFC 8551), applying the rules that make a verdict mean what it says.
//
// The operations work on a parsed message (mime.Parse, mime.ParseFile) and
// write to an io.Writer:
//
//	err := mailseal.Sign(w, msg, signer)
//	err := mailseal.Encrypt(w, msg, recipients, mailseal.SignWith(signer))
//	opened, err := mailseal.Open(msg, keys, mailseal.OpenOptions{Decrypt: true, Output: w})
//
// The protocol follows from the keys: a Recipient or Signer is either an
// OpenPGP key (pgp.Recipient, pgp.Signer) or an X.509 certificate
// (smime.Recipient, smime.Signer). They may come from anywhere; the
// keystore package selects them for addresses (keystore.Session), and
// implements KeyFinder, which ChooseRecipients, ChooseSigner and PlanSend
// use to decide the protocol per recipient.
//
// What Sign and Encrypt add to the engines: the message's header is
// protected (RFC 9788 Header Protection: hp="clear" when signed, "cipher"
// when encrypted, with the Subject replaced outside), Bcc is never
// written, and content is made 7-bit safe where a signature needs it.
//
// What Open adds: only the root of a message counts as signed or is
// decrypted; text or parts outside the protected one make the verdict
// partial; a signer must be bound to the single From address (the report's
// status is good only then); a structure readers could take two ways is
// not judged; what could mislead a reader (a display name, Reply-To, an
// unprotected preamble) is a warning in the Report; and decrypted content
// is written only after its integrity is verified (see OpenOptions).
//
// The vocabulary (Report, Status, Policy, the error kinds and their exit
// codes) is defined in package core and re-exported here under the same
// names. Nothing in this package is global: each call gets its keys and
// policy from its arguments.
package mailseal

import (
	"context"
	"crypto/x509"
	"fmt"
	"io"
	"strings"
	"time"

	openpgp "github.com/ProtonMail/go-crypto/openpgp/v2"

	"github.com/mailseal/mailseal/auth"
	"github.com/mailseal/mailseal/autocrypt"
	"github.com/mailseal/mailseal/core"
	"github.com/mailseal/mailseal/internal/flow"
	"github.com/mailseal/mailseal/mime"
	"github.com/mailseal/mailseal/pgp"
	"github.com/mailseal/mailseal/smime"
)

// A Recipient is a key to encrypt a message to: a pgp.Recipient (an
// OpenPGP certificate) or an smime.Recipient (an X.509 certificate).
// Encrypt refuses other implementations.
type Recipient interface {
	Protocol() string    // ProtocolOpenPGP or ProtocolSMIME
	Fingerprint() string // upper-case hex, as in Report and keys list
}

// A Signer is a key to sign a message with: a pgp.Signer (an unlocked
// OpenPGP secret key) or an smime.Signer (a certificate with its private
// key, chain and signing options). Sign and Encrypt refuse other
// implementations.
type Signer interface {
	Protocol() string
	Fingerprint() string
}

// isMessage refuses input that is no mail at all (random bytes, a PDF):
// a message has header fields; the parser, lenient as mail needs, reads
// anything else as a body without a header.
func isMessage(m *mime.Message) error {
	if len(m.Root.Header) == 0 {
		return fmt.Errorf("not an RFC 5322 message: it has no header fields (give the whole message, its header included): %w", ErrInput)
	}
	return nil
}

// An Option changes how Sign and Encrypt work.
type Option func(*options)

type options struct {
	policy      Policy
	signer      Signer
	smimeEnc    smime.EncryptOptions
	keepSubject bool
}

// SignWith makes Encrypt sign the message with s before encrypting it
// (sign-then-encrypt). s must be of the recipients' protocol.
func SignWith(s Signer) Option { return func(o *options) { o.signer = s } }

// WithPolicy sets the policy the engines check keys and algorithms
// against; the default, and that of its zero fields, is DefaultPolicy().
func WithPolicy(p Policy) Option { return func(o *options) { o.policy = p } }

// WithSMIME sets the S/MIME content cipher and key transport of Encrypt;
// the default is AES-256-GCM (authEnveloped-data) and RSA PKCS #1 v1.5 key
// transport to RSA recipients.
func WithSMIME(e smime.EncryptOptions) Option { return func(o *options) { o.smimeEnc = e } }

// WithKeepSubject(true) makes Encrypt leave the real Subject readable
// outside instead of "[...]" (it still travels protected inside). No
// header field a reader sees is hidden then, so no legacy display element
// goes into the body (RFC 9788 section 4.5). The default hides it.
func WithKeepSubject(keep bool) Option { return func(o *options) { o.keepSubject = keep } }

func collect(opts []Option) options {
	var o options
	for _, f := range opts {
		f(&o)
	}
	o.policy = o.policy.WithDefaults()
	return o
}

// Sign writes m signed by s: PGP/MIME or S/MIME multipart/signed (or
// S/MIME signed-data with smime.SignOptions.Opaque), with the header
// protected (hp="clear").
func Sign(w io.Writer, m *mime.Message, s Signer, opts ...Option) error {
	if err := isMessage(m); err != nil {
		return err
	}
	o := collect(opts)
	switch s := s.(type) {
	case pgp.Signer:
		return (&flow.OpenPGP{Engine: pgp.New(o.policy)}).Sign(w, m, s.Entity)
	case smime.Signer:
		sm := &flow.SMIME{Engine: smime.New(o.policy)}
		return sm.Sign(w, m, []smime.Identity{s.Identity}, s.Options)
	case nil:
		return fmt.Errorf("mailseal: Sign needs a signer: %w", ErrUsage)
	}
	return fmt.Errorf("mailseal: cannot sign with a %T: give a pgp.Signer or an smime.Signer: %w", s, ErrUsage)
}

// Encrypt writes m encrypted to every recipient in to, all of one
// protocol (PlanSend splits a mixed list into one copy per protocol), and
// signed first with SignWith. The header is protected (hp="cipher": the
// real Subject travels inside, "[...]" outside unless WithKeepSubject, and
// at the top of the text a client shows, for clients without Header
// Protection), and Bcc is dropped.
// Nothing is written when the recipients or the signer are not usable.
func Encrypt(w io.Writer, m *mime.Message, to []Recipient, opts ...Option) error {
	if err := isMessage(m); err != nil {
		return err
	}
	o := collect(opts)
	if len(to) == 0 {
		return fmt.Errorf("mailseal: no recipients to encrypt to: %w", ErrUsage)
	}
	protocol := to[0].Protocol()
	for _, r := range to {
		if r.Protocol() != protocol {
			return fmt.Errorf("mailseal: recipients of both OpenPGP and S/MIME in one message: encrypt a copy per protocol (PlanSend does): %w", ErrUsage)
		}
		if r.Fingerprint() == "" {
			return fmt.Errorf("mailseal: a recipient without a key (a zero %T): %w", r, ErrUsage)
		}
	}
	if o.signer != nil && o.signer.Protocol() != protocol {
		return fmt.Errorf("mailseal: the signer is %s but the recipients are %s: %w", o.signer.Protocol(), protocol, ErrUsage)
	}
	switch protocol {
	case ProtocolOpenPGP:
		var keys []*openpgp.Entity
		for _, r := range dedupe(to) {
			pr, ok := r.(pgp.Recipient)
			if !ok {
				return fmt.Errorf("mailseal: cannot encrypt to a %T: give a pgp.Recipient: %w", r, ErrUsage)
			}
			keys = append(keys, pr.Entity)
		}
		var signer *openpgp.Entity
		if o.signer != nil {
			ps, ok := o.signer.(pgp.Signer)
			if !ok {
				return fmt.Errorf("mailseal: cannot sign with a %T: give a pgp.Signer: %w", o.signer, ErrUsage)
			}
			signer = ps.Entity
		}
		return (&flow.OpenPGP{Engine: pgp.New(o.policy), KeepSubject: o.keepSubject}).Encrypt(w, m, keys, signer)
	case ProtocolSMIME:
		var certs []*x509.Certificate
		for _, r := range dedupe(to) {
			sr, ok := r.(smime.Recipient)
			if !ok {
				return fmt.Errorf("mailseal: cannot encrypt to a %T: give an smime.Recipient: %w", r, ErrUsage)
			}
			certs = append(certs, sr.Cert)
		}
		var ids []smime.Identity
		var signOpts smime.SignOptions
		if o.signer != nil {
			ss, ok := o.signer.(smime.Signer)
			if !ok {
				return fmt.Errorf("mailseal: cannot sign with a %T: give an smime.Signer: %w", o.signer, ErrUsage)
			}
			ids, signOpts = []smime.Identity{ss.Identity}, ss.Options
		}
		sm := &flow.SMIME{Engine: smime.New(o.policy), KeepSubject: o.keepSubject}
		return sm.Encrypt(w, m, certs, o.smimeEnc, ids, signOpts)
	}
	return fmt.Errorf("mailseal: unknown protocol %q of recipient %s: %w", protocol, to[0].Fingerprint(), ErrUsage)
}

// dedupe drops repeated recipients (by fingerprint), keeping the order.
func dedupe(to []Recipient) []Recipient {
	seen := map[string]bool{}
	var out []Recipient
	for _, r := range to {
		if f := r.Fingerprint(); !seen[f] {
			seen[f] = true
			out = append(out, r)
		}
	}
	return out
}

// Keys are what Open verifies signatures and decrypts with. A
// keystore.Session gives them from a keystore (Session.Keys); a program
// with keys of its own fills in the fields. Each field may be left zero:
// a signature then has no key to be checked with (unknown signer), and a
// message no key to be decrypted with (ErrNoKey).
type Keys struct {
	// OpenPGP are the certificates that verify OpenPGP signatures and the
	// secret keys (or session keys, or a password) that decrypt.
	OpenPGP pgp.Keyring
	// SMIMETrust gives the anchors, intermediates and CRLs S/MIME signers
	// are validated against. It is called only when a message needs it.
	SMIMETrust func() (smime.Trust, error)
	// SMIMEIdentities gives the certificates and private keys that decrypt
	// S/MIME. It is called only to decrypt.
	SMIMEIdentities func() ([]smime.Identity, error)
}

// OpenOptions steer Open.
type OpenOptions struct {
	// Decrypt asks for the decrypted message: a message that is not
	// encrypted is an error (kind ErrVerification), and it is written to
	// Output. Without Decrypt, Open verifies: a signed message, and an
	// encrypted one is decrypted to check a signature inside (its secret
	// key is needed) but its content is not output.
	Decrypt bool
	// Output receives the decrypted message (Decrypt only), once its
	// integrity is verified: MDC, AEAD or GCM; content decrypted without
	// integrity protection (S/MIME CBC) only when a good signature covers
	// it, or with AllowUnauthenticated. A signature inside is still being
	// checked while it is written: the Report says what it found. Nil
	// discards the decrypted message.
	Output io.Writer
	// Part names the protected part to open when it is not the root
	// (IMAP-style path: "2", "1.2"); it is then judged as if it were the
	// message, and only it is output: the caller chose it, with what
	// surrounds it.
	Part string
	// Policy is what signatures, keys and algorithms are checked against
	// (nil, or zero fields, mean those of DefaultPolicy()); At overrides
	// its time.
	Policy *Policy
	// At judges signatures and certificates at this time instead of now.
	At time.Time
	// PreferSMIME tries the S/MIME engine first where both could read a
	// part (they recognise different media types, so it rarely matters).
	PreferSMIME bool
	// AllowUnauthenticated releases S/MIME CBC content that no good
	// signature covers; the report's Unauthenticated field says so.
	AllowUnauthenticated bool
	// Limits bound the parse of decrypted content (m itself was parsed
	// with the caller's); zero fields mean mime.DefaultLimits. Give the
	// same Limits here as to mime.Parse.
	Limits mime.Limits
	// Auth, when set, also asks whether the message's domain sent it:
	// auth.Check (DKIM, SPF, DMARC) on the whole message, into
	// Report.Auth. Status stays the end-to-end verdict; a good signature
	// with a failing domain check, or the reverse, is a warning.
	Auth *auth.Options
	// Autocrypt, when set, learns from the message as an Autocrypt Level 1
	// reader does: the sender's Autocrypt header, and the Autocrypt-Gossip
	// fields of decrypted content whose integrity is protected (an
	// autocrypt.Store does this). The message counts as received at At, or
	// now. A failure to record is a warning, not an error: the verdict
	// stands.
	Autocrypt AutocryptIngester
}

// An AutocryptIngester records what a received message says for
// Autocrypt (autocrypt.Store is one).
type AutocryptIngester interface {
	Ingest(in autocrypt.Incoming, gossip []autocrypt.Header) error
}

// Opened is what Open found.
type Opened struct {
	Report
	// Decrypted: the decrypted message was released (written to Output).
	Decrypted bool
}

// ExitCode is the command-line exit code for the outcome: the report's,
// except that a decrypted message that is simply not signed is a success
// (its integrity was verified; there was no signature to check).
func (o *Opened) ExitCode() int {
	if o.Decrypted && o.Status == StatusUnsigned {
		return ExitOK
	}
	return o.Report.ExitCode()
}

// HashingOption is the mime.ParseOption that lets Open check a signed
// message without reading its signed part twice: it hashes the part
// while the message is parsed, with the hashes its protocol needs.
// Messages parsed without it are verified the same, a little slower.
func HashingOption() mime.ParseOption {
	return flow.HashSignedPart(engines(nil, Policy{}, false))
}

// Open verifies or decrypts m. The Report's status is set for every
// message that could be checked (a bad signature is a report, not an
// error); errors are returned for unreadable input (ErrInput), a missing
// or locked key (ErrNoKey, ErrLocked), tampered ciphertext (ErrIntegrity)
// and an error writing Output.
func Open(m *mime.Message, keys Keys, opts OpenOptions) (*Opened, error) {
	if err := isMessage(m); err != nil {
		return nil, err
	}
	var policy Policy
	if opts.Policy != nil {
		policy = *opts.Policy
	}
	policy = policy.WithDefaults()
	if !opts.At.IsZero() {
		policy.Now = opts.At
	}
	fo := flow.Options{
		Part: opts.Part, Decrypt: opts.Decrypt, Limits: opts.Limits, MemLimit: policy.MaxMemorySpool,
		AllowUnauthenticated: opts.AllowUnauthenticated,
	}
	var outErr error
	if opts.Decrypt {
		fo.Output = func(outer mime.Header, inner io.Reader) error {
			w := opts.Output
			if w == nil {
				w = io.Discard
			}
			outErr = mime.WriteMessage(w, outer, inner)
			return outErr
		}
	}
	res, err := flow.Open(m, engines(&keys, policy, opts.PreferSMIME), fo)
	if outErr != nil {
		return nil, outErr
	}
	if err != nil {
		return nil, err
	}
	defer res.Close()
	opened := &Opened{Report: res.Report, Decrypted: opts.Decrypt && res.Inner != nil}
	if opts.Auth != nil {
		a, err := auth.Check(context.Background(), m, *opts.Auth)
		if err != nil {
			return nil, err
		}
		opened.Auth = a
		opened.Warnings = append(opened.Warnings, contrast(&opened.Report, res.ProtectedFrom())...)
	}
	if opts.Autocrypt != nil {
		received := opts.At
		if received.IsZero() {
			received = time.Now()
		}
		if in, ok := autocrypt.ReadMessage(m.Root, received); ok {
			var gossip []autocrypt.Header
			if h := res.DecryptedHeader(); h != nil {
				gossip = autocrypt.ReadGossip(h)
			}
			if err := opts.Autocrypt.Ingest(in, gossip); err != nil {
				opened.Warnings = append(opened.Warnings, "the Autocrypt state was not updated: "+err.Error())
			}
		}
	}
	return opened, nil
}

// contrast says plainly when the person's verdict and the domain's
// disagree: a good signature on mail its domain did not send (DMARC
// fail), or mail the domain sent whose signature is not good. DMARC
// judges the outer From (RFC 7489); with Header Protection the signature
// covers the protected From (protectedFrom), which an RFC 9788 reader
// shows: when its domain is another, a warning names both, since the
// domain verdict is then about an address the signer did not write.
func contrast(r *Report, protectedFrom []string) []string {
	a := r.Auth
	if a == nil || a.DMARC == nil {
		return nil
	}
	proto := map[string]string{ProtocolOpenPGP: "OpenPGP", ProtocolSMIME: "S/MIME"}[r.Protocol]
	if proto == "" {
		proto = "OpenPGP/S/MIME"
	}
	judged := a.Domain
	var out []string
	if a.Domain != "" && len(protectedFrom) > 0 {
		// Every protected From mailbox counts, as for the signer binding
		// and DMARC (one with no address, or several, never a match).
		var others []string
		seen := map[string]bool{} // each once, by a set: a From may name thousands
		for _, f := range protectedFrom {
			d, err := auth.AddressDomain(f)
			if err != nil || !strings.Contains(f, "@") { // no valid domain name: another one all the same
				d = fmt.Sprintf("%q, which is no valid domain", f)
			}
			if d != a.Domain && !seen[d] {
				seen[d] = true
				others = append(others, d)
			}
		}
		if len(others) > 0 {
			judged += ", the outer From's domain"
			out = append(out, fmt.Sprintf("DMARC judged the outer From's domain %s, but the protected From (Header Protection), the one the signature covers, is at %s: the domain verdict (%s) is not about that sender",
				a.Domain, strings.Join(others, " and "), a.Verdict))
		}
	}
	switch {
	case r.Status == StatusGood && a.Verdict == core.AuthFail:
		out = append(out, fmt.Sprintf("the %s signature is good, but the domain check fails (DMARC fail for %s): the signer wrote it, but it did not come from %s's servers as sent",
			proto, judged, a.Domain))
	case r.Status != StatusGood && r.Status != StatusUnsigned && r.Status != StatusError && a.Verdict == core.AuthPass:
		out = append(out, fmt.Sprintf("the domain check passes (DMARC pass for %s), but the %s signature is %s: %s sent it, which does not show that the signer wrote it",
			judged, proto, r.Status, a.Domain))
	}
	return out
}

// engines are the two protocol engines of the flow, with keys.
func engines(keys *Keys, policy Policy, preferSMIME bool) []flow.Engine {
	op := &flow.OpenPGP{Engine: pgp.New(policy)}
	sm := &flow.SMIME{Engine: smime.New(policy)}
	if keys != nil {
		op.Keyring = keys.OpenPGP
		sm.LoadTrust = keys.SMIMETrust
		sm.Identities = keys.SMIMEIdentities
		if sm.Identities == nil {
			sm.Identities = func() ([]smime.Identity, error) { return nil, nil }
		}
	}
	if preferSMIME {
		return []flow.Engine{sm, op}
	}
	return []flow.Engine{op, sm}
}

// protocolNames joins protocol names for a message: "openpgp or smime".
func protocolNames(ps []string) string { return strings.Join(ps, " or ") }
