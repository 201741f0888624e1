package mime

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"io"
	"strings"

	"github.com/mailseal/mailseal/core"
)

// defaultContentType is the Content-Type of a root without one (RFC 2045).
const defaultContentType = "Content-Type: text/plain; charset=us-ascii\r\n"

// maxLineLength is the longest line (without CRLF) allowed in 7bit data (RFC 5322, RFC 2045).
const maxLineLength = 998

// Content returns the root's content as a standalone entity: its Content-*
// fields in their original order (Content-Type: text/plain;
// charset=us-ascii first if it has none), a blank line and the body. This is
// the part that gets signed or encrypted.
//
// Without sevenBit the bytes are exact. With sevenBit, leaf entities that are
// not 7-bit safe (Content-Transfer-Encoding 8bit or binary, or raw bytes that
// are non-ASCII or NUL, or lines over 998 octets) are made so, as RFC 3156
// section 3 requires before signing: a body that is in fact 7-bit clean is
// only relabelled "7bit"; otherwise text/* is re-encoded quoted-printable and
// everything else base64, and the Content-Transfer-Encoding field is
// replaced. Multiparts labelled 8bit or binary are relabelled 7bit. All other
// bytes — other entities, fields, delimiters, preambles and epilogues — stay
// exact. (Non-ASCII bytes in header fields, preambles or epilogues are left
// as they are.)
//
// The result streams from the spool; errors surface from Read and wrap
// core.ErrInput.
func (m *Message) Content(sevenBit bool) io.Reader {
	return &lazyReader{build: func() (io.Reader, error) { return m.buildContent(sevenBit) }, hint: m.Size()}
}

// lazyReader defers building a reader (which needs I/O) to the first Read.
type lazyReader struct {
	build func() (io.Reader, error)
	r     io.Reader
	err   error
	hint  int64 // the message's size: about what the reader yields
}

// SizeHint is about how many bytes the reader yields (the message's size:
// a 7-bit conversion or header protection changes it a little), so that
// a copy picks a buffer to fit (stage.ReadBufferSize): a small message
// does not allocate a large one, and a large message is not read from its
// file a few KiB at a time.
func (l *lazyReader) SizeHint() int64 { return l.hint }

func (l *lazyReader) Read(p []byte) (int, error) {
	if l.r == nil && l.err == nil {
		l.r, l.err = l.build()
	}
	if l.err != nil {
		return 0, l.err
	}
	return l.r.Read(p)
}

func (m *Message) buildContent(sevenBit bool) (io.Reader, error) {
	root := m.Root
	fields := root.Header.ContentFields()
	var plan map[*Entity]string
	if sevenBit {
		var err error
		if plan, err = planSevenBit(root); err != nil {
			return nil, err
		}
	}
	var head bytes.Buffer
	if !root.Header.has("Content-Type") {
		head.WriteString(defaultContentType)
	}
	writeFields(&head, fields, plan[root])
	head.WriteString("\r\n")
	parts := []io.Reader{&head}
	parts = append(parts, bodyReaders(root, plan, nil)...)
	return io.MultiReader(parts...), nil
}

// writeFields writes the raw fields; with a non-empty cte, the
// Content-Transfer-Encoding field is replaced (or added at the end).
func writeFields(b *bytes.Buffer, fields Header, cte string) {
	done := cte == ""
	for _, f := range fields {
		if strings.EqualFold(f.Key, "Content-Transfer-Encoding") && cte != "" {
			if !done {
				b.WriteString("Content-Transfer-Encoding: " + cte + "\r\n")
				done = true
			}
			continue
		}
		b.Write(f.rawBytes())
	}
	if !done {
		b.WriteString("Content-Transfer-Encoding: " + cte + "\r\n")
	}
}

// partEdit replaces the bytes of one entity when content is rebuilt.
type partEdit struct {
	head []byte      // the header section, blank line included
	body []io.Reader // the body
}

// entityReaders returns the readers that produce entity e (header and
// body), rewritten according to plan and edits.
func entityReaders(e *Entity, plan map[*Entity]string, edits map[*Entity]partEdit) []io.Reader {
	if ed, ok := edits[e]; ok {
		return append([]io.Reader{bytes.NewReader(ed.head)}, ed.body...)
	}
	cte, rewrite := plan[e]
	if !rewrite {
		return []io.Reader{e.Raw()}
	}
	if cte == "" {
		header := io.NewSectionReader(e.src, e.start, e.bodyStart-e.start)
		return append([]io.Reader{header}, bodyReaders(e, plan, edits)...)
	}
	var head bytes.Buffer
	writeFields(&head, e.Header, cte)
	head.WriteString("\r\n")
	return append([]io.Reader{&head}, bodyReaders(e, plan, edits)...)
}

// bodyReaders returns the readers that produce the body of e, rewritten
// according to plan and edits (a multipart above an edited part is in
// plan, with "").
func bodyReaders(e *Entity, plan map[*Entity]string, edits map[*Entity]partEdit) []io.Reader {
	if ed, ok := edits[e]; ok {
		return ed.body
	}
	cte, rewrite := plan[e]
	switch {
	case !rewrite || cte == "7bit" && !e.IsMultipart():
		return []io.Reader{e.RawBody()}
	case cte == "quoted-printable":
		return []io.Reader{newEncodeReader(e.Body(), func(w io.Writer) io.WriteCloser { return &qpEncoder{w: w} })}
	case cte == "base64":
		return []io.Reader{newEncodeReader(e.Body(), func(w io.Writer) io.WriteCloser {
			return base64.NewEncoder(base64.StdEncoding, &lineWrapper{w: w, width: 76})
		})}
	}
	// A multipart: the bytes between the children (preamble, delimiters,
	// epilogue) stay exact.
	var rs []io.Reader
	pos := e.bodyStart
	for _, c := range e.Children {
		rs = append(rs, io.NewSectionReader(e.src, pos, c.start-pos))
		rs = append(rs, entityReaders(c, plan, edits)...)
		pos = c.end
	}
	return append(rs, io.NewSectionReader(e.src, pos, e.end-pos))
}

// planSevenBit decides which entities under root must change to be 7-bit
// safe, and maps each to its new Content-Transfer-Encoding ("" for a
// multipart whose header stays but some of whose children change).
func planSevenBit(root *Entity) (map[*Entity]string, error) {
	plan := map[*Entity]string{}
	var visit func(e *Entity) error
	visit = func(e *Entity) error {
		cte := e.transferEncoding()
		if e.IsMultipart() && len(e.Children) > 0 {
			changed := false
			for _, c := range e.Children {
				if err := visit(c); err != nil {
					return err
				}
				if _, ok := plan[c]; ok {
					changed = true
				}
			}
			switch {
			case cte == "8bit" || cte == "binary":
				plan[e] = "7bit" // relabel; the children are 7-bit now
			case changed:
				plan[e] = "" // header unchanged, children rewritten
			}
			return nil
		}
		clean, err := sevenBitClean(e.lfBody())
		if err != nil {
			return fmt.Errorf("mime: reading %s: %v: %w", e.name(), err, core.ErrInput)
		}
		switch {
		case clean && (cte == "8bit" || cte == "binary"):
			plan[e] = "7bit"
		case clean:
		case strings.HasPrefix(e.MediaType, "text/"):
			plan[e] = "quoted-printable"
		default:
			plan[e] = "base64"
		}
		return nil
	}
	return plan, visit(root)
}

// sevenBitClean reports whether r holds only 7-bit data: no byte >= 128,
// no NUL, no line longer than 998 octets (CR not counted).
func sevenBitClean(r io.Reader) (bool, error) {
	buf := make([]byte, 32<<10)
	lineLen := 0 // octets of the current line so far, CR not counted
	for {
		n, err := r.Read(buf)
		data := buf[:n]
		if has8BitOrNUL(data) || !shortLines(data, &lineLen) {
			return false, nil
		}
		if err == io.EOF {
			return true, nil
		}
		if err != nil {
			return false, err
		}
	}
}

// shortLines reports whether the lines of data, the first of them
// lineLen octets long already, are no longer than maxLineLength (CR not
// counted), and leaves in lineLen the length of the last, unfinished
// one. It searches data a window of maxLineLength bytes at a time, not a
// line at a time: the lines that start and end in one window are shorter
// than it, so only the line that reaches into a window and the one that
// leaves it are measured (text of short lines took one search per line).
func shortLines(data []byte, lineLen *int) bool {
	cr := []byte{'\r'}
	for len(data) > 0 {
		w := data[:min(len(data), maxLineLength)]
		data = data[len(w):]
		first := bytes.IndexByte(w, '\n')
		if first < 0 {
			*lineLen += len(w) - bytes.Count(w, cr)
			if *lineLen > maxLineLength {
				return false
			}
			continue
		}
		// A line's CRs are counted only when it would otherwise be too long.
		if *lineLen+first > maxLineLength && *lineLen+first-bytes.Count(w[:first], cr) > maxLineLength {
			return false
		}
		tail := w[bytes.LastIndexByte(w, '\n')+1:]
		*lineLen = len(tail) - bytes.Count(tail, cr)
	}
	return true
}

// has8BitOrNUL reports whether b holds a NUL or a byte >= 128: NUL by a
// vectorised search, the high bits eight bytes at a time.
func has8BitOrNUL(b []byte) bool {
	if bytes.IndexByte(b, 0) >= 0 {
		return true
	}
	var acc uint64
	for len(b) >= 32 {
		acc |= binary.LittleEndian.Uint64(b) | binary.LittleEndian.Uint64(b[8:]) |
			binary.LittleEndian.Uint64(b[16:]) | binary.LittleEndian.Uint64(b[24:])
		b = b[32:]
	}
	for _, c := range b {
		acc |= uint64(c)
	}
	return acc&0x8080808080808080 != 0
}

// encodeReader turns a streaming encoder (a WriteCloser) into a reader:
// it pulls a chunk from src, pushes it through the encoder into a buffer,
// and serves the buffer. Memory stays bounded by the chunk size.
type encodeReader struct {
	src   io.Reader
	chunk []byte
	out   bytes.Buffer
	enc   io.WriteCloser
	done  bool
}

func newEncodeReader(src io.Reader, newEncoder func(io.Writer) io.WriteCloser) *encodeReader {
	r := &encodeReader{src: src, chunk: make([]byte, 16<<10)}
	r.enc = newEncoder(&r.out)
	return r
}

func (r *encodeReader) Read(p []byte) (int, error) {
	for r.out.Len() == 0 && !r.done {
		n, err := r.src.Read(r.chunk)
		if n > 0 {
			if _, werr := r.enc.Write(r.chunk[:n]); werr != nil {
				return 0, werr
			}
		}
		if err == io.EOF {
			r.done = true
			if cerr := r.enc.Close(); cerr != nil {
				return 0, cerr
			}
		} else if err != nil {
			return 0, err
		}
	}
	if r.out.Len() == 0 {
		return 0, io.EOF
	}
	return r.out.Read(p)
}

// lineWrapper breaks its input into lines of width bytes joined by CRLF
// (no CRLF after the last line).
type lineWrapper struct {
	w     io.Writer
	width int
	col   int
}

func (l *lineWrapper) Write(p []byte) (int, error) {
	written := 0
	for len(p) > 0 {
		if l.col == l.width {
			if _, err := l.w.Write([]byte("\r\n")); err != nil {
				return written, err
			}
			l.col = 0
		}
		n := min(len(p), l.width-l.col)
		if _, err := l.w.Write(p[:n]); err != nil {
			return written, err
		}
		l.col += n
		written += n
		p = p[n:]
	}
	return written, nil
}

// qpEncoder writes quoted-printable (RFC 2045 section 6.7) for re-encoded
// text: CRLF is a line break, every other byte outside printable ASCII
// (including a CR or LF not in a CRLF pair) and "=" is escaped, white
// space at the end of a line is escaped, and lines are soft-broken to stay
// within 76 characters. A "-" at the start of an output line is escaped too,
// so that re-encoded text can never produce a line that looks like a
// boundary delimiter of an enclosing multipart (soft breaks would otherwise
// move text to a line start).
type qpEncoder struct {
	w         io.Writer
	line      []byte
	pendingCR bool
	err       error
}

// qpMaxContent leaves room on a line for a trailing-space escape (+2) and
// the soft break "=" within the 76-character limit.
const qpMaxContent = 73

func (q *qpEncoder) Write(p []byte) (int, error) {
	for _, c := range p {
		if q.pendingCR {
			q.pendingCR = false
			if c == '\n' {
				q.endLine(true)
				continue
			}
			q.add('\r')
		}
		if c == '\r' {
			q.pendingCR = true
			continue
		}
		q.add(c)
	}
	return len(p), q.err
}

// add appends the encoding of c, soft-breaking the line first if needed.
func (q *qpEncoder) add(c byte) {
	literal := (c >= 33 && c <= 126 && c != '=') || c == ' ' || c == '\t'
	width := 1
	if !literal {
		width = 3
	}
	if len(q.line)+width > qpMaxContent {
		q.endLine(false)
	}
	if len(q.line) == 0 && c == '-' {
		literal, width = false, 3
	}
	if literal {
		q.line = append(q.line, c)
	} else {
		q.line = append(q.line, '=', "0123456789ABCDEF"[c>>4], "0123456789ABCDEF"[c&15])
	}
}

// endLine writes the current line with a hard (CRLF) or soft ("=" CRLF) break.
func (q *qpEncoder) endLine(hard bool) {
	if hard {
		q.escapeTrailingSpace()
		q.line = append(q.line, '\r', '\n')
	} else {
		q.line = append(q.line, '=', '\r', '\n')
	}
	if q.err == nil {
		_, q.err = q.w.Write(q.line)
	}
	q.line = q.line[:0]
}

// escapeTrailingSpace escapes a space or tab ending the line (decoders
// strip unescaped trailing white space).
func (q *qpEncoder) escapeTrailingSpace() {
	if n := len(q.line); n > 0 && (q.line[n-1] == ' ' || q.line[n-1] == '\t') {
		c := q.line[n-1]
		q.line = append(q.line[:n-1], '=', "0123456789ABCDEF"[c>>4], "0123456789ABCDEF"[c&15])
	}
}

// Close writes the last line, without a line break.
func (q *qpEncoder) Close() error {
	if q.pendingCR {
		q.pendingCR = false
		q.add('\r')
	}
	q.escapeTrailingSpace()
	if len(q.line) > 0 && q.err == nil {
		_, q.err = q.w.Write(q.line)
	}
	q.line = q.line[:0]
	return q.err
}
