package pgp

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/ProtonMail/go-crypto/openpgp/clearsign"

	"github.com/mailseal/mailseal/core"
	"github.com/mailseal/mailseal/internal/stage"
)

// BlockKind is the kind of an armored block in a text body.
type BlockKind int

const (
	// KindSigned is a cleartext-signed message: from "-----BEGIN PGP SIGNED
	// MESSAGE-----" to "-----END PGP SIGNATURE-----".
	KindSigned BlockKind = iota + 1
	// KindMessage is an armored OpenPGP message: from "-----BEGIN PGP
	// MESSAGE-----" to "-----END PGP MESSAGE-----".
	KindMessage
)

func (k BlockKind) String() string {
	switch k {
	case KindSigned:
		return "signed"
	case KindMessage:
		return "message"
	}
	return fmt.Sprintf("BlockKind(%d)", int(k))
}

// Block is an armored block found by a BlockScanner:
// text[Start:End] is the block, from the first byte of its BEGIN line to the
// end of its END line including that line's terminator (LF or CRLF) if there
// is one. Everything outside the blocks is not protected by them.
type Block struct {
	Kind       BlockKind
	Start, End int
}

const (
	beginSigned    = "-----BEGIN PGP SIGNED MESSAGE-----"
	beginSignature = "-----BEGIN PGP SIGNATURE-----"
	endSignature   = "-----END PGP SIGNATURE-----"
	beginMessage   = "-----BEGIN PGP MESSAGE-----"
	endMessage     = "-----END PGP MESSAGE-----"
)

// marker is a line that is one of the markers above.
type marker int

const (
	notMarker marker = iota
	markBeginSigned
	markBeginSignature
	markEndSignature
	markBeginMessage
	markEndMessage
)

var markers = [...]string{
	markBeginSigned:    beginSigned,
	markBeginSignature: beginSignature,
	markEndSignature:   endSignature,
	markBeginMessage:   beginMessage,
	markEndMessage:     endMessage,
}

// minScanBuffer is the smallest scan buffer: the longest marker and a CR LF.
const minScanBuffer = len(beginSigned) + 2

// scanBuffer is the size of the scan buffer for a long text.
const scanBuffer = 64 << 10

// HasBlock reports whether the text read from r holds an armored block, as
// a BlockScanner finds them. It reads r once, up to the end
// of the first block, with a buffer of fixed size.
func HasBlock(r io.Reader) (bool, error) {
	var examined int64
	p := newScanPass(r, make([]byte, scanBufferFor(r, scanBuffer)), &examined)
	found, _ := findEnds(p, true)
	if p.err != nil {
		return false, fmt.Errorf("pgp: reading the text: %w", p.err)
	}
	return found, nil
}

// A BlockScanner finds the armored OpenPGP blocks of a text, in order and
// not overlapping: markers must stand on lines of their own (CRLF or LF
// line ends, trailing blanks allowed), and a BEGIN without its END is not
// a block. It works in time linear in the text and memory that does not grow
// with it: it reads the text from the start once or twice (the first
// reading finds the last END lines, which tell the second which BEGIN lines
// begin blocks) with a buffer of fixed size.
type BlockScanner struct {
	open          func() io.Reader
	buf           []byte
	pass          *scanPass // the second reading
	ends          endLines  // found by the first
	block         Block
	before        bool
	gap           blankText // the text since the last block
	started, done bool
	err           error
	// examined counts the bytes looked at, in every reading.
	examined int64
	// bufSize, if set, is the scan buffer's size (for tests).
	bufSize int
}

// NewBlockScanner returns a scanner of the text that open returns; open is
// called for each reading and must return the same text every time.
func NewBlockScanner(open func() io.Reader) *BlockScanner {
	return &BlockScanner{open: open}
}

// Scan advances to the next block. It returns false at the end of the text
// or on a read error (see Err).
func (s *BlockScanner) Scan() bool {
	if s.done {
		return false
	}
	if !s.started {
		s.started = true
		if !s.start() {
			return false
		}
	}
	p := s.pass
	for {
		m, start, ok := p.next()
		if !ok {
			break
		}
		var kind BlockKind
		switch {
		case m == markBeginSigned && start < s.ends.signature:
			kind = KindSigned
		case m == markBeginMessage && start < s.ends.endMessage:
			kind = KindMessage
		default:
			// A marker line that does not begin a block is text.
			s.gap.nonblank = true
			continue
		}
		p.watch = nil
		// The first reading found the END line this block ends with.
		end, ok := p.blockEnd(kind)
		if !ok {
			if p.err == nil {
				s.err = errors.New("pgp: the text changed between two readings")
			}
			break
		}
		s.block = Block{Kind: kind, Start: int(start), End: int(end)}
		s.before = s.gap.end()
		s.gap = blankText{}
		p.watch = &s.gap
		return true
	}
	s.finish(p)
	return false
}

// start reads the text once to find the last END lines; it reports
// whether there are blocks to find in a second reading.
func (s *BlockScanner) start() bool {
	r := s.open()
	size := scanBuffer
	if s.bufSize > 0 {
		size = s.bufSize
	}
	s.buf = make([]byte, scanBufferFor(r, size))
	p := newScanPass(r, s.buf, &s.examined)
	p.watch = &s.gap
	found, ends := findEnds(p, false)
	if !found || p.err != nil {
		s.finish(p)
		return false
	}
	s.ends = ends
	s.gap = blankText{}
	s.pass = newScanPass(s.open(), s.buf, &s.examined)
	s.pass.watch = &s.gap
	return true
}

func (s *BlockScanner) finish(p *scanPass) {
	s.done = true
	s.block = Block{}
	s.before = s.gap.end()
	if p.err != nil && s.err == nil {
		s.err = fmt.Errorf("pgp: reading the text: %w", p.err)
	}
}

// Block returns the block found by the last call to Scan.
func (s *BlockScanner) Block() Block { return s.block }

// TextBefore reports whether the text between the previous block (or the
// start) and the block found by the last call to Scan holds anything but
// white space (as strings.TrimSpace sees it).
func (s *BlockScanner) TextBefore() bool { return s.before }

// TextAfter reports, once Scan has returned false, whether the text after
// the last block (all of it if there is none) holds anything but white
// space.
func (s *BlockScanner) TextAfter() bool { return s.done && s.before }

// Err returns the first read error, if any.
func (s *BlockScanner) Err() error { return s.err }

// endLines is what the first reading finds: the starts of the last END
// PGP MESSAGE line and of the last BEGIN PGP SIGNATURE line that an END PGP
// SIGNATURE line follows, -1 if there is none.
type endLines struct{ endMessage, signature int64 }

// findEnds reads the text and reports whether it holds a block, and its
// endLines. They tell which BEGIN lines begin blocks: a BEGIN line begins
// one if no earlier block holds it and the END lines it needs follow it,
// the first of each ending the block. A BEGIN PGP MESSAGE line needs an END
// PGP MESSAGE line: one follows exactly if the line comes before the last
// END PGP MESSAGE line. A BEGIN PGP SIGNED MESSAGE line needs a BEGIN PGP
// SIGNATURE line and after it an END PGP SIGNATURE line: they follow
// exactly if the line comes before the last BEGIN PGP SIGNATURE line that
// an END PGP SIGNATURE line follows. (A BEGIN line that does not begin a
// block is text, so the old search, which searched to the end of the text
// from every BEGIN line, took time that grew with the square of the text.)
// So there is a block exactly if a BEGIN line is followed so; with stop,
// the reading ends as soon as one is.
func findEnds(p *scanPass, stop bool) (bool, endLines) {
	ends := endLines{-1, -1}
	found := false
	var message, signed, signature bool // a BEGIN line of a message, of a signed message, a signature after the latter
	lastSignature := int64(-1)
	for {
		m, start, ok := p.next()
		if !ok {
			return found, ends
		}
		p.notBlank()
		switch m {
		case markBeginMessage:
			message = true
		case markBeginSigned:
			signed = true
		case markBeginSignature:
			lastSignature = start
			signature = signature || signed
		case markEndMessage:
			ends.endMessage = start
			found = found || message
		case markEndSignature:
			if lastSignature >= 0 {
				ends.signature = lastSignature
			}
			found = found || signature
		}
		if found && stop {
			return true, ends
		}
	}
}

// scanBufferFor sizes a scan buffer to a short text.
func scanBufferFor(r io.Reader, limit int) int {
	return max(minScanBuffer, stage.ReadBufferSize(r, limit))
}

// scanPass is one reading of a text: it finds the lines that are markers
// and skips the rest, with a buffer of fixed size.
type scanPass struct {
	r         io.Reader
	buf       []byte
	lo, hi    int   // buf[lo:hi] is read and not yet looked at
	off       int64 // the offset of buf[lo] in the text
	lineStart bool  // buf[lo] begins a line
	eof       bool
	err       error
	// watch, when set, is told the text skipped (not the marker lines).
	watch    *blankText
	examined *int64
}

func newScanPass(r io.Reader, buf []byte, examined *int64) *scanPass {
	return &scanPass{r: r, buf: buf, lineStart: true, examined: examined}
}

// fill reads until n bytes are buffered and reports whether they are.
func (p *scanPass) fill(n int) bool {
	for empty := 0; p.hi-p.lo < n; {
		if p.eof || p.err != nil {
			return false
		}
		if p.lo > 0 {
			p.hi = copy(p.buf, p.buf[p.lo:p.hi])
			p.lo = 0
		}
		k, err := p.r.Read(p.buf[p.hi:])
		p.hi += k
		switch {
		case err == io.EOF:
			p.eof = true
		case err != nil:
			p.err = err
		case k == 0:
			if empty++; empty == 100 {
				p.err = io.ErrNoProgress
			}
		}
	}
	return true
}

// skip passes over n bytes of text that is not a marker line.
func (p *scanPass) skip(n int) {
	if p.watch != nil {
		p.watch.write(p.buf[p.lo : p.lo+n])
	}
	p.lo += n
	p.off += int64(n)
}

// dashes is how every marker line begins, after the line break before it.
const dashes = "\n-----"

// next finds the next marker line and returns it and its start. Other
// lines are skipped.
func (p *scanPass) next() (marker, int64, bool) {
	for {
		if !p.fill(len(dashes)) {
			// Too short for a marker line (or a read error).
			p.skip(p.hi - p.lo)
			return notMarker, 0, false
		}
		if p.lineStart && p.buf[p.lo] == '-' {
			if m, start := p.markerLine(); m != notMarker {
				return m, start, true
			}
			// markerLine stopped inside the line; the rest is skipped below.
			p.lineStart = false
			continue
		}
		w := p.buf[p.lo:p.hi]
		if i := bytes.Index(w, []byte(dashes)); i >= 0 {
			*p.examined += int64(i + len(dashes))
			p.skip(i + 1)
			p.lineStart = true
			continue
		}
		// No marker line begins in w, but one may begin in its last bytes.
		*p.examined += int64(len(w))
		n := len(w) - (len(dashes) - 1)
		p.lineStart = w[n-1] == '\n'
		p.skip(n)
	}
}

// markerLine reads the line at buf[lo], which begins with a dash, up to its
// end if it is a marker: the marker, spaces and tabs, and LF, CR LF or the
// end of the text. Otherwise it reads part of the line and returns
// notMarker (the line is text that is not white space).
func (p *scanPass) markerLine() (marker, int64) {
	start := p.off
	p.fill(minScanBuffer)
	w := p.buf[p.lo:p.hi]
	*p.examined += int64(min(len(w), minScanBuffer))
	m := notMarker
	if bytes.HasPrefix(w, []byte(dashes[1:])) {
		for i := markBeginSigned; i <= markEndMessage; i++ {
			if bytes.HasPrefix(w, []byte(markers[i])) {
				m = i
				break
			}
		}
	}
	if m == notMarker {
		p.notBlank()
		return notMarker, 0
	}
	p.advance(len(markers[m]))
	for {
		n := 0
		for _, c := range p.buf[p.lo:p.hi] {
			if c != ' ' && c != '\t' {
				break
			}
			n++
		}
		*p.examined += int64(n)
		p.advance(n)
		if p.lo < p.hi {
			break
		}
		if !p.fill(1) {
			// The last line, without a line break (or a read error,
			// which the caller sees).
			return m, start
		}
	}
	switch {
	case p.buf[p.lo] == '\n':
		p.advance(1)
	case p.buf[p.lo] == '\r' && p.fill(2) && p.buf[p.lo+1] == '\n':
		p.advance(2)
	default:
		p.notBlank()
		return notMarker, 0
	}
	p.lineStart = true
	return m, start
}

// advance passes over n bytes of a marker line.
func (p *scanPass) advance(n int) {
	p.lo += n
	p.off += int64(n)
}

// notBlank tells the watcher that the text skipped holds more than white
// space.
func (p *scanPass) notBlank() {
	if p.watch != nil {
		p.watch.nonblank = true
	}
}

// blockEnd reads up to the END line of a block of the given kind that
// began at the marker line just read, and returns the offset after it.
func (p *scanPass) blockEnd(kind BlockKind) (int64, bool) {
	want := markEndMessage
	if kind == KindSigned {
		want = markBeginSignature
	}
	for {
		m, _, ok := p.next()
		if !ok {
			return 0, false
		}
		if m != want {
			continue
		}
		if want == markBeginSignature {
			want = markEndSignature
			continue
		}
		return p.off, true
	}
}

// blankText follows whether a text, given in pieces, holds anything but
// white space (unicode.IsSpace; bytes that are not UTF-8 are not white
// space), as strings.TrimSpace sees it.
type blankText struct {
	nonblank bool
	part     [utf8.UTFMax]byte // the start of a character split between pieces
	n        int
}

func (b *blankText) write(p []byte) {
	if b.nonblank {
		return
	}
	if b.n > 0 {
		k := copy(b.part[b.n:], p)
		if !utf8.FullRune(b.part[:b.n+k]) {
			b.n += k
			return
		}
		r, size := utf8.DecodeRune(b.part[:b.n+k])
		if !unicode.IsSpace(r) {
			b.nonblank = true
			return
		}
		p = p[size-b.n:]
		b.n = 0
	}
	for i := 0; i < len(p); {
		if c := p[i]; c < utf8.RuneSelf {
			if c != ' ' && (c < '\t' || c > '\r') {
				b.nonblank = true
				return
			}
			i++
			continue
		}
		if !utf8.FullRune(p[i:]) {
			b.n = copy(b.part[:], p[i:])
			return
		}
		r, size := utf8.DecodeRune(p[i:])
		if !unicode.IsSpace(r) {
			b.nonblank = true
			return
		}
		i += size
	}
}

// end reports whether the text held anything but white space; the start
// of a character at its end does not count as white space.
func (b *blankText) end() bool { return b.nonblank || b.n > 0 }

// Cleartext is a verified cleartext-signed block.
type Cleartext struct {
	// Text is the signed text exactly as it was hashed: dash-escaping
	// removed, trailing spaces and tabs removed from every line, lines
	// joined with CRLF, without a final line break.
	Text []byte
	// Signers has one entry per signature.
	Signers []core.Signature
	// Warnings are as VerifyDetached's.
	Warnings []string
}

// VerifyCleartext verifies a cleartext-signed block (RFC 9580 section 7) as
// a BlockScanner finds it. If "Hash" armor headers are present, a
// signature whose hash is not listed is reported as bad. The error is for
// malformed input only (wrapping core.ErrInput).
func (e *Engine) VerifyCleartext(block []byte, certs CertFinder) (*Cleartext, error) {
	trimmed := bytes.TrimLeft(block, " \t\r\n")
	if !bytes.HasPrefix(trimmed, []byte(beginSigned)) {
		return nil, fmt.Errorf("pgp: verify: the block does not start with %q: %w", beginSigned, core.ErrInput)
	}
	b, rest := clearsign.Decode(trimmed)
	if b == nil {
		return nil, fmt.Errorf("pgp: verify: malformed cleartext-signed block (bad header, missing or damaged signature): %w", core.ErrInput)
	}
	if len(bytes.TrimSpace(rest)) != 0 {
		return nil, fmt.Errorf("pgp: verify: text after the signature block; pass exactly one block as a BlockScanner finds it: %w", core.ErrInput)
	}
	if b.ArmoredSignature == nil || b.ArmoredSignature.Type != armorSignature {
		return nil, fmt.Errorf("pgp: verify: the signature block is not a %q block: %w", armorSignature, core.ErrInput)
	}
	sigs, unsupported, err := readSignatures(b.ArmoredSignature.Body)
	if err != nil {
		return nil, fmt.Errorf("pgp: verify: %w", err)
	}
	signers, warnings, err := e.verifySigs(bytes.NewReader(b.Bytes), sigs, unsupported, certs)
	if err != nil {
		return nil, err
	}
	if hashes := b.Headers.Values("Hash"); len(hashes) > 0 {
		// The names, read once for all the signatures, and quoted in an
		// error at most core.MaxQuote bytes of them: the header is the
		// sender's, and each of up to 64 signatures would repeat it.
		listed := map[string]bool{}
		for _, v := range hashes {
			for n := range strings.SplitSeq(v, ",") { // RFC 9580 section 6.2.2.3: a list
				listed[hashNameKey(n)] = true
			}
		}
		named := core.Clip(strings.Join(hashes, ", "), core.MaxQuote)
		for i, sig := range sigs {
			if i >= len(signers) || signers[i].Status == core.SignerUnknown {
				continue
			}
			if !listed[hashNameKey(core.HashName(sig.Hash))] {
				signers[i].Status = core.SignerBad
				signers[i].Valid = false
				signers[i].Error = fmt.Sprintf("the signature's hash %s is not the one named in the Hash header (%q)", core.HashName(sig.Hash), named)
			}
		}
	}
	return &Cleartext{Text: append([]byte(nil), b.Bytes...), Signers: signers, Warnings: warnings}, nil
}

// hashNameKey is a hash's name as a Hash header and core.HashName are
// compared: upper case, without dashes or surrounding space.
func hashNameKey(name string) string {
	return strings.ReplaceAll(strings.ToUpper(strings.TrimSpace(name)), "-", "")
}
