// Package mbox reads and writes mbox files in the mboxrd variant: a message
// starts at a "From " line at the start of the file or after a blank line,
// and a line of a message that starts with "From " after any number of '>'
// is written with one '>' more (and read with one less), so that no line of
// a message can pass for the start of the next.
//
// Reading keeps no message bytes: a Scanner finds where each message lies
// in one pass over the file, and Message.Reader reads it again from the
// file, unquoting as it goes, so a mailbox of any size is read in bounded
// memory. Writing streams each message through in the same way.
package mbox

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"time"
)

// ErrNotMbox is what Scanner.Next returns for input that is not empty and
// does not start with a "From " line.
var ErrNotMbox = errors.New(`not an mbox file (it does not start with a "From " line)`)

// Message is where one message lies in an mbox file.
type Message struct {
	// Start and End delimit the message's bytes in the file: after its
	// "From " line, and without the blank line that separates it from
	// the next message.
	Start, End int64
	// Quoted says that some of its lines are quoted "From " lines, which
	// Reader unquotes: the content is then not the bytes of the file.
	Quoted bool
	// CRLF says that every line of it ends in CRLF (a hint only: such a
	// message might be parsed where it lies).
	CRLF bool
}

// Reader returns the message's content, read from src (the mbox file)
// with its quoted "From " lines unquoted. Reading it does not disturb
// other readers of src.
func (m Message) Reader(src io.ReaderAt) io.Reader {
	sr := io.NewSectionReader(src, m.Start, m.End-m.Start)
	if !m.Quoted {
		return sr
	}
	return newQuoter(bufio.NewReaderSize(sr, int(min(m.End-m.Start+16, 64<<10))), -1, false)
}

// Scanner finds the messages of an mbox file in one pass.
type Scanner struct {
	br        *bufio.Reader
	off       int64 // offset of the next byte br returns
	started   bool  // the first line was read
	cur       *Message
	prevBlank bool
	tail      tail // the last bytes of the current message
	err       error
}

// NewScanner returns a Scanner that reads the mbox from r.
func NewScanner(r io.Reader) *Scanner {
	return newScanner(bufio.NewReaderSize(r, 64<<10))
}

func newScanner(br *bufio.Reader) *Scanner {
	return &Scanner{br: br, prevBlank: true}
}

// Next returns the next message, io.EOF after the last, ErrNotMbox for a
// file that is not an mbox, or an error from reading.
func (s *Scanner) Next() (Message, error) {
	for s.err == nil {
		lineStart := s.off
		gts, from, err := quotePrefix(s.br)
		s.off += gts
		if err == nil && gts == 0 {
			if _, perr := s.br.Peek(1); perr == io.EOF {
				err = io.EOF // no line left
			}
		}
		switch {
		case err != nil:
		case !s.started && (gts > 0 || !from):
			err = ErrNotMbox
		case s.prevBlank && gts == 0 && from:
			// A new message begins after this line.
			s.started = true
			if err = s.skipLine(); err != nil {
				break
			}
			done := s.cur
			s.cur = &Message{Start: s.off, End: s.off, CRLF: true}
			s.prevBlank = false
			if done != nil {
				m := s.finish(done, lineStart)
				s.tail = tail{}
				return m, nil
			}
			continue
		default:
			if gts > 0 && from {
				s.cur.Quoted = true
			}
			err = s.contentLine(gts)
		}
		if err != nil && err != io.EOF && err != ErrNotMbox {
			err = fmt.Errorf("reading the mbox: %w", err)
		}
		s.err = err
	}
	if s.err == io.EOF && s.cur != nil {
		done := s.cur
		s.cur = nil
		return s.finish(done, s.off), nil
	}
	return Message{}, s.err
}

// finish ends m before end, without the blank line that separates it
// from the next message.
func (s *Scanner) finish(m *Message, end int64) Message {
	m.End = end - s.tail.separator()
	if m.End == m.Start {
		m.CRLF = false
	}
	return *m
}

// skipLine reads past the rest of a line.
func (s *Scanner) skipLine() error {
	for {
		frag, err := s.br.ReadSlice('\n')
		s.off += int64(len(frag))
		if err != bufio.ErrBufferFull {
			if err == io.EOF {
				return nil
			}
			return err
		}
	}
}

// contentLine reads the rest of a line of the current message, of which
// quotePrefix read gts '>'.
func (s *Scanner) contentLine(gts int64) error {
	blank := gts == 0
	for i := int64(0); i < min(gts, 4); i++ {
		s.tail.add([]byte{'>'})
	}
	var last2 [2]byte // the last two bytes of the line
	if gts > 0 {
		last2 = [2]byte{'>', '>'}
	}
	for {
		frag, err := s.br.ReadSlice('\n')
		s.off += int64(len(frag))
		s.tail.add(frag)
		for _, c := range frag {
			if c != '\r' && c != '\n' {
				blank = false
				break
			}
		}
		switch len(frag) {
		case 0:
		case 1:
			last2 = [2]byte{last2[1], frag[0]}
		default:
			last2 = [2]byte{frag[len(frag)-2], frag[len(frag)-1]}
		}
		if err == bufio.ErrBufferFull {
			continue
		}
		if last2 != [2]byte{'\r', '\n'} {
			s.cur.CRLF = false
		}
		s.prevBlank = blank
		if err == io.EOF {
			return nil
		}
		return err
	}
}

// tail follows the last four bytes of a message, to find the blank line
// that ends it.
type tail struct {
	b [4]byte
	n int
}

func (t *tail) add(p []byte) {
	if len(p) >= 4 {
		copy(t.b[:], p[len(p)-4:])
		t.n = 4
		return
	}
	for _, c := range p {
		copy(t.b[:], t.b[1:])
		t.b[3] = c
		t.n = min(t.n+1, 4)
	}
}

// separator is the length of the line break that separates the message
// from the next: the last of "\r\n\r\n" or "\n\n" at its end.
func (t *tail) separator() int64 {
	end := t.b[4-t.n:]
	switch {
	case bytes.HasSuffix(end, []byte("\r\n\r\n")):
		return 2
	case bytes.HasSuffix(end, []byte("\n\n")):
		return 1
	}
	return 0
}

// quotePrefix reads the run of '>' at the start of a line from br and
// reports whether "From " follows it (which it leaves unread).
func quotePrefix(br *bufio.Reader) (gts int64, from bool, err error) {
	for {
		if _, err := br.Peek(1); err != nil {
			if err == io.EOF {
				return gts, false, nil
			}
			return gts, false, err
		}
		buf, _ := br.Peek(br.Buffered())
		n := 0
		for n < len(buf) && buf[n] == '>' {
			n++
		}
		br.Discard(n)
		gts += int64(n)
		if n < len(buf) {
			break
		}
	}
	next, err := br.Peek(5)
	if err != nil && err != io.EOF {
		return gts, false, err
	}
	return gts, string(next) == "From ", nil
}

// quoter passes text on with one '>' more (delta 1) or less (delta -1)
// at the start of each quoted "From " line (with delta 1, also each
// "From " line), and with lf, CRLF line endings made LF.
type quoter struct {
	src       *bufio.Reader
	delta     int64
	lf        bool
	lineStart bool  // the next byte from src starts a line
	gts       int64 // '>' still to pass on before the rest of the line
	last      byte  // the last byte passed on (0: none yet)
}

func newQuoter(src *bufio.Reader, delta int64, lf bool) *quoter {
	return &quoter{src: src, delta: delta, lf: lf, lineStart: true}
}

func (q *quoter) Read(p []byte) (int, error) {
	n := 0
	for n < len(p) {
		if q.gts > 0 {
			k := int(min(q.gts, int64(len(p)-n)))
			for i := range k {
				p[n+i] = '>'
			}
			n += k
			q.gts -= int64(k)
			q.last = '>'
			continue
		}
		if q.lineStart {
			gts, from, err := quotePrefix(q.src)
			if err != nil {
				return n, err
			}
			if from && gts+q.delta >= 0 {
				gts += q.delta
			}
			q.gts, q.lineStart = gts, false
			continue
		}
		if _, err := q.src.Peek(1); err != nil {
			if n > 0 {
				return n, nil
			}
			return 0, err
		}
		buf, _ := q.src.Peek(q.src.Buffered())
		buf = buf[:min(len(buf), len(p)-n)]
		if i := bytes.IndexByte(buf, '\n'); i >= 0 {
			buf = buf[:i+1]
		}
		switch {
		case !q.lf:
		case len(buf) >= 2 && buf[len(buf)-1] == '\n' && buf[len(buf)-2] == '\r':
			// CRLF at the end of the line: LF.
			k := copy(p[n:], buf[:len(buf)-2])
			p[n+k] = '\n'
			n += k + 1
			q.src.Discard(len(buf))
			q.last, q.lineStart = '\n', true
			continue
		case buf[len(buf)-1] == '\r' && len(buf) > 1:
			buf = buf[:len(buf)-1] // a CR whose next byte is not known yet
		case buf[len(buf)-1] == '\r':
			next, _ := q.src.Peek(2) // (which may move what buf showed)
			if len(next) == 2 && next[1] == '\n' {
				p[n] = '\n'
				n++
				q.src.Discard(2)
				q.last, q.lineStart = '\n', true
				continue
			}
			buf = next[:1]
		}
		k := copy(p[n:], buf)
		n += k
		q.src.Discard(k)
		q.last = buf[k-1]
		q.lineStart = q.last == '\n'
	}
	return n, nil
}

// Writer writes messages to an mbox file.
type Writer struct {
	w  *bufio.Writer
	br *bufio.Reader // reused for every message
}

// NewWriter returns a Writer to w; Flush must follow the last message.
func NewWriter(w io.Writer) *Writer {
	return &Writer{w: bufio.NewWriterSize(w, 1<<20)}
}

// WriteMessage writes the message read from r: a "From MAILER-DAEMON" line
// with date, the message with LF line endings and its "From " lines
// quoted, a line break if it does not end in one, and a blank line.
func (w *Writer) WriteMessage(r io.Reader, date time.Time) error {
	if w.br == nil {
		w.br = bufio.NewReaderSize(r, 64<<10)
	} else {
		w.br.Reset(r)
	}
	defer w.br.Reset(nil)
	fmt.Fprintf(w.w, "From MAILER-DAEMON %s\n", date.UTC().Format(time.ANSIC))
	q := newQuoter(w.br, 1, true)
	if _, err := w.w.ReadFrom(q); err != nil {
		return err
	}
	if q.last != '\n' {
		w.w.WriteByte('\n')
	}
	_, err := w.w.WriteString("\n")
	return err
}

// Flush writes what is buffered.
func (w *Writer) Flush() error { return w.w.Flush() }
