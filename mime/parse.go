package mime

import (
	"bufio"
	"bytes"
	"crypto"
	"errors"
	"fmt"
	"io"
	stdmime "mime"
	"os"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/mailseal/mailseal/core"
	"github.com/mailseal/mailseal/internal/crlf"
	"github.com/mailseal/mailseal/internal/spool"
	"github.com/mailseal/mailseal/internal/stage"
)

// Message is a parsed message: the entity tree over a spool that holds the
// CRLF-canonical bytes. Close it to release the spool.
type Message struct {
	Root *Entity

	spool   *spool.Spool // nil when parsed in place (ParseAt)
	size    int64
	file    *os.File // the source, closed with the message (ParseFile)
	hashers []*partHasher
}

// Close releases the spooled message. Readers obtained from its entities
// fail afterwards. A message parsed in place leaves its source alone.
func (m *Message) Close() error {
	for _, h := range m.hashers {
		h.stop()
	}
	m.hashers = nil
	var err error
	if m.spool != nil {
		err = m.spool.Close()
	}
	if m.file != nil {
		if cerr := m.file.Close(); err == nil {
			err = cerr
		}
	}
	return err
}

// Size is the size of the canonical message in bytes (after line-ending
// canonicalisation, without a skipped mbox "From " line).
func (m *Message) Size() int64 {
	return m.size
}

// Entities returns all entities depth-first, root first.
func (m *Message) Entities() []*Entity {
	var out []*Entity
	var walk func(e *Entity)
	walk = func(e *Entity) {
		out = append(out, e)
		for _, c := range e.Children {
			walk(c)
		}
	}
	walk(m.Root)
	return out
}

// Find returns the entity with the given part path ("" is the root, "1",
// "2.1", ...), or nil if there is none.
func (m *Message) Find(path string) *Entity {
	e := m.Root
	if path == "" {
		return e
	}
	for _, step := range strings.Split(path, ".") {
		n, err := strconv.Atoi(step)
		if err != nil || n < 1 || n > len(e.Children) || step != strconv.Itoa(n) {
			return nil
		}
		e = e.Children[n-1]
	}
	return e
}

// Entity is one MIME entity: its header, and offsets of its bytes in the
// message's canonical spool.
type Entity struct {
	Path      string            // "" root, "1", "1.2" (1-based, like IMAP part numbers)
	Header    Header            // the entity's own header fields
	MediaType string            // lower-case; "text/plain" if absent (multipart/digest children: message/rfc822)
	Params    map[string]string // Content-Type parameters, lower-case keys
	Children  []*Entity         // for multipart/*
	// Ambiguous says why readers could take the entity's Content-Type two
	// ways ("" if they cannot): the field appears twice, or a parameter is
	// given twice with different values, or both plainly and in RFC 2231
	// form (boundary and boundary*), which parsers resolve differently.
	// The parse keeps the first field and the first of duplicates.
	Ambiguous string

	src       io.ReaderAt
	start     int64 // first byte of the header
	bodyStart int64 // first byte of the body
	end       int64 // one past the last byte of the body
	hashed    *partHasher
	// For a multipart: the preamble is [bodyStart, preambleEnd), the
	// epilogue [epilogueStart, end).
	preambleEnd, epilogueStart int64
}

// Raw returns the exact canonical bytes of the entity: header, blank line
// and body. For a child of a multipart it ends before the CRLF that
// precedes the next boundary delimiter (that CRLF belongs to the delimiter,
// RFC 2046), so it is exactly what a multipart/signed signature covers.
func (e *Entity) Raw() io.Reader {
	return io.NewSectionReader(e.src, e.start, e.end-e.start)
}

// RawBody returns the exact canonical body bytes, still transfer-encoded.
func (e *Entity) RawBody() io.Reader {
	return io.NewSectionReader(e.src, e.bodyStart, e.end-e.bodyStart)
}

// encodedBody is RawBody for a decoder to which line endings mean nothing
// (base64): for an entity read through a crlfView, the source's own bytes,
// which it need not convert (at 100 MiB, the conversion was a seventh of
// the CPU time of decrypting an S/MIME message with LF line endings).
func (e *Entity) encodedBody() io.Reader { return e.sourceBody(false) }

// lfBody is RawBody for a reader to which the CR of each CRLF means
// nothing (sevenBitClean): for an entity read through a crlfView whose
// source has no CR, the source's own bytes, which differ from the
// canonical ones by those CRs alone, so that they are not converted.
func (e *Entity) lfBody() io.Reader { return e.sourceBody(true) }

// sourceBody is, for an entity read through a crlfView (with pureLF, one
// whose source has no CR), the source bytes that its canonical body
// converts from; RawBody for other entities, and for bodies under
// sourceBodyMin bytes: finding a range in the source converts up to
// viewMark bytes before each end, more than converting a small body costs
// (9,999 small parts of an LF message took 2.5 times as long to sign).
func (e *Entity) sourceBody(pureLF bool) io.Reader {
	if e.end-e.bodyStart < sourceBodyMin {
		return e.RawBody()
	}
	if v, from, to, ok := sourceRange(e.src, e.bodyStart, e.end, pureLF); ok {
		return io.NewSectionReader(v.src, from, to-from)
	}
	return e.RawBody()
}

// sourceBodyMin is the size from which sourceBody reads a body in the
// source (4 times viewMark).
const sourceBodyMin = 4 * viewMark

// sourceRange is, for src a crlfView, the view and the range of its source
// that the canonical range [start, end) converts from; false for other
// sources, and with pureLF also when the source holds a CR.
func sourceRange(src io.ReaderAt, start, end int64, pureLF bool) (v *crlfView, from, to int64, ok bool) {
	v, ok = src.(*crlfView)
	if !ok || pureLF && v.anyCR {
		return nil, 0, 0, false
	}
	from, okFrom := v.sourceOffset(start)
	to, okTo := v.sourceOffset(end)
	if !okFrom || !okTo || from > to {
		return nil, 0, 0, false
	}
	return v, from, to, true
}

// Preamble returns the bytes of a multipart body before its first
// delimiter line (the CRLF before it belongs to the delimiter), all of the
// body if it has none; nothing for other entities. RFC 2046 tells readers
// to ignore it; not all do, and no signature covers it.
func (e *Entity) Preamble() io.Reader {
	return io.NewSectionReader(e.src, e.bodyStart, e.preambleEnd-e.bodyStart)
}

// Epilogue returns the bytes of a multipart body after its close
// delimiter ("--boundary--", the rest of its line included); nothing
// without a close delimiter, and for other entities.
func (e *Entity) Epilogue() io.Reader {
	return io.NewSectionReader(e.src, e.epilogueStart, e.end-e.epilogueStart)
}

// BodySize is the size of the raw (still transfer-encoded) body in bytes.
func (e *Entity) BodySize() int64 {
	return e.end - e.bodyStart
}

// IsMultipart reports whether the entity is a multipart/* entity.
func (e *Entity) IsMultipart() bool {
	return strings.HasPrefix(e.MediaType, "multipart/")
}

// transferEncoding is the lower-cased Content-Transfer-Encoding, "7bit" if absent.
func (e *Entity) transferEncoding() string {
	cte := strings.ToLower(strings.TrimSpace(e.Header.Get("Content-Transfer-Encoding")))
	if cte == "" {
		return "7bit"
	}
	return cte
}

// name is how error messages refer to the entity.
func (e *Entity) name() string {
	if e.Path == "" {
		return "the message"
	}
	return "part " + e.Path
}

// Parse reads a whole message, canonicalising line endings to CRLF (bare LF
// and bare CR become CRLF) while spooling it in a spool that keeps memLimit
// bytes in memory (beyond, an encrypted temporary file; the command-line
// tool uses core.DefaultPolicy().MaxMemorySpool, 2 MiB), skips a leading
// mbox "From " line, and builds the entity tree. Errors wrap core.ErrInput
// and say which limit or what syntax failed. To check a signed message
// with mailseal.Open, pass mailseal.HashingOption() too.
//
// Parsing is lenient where real mail is sloppy: a missing Content-Type is
// text/plain; charset=us-ascii (RFC 2045), an unparseable one
// application/octet-stream; a header line that is not a field ends the
// header (the body starts at that line); a header without a blank line is
// all header; a multipart without its close delimiter ends at the end of
// its body; a multipart without a boundary parameter is a leaf.
// message/rfc822 entities are leaves (their content is not parsed).
func Parse(r io.Reader, lim Limits, memLimit int64, opts ...ParseOption) (*Message, error) {
	lim = lim.withDefaults()
	sp := spool.New(memLimit)
	if err := spoolCanonical(sp, r, lim.MaxSize); err != nil {
		sp.Close()
		return nil, err
	}
	p := newParser(sp, sp.Size(), lim, opts)
	p.tap = nil // the copy's offsets are not the tapped bytes'
	root, err := p.parseEntity("", 0, sp.Size(), 0, "")
	if err != nil {
		p.stopHashers()
		sp.Close()
		return nil, err
	}
	return &Message{Root: root, spool: sp, size: sp.Size(), hashers: p.hashers}, nil
}

func newParser(src io.ReaderAt, size int64, lim Limits, opts []ParseOption) *parser {
	p := &parser{src: src, lim: lim, minHashed: stage.BufferSize, size: size}
	type dashLiner interface{ DashLines() ([]int64, bool) }
	if d, ok := whole(src, size).(dashLiner); ok {
		p.lines, p.haveLines = d.DashLines()
	}
	for _, o := range opts {
		o(p)
	}
	return p
}

// ParseFile is Parse for an open file, which it takes over: the message's
// Close closes it (as does a failed parse). A regular file whose lines
// already end in CRLF is parsed where it lies, from its current offset, so
// a large message is not copied into a spool first; so is a regular file
// with LF line endings or an mbox "From " line that is not small
// (canonicalised as it is read, see ParseAt); a pipe is read as Parse reads it.
func ParseFile(f *os.File, lim Limits, memLimit int64, opts ...ParseOption) (*Message, error) {
	var m *Message
	var err error
	st, serr := f.Stat()
	off, oerr := f.Seek(0, io.SeekCurrent)
	if serr == nil && oerr == nil && st.Mode().IsRegular() && off <= st.Size() {
		size := st.Size() - off
		m, err = ParseAt(io.NewSectionReader(f, off, size), size, lim, memLimit, opts...)
	} else {
		m, err = Parse(f, lim, memLimit, opts...)
	}
	if err != nil {
		f.Close()
		return nil, err
	}
	m.file = f
	return m, nil
}

// ParseAt parses the size bytes of src in place when they already have
// CRLF line endings and no mbox "From " line (as decrypted content that
// mailseal and most MUAs write does), so that withheld plaintext is not
// copied into a second spool. Other content under 64 KiB is Parse'd
// (copied into memory); larger content is read where it lies through an
// index of its line endings, canonicalised as it is read (no spool file,
// no copy). src must stay valid
// until the message is closed, and Close does not close it.
func ParseAt(src io.ReaderAt, size int64, lim Limits, memLimit int64, opts ...ParseOption) (*Message, error) {
	lim = lim.withDefaults()
	if size > lim.MaxSize {
		// Only a leading mbox "From " line, which the parse drops, can
		// make the message shorter than its source: without one that
		// makes up the difference, the limit is exceeded and nothing is
		// read (Parse would spool up to the limit first: 4 GiB by default).
		if from, known := mboxFromLineLen(src, size); known && size-from > lim.MaxSize && hasByteAt(src, size-1) {
			return nil, sizeLimitError(lim.MaxSize)
		}
		return Parse(io.NewSectionReader(src, 0, size), lim, memLimit, opts...)
	}
	if !mayBeCanonical(src, size) {
		return parseNonCanonical(src, size, lim, memLimit, opts)
	}
	if known, _ := knownCRLF(src, size); !known && size >= 2*canonicalSplit {
		return parseChecked(src, size, lim, memLimit, opts)
	}
	// The line-ending check and the parse run side by side (src allows
	// parallel reads); the parse counts only if the check passes.
	type check struct {
		canonical bool
		err       error
	}
	checked := make(chan check, 1)
	go func() {
		if known, ok := knownCRLF(src, size); known {
			// Only the mbox "From " line is left to check.
			var from [5]byte
			n, _ := src.ReadAt(from[:], 0)
			checked <- check{ok && string(from[:n]) != "From ", nil}
			return
		}
		c, err := isCanonical(src, size)
		checked <- check{c, err}
	}()
	p := newParser(src, size, lim, opts)
	root, perr := p.parseEntity("", 0, size, 0, "")
	c := <-checked
	if c.err != nil || !c.canonical || perr != nil {
		p.stopHashers()
	}
	if c.err != nil {
		return nil, fmt.Errorf("mime: reading message: %v: %w", c.err, core.ErrInput)
	}
	if !c.canonical {
		return parseNonCanonical(src, size, lim, memLimit, opts)
	}
	if perr != nil {
		return nil, perr
	}
	return &Message{Root: root, size: size, hashers: p.hashers}, nil
}

// mayBeCanonical is false when the start of src already shows that it is
// not canonical (a LF line ending in its first 64 KiB, an mbox "From "
// line, or a spool that knows), so that ParseAt does not parse it in
// place in vain, a whole pass over it.
func mayBeCanonical(src io.ReaderAt, size int64) bool {
	if known, ok := knownCRLF(src, size); known {
		return ok
	}
	head := make([]byte, min(size, 64<<10))
	n, _ := src.ReadAt(head, 0)
	if bytes.HasPrefix(head[:n], []byte("From ")) {
		return false
	}
	var c crlf.Check
	c.Write(head[:n])
	return !c.Failed()
}

// viewMinSize is the size from which content that is not canonical is
// read through a crlfView rather than copied. Below it, one copy costs
// less than the view's index; above it, the copy's fresh memory costs more
// than the view (at 1 MiB, an LF file took 1.19 of a CRLF file's time when
// copied, 1.02 through the view; paired whole-process runs of sign+encrypt
// and of decrypt+verify), and beyond memLimit the copy would go to an
// encrypted temporary file.
const viewMinSize = 64 << 10

// parseNonCanonical parses src, which is not canonical: a message smaller
// than viewMinSize is copied, canonical, into a spool; a larger one is read
// where it lies through a crlfView, which canonicalises it as it is read.
func parseNonCanonical(src io.ReaderAt, size int64, lim Limits, memLimit int64, opts []ParseOption) (*Message, error) {
	if size < viewMinSize {
		return Parse(io.NewSectionReader(src, 0, size), lim, memLimit, opts...)
	}
	v, err := newCRLFView(src, size, lim.MaxSize)
	if err != nil {
		return nil, err
	}
	p := newParser(v, v.Size(), lim, opts)
	p.tap = nil // the view's offsets are not the tapped bytes'
	root, err := p.parseEntity("", 0, v.Size(), 0, "")
	if err != nil {
		p.stopHashers()
		return nil, err
	}
	return &Message{Root: root, size: v.Size(), hashers: p.hashers}, nil
}

// knownCRLF asks src (or, for a section of all of it, the source under
// it) whether its line endings are already known, as a spool knows those of
// what was written to it.
func knownCRLF(src io.ReaderAt, size int64) (known, ok bool) {
	type crlfKnower interface{ CRLF() bool }
	if k, isK := whole(src, size).(crlfKnower); isK {
		return true, k.CRLF()
	}
	return false, false
}

// whole is the source whose size bytes src reads all of: src itself, or
// the source under a section of all of it; nil when src reads less than
// all of a source of a known size. What a source learnt of its content
// (a spool's line endings, a spool's or a crlfView's DashLines) is about
// all of it, so it counts only for a parse of all of it.
func whole(src io.ReaderAt, size int64) io.ReaderAt {
	if sr, isSR := src.(*io.SectionReader); isSR {
		outer, off, n := sr.Outer()
		if s, hasSize := outer.(interface{ Size() int64 }); off == 0 && n == size && hasSize && s.Size() == size {
			src = outer
		}
	}
	if s, hasSize := src.(interface{ Size() int64 }); hasSize && s.Size() == size {
		return src
	}
	return nil
}

// canonicalChunk is how much isCanonical reads at a time from a large
// message.
const canonicalChunk = 256 << 10

// scanBuffer is the read buffer for a pass over size bytes: small for a
// message of a few MiB, where fresh memory costs more than the extra
// system calls.
func scanBuffer(size int64) int64 {
	if size < canonicalSplit {
		return 64 << 10
	}
	return canonicalChunk
}

// parseChecked parses a large src whose line endings are not known: it
// checks them first, in two halves side by side, and learns on the way
// where the lines that begin with "--" start (crlf.Dashes), so that the
// parse then finds the delimiters of a multipart without searching its
// body (as for a spool, which learns them while it is written). Searching
// was a third pass over the message beside the check's two: without it, a
// 100 MiB v4 decrypt+verify took 0.96 of the time and an S/MIME
// sign+encrypt 0.93 (docs/benchmark-notes.md, the eighth session).
func parseChecked(src io.ReaderAt, size int64, lim Limits, memLimit int64, opts []ParseOption) (*Message, error) {
	canonical, lines, haveLines, err := scanLines(src, size, true)
	if err != nil {
		return nil, fmt.Errorf("mime: reading message: %v: %w", err, core.ErrInput)
	}
	if !canonical {
		return parseNonCanonical(src, size, lim, memLimit, opts)
	}
	p := newParser(src, size, lim, opts)
	p.lines, p.haveLines = lines, haveLines
	root, err := p.parseEntity("", 0, size, 0, "")
	if err != nil {
		p.stopHashers()
		return nil, err
	}
	return &Message{Root: root, size: size, hashers: p.hashers}, nil
}

// isCanonical reports whether every line of src ends in CRLF, with no bare
// CR or LF, and src does not start with an mbox "From " line.
func isCanonical(src io.ReaderAt, size int64) (bool, error) {
	ok, _, _, err := scanLines(src, size, false)
	return ok, err
}

// scanLines is isCanonical, and with dashes the offsets of the lines that
// begin with "--" (haveLines false when there are more than crlf.MaxDashes,
// or when the check failed early). A large src is checked in two halves
// side by side (split after a LF, so that no CRLF straddles them and the
// second half starts a line).
func scanLines(src io.ReaderAt, size int64, dashes bool) (canonical bool, lines []int64, haveLines bool, err error) {
	var from [5]byte
	if n, _ := src.ReadAt(from[:], 0); string(from[:n]) == "From " {
		return false, nil, false, nil
	}
	mid := int64(-1)
	if size >= 2*canonicalSplit {
		probe := make([]byte, 64<<10)
		n, _ := src.ReadAt(probe, size/2)
		if i := bytes.IndexByte(probe[:n], '\n'); i >= 0 {
			mid = size/2 + int64(i) + 1
		}
	}
	var first crlf.Dashes
	var dFirst *crlf.Dashes
	if dashes {
		dFirst = &first
	}
	if mid < 0 {
		ok, err := checkRange(src, 0, size, dFirst)
		lines, haveLines = first.Lines()
		return ok, lines, ok && dashes && haveLines, err
	}
	second := crlf.DashesFrom(mid)
	dSecond := &second
	if !dashes {
		dSecond = nil
	}
	type result struct {
		ok  bool
		err error
	}
	done := make(chan result, 1)
	go func() {
		ok, err := checkRange(src, mid, size, dSecond)
		done <- result{ok, err}
	}()
	ok, err := checkRange(src, 0, mid, dFirst)
	r := <-done
	if err == nil {
		err = r.err
	}
	canonical = ok && r.ok
	if canonical && dashes {
		lines, haveLines = crlf.JoinDashes(&first, &second)
	}
	return canonical, lines, haveLines, err
}

// canonicalSplit is half the size from which isCanonical (and the
// crlfView's index) takes two halves side by side: 8 MiB.
const canonicalSplit = 4 << 20

// checkRange checks the line endings of src[from:end), and gives what it
// reads to d when d is not nil.
func checkRange(src io.ReaderAt, from, end int64, d *crlf.Dashes) (bool, error) {
	buf := make([]byte, min(scanBuffer(end-from), end-from+1))
	var c crlf.Check
	for off := from; off < end; {
		n, err := src.ReadAt(buf[:min(int64(len(buf)), end-off)], off)
		if n == 0 && err != nil {
			return false, err
		}
		c.Write(buf[:n])
		if c.Failed() {
			return false, nil
		}
		if d != nil {
			d.Write(buf[:n])
		}
		off += int64(n)
	}
	return c.Canonical(), nil
}

// spoolCanonical copies r to sp with CRLF line endings, skipping a leading
// mbox "From " line, and fails once more than maxSize bytes were written.
// The spool encrypts and writes a large message on a goroutine of its own
// (a stage), beside the reading and the conversion.
func spoolCanonical(sp *spool.Spool, r io.Reader, maxSize int64) error {
	sw := stage.NewWriter(sp)
	err := copyCanonical(sw, r, maxSize)
	if cerr := sw.Close(); err == nil && cerr != nil {
		err = fmt.Errorf("mime: spooling message: %v: %w", cerr, core.ErrInput)
	}
	return err
}

// copyCanonical is spoolCanonical's copy, to w. Content that is canonical
// already (CRLF input) passes to w as it was read, without a copy.
func copyCanonical(w io.Writer, r io.Reader, maxSize int64) error {
	br := bufio.NewReaderSize(&eofReader{r: r}, stage.ReadBufferSize(r, 64<<10))
	if err := skipMboxFromLine(br); err != nil {
		return err
	}
	in := make([]byte, stage.ReadBufferSize(r, 32<<10))
	limit := &limitWriter{w: w, max: maxSize}
	cw := &crlfWriter{w: limit}
	for {
		n, rerr := br.Read(in)
		if n > 0 {
			if _, err := cw.Write(in[:n]); err != nil {
				if limit.exceeded {
					return err
				}
				return fmt.Errorf("mime: spooling message: %v: %w", err, core.ErrInput)
			}
		}
		if rerr == io.EOF {
			return nil
		}
		if rerr != nil {
			return fmt.Errorf("mime: reading message: %v: %w", rerr, core.ErrInput)
		}
	}
}

// limitWriter passes writes on to w until more than max bytes in all were
// written: that write fails with the MaxSize limit, and is not passed on.
type limitWriter struct {
	w        io.Writer
	n, max   int64
	exceeded bool
}

func (l *limitWriter) Write(p []byte) (int, error) {
	l.n += int64(len(p))
	if l.n > l.max {
		l.exceeded = true
		return 0, sizeLimitError(l.max)
	}
	return l.w.Write(p)
}

// sizeLimitError is the error for a message over the MaxSize limit.
func sizeLimitError(max int64) error {
	return fmt.Errorf("mime: %w", &core.LimitError{Limit: "MaxSize", Value: max, What: "message exceeds the size limit of " + core.SizeName(max)})
}

// eofReader ends for good at its reader's first end: a terminal ends the
// input once for each Ctrl-D, and a read after that end (the Peek of
// skipMboxFromLine takes it from the bufio.Reader) would wait for another.
type eofReader struct {
	r   io.Reader
	eof bool
}

func (e *eofReader) Read(p []byte) (int, error) {
	if e.eof {
		return 0, io.EOF
	}
	n, err := e.r.Read(p)
	if err == io.EOF {
		e.eof = true
	}
	return n, err
}

// skipMboxFromLine discards a first line "From ..." (an mbox envelope line),
// unless it is an (obsolete-syntax) header field "From :".
func skipMboxFromLine(br *bufio.Reader) error {
	head, _ := br.Peek(1024)
	if !isMboxFromLine(head) {
		return nil
	}
	for {
		c, err := br.ReadByte()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return fmt.Errorf("mime: reading message: %v: %w", err, core.ErrInput)
		}
		if c == '\n' {
			return nil
		}
		if c == '\r' {
			if next, err := br.Peek(1); err == nil && next[0] == '\n' {
				br.ReadByte()
			}
			return nil
		}
	}
}

// hasByteAt reports whether src has a byte at off: a source shorter than
// its stated size is left to Parse, which reads what there is.
func hasByteAt(src io.ReaderAt, off int64) bool {
	var b [1]byte
	n, _ := src.ReadAt(b[:], off)
	return n == 1
}

// isMboxFromLine reports whether head, the start of a message, begins
// with an mbox "From " line (not a "From:" header field written with
// space before its colon).
func isMboxFromLine(head []byte) bool {
	if !bytes.HasPrefix(head, []byte("From ")) {
		return false
	}
	rest := bytes.TrimLeft(head[4:], " \t")
	return len(rest) == 0 || rest[0] != ':'
}

// mboxFromLineLen is the length of the mbox "From " line that src
// begins with, its line ending included (0 when there is none), as
// skipMboxFromLine reads it; known is false for a line longer than
// 64 KiB, which is not looked for to its end.
func mboxFromLineLen(src io.ReaderAt, size int64) (n int64, known bool) {
	head := make([]byte, min(size, 64<<10))
	m, err := src.ReadAt(head, 0)
	if err != nil && err != io.EOF {
		return 0, false
	}
	if int64(m) < min(size, 64<<10) {
		return 0, false // shorter than said: Parse reads what there is
	}
	head = head[:m]
	// skipMboxFromLine decides on the first 1024 bytes ("From " and a
	// run of blanks longer than that is a From line to it).
	if !isMboxFromLine(head[:min(m, 1024)]) {
		return 0, true
	}
	end := bytes.IndexAny(head, "\r\n")
	switch {
	case end < 0:
		return int64(m), int64(m) == size // the whole source is the line
	case head[end] == '\r' && end+1 < len(head) && head[end+1] == '\n':
		return int64(end + 2), true
	case head[end] == '\r' && end+1 == len(head) && int64(m) < size:
		return 0, false // an LF may follow past what was read
	}
	return int64(end + 1), true
}

// crlfConverter turns bare CR and bare LF into CRLF, across calls.
type crlfConverter struct {
	st crlfState
}

// convert appends the canonical form of src to dst.
func (c *crlfConverter) convert(dst, src []byte) []byte {
	// Room for the worst case (every byte a bare CR or LF): fill takes all
	// of src at once.
	dst = slices.Grow(dst, 2*len(src)+1)
	nd, _ := c.st.fill(dst[len(dst):cap(dst)], src)
	return dst[:len(dst)+nd]
}

// parser builds the entity tree over the canonical spool.
type parser struct {
	src   io.ReaderAt
	lim   Limits
	parts int
	// signedHashes and hashers: see HashSignedPart.
	signedHashes func(params map[string]string) []crypto.Hash
	hashers      []*partHasher
	minHashed    int64 // the smallest part hashed during the parse
	// lines: where the lines of src that begin with "--" start, when they
	// are known: learnt by a spool while it was written (DashLines), by a
	// crlfView while it indexed its source (DashLines), or by parseChecked
	// while it checked a large message's line endings.
	lines     []int64
	haveLines bool
	// tap, when set, hashed the signed part while src was written; size
	// is src's, which the tap must have seen whole.
	tap  *SignedPartTap
	size int64
}

// stopHashers stops the hashing of a parse that is given up.
func (p *parser) stopHashers() {
	for _, h := range p.hashers {
		h.stop()
	}
	p.hashers = nil
}

// parseEntity parses the entity whose bytes are [start, end).
func (p *parser) parseEntity(path string, start, end int64, depth int, parentType string) (*Entity, error) {
	p.parts++
	if p.parts > p.lim.MaxParts {
		return nil, fmt.Errorf("mime: %w", &core.LimitError{Limit: "MaxParts", Value: int64(p.lim.MaxParts), What: fmt.Sprintf("message has more than %d MIME parts (the MaxParts limit)", p.lim.MaxParts)})
	}
	e := &Entity{Path: path, src: p.src, start: start, end: end}
	hdr, bodyStart, err := p.readHeader(e)
	if err != nil {
		return nil, err
	}
	e.Header, e.bodyStart = hdr, bodyStart
	e.preambleEnd, e.epilogueStart = bodyStart, end
	e.MediaType, e.Params = mediaType(hdr, parentType)
	e.Ambiguous = ambiguity(e)

	boundary := e.Params["boundary"]
	if !e.IsMultipart() || boundary == "" {
		return e, nil
	}
	if why := unusableBoundary(boundary); why != "" {
		// No parts: readers may split it every which way, so a verdict
		// that depends on it is refused (internal/flow checkStructure).
		if e.Ambiguous == "" {
			e.Ambiguous = fmt.Sprintf("the boundary of %s %s", e.name(), why)
		}
		return e, nil
	}
	if depth+1 > p.lim.MaxDepth {
		return nil, fmt.Errorf("mime: %w", &core.LimitError{Limit: "MaxDepth", Value: int64(p.lim.MaxDepth), What: fmt.Sprintf("multipart nesting in %s is deeper than %d levels (the MaxDepth limit)", e.name(), p.lim.MaxDepth)})
	}
	var hs []crypto.Hash
	if path == "" && e.MediaType == "multipart/signed" && p.signedHashes != nil {
		hs = p.signedHashes(e.Params)
	}
	e.preambleEnd = end // no delimiter: all preamble
	spans, hashed, err := p.splitParts(e, boundary, hs)
	if err != nil {
		return nil, err
	}
	for i, s := range spans {
		childPath := strconv.Itoa(i + 1)
		if path != "" {
			childPath = path + "." + childPath
		}
		child, err := p.parseEntity(childPath, s.start, s.end, depth+1, e.MediaType)
		if err != nil {
			return nil, err
		}
		e.Children = append(e.Children, child)
	}
	if hashed != nil && len(e.Children) > 0 {
		e.Children[0].hashed = hashed
	}
	return e, nil
}

// headerTooLong is readHeader's error for a header over MaxHeaderBytes
// (made only then: every header took the time to format it).
func (p *parser) headerTooLong(e *Entity) error {
	return fmt.Errorf("mime: %w", &core.LimitError{Limit: "MaxHeaderBytes", Value: int64(p.lim.MaxHeaderBytes),
		What: fmt.Sprintf("the header of %s is longer than %d bytes (the MaxHeaderBytes limit)", e.name(), p.lim.MaxHeaderBytes)})
}

// readHeader reads the header block of e, which starts at e.start, and
// returns its fields and the offset of the body.
func (p *parser) readHeader(e *Entity) (Header, int64, error) {
	sr := io.NewSectionReader(p.src, e.start, e.end-e.start)
	br := bufio.NewReaderSize(sr, stage.ReadBufferSize(sr, 16<<10))
	var (
		hdr  Header
		cur  []byte // raw bytes of the field being read
		off  = e.start
		line []byte
	)
	flush := func() {
		if cur != nil {
			hdr = append(hdr, newField(cur))
			cur = nil
		}
	}
	for {
		line = line[:0]
		var err error
		for {
			var chunk []byte
			chunk, err = br.ReadSlice('\n')
			line = append(line, chunk...)
			if off-e.start+int64(len(line)) > int64(p.lim.MaxHeaderBytes)+2 {
				return nil, 0, p.headerTooLong(e)
			}
			if err != bufio.ErrBufferFull {
				break
			}
		}
		if err != nil && err != io.EOF {
			return nil, 0, fmt.Errorf("mime: reading the header of %s: %v: %w", e.name(), err, core.ErrInput)
		}
		switch {
		case len(line) == 0: // end of entity: all header, empty body
			flush()
			return hdr, off, nil
		case string(line) == "\r\n": // the blank line
			flush()
			return hdr, off + 2, nil
		case (line[0] == ' ' || line[0] == '\t') && cur != nil:
			cur = append(cur, line...)
		case isFieldLine(line):
			flush()
			cur = append([]byte(nil), line...)
		default: // not a header field: the body starts here
			flush()
			return hdr, off, nil
		}
		off += int64(len(line))
		if off-e.start > int64(p.lim.MaxHeaderBytes) {
			return nil, 0, p.headerTooLong(e)
		}
		if err == io.EOF {
			flush()
			return hdr, off, nil
		}
	}
}

// isFieldLine reports whether line starts a header field: a name of
// printable ASCII other than ':' (optionally followed by white space, the
// obsolete syntax) and a colon.
func isFieldLine(line []byte) bool {
	i := bytes.IndexByte(line, ':')
	if i <= 0 {
		return false
	}
	name := bytes.TrimRight(line[:i], " \t")
	if len(name) == 0 {
		return false
	}
	for _, c := range name {
		if c < 33 || c > 126 {
			return false
		}
	}
	return true
}

// newField makes a Field of its raw bytes (a field line plus continuation lines).
func newField(raw []byte) Field {
	if !bytes.HasSuffix(raw, []byte("\r\n")) {
		raw = append(raw, '\r', '\n')
	}
	i := bytes.IndexByte(raw, ':')
	key := string(bytes.TrimRight(raw[:i], " \t"))
	value := bytes.ReplaceAll(raw[i+1:], []byte("\r\n"), nil)
	return Field{Key: key, Value: strings.Trim(string(value), " \t"), Raw: raw}
}

// mediaType returns the entity's media type and parameters.
func mediaType(h Header, parentType string) (string, map[string]string) {
	if !h.has("Content-Type") {
		if parentType == "multipart/digest" {
			return "message/rfc822", map[string]string{}
		}
		return "text/plain", map[string]string{"charset": "us-ascii"}
	}
	v := h.Get("Content-Type")
	mt, params, err := stdmime.ParseMediaType(v)
	if err != nil {
		// Real mail has broken parameters (duplicates, bad quoting): keep the
		// media type if it parses alone, and the parameters that parse.
		if mt, _, err = stdmime.ParseMediaType(splitParams(v)[0]); err == nil {
			params = lenientParams(v)
		}
	}
	if err != nil || !strings.Contains(mt, "/") {
		// RFC 2045 section 5.2: an unparseable Content-Type is treated as
		// application/octet-stream.
		return "application/octet-stream", map[string]string{}
	}
	if params == nil {
		params = map[string]string{}
	}
	return mt, params
}

// ambiguity is Entity.Ambiguous.
func ambiguity(e *Entity) string {
	if n := len(e.Header.Values("Content-Type")); n > 1 {
		return fmt.Sprintf("%s has %d Content-Type fields", e.name(), n)
	}
	if why := paramAmbiguity(e.Header.Get("Content-Type")); why != "" {
		return fmt.Sprintf("the Content-Type of %s %s", e.name(), why)
	}
	return ""
}

// paramAmbiguity says which parameter of a Content-Type value readers
// could take two ways: one given twice with different values, or in two
// of the forms name, name* and name*0... (RFC 2231).
func paramAmbiguity(v string) string {
	values := map[string]string{}         // name as written (lower-case) -> value
	forms := map[string]string{}          // parameter -> the form it was given in
	sections := map[string]map[int]bool{} // parameter -> RFC 2231 section numbers given
	for _, piece := range splitParams(v)[1:] {
		key, val, ok := strings.Cut(piece, "=")
		if !ok {
			continue
		}
		key, val = strings.ToLower(strings.TrimSpace(key)), unquote(strings.TrimSpace(val))
		if old, dup := values[key]; dup && old != val {
			return fmt.Sprintf("gives the parameter %s twice (%q and %q)", core.Clip(key, core.MaxQuote), core.Clip(old, core.MaxQuote), core.Clip(val, core.MaxQuote))
		}
		values[key] = val
		name, rest, extended := strings.Cut(key, "*")
		form := name
		switch {
		case extended && rest == "":
			form = name + "*"
		case extended:
			form = name + "*0..." // continuations
		}
		if old, dup := forms[name]; dup && old != form {
			return fmt.Sprintf("gives the parameter %s both as %s and as %s", name, old, form)
		}
		forms[name] = form
		if extended && rest != "" {
			n, err := strconv.Atoi(strings.TrimSuffix(rest, "*"))
			if err != nil || n < 0 || n >= maxContinuations {
				return fmt.Sprintf("gives the parameter %s a continuation %q that is not a section number", name, key)
			}
			if sections[name] == nil {
				sections[name] = map[int]bool{}
			}
			if sections[name][n] {
				return fmt.Sprintf("gives section %d of the parameter %s twice", n, name)
			}
			sections[name][n] = true
		}
	}
	// RFC 2231 sections count from 0 without a gap: readers that stop at
	// a gap and readers that join what is there would see two values.
	for name, ns := range sections {
		for i := range len(ns) {
			if !ns[i] {
				return fmt.Sprintf("gives the parameter %s in sections with section %d missing", name, i)
			}
		}
	}
	return ""
}

// maxContinuations bounds the RFC 2231 section numbers read.
const maxContinuations = 1000

// unquote returns the content of a quoted string, or v if it is not one.
func unquote(v string) string {
	if len(v) < 2 || v[0] != '"' || v[len(v)-1] != '"' {
		return v
	}
	var b strings.Builder
	for i := 1; i < len(v)-1; i++ {
		if v[i] == '\\' && i+1 < len(v)-1 {
			i++
		}
		b.WriteByte(v[i])
	}
	return b.String()
}

// lenientParams parses the parameters of a Content-Type value one by one,
// skipping those that do not parse and keeping the first of duplicates.
func lenientParams(v string) map[string]string {
	params := map[string]string{}
	pieces := splitParams(v)
	for _, piece := range pieces[1:] {
		_, ps, err := stdmime.ParseMediaType("x/x; " + piece)
		if err != nil {
			continue
		}
		for k, val := range ps {
			if _, dup := params[k]; !dup {
				params[k] = val
			}
		}
	}
	return params
}

// splitParams splits a header value at the semicolons outside quoted
// strings and trims the pieces.
func splitParams(v string) []string {
	var out []string
	inQuote, escaped := false, false
	startAt := 0
	for i := 0; i < len(v); i++ {
		c := v[i]
		switch {
		case escaped:
			escaped = false
		case c == '\\' && inQuote:
			escaped = true
		case c == '"':
			inQuote = !inQuote
		case c == ';' && !inQuote:
			out = append(out, strings.TrimSpace(v[startAt:i]))
			startAt = i + 1
		}
	}
	out = append(out, strings.TrimSpace(v[startAt:]))
	return out
}

// maxBoundary is the longest boundary whose parts are read. RFC 2046
// allows 70 characters; some mailers write more, so more are read, but
// not so many that a delimiter could fill splitParts's buffer.
const maxBoundary = 1000

// unusableBoundary says why a multipart boundary cannot be searched for
// ("" if it can): it is longer than maxBoundary, or it holds a CR or LF,
// which RFC 2231's percent-encoding can put in a parameter but no
// delimiter line can hold (and which would be found in a message with LF
// line endings and not in its CRLF form, or the other way round).
func unusableBoundary(b string) string {
	if len(b) > maxBoundary {
		return fmt.Sprintf("is %d bytes long (the longest read is %d; RFC 2046 allows 70)", len(b), maxBoundary)
	}
	if strings.ContainsAny(b, "\r\n") {
		return "holds a line break, which no delimiter line can"
	}
	return ""
}

// maxDelimiterLine is the longest line (with its line ending) that can be
// a multipart delimiter.
const maxDelimiterLine = 64 << 10

// span is the byte range of one body part: [start, end).
type span struct{ start, end int64 }

// splitParts finds the body parts of multipart entity e by streaming over
// its body. Per RFC 2046 a delimiter line is "--" boundary, optional
// transport padding (spaces, tabs) and CRLF, and the CRLF before it belongs
// to the delimiter; the close delimiter is "--" boundary "--". The first
// delimiter may start the body. Without a close delimiter the last part
// runs to the end of the body.
//
// With hashes, the first part is hashed from the moment its start is
// known, on a goroutine beside the search (see HashSignedPart).
//
// Where the source knows the lines that begin with "--" (a spool, a
// large file checked in place, a crlfView's index: DashLines) and they
// are sparse in the body, only those lines are read (splitAtLines).
// Otherwise the search reads the body as its source holds it: the
// canonical bytes, or, for a message read through a crlfView whose source
// has LF line endings and no CR, the source's own bytes, in which a line
// ends in LF alone; searchDelimiters converts the offsets it reports by
// counting the LFs in the bytes it reads anyway, so nothing is read twice.
// At 100 MiB that saves converting the whole body, about a tenth of the
// time of decrypting a PGP/MIME message with LF line endings. All read the
// same lines: checkSplitPartsThroughView, in every splitParts test and
// FuzzSplitParts, compares them.
func (p *parser) splitParts(e *Entity, boundary string, hashes []crypto.Hash) (spans []span, hashed *partHasher, err error) {
	dash := []byte("--" + boundary)
	src, from, to := p.src, e.bodyStart, e.end
	eol := []byte("\r\n")
	viewed := false
	var marks []viewPos
	useLines := p.haveLines && sparseLines(p.lines, e.bodyStart, e.end)
	if !useLines {
		if v, f, t, ok := sourceRange(p.src, e.bodyStart, e.end, true); ok {
			viewed = true
			src, from, to, eol, marks = v.src, f, t, []byte("\n"), v.marks
		}
	}
	readErr := func(err error) error {
		return fmt.Errorf("mime: reading the body of %s: %v: %w", e.name(), err, core.ErrInput)
	}
	inPart := false
	var partStart int64
	addSpan := func(sp span) {
		spans = append(spans, sp)
		if len(spans) == 1 && hashed != nil {
			hashed.setEnd(sp.end)
		}
	}
	// delimiter takes a delimiter line [lineStart, lineEnd) (canonical
	// offsets) of the given kind; done when it closes the multipart.
	delimiter := func(lineStart, lineEnd int64, kind delimKind) (done bool, err error) {
		// The CRLF before the delimiter belongs to it, unless the
		// delimiter starts the body.
		partEnd := lineStart
		if lineStart > e.bodyStart {
			partEnd -= 2
		}
		if inPart {
			addSpan(span{partStart, max(partStart, partEnd)})
		} else {
			e.preambleEnd = partEnd
		}
		if kind == delimClose {
			e.epilogueStart = lineStart + int64(len(dash)) + 2
			return true, nil
		}
		inPart = true
		partStart = lineEnd
		if p.parts+len(spans)+1 > p.lim.MaxParts {
			return false, fmt.Errorf("mime: %w", &core.LimitError{Limit: "MaxParts", Value: int64(p.lim.MaxParts), What: fmt.Sprintf("message has more than %d MIME parts (the MaxParts limit)", p.lim.MaxParts)})
		}
		if len(spans) == 0 && len(hashes) > 0 && e.end-partStart >= p.minHashed {
			if !viewed && e.Path == "" && p.tap.covers(partStart, p.size, hashes) {
				hashed = tappedHasher(p.tap, partStart)
			} else {
				hashed = startHasher(p.src, partStart, hashes)
			}
			p.hashers = append(p.hashers, hashed)
		}
		return false, nil
	}
	// cleared: no delimiter line starts before off, so the first part, if
	// it is being hashed, goes on at least to the CRLF before off.
	cleared := func(off int64) {
		if hashed != nil && len(spans) == 0 {
			hashed.advance(off - 2)
		}
	}
	var done bool
	if useLines {
		// The lines are in p.src's (canonical) offsets, a view's too.
		done, err = splitAtLines(p.src, e.bodyStart, e.end, dash, p.lines, cleared, delimiter)
	} else {
		done, err = searchDelimiters(src, from, to, e.bodyStart, marks, dash, eol, cleared, delimiter)
	}
	if err != nil {
		var le *core.LimitError
		if !errors.As(err, &le) && !errors.Is(err, core.ErrInput) {
			err = readErr(err)
		}
		return nil, nil, err
	}
	if !done && inPart {
		addSpan(span{partStart, e.end})
	}
	return spans, hashed, nil
}

// searchDelimiters reads src[from:to) and calls delimiter for every
// delimiter line of dash it holds, in order, until that says done; eol is
// the line ending of src (CRLF, or LF in a source with LF line endings,
// where a line is one byte longer in canonical form). cleared tells, as
// the search goes on, that no delimiter line starts before an offset.
// Both are given canonical offsets, from canonFrom at from: src's own for
// CRLF, and for LF the source offset plus the LFs before it, counted in
// the bytes the search holds from the last offset converted or from the
// nearest of the view's marks (which give the canonical offset every
// viewMark bytes), whichever is later: a body of many small parts is
// counted once, and a few delimiters far apart cost at most viewMark
// bytes each.
//
// The body is searched for dash itself (a vectorised search that skips
// whole lines of base64 at once); each match is then checked to start a
// line. A line longer than maxDelimiterLine is not a delimiter (it would
// need kilobytes of transport padding).
func searchDelimiters(src io.ReaderAt, from, to, canonFrom int64, marks []viewPos, dash, eol []byte, cleared func(int64), delimiter func(lineStart, lineEnd int64, kind delimKind) (bool, error)) (bool, error) {
	if len(dash) > maxDelimiterLine {
		return false, nil // no line that long is a delimiter
	}
	grow := 2 - len(eol)
	// The buffer holds the longest delimiter line and a byte before it, so
	// that a line it cannot hold is longer than maxDelimiterLine whatever
	// the size of the body.
	buf := make([]byte, min(max(scanBuffer(to-from), maxDelimiterLine+2), max(to-from, int64(len(dash)))+1))
	base := from // offset of buf[0]
	n := 0       // bytes in buf
	next := from // offset of the next read
	scan := 0    // where in buf the search goes on
	// lfs is the number of LFs in src[from, base+counted), when they are
	// counted (grow == 1).
	var lfs int64
	counted := 0
	// canon is the canonical offset of buf[i].
	canon := func(i int) int64 {
		if grow == 1 {
			o := base + int64(i)
			if m := sort.Search(len(marks), func(m int) bool { return marks[m].src > o }) - 1; m >= 0 && marks[m].src > base+int64(counted) {
				counted = int(marks[m].src - base)
				lfs = marks[m].canon - canonFrom - (marks[m].src - from)
			}
			if i >= counted {
				lfs += int64(bytes.Count(buf[counted:i], eol))
			} else {
				lfs -= int64(bytes.Count(buf[i:counted], eol))
			}
			counted = i
		}
		return canonFrom + base + int64(i) - from + lfs
	}
	// drop removes buf[:d].
	drop := func(d int) {
		canon(d)
		counted = 0
		copy(buf, buf[d:n])
		base += int64(d)
		n -= d
	}
	for {
		if next < to && n < len(buf) {
			want := min(len(buf)-n, int(to-next))
			k, err := src.ReadAt(buf[n:n+want], next)
			if k < want && err != nil {
				return false, err
			}
			n += k
			next += int64(k)
		}
		eof := next >= to
		i := bytes.Index(buf[scan:n], dash)
		if i < 0 {
			if eof {
				return false, nil
			}
			// Keep what could begin a match, and the byte before it
			// (fewer bytes than buf holds: dash is no longer than
			// maxDelimiterLine, or than the body).
			keep := min(n, len(dash))
			// A delimiter (and the CRLF before it, the part's end) can
			// only begin in the bytes kept.
			cleared(canon(n - keep))
			drop(n - keep)
			scan = 0
			continue
		}
		at := scan + i
		if base+int64(at) != from && (at == 0 || buf[at-1] != '\n') {
			// Not at a line start: skipped before its line is looked
			// at, so that a long line holding dash many times costs no
			// more than one without it.
			scan = at + 1
			continue
		}
		nl := bytes.IndexByte(buf[at:n], '\n')
		if nl < 0 && !eof {
			switch {
			case n < len(buf):
				scan = at // read on, then look again
			case at > 1:
				// Move the match (and the byte before it) to the front and
				// read the rest of its line.
				drop(at - 1)
				scan = 1
			default:
				scan = at + 1 // too long a line
			}
			continue
		}
		lineEnd, lineLen := n, n-at
		if nl >= 0 {
			lineEnd, lineLen = at+nl+1, nl+1+grow
		}
		scan = at + 1
		if lineLen > maxDelimiterLine {
			continue
		}
		kind := delimiterKind(buf[at:lineEnd], dash, eol)
		if kind == delimNone {
			continue
		}
		done, err := delimiter(canon(at), canon(lineEnd), kind)
		if done || err != nil {
			return done, err
		}
		scan = lineEnd
	}
}

// sparseLines reports whether the known line starts in [from, to) are few
// enough to read one by one rather than search the range: at most one per
// sparseLineGap bytes. A known line costs a read or two of the source (and
// through an LF view a conversion from its nearest cursor), about what
// searching 64 KiB costs; each nesting level reads the lines in its body
// again. Denser lines are searched, as they were before lines were known:
// a review found one line per 4.6 KiB, which an earlier gap of 4 KiB read
// one by one, 3-5 times slower than the search (two reads per line,
// TestThresholdDashLinesSearched).
func sparseLines(lines []int64, from, to int64) bool {
	i := sort.Search(len(lines), func(i int) bool { return lines[i] >= from })
	j := sort.Search(len(lines), func(i int) bool { return lines[i] >= to })
	return int64(j-i)*sparseLineGap <= to-from
}

// sparseLineGap is the least room per known line for sparseLines.
const sparseLineGap = 64 << 10

// splitAtLines is searchDelimiters for canonical content whose lines that
// begin with "--" are known (lines, from the source: a spool, a file
// checked in place, a crlfView's index):
// only those lines, and the one at from, are read, so the body is not read
// again to find its delimiters. It finds what searchDelimiters finds
// (checkSplitParts, in every splitParts test and FuzzSplitParts, compares
// them). What it bought when spools first learnt their lines (the third
// session): a piped message (BenchmarkSpoolPipe, 32 MiB) 0.87
// of the time for CRLF and 0.74 for LF, BenchmarkParse10MiB 0.82; whole
// processes at 100 MiB, OpenPGP decrypt+verify from a file 0.92, from a
// pipe 0.89, sign+encrypt from a pipe 0.96 (docs/benchmark-notes.md).
//
// Its reads are bounded by the body, whatever the lines: a line is read
// no further than the next known line start (it ends before it), first
// only as far as dash, and on only if it begins with dash.
func splitAtLines(src io.ReaderAt, from, to int64, dash []byte, lines []int64, cleared func(int64), delimiter func(lineStart, lineEnd int64, kind delimKind) (bool, error)) (bool, error) {
	crlf := []byte("\r\n")
	buf := make([]byte, len(dash)+256)
	next := from // where the next delimiter line may start
	first := sort.Search(len(lines), func(i int) bool { return lines[i] > from })
	for i := first - 1; i < len(lines); i++ {
		at := from // the body's first line is a line start whatever comes before it
		if i >= first {
			at = lines[i]
		}
		if at >= to {
			break
		}
		limit := to
		if i+1 < len(lines) && lines[i+1] < to {
			limit = lines[i+1]
		}
		if at < next {
			continue
		}
		line, err := lineAt(src, at, limit, dash, &buf)
		if err != nil {
			return false, err
		}
		kind := delimNone
		if line != nil && len(line) <= maxDelimiterLine {
			kind = delimiterKind(line, dash, crlf)
		}
		if kind == delimNone {
			// The next delimiter line can start no earlier than the
			// next known line start.
			cleared(limit)
			continue
		}
		next = at + int64(len(line))
		if done, err := delimiter(at, next, kind); done || err != nil {
			return done, err
		}
	}
	return false, nil
}

// lineAt reads the line of src that starts at off and ends (with its LF)
// at limit or before, if it begins with dash: nil if it does not; no more
// than maxDelimiterLine+1 bytes of a longer one. *buf is grown as needed.
func lineAt(src io.ReaderAt, off, limit int64, dash []byte, buf *[]byte) ([]byte, error) {
	if limit-off < int64(len(dash)) {
		return nil, nil
	}
	n, err := src.ReadAt((*buf)[:len(dash)], off)
	if n < len(dash) {
		return nil, err
	}
	if !bytes.Equal((*buf)[:n], dash) {
		return nil, nil
	}
	// A line that begins with dash: read to its end. Lines do not
	// overlap, so the buffer grows at most to the longest one read.
	end := int(min(limit-off, maxDelimiterLine+1))
	if end > len(*buf) {
		grown := make([]byte, min(max(end, 2*len(*buf)), maxDelimiterLine+1))
		copy(grown, (*buf)[:n])
		*buf = grown
	}
	b := (*buf)[:end]
	for n < end {
		want := min(end, n+4<<10)
		k, err := src.ReadAt(b[n:want], off+int64(n))
		if i := bytes.IndexByte(b[n:n+k], '\n'); i >= 0 {
			return b[:n+i+1], nil
		}
		n += k
		if n < want {
			return nil, err
		}
	}
	return b[:n], nil // the body's end, or too long a line
}

type delimKind int

const (
	delimNone delimKind = iota
	delimOpen
	delimClose
)

// delimiterKind classifies a line (with its line ending eol, CRLF or in a
// source with LF line endings LF, if any).
func delimiterKind(line, dash, eol []byte) delimKind {
	if !bytes.HasPrefix(line, dash) {
		return delimNone
	}
	rest := bytes.TrimSuffix(line[len(dash):], eol)
	if bytes.HasPrefix(rest, []byte("--")) {
		// Lenient: anything may follow a close delimiter on its line.
		return delimClose
	}
	if len(bytes.Trim(rest, " \t")) == 0 {
		return delimOpen
	}
	return delimNone
}
