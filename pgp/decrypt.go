package pgp

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	pgperrors "github.com/ProtonMail/go-crypto/openpgp/errors"
	"github.com/ProtonMail/go-crypto/openpgp/packet"
	openpgp "github.com/ProtonMail/go-crypto/openpgp/v2"

	"github.com/mailseal/mailseal/core"
	"github.com/mailseal/mailseal/internal/armor"
	"github.com/mailseal/mailseal/internal/spool"
	"github.com/mailseal/mailseal/internal/stage"
	"github.com/mailseal/mailseal/internal/upperhex"
)

// Keyring is what Decrypt may use.
type Keyring struct {
	Certs CertFinder // known public certs, for verifying signatures (may be nil)
	// Secrets finds secret keys, possibly locked, by key ID: an
	// openpgp.EntityList, or a keystore index that reads only the keys a
	// message is encrypted to. Key ID 0 (an anonymous recipient) asks for
	// every secret key. May be nil.
	Secrets CertFinder
	// Unlock unlocks a locked secret entity in place; its error should wrap
	// core.ErrLocked when no or a wrong passphrase was given. May be nil.
	Unlock func(*openpgp.Entity) error
	// Password returns the password of a password-encrypted (SKESK)
	// message. May be nil.
	Password func() ([]byte, error)
	// SessionKeys, when given, are tried first, in order, until one
	// decrypts the message; then the secret keys and the password.
	SessionKeys []SessionKey
	// ReportSessionKey asks for Decrypted.SessionKey (the SOP interface's
	// --session-key-out); otherwise the session key is not kept.
	ReportSessionKey bool
}

// Decrypted is the result of Decrypt. Body is only available once every
// check passed; Close discards the withheld plaintext.
type Decrypted struct {
	Encrypted     bool
	Integrity     string           // core.IntegrityMDC / IntegrityAEAD ("" if not encrypted)
	DecryptedWith string           // primary-key fingerprint ("" for a password)
	SessionKey    *SessionKey      // with Keyring.ReportSessionKey: the key the data was decrypted with
	Signers       []core.Signature // one per signature, with SignerStatus
	Body          io.Reader        // the verified plaintext
	// Warnings say what does not change the result but a reader should
	// know: the armor was damaged in transit and read leniently.
	Warnings []string
	spool    *spool.Spool
}

// Close releases the plaintext (memory or encrypted temporary file).
func (d *Decrypted) Close() error {
	if d == nil || d.spool == nil {
		return nil
	}
	return d.spool.Close()
}

// prescanSize is how much of the binary message is inspected before go-crypto
// reads it, to learn the recipients and the kind of encrypted packet.
const prescanSize = 64 << 10

// outer describes the packets in front of the encrypted data.
type outer struct {
	recipients []string // key IDs or fingerprints of the PKESK packets
	keyIDs     []uint64 // the key ID of each recipient that names only one (else 0)
	skesk      bool
	tag        int // 9 SED, 18 SEIPD, 20 AEAD (draft), 0 not encrypted / not found
	version    int // SEIPD version
	// size is the size of the message read, when its reader tells it
	// (Size, or a file's Stat); -1 when not.
	size int64
}

// inputSize is r's size when r tells it, else -1.
func inputSize(r io.Reader) int64 {
	switch v := r.(type) {
	case interface{ Size() int64 }:
		return v.Size()
	case *os.File:
		if st, err := v.Stat(); err == nil && st.Mode().IsRegular() {
			return st.Size()
		}
	}
	return -1
}

// decompressBackstop is go-crypto's cap on what each compressed packet
// decompresses to, set so that genuine data never reaches it: the
// plaintext expansionCap allows (the message's size plus max; without a
// known size, max stands for it) twice over, for the packets around the
// plaintext. It bounds the work a hostile message causes with packets that
// never become plaintext (go-crypto reads and skips unknown ones): at most
// this per compressed packet, of which go-crypto nests at most 32.
func decompressBackstop(max, size int64) int64 {
	if size < 0 {
		size = max
	}
	const ceiling = 1 << 62
	if max > ceiling/4 || size > ceiling/4 {
		return ceiling
	}
	return 2*(max+size) + 1<<20
}

func prescan(prefix []byte) outer {
	var o outer
	packets := packet.NewReader(bytes.NewReader(prefix))
	for {
		p, err := packets.Next()
		if err != nil {
			return o
		}
		switch p := p.(type) {
		case *packet.EncryptedKey:
			var id uint64
			switch {
			case len(p.KeyFingerprint) > 0:
				o.recipients = append(o.recipients, upperhex.Encode(p.KeyFingerprint))
			case p.KeyId == 0:
				o.recipients = append(o.recipients, "an anonymous recipient")
			default:
				o.recipients = append(o.recipients, fmt.Sprintf("key ID %016X (no certificate of it is stored)", p.KeyId))
				id = p.KeyId
			}
			o.keyIDs = append(o.keyIDs, id)
		case *packet.SymmetricKeyEncrypted:
			o.skesk = true
		case *packet.SymmetricallyEncrypted:
			if p.IntegrityProtected {
				o.tag, o.version = 18, p.Version
			} else {
				o.tag = 9
			}
			return o
		case *packet.AEADEncrypted:
			o.tag = 20
			return o
		default:
			return o
		}
	}
}

// expansionCap counts the plaintext written through it against the
// message bytes read so far (in) and fails with errExpanded once the
// plaintext is more than max bytes larger: that excess can only come from
// decompression. go-crypto's own cap (Config.MaxDecompressedMessageSize)
// cannot say this: it counts compressed packets' contents, stops at a read
// boundary, and inside encrypted data turns into a parsing error that
// cannot be told from tampering. It stays as a backstop (decompressBackstop)
// for what expansionCap does not see: packets that decompress and are
// skipped (unknown tags, Marker), never becoming plaintext.
type expansionCap struct {
	w   io.Writer
	in  *countReader
	max int64
	n   int64
}

var errExpanded = errors.New("decompressed data exceeds the limit")

func (c *expansionCap) Write(p []byte) (int, error) {
	if c.n+int64(len(p))-c.in.n.Load() > c.max {
		return 0, errExpanded
	}
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// countReader counts the bytes read through it. The count is read on
// another goroutine (the stage beside the decryption), hence atomic.
type countReader struct {
	r io.Reader
	n atomic.Int64
}

func (c *countReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n.Add(int64(n))
	return n, err
}

func (e *Engine) tooLarge() error {
	max := e.Policy().MaxDecompressed
	return fmt.Errorf("pgp: %w", &core.LimitError{Limit: "MaxDecompressed", Value: max,
		What: "decompressed data exceeds the " + core.SizeName(max) + " limit (if the message is genuine, raise the decompression limit)"})
}

// openInput returns the binary packet stream of an armored ("PGP MESSAGE")
// or binary message, and a function that releases it. Armor is decoded on
// a goroutine of its own, beside the decryption; with checksum, its CRC-24
// is computed as it goes (armor.Reader.ChecksumMismatch).
func openInput(r io.Reader, checksum bool) (io.Reader, *armor.Reader, func(), error) {
	br := bufio.NewReaderSize(r, stage.ReadBufferSize(r, 64<<10))
	first, err := br.Peek(1)
	if err != nil {
		if err == io.EOF {
			return nil, nil, nil, fmt.Errorf("pgp: decrypt: empty input: %w", core.ErrInput)
		}
		return nil, nil, nil, fmt.Errorf("pgp: decrypt: %v: %w", err, core.ErrInput)
	}
	if first[0]&0x80 != 0 {
		return br, nil, func() {}, nil
	}
	ar, err := armor.NewReader(br)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("pgp: decrypt: no OpenPGP message found (neither binary nor armored): %w", core.ErrInput)
	}
	if ar.Type != armorMessage {
		return nil, nil, nil, fmt.Errorf("pgp: decrypt: expected a %q armor block, got %q: %w", armorMessage, ar.Type, core.ErrInput)
	}
	if !checksum {
		ar.SkipChecksum()
	}
	sr := stage.NewReader(ar)
	return sr, ar, func() { sr.Close() }, nil
}

// armorDamaged reports whether the armored message at start of r has a
// CRC-24 line that does not match its data, reading it again.
func armorDamaged(r io.ReadSeeker, start int64) bool {
	if _, err := r.Seek(start, io.SeekStart); err != nil {
		return false
	}
	_, ar, release, err := openInput(r, true)
	if err != nil || ar == nil {
		return false
	}
	defer release()
	if _, err := io.Copy(io.Discard, ar); err != nil {
		return false
	}
	return ar.ChecksumMismatch()
}

// decryptionKeys is the keyring go-crypto reads a message with: it finds
// the secret keys for the message's encrypted session keys but not the
// signers, whose signatures Decrypt checks itself (so that a message to
// oneself is not hashed twice).
type decryptionKeys struct {
	secrets CertFinder
	cfg     *packet.Config
}

func (k decryptionKeys) EntitiesById(id uint64) []*openpgp.Entity {
	if k.secrets == nil {
		return nil
	}
	var out []*openpgp.Entity
	for _, ent := range k.secrets.EntitiesById(id) {
		if ent != nil && ent.PrimaryKey != nil && len(ent.DecryptionKeys(id, time.Time{}, k.cfg)) > 0 {
			out = append(out, ent)
		}
	}
	return out
}

func (k decryptionKeys) KeysById(id uint64) []openpgp.Key {
	return openpgp.EntityList(k.EntitiesById(id)).KeysById(id)
}

// hasSecrets reports whether f may hold a secret key: an empty list holds
// none; another finder (a keystore) may.
func hasSecrets(f CertFinder) bool {
	if l, ok := f.(openpgp.EntityList); ok {
		return len(l) > 0
	}
	return f != nil
}

// candidate is a signature of the message being read, with our own hash.
type candidate struct {
	c         *openpgp.SignatureCandidate
	ent       *openpgp.Entity
	pub       *packet.PublicKey
	in, final hash.Hash
	err       error
}

// Decrypt reads an armored or binary OpenPGP message (encrypted and/or
// signed; an inline "--armor --sign" message is read here too), withholds
// the plaintext in a spool until the MDC or AEAD check, the whole packet
// stream and the signatures are done, and only then returns it.
//
// Errors: tampered or truncated ciphertext, and encrypted data without
// integrity protection, wrap core.ErrIntegrity (and no plaintext is
// returned); no usable secret key wraps core.ErrNoKey and lists the key
// IDs the message is encrypted to; a locked key without passphrase or a wrong
// password wraps core.ErrLocked; decompression beyond
// Policy.MaxDecompressed and unreadable input wrap core.ErrInput.
// Signatures that do not verify are not errors: see Decrypted.Signers.
func (e *Engine) Decrypt(r io.Reader, kr Keyring) (*Decrypted, error) {
	// Input that can be read again (a file, a spool, a part of one) is
	// not checksummed while it is decrypted: the armor's CRC-24 serves
	// only the hint below, on an integrity failure, and is worked out
	// then, by reading the armor again.
	rs, again := r.(io.ReadSeeker)
	var start int64
	if again {
		var err error
		start, err = rs.Seek(0, io.SeekCurrent)
		again = err == nil
	}
	in, ar, release, err := openInput(r, !again)
	if err != nil {
		return nil, err
	}
	defer release()
	d, err := e.decryptInput(in, kr, inputSize(r))
	if ar == nil {
		return d, err
	}
	if errors.Is(err, core.ErrIntegrity) {
		// The armor's checksum, once it is read to the end, may say that
		// the armor was damaged in transit. It has no key, so a tamperer
		// can leave a stale one: the verdict stays, with the hint.
		var damaged bool
		if again {
			release() // the armor's goroutine reads r no more
			damaged = armorDamaged(rs, start)
		} else {
			io.Copy(io.Discard, in)
			damaged = ar.ChecksumMismatch()
		}
		if damaged {
			return nil, fmt.Errorf("%w (its armor checksum does not match either: it may have been damaged in transit; ask for it again)", err)
		}
	}
	if err == nil && ar.Repaired() {
		d.Warnings = append(d.Warnings, "the armored message was damaged in transit (spaces or a broken quoted-printable line break in it) and read leniently; its integrity check passed")
	}
	return d, err
}

// decryptInput is Decrypt on the binary packet stream in.
func (e *Engine) decryptInput(in io.Reader, kr Keyring, size int64) (*Decrypted, error) {
	prefix := make([]byte, prescanSize)
	n, err := io.ReadFull(in, prefix)
	if err != nil && err != io.ErrUnexpectedEOF && err != io.EOF {
		// Armor damage in encrypted data is damaged ciphertext, as it is
		// when the armor breaks beyond this prefix (see decrypt).
		if o := prescan(prefix[:n]); errors.Is(err, armor.ErrInvalid) && (o.tag != 0 || o.skesk || len(o.recipients) > 0) {
			return nil, fmt.Errorf("pgp: decrypt: the encrypted data is damaged (%v); no plaintext is released: %w", err, core.ErrIntegrity)
		}
		return nil, fmt.Errorf("pgp: decrypt: reading the message: %v: %w", err, core.ErrInput)
	}
	if n == 0 {
		return nil, fmt.Errorf("pgp: decrypt: no OpenPGP data: %w", core.ErrInput)
	}
	prefix = prefix[:n]
	o := prescan(prefix)
	o.size = size
	if o.tag == 9 {
		return nil, fmt.Errorf("pgp: decrypt: the message is encrypted without integrity protection (no MDC) and is refused; ask the sender to use a current OpenPGP program: %w", core.ErrIntegrity)
	}
	stream := io.MultiReader(bytes.NewReader(prefix), in)
	others := hasSecrets(kr.Secrets) || kr.Password != nil
	if len(kr.SessionKeys) > 1 || (len(kr.SessionKeys) == 1 && others) {
		// Without a quick check, a wrong session key shows only at the end
		// of the data: keep the ciphertext to try the next one, and then
		// the secret keys and the password.
		ct := spool.New(e.Policy().MaxMemorySpool)
		defer ct.Close()
		if _, err := io.Copy(ct, stream); err != nil {
			return nil, fmt.Errorf("pgp: decrypt: reading the message: %v: %w", err, core.ErrInput)
		}
		var errs []error
		for _, sk := range kr.SessionKeys {
			d, err := e.decrypt(ct.Reader(), kr, o, &sk, nil)
			if err == nil {
				return d, nil
			}
			if !errors.Is(err, core.ErrNoKey) {
				return nil, err
			}
			errs = append(errs, err)
		}
		if others {
			return e.decrypt(ct.Reader(), kr, o, nil, nil)
		}
		return nil, fmt.Errorf("pgp: decrypt: none of the %d session keys decrypts the message: %w", len(kr.SessionKeys), errors.Join(errs...))
	}
	var sk *SessionKey
	if len(kr.SessionKeys) == 1 {
		sk = &kr.SessionKeys[0]
	}
	if sk == nil && o.tag == 18 && o.version == 1 && n == prescanSize {
		kr.Password = onceFunc(kr.Password)
		if d, err, done := e.decryptSEIPDV1(prefix, stream, kr, o); done {
			return d, err
		}
	}
	return e.decrypt(stream, kr, o, sk, nil)
}

// decryptSEIPDV1 decrypts a large version 1 SEIPD message in two steps:
// go-crypto reads the first prescanSize bytes, which yields the session
// key (with every check, prompt and unlock of a whole read), then the whole
// message is decrypted with that key by seipdV1Reader, several times faster
// than go-crypto's own reader. done is false when the first step fails in a
// way a read of the whole message might not (the prefix cut a packet short):
// then the caller reads it as usual.
func (e *Engine) decryptSEIPDV1(prefix []byte, stream io.Reader, kr Keyring, o outer) (d *Decrypted, err error, done bool) {
	cfg := e.Config()
	cfg.CacheSessionKey = true
	p := &prompter{kr: kr}
	md, err := openpgp.ReadMessage(bytes.NewReader(prefix), decryptionKeys{kr.Secrets, cfg}, p.prompt, cfg)
	if err != nil {
		if p.err != nil {
			return nil, e.readError(err, p, o), true
		}
		return nil, nil, false
	}
	if !md.IsEncrypted || len(md.SessionKey) == 0 {
		return nil, nil, false
	}
	switch md.DecryptedWithAlgorithm {
	case packet.CipherAES128, packet.CipherAES192, packet.CipherAES256:
	default:
		return nil, nil, false
	}
	sk := &SessionKey{Cipher: md.DecryptedWithAlgorithm, Key: md.SessionKey}
	d, err = e.decrypt(stream, kr, o, sk, md)
	return d, err, true
}

// onceFunc returns f, calling it at most once (nil stays nil).
func onceFunc(f func() ([]byte, error)) func() ([]byte, error) {
	if f == nil {
		return nil
	}
	return sync.OnceValues(f)
}

// decrypt reads the binary message stream, with the secret keys and
// passwords of kr or, if sk is not nil, with sk only: a key the caller gave,
// or the one go-crypto found in the message's key packets (then found holds
// what it found).
func (e *Engine) decrypt(stream io.Reader, kr Keyring, o outer, sk *SessionKey, found *openpgp.MessageDetails) (*Decrypted, error) {
	cfg := e.Config()
	cfg.CacheSessionKey = kr.ReportSessionKey
	// Decompression is capped by expansionCap below, exactly; go-crypto's
	// cap is its backstop.
	backstop := decompressBackstop(e.Policy().MaxDecompressed, o.size)
	cfg.MaxDecompressedMessageSize = &backstop
	in := &countReader{r: stream}
	stream = in
	p := &prompter{kr: kr}
	given := sk != nil && found == nil
	var md *openpgp.MessageDetails
	var sealed io.ReadCloser // data opened with sk: its Close checks the MDC or AEAD tag
	var err error
	if sk != nil {
		if sealed, err = openWithSessionKey(stream, *sk); err == nil {
			md, err = openpgp.ReadMessage(sealed, openpgp.EntityList{}, nil, cfg)
		}
		switch {
		case err != nil && given:
			return nil, e.sessionKeyError(err)
		case err != nil:
			// found's key opened the message's first bytes: what fails
			// now is the decrypted data.
			return nil, e.damagedError(byPassword(found))
		}
	} else {
		md, err = openpgp.ReadMessage(stream, decryptionKeys{kr.Secrets, cfg}, p.prompt, cfg)
		if err != nil {
			return nil, e.readError(err, p, o)
		}
	}
	encrypted := md.IsEncrypted || sealed != nil

	// Hash the plaintext ourselves for every signature whose key we know, so
	// that each one gets its own verdict (go-crypto only reports the first).
	var cands []*candidate
	var writers []io.Writer
	for _, c := range md.SignatureCandidates {
		cd := &candidate{c: c}
		var fpr []byte
		if c.OPSVersion == 6 || (c.CorrespondingSig != nil && c.CorrespondingSig.Version == 6) {
			fpr = c.IssuerFingerprint
		}
		cd.ent, cd.pub = findSigner(c.IssuerKeyId, fpr, kr.Certs, kr.Secrets)
		if cd.ent != nil {
			cd.in, cd.final, cd.err = newSigHash(c.HashAlgorithm, c.SigType, c.Salt)
			if cd.in != nil {
				writers = append(writers, cd.in)
			}
		}
		cands = append(cands, cd)
	}

	sp := spool.New(e.Policy().MaxMemorySpool)
	// The plaintext is as large as the message that carried it, unless it
	// was compressed: what it has beyond that is capped.
	cw := &expansionCap{w: sp, in: in, max: e.Policy().MaxDecompressed}
	// The spool and our signature hashes each run on a goroutine of their
	// own, beside go-crypto's decryption and each other.
	stages := []*stage.Writer{stage.NewWriter(cw)}
	if len(writers) > 0 {
		stages = append(stages, stage.NewWriter(io.MultiWriter(writers...)))
	}
	sinks := make([]io.Writer, len(stages))
	for i, st := range stages {
		sinks[i] = st
	}
	_, err = io.Copy(io.MultiWriter(sinks...), md.UnverifiedBody)
	var sinkErr error
	for _, st := range stages {
		if cerr := st.Close(); sinkErr == nil {
			sinkErr = cerr
		}
	}
	if sinkErr != nil && !errors.Is(sinkErr, errExpanded) {
		// The spool failed (no room, no temporary directory): not the
		// message's fault, so not reported as damage.
		sp.Close()
		return nil, fmt.Errorf("pgp: decrypt: %w", sinkErr)
	}
	if err == nil {
		err = sinkErr
	}
	if err == nil && sealed != nil {
		err = sealed.Close()
	}
	tooLarge := errors.Is(err, errExpanded) || errors.Is(err, pgperrors.ErrMessageTooLarge)
	if err != nil && given && !tooLarge {
		sp.Close()
		return nil, e.sessionKeyError(err)
	}
	if err != nil {
		sp.Close()
		if tooLarge {
			return nil, e.tooLarge()
		}
		if encrypted {
			src := md
			if found != nil {
				src = found
			}
			return nil, e.damagedError(byPassword(src))
		}
		return nil, fmt.Errorf("pgp: decrypt: the message is damaged (%v): %w", err, core.ErrInput)
	}

	d := &Decrypted{Encrypted: encrypted, spool: sp, Signers: []core.Signature{}}
	switch {
	case !kr.ReportSessionKey:
	case sk != nil:
		d.SessionKey = &SessionKey{Cipher: sk.Cipher, Key: bytes.Clone(sk.Key)}
	case md.IsEncrypted && len(md.SessionKey) > 0:
		d.SessionKey = &SessionKey{Cipher: md.DecryptedWithAlgorithm, Key: bytes.Clone(md.SessionKey)}
	}
	if encrypted {
		d.Integrity = core.IntegrityMDC
		if o.tag == 20 || (o.tag == 18 && o.version == 2) {
			d.Integrity = core.IntegrityAEAD
		}
		with := md.DecryptedWith.Entity
		if found != nil {
			with = found.DecryptedWith.Entity
		}
		if with != nil && with.PrimaryKey != nil {
			d.DecryptedWith = Fingerprint(with.PrimaryKey)
		}
	}
	for _, cd := range cands {
		d.Signers = append(d.Signers, withSource(e.evalCandidate(cd), kr.Certs))
	}
	d.Body = sp.Reader()
	return d, nil
}

// evalCandidate checks that the signature packet matches its one-pass
// header and evaluates it.
func (e *Engine) evalCandidate(cd *candidate) core.Signature {
	c := cd.c
	sig := c.CorrespondingSig
	if sig == nil {
		s := core.Signature{Emails: []string{}, Status: core.SignerBad,
			Hash: core.HashName(c.HashAlgorithm), Error: "the signature packet announced by a one-pass signature header is missing or unreadable"}
		if cd.ent != nil {
			s.Fingerprint = Fingerprint(cd.ent.PrimaryKey)
			s.SigningKey = Fingerprint(cd.pub)
		} else {
			setIssuer(&s, &c.IssuerKeyId, c.IssuerFingerprint)
		}
		return s
	}
	mismatch := sig.SigType != c.SigType || sig.Hash != c.HashAlgorithm || sig.PubKeyAlgo != c.PubKeyAlgo ||
		(sig.IssuerKeyId != nil && *sig.IssuerKeyId != c.IssuerKeyId) ||
		(c.OPSVersion == 3 && sig.Version == 6) ||
		(c.OPSVersion == 6 && (sig.Version != 6 || !bytes.Equal(c.IssuerFingerprint, sig.IssuerFingerprint) || !bytes.Equal(c.Salt, sig.Salt())))
	s := e.evaluate(sig, cd.final, cd.err, cd.ent, cd.pub)
	if mismatch && s.Status != core.SignerUnknown {
		s.Status = core.SignerBad
		s.Valid = false
		s.Error = "the signature packet does not match its one-pass signature header"
	}
	return s
}

// sessionKeyError classifies an error of decrypting with a given session
// key: a wrong key and damaged data look the same, so both wrap
// core.ErrNoKey (the session key is what does not fit).
func (e *Engine) sessionKeyError(err error) error {
	switch {
	case errors.Is(err, core.ErrIntegrity), errors.Is(err, core.ErrInput), errors.Is(err, core.ErrNoKey):
		return fmt.Errorf("pgp: decrypt: %w", err)
	case errors.Is(err, pgperrors.ErrMessageTooLarge):
		return e.tooLarge()
	}
	// A wrong key turns the data into garbage that fails to parse in any
	// way (even as a truncation): that is not told apart from damage.
	return fmt.Errorf("pgp: decrypt: the session key does not decrypt the message, or the message is damaged (%v): %w", err, core.ErrNoKey)
}

// byPassword reports whether md's message was opened with a session key
// that a password gave: decrypted, but not with a public key.
func byPassword(md *openpgp.MessageDetails) bool {
	return md != nil && md.IsEncrypted && md.DecryptedWith.Entity == nil
}

// damagedError is the error of encrypted data that fails to decrypt, to
// parse or to pass its integrity check once decryption has begun. Its text
// is the same whatever failed: how decrypted garbage fails to parse tells
// an attacker who sends altered messages about the plaintext, which is why
// go-crypto reports all such failures as one error too.
//
// A wrong password yields a wrong session key, which fails just like
// damaged data (go-crypto does not check the two "quick check" bytes, an
// oracle of its own): with a key from a password, the error says the
// password may be wrong, and wraps core.ErrLocked.
func (e *Engine) damagedError(fromPassword bool) error {
	if fromPassword {
		return fmt.Errorf("pgp: decrypt: wrong password for the message (or the message is damaged): %w", core.ErrLocked)
	}
	return fmt.Errorf("pgp: decrypt: the encrypted data is damaged or was tampered with; no plaintext is released: %w", core.ErrIntegrity)
}

// readError classifies an error of openpgp.ReadMessage.
func (e *Engine) readError(err error, p *prompter, o outer) error {
	if p.err != nil {
		return fmt.Errorf("pgp: decrypt: %w", p.err)
	}
	var se pgperrors.DecryptWithSessionKeyError
	switch {
	case errors.Is(err, pgperrors.ErrKeyIncorrect):
		if len(o.recipients) == 0 && o.skesk {
			return fmt.Errorf("pgp: decrypt: the message is encrypted with a password and none was given: %w", core.ErrLocked)
		}
		to := "unknown keys"
		if len(o.recipients) > 0 {
			names := append([]string(nil), o.recipients...)
			// A v4 message names its recipients by key ID only: where the
			// certificate is stored, name it by its fingerprint.
			for i, id := range o.keyIDs {
				if id == 0 || p.kr.Certs == nil {
					continue
				}
				if ents := p.kr.Certs.EntitiesById(id); len(ents) > 0 {
					names[i] = Fingerprint(ents[0].PrimaryKey)
					if _, ident := ents[0].PrimaryIdentity(time.Now(), nil); ident != nil {
						names[i] += " " + ident.Name
					}
				}
			}
			to = strings.Join(names, ", ")
		}
		return fmt.Errorf("pgp: decrypt: no secret key for this message; it is encrypted to %s (import the matching secret key): %w", to, core.ErrNoKey)
	case errors.Is(err, pgperrors.ErrMessageTooLarge):
		return e.tooLarge()
	case errors.As(err, &se), errors.Is(err, pgperrors.ErrMDCHashMismatch), errors.Is(err, pgperrors.ErrMDCMissing),
		errors.Is(err, pgperrors.ErrAEADTagVerification):
		return e.damagedError(p.triedPassword && len(o.recipients) == 0)
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		if o.tag != 0 {
			return fmt.Errorf("pgp: decrypt: the encrypted message is truncated: %w", core.ErrIntegrity)
		}
		return fmt.Errorf("pgp: decrypt: the message is truncated or empty: %w", core.ErrInput)
	}
	var ue pgperrors.UnsupportedError
	if errors.As(err, &ue) && strings.Contains(string(ue), "integrity") {
		return fmt.Errorf("pgp: decrypt: %v; refused: %w", err, core.ErrIntegrity)
	}
	return fmt.Errorf("pgp: decrypt: %v: %w", err, core.ErrInput)
}

// prompter answers go-crypto's prompt: first it unlocks the locked secret
// keys the message is encrypted to, then it asks for the message password.
// It never loops: a second request for the same thing is an error.
type prompter struct {
	kr             Keyring
	triedUnlock    bool
	triedPassword  bool
	err            error
	lockedKeyNames []string
}

func (p *prompter) prompt(keys []openpgp.Key, symmetric bool) ([]byte, error) {
	if len(keys) > 0 && !p.triedUnlock {
		p.triedUnlock = true
		unlocked := false
		var errs []error
		seen := map[*openpgp.Entity]bool{}
		for _, k := range keys {
			ent := k.Entity
			if ent == nil || seen[ent] {
				continue
			}
			seen[ent] = true
			p.lockedKeyNames = append(p.lockedKeyNames, keyName(ent))
			if p.kr.Unlock == nil {
				continue
			}
			if err := p.kr.Unlock(ent); err != nil {
				errs = append(errs, err)
				continue
			}
			unlocked = true
		}
		if unlocked {
			return nil, nil // go-crypto retries with the unlocked keys
		}
		if !symmetric || p.kr.Password == nil {
			if len(errs) > 0 {
				p.err = fmt.Errorf("cannot unlock the secret key %s: %w", strings.Join(p.lockedKeyNames, ", "), errors.Join(errs...))
				if !errors.Is(p.err, core.ErrLocked) {
					p.err = fmt.Errorf("%w: %w", p.err, core.ErrLocked)
				}
			} else {
				p.err = fmt.Errorf("the secret key %s is locked and no passphrase was given: %w", strings.Join(p.lockedKeyNames, ", "), core.ErrLocked)
			}
			return nil, p.err
		}
	}
	if symmetric && p.kr.Password != nil && !p.triedPassword {
		p.triedPassword = true
		pw, err := p.kr.Password()
		if err != nil {
			p.err = fmt.Errorf("no password for the message: %w", err)
			if !errors.Is(err, core.ErrLocked) {
				p.err = core.WithKind(p.err, core.ErrLocked) // no secret key is involved
			}
			return nil, p.err
		}
		if pw == nil {
			pw = []byte{}
		}
		return pw, nil
	}
	switch {
	case p.triedPassword:
		p.err = fmt.Errorf("wrong password for the message: %w", core.ErrLocked)
	case symmetric && len(keys) == 0:
		p.err = fmt.Errorf("the message is encrypted with a password and none was given: %w", core.ErrLocked)
	case len(p.lockedKeyNames) > 0:
		p.err = fmt.Errorf("the secret key %s could not be used to decrypt the message: %w", strings.Join(p.lockedKeyNames, ", "), core.ErrNoKey)
	default:
		p.err = fmt.Errorf("no usable secret key for the message: %w", core.ErrNoKey)
	}
	return nil, p.err
}
