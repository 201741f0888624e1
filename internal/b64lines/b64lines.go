// Package b64lines is the one streaming base64 encoder of mailseal: it
// writes standard base64 broken into lines of a fixed width, each ended by
// a given line ending, encoding whole lines at a time. OpenPGP armor (64
// characters, LF) and MIME base64 bodies (76 characters, CRLF) both use it.
// DecodeLines is the fast path of mailseal's base64 readers.
//
// In pure Go, encoding goes six input bytes at a time through a table of
// the two characters for each 12 bits (8 KiB, built on first use), where
// encoding/base64 looks up one character per 6 bits, and decoding four
// characters at a time through four tables: each about twice
// encoding/base64's speed on lines. base64 was a tenth to a quarter of
// the CPU time of encrypting or decrypting a large message.
//
// On amd64 processors with AVX2, whole lines of at least 32 characters
// go through assembly kernels (simd_amd64.s, after Muła and Lemire's
// AVX2 base64), 24 bytes to 32 characters a step, which also check each
// line's ending and, when decoding, the alphabet; the Go code takes the
// rest (short or last lines, padding, anything unusual) and is the whole
// of it elsewhere or with the purego build tag. BenchmarkWriter (1 MiB,
// 76-character lines) runs at about 6 GB/s against 1.5 in pure Go, and
// BenchmarkDecodeLines at about 8-10 GB/s against 1.6. TestSIMDDecodeLines
// and TestSIMDEncodeLines compare the kernels with encoding/base64,
// putting every byte value in every place of a line; FuzzWriter,
// FuzzEncode and FuzzDecodeLines compare the package's results, either
// way, with encoding/base64 (scripts/test.sh also runs them with purego).
package b64lines

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"io"
	"sync"
)

// alphabet is standard base64's (RFC 4648, section 4).
const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"

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

// Write encodes p. With the AVX2 kernel it may read up to 8 bytes of p's
// capacity past len(p) (never using or writing them), so another
// goroutine must not write those bytes meanwhile.
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
	read, o := simdEncodeLines(out, p, b.lineBytes, b.eol)
	p = p[read:]
	for len(p) > 0 {
		k := min(b.lineBytes, len(p))
		encode(out[o:], p[:k])
		o += base64.StdEncoding.EncodedLen(k)
		o += copy(out[o:], b.eol)
		p = p[k:]
	}
	_, err := b.w.Write(out)
	return err
}

// encode is base64.StdEncoding.Encode(dst, src).
func encode(dst, src []byte) {
	t := encodeTable()
	// Six bytes a step, read as eight (the last two unused), so the
	// step stops while eight remain.
	for len(src) >= 8 && len(dst) >= 8 {
		v := binary.BigEndian.Uint64(src)
		binary.LittleEndian.PutUint64(dst, uint64(t[v>>52])|uint64(t[v>>40&0xFFF])<<16|
			uint64(t[v>>28&0xFFF])<<32|uint64(t[v>>16&0xFFF])<<48)
		src, dst = src[6:], dst[8:]
	}
	for len(src) >= 3 && len(dst) >= 4 {
		v := uint32(src[0])<<16 | uint32(src[1])<<8 | uint32(src[2])
		binary.LittleEndian.PutUint32(dst, uint32(t[v>>12])|uint32(t[v&0xFFF])<<16)
		src, dst = src[3:], dst[4:]
	}
	base64.StdEncoding.Encode(dst, src)
}

// encodeTable[v] is the two characters of the 12 bits v, the first in the
// low byte.
var encodeTable = sync.OnceValue(func() *[4096]uint16 {
	t := new([4096]uint16)
	for v := range t {
		t[v] = uint16(alphabet[v>>6]) | uint16(alphabet[v&63])<<8
	}
	return t
})

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
//
// Lines whose length is a multiple of four (as every encoder writes them)
// are decoded four characters at a time with lookup tables, about a third
// faster than encoding/base64, which takes a slow path at every line
// break; anything else goes to encoding/base64, whose result is the
// reference.
func DecodeLines(dst, lines []byte) ([]byte, bool) {
	need := base64.StdEncoding.DecodedLen(len(lines))
	if cap(dst)-len(dst) < need+1 { // +1: decodeQuads stores 4 bytes at a time
		grown := make([]byte, len(dst), len(dst)+need+1)
		copy(grown, dst)
		dst = grown
	}
	out := dst[len(dst) : len(dst)+need+1]
	if n, ok := decodeByLines(out, lines); ok {
		return dst[:len(dst)+n], true
	}
	m, err := base64.StdEncoding.Decode(out[:need], lines)
	if err != nil {
		return dst, false
	}
	return dst[:len(dst)+m], true
}

// decodeByLines decodes lines of a multiple of four characters, ended by
// LF or CRLF, with padding at most in the last group of the input; ok is
// false for anything else. out has room for the result plus one byte.
func decodeByLines(out, src []byte) (n int, ok bool) {
	width, crlf := -1, false // of the line before: most lines are alike
	for len(src) > 0 {
		if width >= 0 {
			read, written := simdDecodeLines(out[n:], src, width, crlf)
			src, n = src[read:], n+written
			if len(src) == 0 {
				break
			}
		}
		var line []byte
		switch {
		case crlf && len(src) > width+1 && src[width] == '\r' && src[width+1] == '\n':
			line, src = src[:width], src[width+2:]
		case !crlf && width >= 0 && len(src) > width && src[width] == '\n':
			line, src = src[:width], src[width+1:]
		default:
			line, src = src, nil
			if i := bytes.IndexByte(line, '\n'); i >= 0 {
				line, src = line[:i], line[i+1:]
			}
			crlf = len(line) > 0 && line[len(line)-1] == '\r'
			if crlf {
				line = line[:len(line)-1]
			}
			width = len(line)
		}
		if len(line)%4 != 0 {
			return 0, false
		}
		if k := len(line); k > 0 && line[k-1] == '=' {
			// Padding ends the data: only line breaks may follow.
			if len(bytes.Trim(src, "\r\n")) != 0 {
				return 0, false
			}
			if !decodeQuads(out[n:], line[:k-4]) {
				return 0, false
			}
			n += (k - 4) / 4 * 3
			m, err := base64.StdEncoding.Decode(out[n:], line[k-4:])
			if err != nil {
				return 0, false
			}
			return n + m, true
		}
		if !decodeQuads(out[n:], line) {
			return 0, false
		}
		n += len(line) / 4 * 3
	}
	return n, true
}

// decodeTables[i][c] is character c in position i of a group of four,
// placed in the little-endian 24-bit value of the group's three bytes;
// 0xFFFFFFFF for a character that is not in the alphabet.
// They are built on first use, not at start-up.
var decodeTables = sync.OnceValue(func() *[4][256]uint32 {
	t := new([4][256]uint32)
	for i := range t {
		for c := range t[i] {
			t[i][c] = 0xFFFFFFFF
		}
		for v := range len(alphabet) {
			bits := uint32(v) << (18 - 6*i) // big-endian 24-bit group
			t[i][alphabet[v]] = bits>>16&0xFF | (bits>>8&0xFF)<<8 | (bits&0xFF)<<16
		}
	}
	return t
})

// Values maps a byte to its 6-bit value in standard base64, 0xFE for the
// padding '=' and 0xFF for any other byte: the table of mailseal's lenient
// base64 readers (mime's, armor's), built on first use.
var Values = sync.OnceValue(func() *[256]byte {
	t := new([256]byte)
	for c := range t {
		t[c] = 0xFF
	}
	for v := range len(alphabet) {
		t[alphabet[v]] = byte(v)
	}
	t['='] = 0xFE
	return t
})

// decodeQuads decodes groups of four characters (len(src) a multiple of
// four, no padding) into out, which needs one byte more than the result;
// false if a character is not in the alphabet.
func decodeQuads(out, src []byte) bool {
	t := decodeTables()
	t0, t1, t2, t3 := &t[0], &t[1], &t[2], &t[3]
	var bad uint32
	j := 0
	for i := 0; i+4 <= len(src); i += 4 {
		v := t0[src[i]] | t1[src[i+1]] | t2[src[i+2]] | t3[src[i+3]]
		bad |= v
		binary.LittleEndian.PutUint32(out[j:], v)
		j += 3
	}
	return bad&0xFF000000 == 0
}
