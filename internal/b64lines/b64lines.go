// Package b64lines is the one streaming base64 encoder of mailseal: it
// writes standard base64 broken into lines of a fixed width, each ended by
// a given line ending, encoding whole lines at a time with encoding/base64
// so that it runs near that package's speed. OpenPGP armor (64 characters,
// LF) and MIME base64 bodies (76 characters, CRLF) both use it.
package b64lines

import (
	"encoding/base64"
	"errors"
	"io"
)

// Writer encodes what is written to it. Close writes the last, partial line
// (with its line ending); it does not close the underlying writer.
type Writer struct {
	w         io.Writer
	lineBytes int // input bytes per full line
	eol       string
	pending   []byte
	out       []byte
	closed    bool
}

// linesPerBatch is how many lines are encoded per write to the underlying
// writer (about 64 KiB of output).
const linesPerBatch = 1000

// NewWriter returns an encoder writing lines of lineChars base64 characters
// (rounded down to a multiple of 4, at least 4) ended by eol.
func NewWriter(w io.Writer, lineChars int, eol string) *Writer {
	lb := lineChars / 4 * 3
	if lb < 3 {
		lb = 3
	}
	return &Writer{w: w, lineBytes: lb, eol: eol, pending: make([]byte, 0, lb)}
}

func (b *Writer) Write(p []byte) (int, error) {
	if b.closed {
		return 0, errors.New("base64: write after close")
	}
	n := len(p)
	if len(b.pending) > 0 {
		k := copy(b.pending[len(b.pending):b.lineBytes], p)
		b.pending = b.pending[:len(b.pending)+k]
		p = p[k:]
		if len(b.pending) < b.lineBytes {
			return n, nil
		}
		if err := b.encodeLines(b.pending); err != nil {
			return 0, err
		}
		b.pending = b.pending[:0]
	}
	batch := linesPerBatch * b.lineBytes
	for len(p) >= b.lineBytes {
		k := min(len(p)-len(p)%b.lineBytes, batch)
		if err := b.encodeLines(p[:k]); err != nil {
			return 0, err
		}
		p = p[k:]
	}
	b.pending = append(b.pending, p...)
	return n, nil
}

// encodeLines writes p as lines of lineBytes input bytes (the last may be shorter).
func (b *Writer) encodeLines(p []byte) error {
	full := len(p) / b.lineBytes
	lineChars := base64.StdEncoding.EncodedLen(b.lineBytes)
	size := full * (lineChars + len(b.eol))
	if rest := len(p) % b.lineBytes; rest > 0 {
		size += base64.StdEncoding.EncodedLen(rest) + len(b.eol)
	}
	if cap(b.out) < size {
		b.out = make([]byte, size)
	}
	out := b.out[:size]
	o := 0
	for len(p) > 0 {
		k := min(b.lineBytes, len(p))
		base64.StdEncoding.Encode(out[o:], p[:k])
		o += base64.StdEncoding.EncodedLen(k)
		o += copy(out[o:], b.eol)
		p = p[k:]
	}
	_, err := b.w.Write(out)
	return err
}

// Close writes what is pending as the last line.
func (b *Writer) Close() error {
	if b.closed {
		return nil
	}
	b.closed = true
	if len(b.pending) > 0 {
		return b.encodeLines(b.pending)
	}
	return nil
}

// DecodeLines appends to dst the decoding of lines of standard, padded
// base64 separated by CR and LF, and reports whether they were exactly
// that; if not (other bytes, padding before the end, a character count not
// a multiple of four), dst comes back unchanged and the caller decodes the
// lines its own way. It is the fast path of mailseal's base64 readers.
func DecodeLines(dst, lines []byte) ([]byte, bool) {
	need := base64.StdEncoding.DecodedLen(len(lines))
	if cap(dst)-len(dst) < need {
		grown := make([]byte, len(dst), len(dst)+need)
		copy(grown, dst)
		dst = grown
	}
	m, err := base64.StdEncoding.Decode(dst[len(dst):len(dst)+need], lines)
	if err != nil {
		return dst, false
	}
	return dst[:len(dst)+m], true
}
