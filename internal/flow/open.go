package flow

import (
	"bytes"
	"crypto"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strings"
	"sync"

	"github.com/mailseal/mailseal/core"
	"github.com/mailseal/mailseal/mime"
)

// Engine is a protocol engine as the message flow uses it.
type Engine interface {
	Detector
	// open verifies or decrypts a protected entity found by Detect.
	open(f Found) (*Opened, error)
	// signedPartHashes are the hashes a signature of this protocol in a
	// multipart/signed with these Content-Type parameters will need over
	// its signed part, as raw bytes; none if the engine hashes otherwise.
	signedPartHashes(params map[string]string) []crypto.Hash
}

// Opened is the content of a protected entity after verification or
// decryption. Inner is released only after integrity and signatures have
// been checked.
type Opened struct {
	// Inner is the protected content as a MIME entity (header fields, blank
	// line, body), CRLF line endings.
	Inner     io.Reader
	Signers   []core.Signature
	Encrypted bool
	Integrity string
	// Cipher names the content cipher of encrypted content ("AES-256-CBC").
	Cipher        string
	DecryptedWith string
	// Unprotected names text that sits outside the protected block (inline PGP).
	Unprotected []string
	// Warnings are the engine's remarks (e.g. revocation status unknown).
	Warnings []string
	// Unwraps: Inner is content that was encapsulated in the protected
	// entity (S/MIME signed-data), not a copy of part of it, so decrypted
	// output shows Inner instead of the signed entity.
	Unwraps bool
	closer  func() error
	// tap, when set, hashed a signed part of Inner while it was decrypted.
	tap *mime.SignedPartTap
	// check, when set, is a signature check the engine left to run later
	// (the signature was read; only the content is left to hash): it
	// gives Signers and Warnings. finish runs it.
	check func() ([]core.Signature, []string, error)
}

// finish runs a signature check left for later.
// errNotEncrypted: decrypt was asked of a message that is not encrypted. It
// exits 1, like a failed verification, without claiming one.
var errNotEncrypted = core.WithKind(errors.New("the message is not encrypted (mailseal verify checks a signed message)"), core.ErrVerification)

func (o *Opened) finish() error {
	if o.check == nil {
		return nil
	}
	signers, warnings, err := o.check()
	o.check = nil
	if err != nil {
		return err
	}
	o.Signers = append(o.Signers, signers...)
	o.Warnings = append(o.Warnings, warnings...)
	return nil
}

// unauthenticated reports whether the content was decrypted with a cipher
// that does not protect it against alteration (S/MIME CBC).
func (o *Opened) unauthenticated() bool {
	return o.Encrypted && o.Integrity == core.IntegrityNone
}

// Close releases spooled plaintext.
func (o *Opened) Close() error {
	if o == nil || o.closer == nil {
		return nil
	}
	return o.closer()
}

// Result is the outcome of opening a message.
type Result struct {
	Report core.Report
	// Outer are the outer header fields to write before Inner (decrypt only).
	Outer mime.Header
	// Inner is the decrypted entity, nil when there is nothing to output.
	Inner  io.Reader
	opened []*Opened
	inner  *mime.Message
	// unwrapped is encapsulated signed content (S/MIME signed-data), parsed.
	unwrapped *mime.Message
	// innerPartial: the signature inside decrypted content covers only
	// part of it (a nested part, or inline blocks with text around them).
	innerPartial bool
	// protectedFrom: the protected From's addresses (Header Protection).
	protectedFrom []string
}

// ProtectedFrom are the addresses of the From that Header Protection (RFC
// 9788) protects, the one the signature was checked against ("" for a
// name without an address); nil when the message has no Header Protection.
func (r *Result) ProtectedFrom() []string { return r.protectedFrom }

// DecryptedHeader is the header of the decrypted content's root, nil when
// nothing was decrypted or its integrity is not protected (S/MIME CBC,
// which an attacker can alter).
func (r *Result) DecryptedHeader() mime.Header {
	if r.inner == nil || !r.Report.Encrypted || r.Report.Integrity == core.IntegrityNone || r.Report.Integrity == "" {
		return nil
	}
	return r.inner.Root.Header
}

// Close releases spooled data.
func (r *Result) Close() error {
	// The parsed messages first: they may still read the spools under
	// them (mime.HashSignedPart).
	var errs []error
	if r.inner != nil {
		errs = append(errs, r.inner.Close())
	}
	if r.unwrapped != nil {
		errs = append(errs, r.unwrapped.Close())
	}
	for _, o := range r.opened {
		errs = append(errs, o.Close())
	}
	return errors.Join(errs...)
}

// Options steer Open.
type Options struct {
	// Part names the protected entity to open when it is not the root
	// (IMAP-style path: "2", "1.2"; "1" is the body of a single-part
	// message). Only that part is output.
	Part string
	// Decrypt says the caller wants decrypted output: a message that is not
	// encrypted is an error, and nested ciphertext is never opened.
	Decrypt bool
	Limits  mime.Limits
	// MemLimit is how much decrypted content is kept in memory when parsed.
	MemLimit int64
	// Output, with Decrypt, receives the decrypted message to write (outer
	// header fields, and the entity) once it is known, while a signature
	// inside it is still being checked: when the cipher protected the
	// content, the output does not depend on the check, and both read the
	// withheld plaintext side by side. (Content decrypted without integrity
	// protection is written only after the check, if at all: see
	// AllowUnauthenticated.) Open returns Output's error. Without Output,
	// the caller writes Result.Outer and Result.Inner after Open.
	Output func(outer mime.Header, inner io.Reader) error
	// AllowUnauthenticated releases decrypted content that neither its
	// cipher nor a good signature protects against alteration (S/MIME
	// CBC, unsigned); the report then says so. See releaseUnauthenticated.
	AllowUnauthenticated bool
}

// Open finds the protected entity of m, verifies or decrypts it, and
// applies the message-level rules. The report's status is set; errors are
// returned for unreadable input, missing keys and integrity failures.
func Open(m *mime.Message, engines []Engine, opts Options) (*Result, error) {
	res := &Result{Outer: m.Root.Header.NonContentFields()}
	if err := res.open(m, engines, opts); err != nil {
		res.Close()
		return nil, unopened(&res.Report, err)
	}
	return res, nil
}

// unopened adds to the error of a message that could not be opened that
// it is encrypted, as far as open learned it: a multipart/encrypted (or
// enveloped S/MIME) target, or an inline block whose key is missing or
// locked, or whose ciphertext fails.
func unopened(rep *core.Report, err error) error {
	keyOrIntegrity := errors.Is(err, core.ErrNoKey) || errors.Is(err, core.ErrLocked) || errors.Is(err, core.ErrIntegrity)
	if rep.Protocol == "" || !rep.Encrypted && !keyOrIntegrity {
		return err
	}
	return &core.UnopenedError{Protocol: rep.Protocol, Encrypted: true, Part: rep.EncryptedPart, Err: err}
}

// open is Open's work; an error leaves res to be closed.
func (res *Result) open(m *mime.Message, engines []Engine, opts Options) error {
	senders, err := Senders(m.Root.Header)
	if err != nil {
		return fmt.Errorf("%w: %w", core.ErrInput, err)
	}
	rep := &res.Report
	rep.Signers = []core.Signature{}
	var innerCheck func() error // a signature check inside decrypted content, left for later

	target, explicit, err := pickTarget(m, engines, opts.Part)
	if err != nil {
		return err
	}
	if err := checkStructure(m, target); err != nil {
		return err
	}
	if target == nil {
		if opts.Decrypt {
			return errNotEncrypted
		}
		rep.Assess(senders)
		return nil
	}
	rep.Protocol = target.Protocol
	path := target.Entity.Path
	if target.Kind == KindEncrypted { // known before opening, for an error that stops it (unopened)
		rep.Encrypted, rep.EncryptedPart = true, path
	}
	nested := path != "" && !explicit && !soleContent(m.Root, target.Entity)

	if nested && (opts.Decrypt || target.Kind == KindEncrypted) {
		// EFAIL: ciphertext inside attacker-controlled structure is never
		// decrypted into the surrounding message.
		rep.Encrypted = target.Kind == KindEncrypted || target.Kind == KindInline
		rep.EncryptedPart = path
		rep.SignedPart = path
		rep.Unprotected = Unprotected(m, path)
		rep.Status = core.StatusPartial
		rep.Error = fmt.Sprintf("the protected content is nested in part %s among unprotected parts; it is not opened (name it with --part %s to open that part alone)", path, path)
		return nil
	}

	opened, err := engineFor(engines, target.Protocol).open(*target)
	if err != nil {
		return err
	}
	res.opened = append(res.opened, opened)
	if err := opened.finish(); err != nil {
		return err
	}
	rep.Encrypted = opened.Encrypted
	rep.Integrity = opened.Integrity
	rep.DecryptedWith = opened.DecryptedWith
	rep.Signers = append(rep.Signers, opened.Signers...)
	rep.Warnings = append(rep.Warnings, opened.Warnings...)
	if target.Entity.MediaType == "multipart/signed" {
		warns, err := uncoveredText(target.Entity)
		if err != nil {
			return err
		}
		rep.Warnings = append(rep.Warnings, warns...)
	}
	if opened.Encrypted {
		rep.EncryptedPart = path
	}
	if len(opened.Signers) > 0 {
		rep.SignedPart = path
	}
	if nested {
		rep.Unprotected = Unprotected(m, path)
	}
	rep.Unprotected = append(rep.Unprotected, opened.Unprotected...)

	if opts.Decrypt && !opened.Encrypted {
		return errNotEncrypted
	}
	if opts.Decrypt && len(opened.Unprotected) > 0 && !explicit {
		// Inline ciphertext with other text around it: refuse to merge.
		rep.Status = core.StatusPartial
		rep.Error = "the armored block has unprotected text around it; it is not decrypted into the message (name it with --part to open the block alone)"
		return nil
	}

	if opened.Encrypted {
		// The decrypted entity may itself be signed (RFC 3156 §6.1).
		inner, err := parseDecrypted(opened.Inner, opened.tap, engines, opts)
		if err != nil {
			return damaged(opened, fmt.Errorf("decrypted content: %w", err))
		}
		res.inner = inner
		res.Inner = inner.Root.Raw()
		if len(opened.Signers) == 0 {
			if innerCheck, err = openInnerSignature(res, inner, engines, opts); err != nil {
				return damaged(opened, err)
			}
		}
	}
	fromDiffers := false
	var protected mime.Header // the protected header fields, with Header Protection
	if !nested && !explicit {
		pe, err := protectedEntity(res, target, opened, opts)
		if err != nil {
			return damaged(opened, err)
		}
		if pe != nil {
			ps, err := headerProtection(rep, res.Outer, pe)
			if err != nil {
				return damaged(opened, fmt.Errorf("%w: protected header: %w", core.ErrInput, err))
			}
			if ps != nil {
				protected = pe.Header.NonContentFields()
				fromDiffers = !sameFrom(senders, ps)
				senders = *ps
				res.protectedFrom = ps.From
				if opened.Encrypted {
					if res.Outer, res.Inner, err = protectedOutput(res.Outer, pe); err != nil {
						return damaged(opened, err)
					}
				}
			}
		}
	}
	if opened.unauthenticated() {
		// Nothing is written before the signature inside is judged.
		if innerCheck != nil {
			if err := innerCheck(); err != nil {
				return damaged(opened, err)
			}
			innerCheck = nil
		}
		if err := res.releaseUnauthenticated(opened, opts); err != nil {
			return err
		}
	}
	if err := res.output(opts, innerCheck); err != nil {
		return err
	}
	if len(rep.Signers) > 0 {
		rep.Warnings = append(rep.Warnings, headerWarnings(m.Root.Header, protected)...)
	}
	if explicit {
		// The user chose this part: judge it as if it were the message.
		signed, unprot := rep.SignedPart, rep.Unprotected
		rep.SignedPart, rep.Unprotected = "", nil
		rep.Assess(senders)
		rep.SignedPart, rep.Unprotected = signed, unprot
		return nil
	}
	rep.Assess(senders)
	if fromDiffers && rep.Status == core.StatusGood {
		rep.Status = core.StatusSenderMismatch
		rep.Error = "the From or Sender outside differs from the protected one: a client that shows the outer header would show a sender who did not sign"
	}
	rep.Warnings = append(rep.Warnings, signerWarnings(rep, m.Root.Header, protected)...)
	return nil
}

// parseDecrypted parses withheld plaintext in place when the engine's
// spool offers random access (one spool instead of two), else by copying.
// A signed part at its root is hashed during the parse, for the signature
// check that follows, unless tap hashed it while it was decrypted.
func parseDecrypted(r io.Reader, tap *mime.SignedPartTap, engines []Engine, opts Options) (*mime.Message, error) {
	hash := HashSignedPart(engines)
	if ra, ok := r.(interface {
		io.ReaderAt
		Size() int64
	}); ok {
		if tap != nil {
			return mime.ParseAt(ra, ra.Size(), opts.Limits, opts.MemLimit, hash, mime.ParseWithTap(tap))
		}
		return mime.ParseAt(ra, ra.Size(), opts.Limits, opts.MemLimit, hash)
	}
	return mime.Parse(r, opts.Limits, opts.MemLimit, hash)
}

// HashSignedPart is the parse option that hashes the signed part of a
// root multipart/signed while the message is parsed, with the hashes the
// engine of its protocol will need (see mime.HashSignedPart).
func HashSignedPart(engines []Engine) mime.ParseOption {
	return mime.HashSignedPart(signedPartHashes(engines))
}

// signedPartHashes is the function that names the hashes of a signed
// part, for HashSignedPart and mime.NewSignedPartTap: those the engine of
// a multipart/signed with these parameters needs.
func signedPartHashes(engines []Engine) func(params map[string]string) []crypto.Hash {
	return func(params map[string]string) []crypto.Hash {
		for _, e := range engines {
			if _, ok := e.Detect(&mime.Entity{MediaType: "multipart/signed", Params: params}); ok {
				return e.signedPartHashes(params)
			}
		}
		return nil
	}
}

// protectedEntity is the root of the Cryptographic Payload (RFC 9788):
// the decrypted entity, the signed part of a multipart/signed (also
// inside encryption), or encapsulated signed content. When decrypted
// content is signed, the payload is what the signature covers: header
// fields on the signature's wrapper (a multipart/signed or signed-data
// entity with hp="cipher") are covered by no signature, and anyone who
// has the recipient's certificate can encrypt someone's signed message
// under header fields of their own.
func protectedEntity(res *Result, target *Found, opened *Opened, opts Options) (*mime.Entity, error) {
	switch {
	case opened.Encrypted && res.inner != nil:
		root := res.inner.Root
		// A multipart/signed of two parts or more (parts after the
		// signature are unprotected) is a wrapper.
		wrapper := res.unwrapped != nil || root.MediaType == "multipart/signed" && len(root.Children) >= 2
		if root.Params["hp"] != "" && (len(opened.Signers) > 0 || !wrapper) {
			return root, nil // a signature over all of it, or none
		}
		if res.unwrapped != nil {
			return res.unwrapped.Root, nil
		}
		if root.MediaType == "multipart/signed" && len(root.Children) >= 2 {
			return root.Children[0], nil
		}
	case target.Entity.MediaType == "multipart/signed" && len(target.Entity.Children) >= 2:
		return target.Entity.Children[0], nil
	case opened.Unwraps && opened.Inner != nil:
		m, err := mime.Parse(opened.Inner, opts.Limits, opts.MemLimit)
		if err != nil {
			return nil, fmt.Errorf("signed content: %w", err)
		}
		res.unwrapped = m
		return m.Root, nil
	}
	return nil, nil
}

// output hands the decrypted message to opts.Output, with a signature
// check left for later running beside it, or runs that check.
func (res *Result) output(opts Options, check func() error) error {
	if opts.Output == nil || res.Inner == nil {
		if check != nil {
			return check()
		}
		return nil
	}
	checked := make(chan error, 1)
	if check != nil {
		go func() { checked <- check() }()
	} else {
		checked <- nil
	}
	err := opts.Output(res.Outer, res.Inner)
	if cerr := <-checked; err == nil {
		err = cerr
	}
	return err
}

// Decrypted content that its cipher does not protect (S/MIME EnvelopedData
// in CBC mode) may have been altered by anyone on the way: CBC lets an
// attacker who knows some of the plaintext, as the predictable MIME
// structure around any message is known, rewrite a block at the price of
// the one before it (EFAIL), or strip a signature by spoiling the
// structure that holds it. Only a good signature over all of it shows
// that it is what its signer wrote; the rules that follow from that are
// damaged and releaseUnauthenticated.

// damaged turns an error about content that was decrypted without
// integrity protection, and does not parse as what it should be, into an
// integrity failure: such damage is what tampering looks like. Other
// errors, and errors about protected content, pass unchanged.
func damaged(opened *Opened, err error) error {
	if err == nil || !opened.unauthenticated() || !errors.Is(err, core.ErrInput) {
		return err
	}
	return fmt.Errorf("%w: the message was encrypted with %s, which has no integrity protection, and its content is damaged: it was altered in transit or badly made; nothing was released (%v)",
		core.ErrIntegrity, opened.Cipher, err)
}

// releaseUnauthenticated decides, once every signature inside is judged,
// whether decrypted content that its cipher did not protect is released:
//   - it is, when good signatures cover all of it;
//   - a bad signature withholds it (the report is then bad); so does
//     content whose Content-Type says it is signed with no signature in
//     it (an integrity failure: a damaged or stripped signature);
//   - anything else (unsigned, an unknown or untrusted signer, a
//     signature over part of it) is withheld unless
//     opts.AllowUnauthenticated: then it is released, marked
//     Report.Unauthenticated, with a warning.
func (res *Result) releaseUnauthenticated(opened *Opened, opts Options) error {
	rep := &res.Report
	covered := len(rep.Signers) > 0 && !res.innerPartial
	for _, s := range rep.Signers {
		switch s.Status {
		case core.SignerBad:
			res.Inner = nil
			rep.Error = fmt.Sprintf("a signature is bad (see the signer) and the message was encrypted with %s, which has no integrity protection: nothing shows that the content is unaltered, so nothing was released", opened.Cipher)
			return nil
		case core.SignerGood:
		default:
			covered = false
		}
	}
	if covered {
		return nil
	}
	if len(rep.Signers) == 0 && res.inner != nil && claimsSigned(res.inner) {
		return fmt.Errorf("the message was encrypted with %s, which has no integrity protection, and its content says it is signed but holds no signature that can be checked: the signature was damaged or stripped in transit; nothing was released: %w",
			opened.Cipher, core.ErrIntegrity)
	}
	what := "no good signature covers its content"
	if len(rep.Signers) == 0 {
		what = "it is not signed"
	}
	if !opts.AllowUnauthenticated {
		res.Inner = nil
		rep.Error = fmt.Sprintf("the message was encrypted with %s, which has no integrity protection, and %s: it may have been altered in transit, so nothing was released (decrypt --allow-unauthenticated releases it)", opened.Cipher, what)
		return nil
	}
	rep.Unauthenticated = true
	rep.Warnings = append([]string{fmt.Sprintf("unauthenticated content: the message was encrypted with %s, which has no integrity protection, and %s: it may have been altered in transit", opened.Cipher, what)}, rep.Warnings...)
	return nil
}

// signedHeader matches what only the header of a signed entity says: a
// multipart/signed media type, a signature protocol, or S/MIME signed-data.
var signedHeader = sync.OnceValue(func() *regexp.Regexp {
	return regexp.MustCompile(`(?i)multipart/signed|application/(x-)?(pkcs7|pgp)-signature|smime-type\s*=\s*"?signed-data`)
})

// maxHeaderScan bounds the text claimsSigned reads.
const maxHeaderScan = 64 << 10

// claimsSigned reports whether decrypted content says it is signed: the
// text before its first empty line (its header, parsed or not: damage can
// make a header field unreadable, or end the header early, and leave the
// text of the rest) names a signed media type or a signature protocol.
func claimsSigned(m *mime.Message) bool {
	head, _ := io.ReadAll(io.LimitReader(m.Root.Raw(), maxHeaderScan))
	for _, blank := range []string{"\r\n\r\n", "\n\n"} {
		if i := bytes.Index(head, []byte(blank)); i >= 0 {
			head = head[:i]
		}
	}
	return signedHeader().Match(head)
}

// openInnerSignature opens a signature inside decrypted content. A check
// the engine left for later is returned (with what depends on it), for
// the caller to run; it must run before the report is assessed.
func openInnerSignature(res *Result, inner *mime.Message, engines []Engine, opts Options) (func() error, error) {
	found := Locate(inner, detectors(engines))
	if len(found) == 0 {
		return nil, nil
	}
	f := found[0]
	if f.Kind == KindEncrypted {
		res.Report.Warnings = append(res.Report.Warnings, "decrypted content holds another encrypted part; it was not opened")
		return nil, nil
	}
	if err := checkStructure(inner, &f); err != nil {
		return nil, fmt.Errorf("decrypted content: %w", err)
	}
	if f.Entity.MediaType == "multipart/signed" {
		warns, err := uncoveredText(f.Entity)
		if err != nil {
			return nil, fmt.Errorf("decrypted content: %w", err)
		}
		res.Report.Warnings = append(res.Report.Warnings, warns...)
	}
	opened, err := engineFor(engines, f.Protocol).open(f)
	if err != nil {
		return nil, err
	}
	res.opened = append(res.opened, opened)
	if opened.Unwraps && f.Entity.Path == "" {
		m, err := mime.Parse(opened.Inner, opts.Limits, opts.MemLimit)
		if err != nil {
			return nil, fmt.Errorf("signed content: %w", err)
		}
		res.unwrapped = m
		res.Inner = m.Root.Raw()
	}
	res.innerPartial = f.Entity.Path != "" || len(opened.Unprotected) > 0
	if f.Entity.Path != "" {
		res.Report.SignedPart = "inner:" + f.Entity.Path
		res.Report.Unprotected = append(res.Report.Unprotected, Unprotected(inner, f.Entity.Path)...)
	}
	res.Report.Unprotected = append(res.Report.Unprotected, opened.Unprotected...)
	merge := func() error {
		if err := opened.finish(); err != nil {
			return err
		}
		res.Report.Signers = append(res.Report.Signers, opened.Signers...)
		res.Report.Warnings = append(res.Report.Warnings, opened.Warnings...)
		return nil
	}
	if opened.check == nil {
		return nil, merge()
	}
	return merge, nil
}

// pickTarget returns the protected entity to open: the named part, or the
// outermost protected entity.
func pickTarget(m *mime.Message, engines []Engine, part string) (*Found, bool, error) {
	dets := detectors(engines)
	if part != "" {
		e := m.Find(strings.TrimSpace(part))
		if e == nil && part == "1" && !m.Root.IsMultipart() {
			e = m.Root
		}
		if e == nil {
			return nil, false, fmt.Errorf("the message has no part %q: %w", part, core.ErrUsage)
		}
		for _, d := range dets {
			detect := d.Detect
			if n, ok := d.(interface {
				DetectNamed(*mime.Entity) (Kind, bool)
			}); ok {
				detect = n.DetectNamed
			}
			if k, ok := detect(e); ok {
				return &Found{Entity: e, Kind: k, Protocol: d.Protocol()}, true, nil
			}
		}
		return nil, false, fmt.Errorf("part %s is neither signed nor encrypted: %w", part, core.ErrUsage)
	}
	found := Locate(m, dets)
	if len(found) == 0 {
		return nil, false, nil
	}
	return &found[0], false, nil
}

// soleContent reports whether target is all that root holds: every
// multipart from root down to it has exactly one part (a multipart/mixed
// around a single text/html part, as Outlook sends inline PGP), so there
// is no unprotected part around it that a client would show beside it.
func soleContent(root, target *mime.Entity) bool {
	e := root
	for e != target {
		if !e.IsMultipart() || len(e.Children) != 1 {
			return false
		}
		e = e.Children[0]
	}
	return true
}

func engineFor(engines []Engine, protocol string) Engine {
	for _, e := range engines {
		if e.Protocol() == protocol {
			return e
		}
	}
	return nil
}

func detectors(engines []Engine) []Detector {
	dets := make([]Detector, len(engines))
	for i, e := range engines {
		dets[i] = e
	}
	return dets
}
