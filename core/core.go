// Package core is the vocabulary every mailseal package shares: the
// Report of a verification or decryption and the rules that turn the
// engines' per-signature results into one verdict (Report.Assess), the
// verification Policy, the error kinds that map to the command-line exit
// codes, and the reading of addresses that binds a signer to a sender:
// UserIDAddress (the one reading of an OpenPGP user ID) and SameAddress.
//
// It sits below the engines (pgp, smime), the MIME layer and the keystore,
// which all speak it. Go programs normally use these names through the
// root package mailseal, which re-exports each of them and adds the
// message-level operations (Sign, Encrypt, Open) on top of the engines.
// Apart from the user ID, nothing here knows a protocol's details.
package core

import (
	"crypto"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Status is the verdict on a message's signature.
type Status string

const (
	// StatusGood: every signature is valid, covers the root of the message,
	// comes from a known, valid key, and the signer is the single From address.
	StatusGood Status = "good"
	// StatusBad: a signature does not verify (tampered content, wrong key).
	StatusBad Status = "bad"
	// StatusRefused: a signature uses an algorithm, hash or key size the
	// policy refuses (SHA-1, DSA-1024, RSA under 2048 bits); it may well be
	// genuine, and it is not checked further. The signer's Error says what.
	StatusRefused Status = "refused"
	// StatusUntrusted: the signature verifies, but the signer is not valid
	// (revoked, expired, not chained to a trust anchor).
	StatusUntrusted Status = "untrusted"
	// StatusUnknownSigner: the signing key is not known.
	StatusUnknownSigner Status = "unknown-signer"
	// StatusSenderMismatch: the signature is good but the signer is not the
	// single From address (or From/Sender are ambiguous).
	StatusSenderMismatch Status = "sender-mismatch"
	// StatusPartial: a signature (or encryption) covers only part of the message.
	StatusPartial Status = "partial"
	// StatusUnsigned: there is no signature at all.
	StatusUnsigned Status = "unsigned"
	// StatusError: the message could not be checked at all (unreadable
	// input, missing key); the report's Error says why.
	StatusError Status = "error"
)

// Protocol names as reported in Report.Protocol.
const (
	ProtocolOpenPGP = "openpgp"
	ProtocolSMIME   = "smime"
)

// Integrity names how the decrypted content was protected against tampering.
const (
	IntegrityMDC  = "mdc"  // OpenPGP SEIPDv1 modification detection code
	IntegrityAEAD = "aead" // OpenPGP SEIPDv2 (AEAD)
	IntegrityGCM  = "gcm"  // CMS AuthEnvelopedData
	IntegrityNone = "none" // CMS EnvelopedData in CBC mode: no integrity protection
	// IntegrityFailed: the ciphertext was tampered with; nothing was released.
	IntegrityFailed = "failed"
)

// SignerStatus is the verdict on one signature, before the message-level
// rules (root only, sender binding) are applied.
type SignerStatus string

const (
	SignerGood      SignerStatus = "good"      // cryptographically valid, key valid
	SignerBad       SignerStatus = "bad"       // does not verify: forged, altered or damaged
	SignerUntrusted SignerStatus = "untrusted" // verifies, but the key is revoked/expired/not trusted
	// SignerRefused: not accepted because of the policy, not because it
	// fails: a weak hash (SHA-1, MD5), a small or retired key type. Error
	// names what was refused.
	SignerRefused SignerStatus = "refused"
	SignerUnknown SignerStatus = "unknown" // no key to check it with
)

// MaxClockSkew is how far a signature's creation time may lie after the
// verification time, or outside its certificate's validity period (set by
// another clock, the CA's): the signer's clock may run a little fast or
// slow.
const MaxClockSkew = 15 * time.Minute

// CheckCreated returns why a signature claiming to be made at created is
// bad at the verification time now: it claims to be made later than now
// (beyond MaxClockSkew), so the signer's clock is wrong or the time is
// false; or nil. Both engines judge a signature from the future by it.
func CheckCreated(created, now time.Time) error {
	if created.After(now.Add(MaxClockSkew)) {
		return fmt.Errorf("the signature claims to be made at %s, after the verification time %s (by more than the %v allowed for clock differences): the signer's clock is wrong or the time is false",
			created.UTC().Format(time.RFC3339), now.UTC().Format(time.RFC3339), MaxClockSkew)
	}
	return nil
}

// Signature describes one signature found on a message.
type Signature struct {
	// Fingerprint is the full fingerprint of the OpenPGP primary key, or the
	// SHA-256 fingerprint of the X.509 certificate, upper-case hex; empty
	// (absent in JSON) when the signer is unknown.
	Fingerprint string `json:"fingerprint,omitempty"`
	// KeyID is the 16-digit issuer key ID of an OpenPGP signature by an
	// unknown key that names its key by nothing else (no Issuer
	// Fingerprint: v3 signatures, old signers). Empty whenever a
	// fingerprint is known. Never used to identify a key.
	KeyID string `json:"key_id,omitempty"`
	// SigningKey is the full fingerprint of the (sub)key that made the
	// signature; for an unknown OpenPGP signer, the Issuer Fingerprint
	// the signature carries.
	SigningKey string `json:"signing_key,omitempty"`
	// Emails are the addresses the signer is bound to: those its valid
	// OpenPGP user IDs bind (UserIDAddress), or its certificate's. The
	// From address must be one of them.
	Emails []string `json:"emails"`
	// UnboundUserIDs are the signer's valid user IDs that name an address
	// but bind none (UserIDAddress says why); they match no From address.
	UnboundUserIDs []string `json:"unbound_user_ids,omitempty"`
	// Names are the names the signer's key or certificate gives: those of
	// its valid OpenPGP user IDs ("Alice Example" of "Alice Example
	// <alice@example.org>"), the certificate's common name unless it is an
	// address. A From display name that is none of them is a warning.
	Names  []string     `json:"names,omitempty"`
	Valid  bool         `json:"valid"`
	Status SignerStatus `json:"status"`
	// Created is the signing time the signature claims; zero (absent in
	// JSON) when the signature gives none or is too damaged to read.
	Created time.Time `json:"created,omitzero"`
	Hash    string    `json:"hash,omitempty"`
	// Mode is what an OpenPGP signature covers: "binary" (the exact bytes)
	// or "text" (CRLF-canonical text).
	Mode string `json:"mode,omitempty"`
	// Chain is the certificate chain (subjects, leaf first) for S/MIME.
	Chain []string `json:"chain,omitempty"`
	// Error says why the signature is not good.
	Error string `json:"error,omitempty"`
	// Source is how the signer's OpenPGP key arrived in the keystore,
	// when the keys come from one: "import" (by the user), "generate",
	// "wkd", "dane", "dane+dnssec" (validated by DNSSEC), "vks", with
	// " (accepted)" once the user accepted a key found on the network. A
	// genuine signature by a network key not accepted is "untrusted".
	Source string `json:"source,omitempty"`
}

// Report is the status of a verify or decrypt operation, printed with --json.
type Report struct {
	Status   Status      `json:"status"`
	Protocol string      `json:"protocol,omitempty"`
	Signers  []Signature `json:"signers"`
	// SignedPart is the MIME part path of the signed entity: empty for the
	// root of the message, else e.g. "2" or "1.2".
	SignedPart string `json:"signed_part"`
	Encrypted  bool   `json:"encrypted"`
	// EncryptedPart is the part path of the encrypted entity ("" = root).
	EncryptedPart string `json:"encrypted_part,omitempty"`
	// Integrity is set after decryption: mdc, aead, gcm or none.
	Integrity string `json:"integrity,omitempty"`
	// Unauthenticated: the decrypted content was released although neither
	// its cipher (S/MIME CBC) nor a good signature protects it against
	// alteration in transit (decrypt --allow-unauthenticated).
	Unauthenticated bool `json:"unauthenticated,omitempty"`
	// DecryptedWith is the fingerprint of the key that decrypted the message.
	DecryptedWith string `json:"decrypted_with,omitempty"`
	// From is the single From address the signer was checked against.
	From string `json:"from,omitempty"`
	// Unprotected lists parts (or text outside armored blocks) that are
	// neither signed nor encrypted while another part is.
	Unprotected []string `json:"unprotected,omitempty"`
	// HeaderProtection is the RFC 9788 hp value of the protected content:
	// "cipher" (encrypted) or "clear" (signed only); empty without.
	HeaderProtection string `json:"header_protection,omitempty"`
	// OuterDiffers names outer header fields that differ from what the
	// protected header says should be outside (added or changed in transit,
	// e.g. an injected Reply-To); the protected values are the ones that count.
	// A changed or removed Subject, To, Cc or Date is a warning too. Fields
	// are compared as a reader sees them (addresses by mailbox, Subject
	// decoded, Date by its instant), so one written again in another form
	// is not named.
	OuterDiffers []string `json:"outer_differs,omitempty"`
	// Warnings name what could mislead a reader while the verdict stands:
	// a display name that shows another address or changed in transit, a
	// Reply-To or text around the signed part that no signature covers,
	// revocation status unknown, no integrity protection. The text output
	// puts them on its first line.
	Warnings []string `json:"warnings,omitempty"`
	// Auth is the domain's verdict (DKIM, SPF, DMARC; package auth), set
	// when asked for (OpenOptions.Auth, verify --auth). It never changes
	// Status: the person's signature and the domain's are judged apart.
	Auth  *AuthReport `json:"auth,omitempty"`
	Error string      `json:"error,omitempty"`
}

// Senders are the addresses a signature must be bound to, from the
// message's From and Sender header fields (addresses only, as written).
type Senders struct {
	From   []string // one per mailbox of the From field, "" for a display name without an address
	Sender string
}

// Assess applies the message-level rules to the engines' per-signature
// results and sets r.Status:
//   - no signature: unsigned;
//   - any bad signature: bad; any refused by the policy: refused; any
//     unknown signer: unknown-signer; any signer that is not valid:
//     untrusted (in that order of precedence);
//   - all good but the signed entity is not the root, or parts of the
//     message are unprotected: partial;
//   - all good but not exactly one From address, Sender differs from From,
//     or a signer's addresses do not include From: sender-mismatch;
//   - otherwise good.
func (r *Report) Assess(senders Senders) {
	r.Status = assess(r, senders)
}

// fromCountWarning says why a From with other than one mailbox, or one
// without an address (a display name alone), binds no signer.
func fromCountWarning(from []string) string {
	n := 0
	for _, a := range from {
		if a != "" {
			n++
		}
	}
	w := fmt.Sprintf("message has %d From addresses", n)
	if names := len(from) - n; names > 0 {
		w += fmt.Sprintf(" (and %d display name(s) without an address)", names)
	}
	return w + "; a signature can be bound to exactly one"
}

func assess(r *Report, senders Senders) Status {
	if len(r.Signers) == 0 {
		return StatusUnsigned
	}
	worst := SignerGood
	for _, s := range r.Signers {
		switch {
		case s.Status == SignerBad:
			worst = SignerBad
		case s.Status == SignerRefused && worst != SignerBad:
			worst = SignerRefused
		case s.Status == SignerUnknown && worst != SignerBad && worst != SignerRefused:
			worst = SignerUnknown
		case s.Status == SignerUntrusted && worst == SignerGood:
			worst = SignerUntrusted
		}
	}
	switch worst {
	case SignerBad:
		return StatusBad
	case SignerRefused:
		return StatusRefused
	case SignerUnknown:
		return StatusUnknownSigner
	case SignerUntrusted:
		return StatusUntrusted
	}
	if r.SignedPart != "" || len(r.Unprotected) > 0 {
		return StatusPartial
	}
	if len(senders.From) != 1 || senders.From[0] == "" {
		r.Warnings = append(r.Warnings, fromCountWarning(senders.From))
		return StatusSenderMismatch
	}
	from := senders.From[0]
	r.From = from
	if senders.Sender != "" && !SameAddress(senders.Sender, from) {
		r.Warnings = append(r.Warnings, fmt.Sprintf("Sender %s differs from From %s", senders.Sender, from))
		return StatusSenderMismatch
	}
	for _, s := range r.Signers {
		match := false
		for _, e := range s.Emails {
			if SameAddress(e, from) {
				match = true
				break
			}
		}
		if !match {
			warn := fmt.Sprintf("signer %s is not %s", s.Fingerprint, from)
			for _, uid := range s.UnboundUserIDs {
				if _, err := UserIDAddress(uid); err != nil {
					warn += " (" + err.Error() + ")"
				}
			}
			r.Warnings = append(r.Warnings, warn)
			return StatusSenderMismatch
		}
	}
	return StatusGood
}

// SameAddress compares two email addresses: the local part exactly, the
// domain with ASCII letters case-insensitively and every other character
// exactly (Unicode case folding would make the Kelvin sign U+212A a "k").
func SameAddress(a, b string) bool {
	al, ad, ok1 := splitAddress(a)
	bl, bd, ok2 := splitAddress(b)
	if !ok1 || !ok2 || al != bl || len(ad) != len(bd) {
		return false
	}
	for i := 0; i < len(ad); i++ {
		if lowerASCII(ad[i]) != lowerASCII(bd[i]) {
			return false
		}
	}
	return true
}

// AddressKey is a key under which addresses SameAddress finds equal are
// equal (for maps and sets): the local part as it is, the domain with
// ASCII letters in lower case. A string that is not an address is its own
// key.
func AddressKey(a string) string {
	local, domain, ok := splitAddress(a)
	if !ok {
		return a
	}
	b := []byte(domain)
	for i := range b {
		b[i] = lowerASCII(b[i])
	}
	return local + "@" + string(b)
}

func lowerASCII(c byte) byte {
	if 'A' <= c && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}

func splitAddress(a string) (local, domain string, ok bool) {
	a = strings.TrimSpace(a)
	i := strings.LastIndexByte(a, '@')
	if i <= 0 || i == len(a)-1 {
		return "", "", false
	}
	return a[:i], a[i+1:], true
}

// Exit codes of the mailseal command, documented in the README.
const (
	ExitOK           = 0
	ExitVerification = 1 // bad/partial/untrusted/mismatched/missing signature, tampered ciphertext
	ExitUsage        = 2 // usage error or unreadable input
	ExitKey          = 3 // missing or locked key
)

// ExitCode is the exit code for a finished report: 0 only for good.
func (r *Report) ExitCode() int {
	if r.Status == StatusGood {
		return ExitOK
	}
	return ExitVerification
}

// Error kinds. Wrap them (fmt.Errorf("...: %w", ErrIntegrity)) so ExitCode
// can classify an error without string matching.
var (
	// ErrIntegrity: ciphertext was tampered with, truncated, or lacks
	// integrity protection where it is required.
	ErrIntegrity = errors.New("integrity check failed")
	// ErrVerification: a signature failed or the message is not signed as required.
	ErrVerification = errors.New("verification failed")
	// ErrNoKey: a needed key is missing, unusable (revoked, expired, no
	// encryption subkey), or cannot be unlocked.
	ErrNoKey = errors.New("no usable key")
	// ErrLocked: a secret key is protected and no (or a wrong) passphrase was given.
	ErrLocked = errors.New("secret key is locked")
	// ErrUsage: bad flags or arguments.
	ErrUsage = errors.New("usage error")
	// ErrInput: the input could not be read or parsed.
	ErrInput = errors.New("unreadable input")
)

// WithKind classifies err as kind (for errors.Is and ExitCode) without
// adding kind's text to the message. It is for errors whose own words say
// what happened and which a kind's name would misdescribe: a server's 550
// answer is no failed verification, though it exits 1 like one.
func WithKind(err, kind error) error {
	if err == nil {
		return nil
	}
	return &kindError{err: err, kind: kind}
}

type kindError struct{ err, kind error }

func (e *kindError) Error() string   { return e.err.Error() }
func (e *kindError) Unwrap() []error { return []error{e.err, e.kind} }

// LimitError is input refused because it goes beyond a configured limit
// (kind ErrInput). Limit names the setting — the field of mime.Limits or
// Policy, e.g. "MaxSize", "MaxDecompressed" — so that a caller can say how
// to raise it (the command-line tool names its flag); Value is the limit.
type LimitError struct {
	Limit string
	Value int64
	// What says what went beyond the limit, e.g. "message exceeds the
	// size limit of 1 GiB".
	What string
}

func (e *LimitError) Error() string   { return e.What }
func (e *LimitError) Unwrap() error   { return ErrInput }
func (e *LimitError) Is(t error) bool { return t == ErrInput }

// SizeName writes a size in bytes the way limits are given: "256 MiB",
// "1 GiB", or "1234 bytes" when it is no whole number of KiB.
func SizeName(n int64) string {
	switch {
	case n >= 1<<30 && n%(1<<30) == 0:
		return fmt.Sprintf("%d GiB", n>>30)
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%d MiB", n>>20)
	case n >= 1<<10 && n%(1<<10) == 0:
		return fmt.Sprintf("%d KiB", n>>10)
	}
	return fmt.Sprintf("%d bytes", n)
}

// ExitCode classifies an error into one of the documented exit codes.
func ExitCode(err error) int {
	switch {
	case err == nil:
		return ExitOK
	case errors.Is(err, ErrNoKey), errors.Is(err, ErrLocked):
		return ExitKey
	case errors.Is(err, ErrIntegrity), errors.Is(err, ErrVerification):
		return ExitVerification
	default:
		return ExitUsage
	}
}

// Policy is what verification and decryption accept. It is a value passed
// down to the engines, never global state; tests pass their own.
type Policy struct {
	// Now is the verification time; zero means time.Now().
	Now time.Time
	// AllowSHA1 accepts SHA-1 signatures (off by default; PKITS tests only).
	AllowSHA1 bool
	// AcceptSHA1Before accepts SHA-1 signatures made before this time:
	// those of messages (their signing time), certificates (their
	// notBefore) and CRLs (their thisUpdate), as an archive of mail from
	// before SHA-1 was retired needs. Those times are the signer's claim,
	// so this is for mail known to be that old. Zero: none.
	AcceptSHA1Before time.Time
	// MinRSABits is the smallest RSA key accepted (default 2048).
	MinRSABits int
	// MaxDecompressed caps how far OpenPGP compressed data may expand: the
	// plaintext may be at most this much larger than the message read.
	MaxDecompressed int64
	// MaxMemorySpool is how much withheld plaintext is kept in memory
	// before it spills to an encrypted temporary file.
	MaxMemorySpool int64
}

// DefaultPolicy is the policy of the command-line tool.
func DefaultPolicy() Policy {
	return Policy{
		MinRSABits:      2048,
		MaxDecompressed: 256 << 20, // 256 MiB: more than any mail, small enough to stop a bomb in seconds
		// 2 MiB: ordinary mail stays in memory; beyond, memory would only
		// grow with the message, and fresh memory is not free either.
		MaxMemorySpool: 2 << 20,
	}
}

// WithDefaults returns p with every zero field that has a default in
// DefaultPolicy (MinRSABits, MaxDecompressed, MaxMemorySpool) set to it,
// so that a zero Policy means the default one.
func (p Policy) WithDefaults() Policy {
	d := DefaultPolicy()
	if p.MinRSABits <= 0 {
		p.MinRSABits = d.MinRSABits
	}
	if p.MaxDecompressed <= 0 {
		p.MaxDecompressed = d.MaxDecompressed
	}
	if p.MaxMemorySpool <= 0 {
		p.MaxMemorySpool = d.MaxMemorySpool
	}
	return p
}

// SHA1Accepted reports whether the policy accepts a SHA-1 signature made
// at made (zero: unknown, which AcceptSHA1Before does not accept).
func (p Policy) SHA1Accepted(made time.Time) bool {
	return p.AllowSHA1 || (!made.IsZero() && made.Before(p.AcceptSHA1Before))
}

// Time returns the verification time of the policy.
func (p Policy) Time() time.Time {
	if p.Now.IsZero() {
		return time.Now()
	}
	return p.Now
}

// HashName is the name of a hash as reported in Signature.Hash ("SHA-256").
func HashName(h crypto.Hash) string {
	switch h {
	case crypto.MD5:
		return "MD5"
	case crypto.SHA1:
		return "SHA-1"
	case crypto.RIPEMD160:
		return "RIPEMD-160"
	case crypto.SHA224:
		return "SHA-224"
	case crypto.SHA256:
		return "SHA-256"
	case crypto.SHA384:
		return "SHA-384"
	case crypto.SHA512:
		return "SHA-512"
	case crypto.SHA3_256:
		return "SHA3-256"
	case crypto.SHA3_512:
		return "SHA3-512"
	}
	return fmt.Sprintf("hash #%d", int(h))
}

// UnopenedError is the error of a message that could not be opened (a
// missing or locked key, tampered or unreadable ciphertext) with what was
// learned of it first: its protocol and that it is encrypted, and where.
// errors.Is and errors.As see Err through it.
type UnopenedError struct {
	Protocol  string // ProtocolOpenPGP or ProtocolSMIME
	Encrypted bool
	Part      string // the part path of the encrypted entity ("" = root)
	Err       error
}

func (e *UnopenedError) Error() string { return e.Err.Error() }
func (e *UnopenedError) Unwrap() error { return e.Err }

// ErrorReport is the report of a message that could not be checked:
// status error, or bad with integrity failed for tampered ciphertext;
// encrypted (and its protocol) when an UnopenedError says so; the error's
// text as Error.
func ErrorReport(err error) Report {
	r := Report{Status: StatusError, Signers: []Signature{}, Error: err.Error()}
	var ue *UnopenedError
	if errors.As(err, &ue) {
		r.Protocol, r.Encrypted, r.EncryptedPart = ue.Protocol, ue.Encrypted, ue.Part
	}
	if errors.Is(err, ErrIntegrity) {
		r.Status, r.Encrypted, r.Integrity = StatusBad, true, IntegrityFailed
	}
	return r
}
