package mime

import (
	"bufio"
	"bytes"
	"fmt"
	"io"

	"github.com/mailseal/mailseal/core"
	"github.com/mailseal/mailseal/internal/b64lines"
	"github.com/mailseal/mailseal/internal/stage"
)

// Body returns the body with its Content-Transfer-Encoding decoded:
// base64 (leniently: characters outside the alphabet, such as line breaks
// and spaces, are skipped, and an incomplete last group is decoded as far as
// it goes), quoted-printable (leniently: invalid escapes and unencoded
// 8-bit bytes, common in real mail, pass through literally), and 7bit,
// 8bit, binary and unknown encodings passed through. The body of a
// multipart with parts is passed through too: composite types may not be
// encoded (RFC 2045 section 6.4), and the parts' offsets refer to the raw
// body. Read errors wrap core.ErrInput.
func (e *Entity) Body() io.Reader {
	raw := e.RawBody()
	if len(e.Children) > 0 {
		return raw
	}
	switch e.transferEncoding() {
	case "base64":
		return newBase64Decoder(e.encodedBody())
	case "quoted-printable":
		return newQPDecoder(raw)
	default:
		return raw
	}
}

// base64Decoder decodes base64 leniently and streaming: bytes outside the
// alphabet are skipped, '=' ends a group (so concatenated encodings decode),
// and a trailing incomplete group yields the bytes it holds.
type base64Decoder struct {
	src   io.Reader
	in    []byte
	out   []byte // decoded, not yet returned
	buf   []byte // backing store of out
	group [4]byte
	n     int // sextets in group
	done  bool
}

func newBase64Decoder(src io.Reader) *base64Decoder {
	return &base64Decoder{src: src, in: make([]byte, stage.ReadBufferSize(src, 32<<10))}
}

func (d *base64Decoder) Read(p []byte) (int, error) {
	for len(d.out) == 0 {
		if d.done {
			return 0, io.EOF
		}
		n, err := d.src.Read(d.in)
		buf := d.decode(d.buf[:0], d.in[:n])
		if err == io.EOF {
			buf = d.flush(buf)
			d.done = true
		} else if err != nil {
			return 0, fmt.Errorf("mime: reading a base64 body: %v: %w", err, core.ErrInput)
		}
		d.buf, d.out = buf, buf
	}
	n := copy(p, d.out)
	d.out = d.out[n:]
	return n, nil
}

// decode appends the decoding of data to buf. Whole lines of well-formed
// base64 (the normal case) go through encoding/base64, which skips CR and
// LF; anything else, and the partial line at the end of data, byte by byte.
func (d *base64Decoder) decode(buf, data []byte) []byte {
	if d.n != 0 {
		// Finish the group begun in the previous piece, up to a line break.
		k := bytes.IndexByte(data, '\n') + 1
		if k == 0 {
			return d.decodeBytes(buf, data)
		}
		buf = d.decodeBytes(buf, data[:k])
		data = data[k:]
	}
	if d.n == 0 {
		if end := bytes.LastIndexByte(data, '\n'); end >= 0 {
			var ok bool
			if buf, ok = b64lines.DecodeLines(buf, data[:end+1]); ok {
				data = data[end+1:]
			}
		}
	}
	return d.decodeBytes(buf, data)
}

// decodeBytes is the lenient decoder, one byte at a time.
func (d *base64Decoder) decodeBytes(buf, data []byte) []byte {
	values := b64lines.Values()
	for _, c := range data {
		v := values[c]
		switch v {
		case 0xFF:
			continue
		case 0xFE:
			buf = d.flush(buf)
			continue
		}
		d.group[d.n] = v
		d.n++
		if d.n == 4 {
			buf = d.flush(buf)
		}
	}
	return buf
}

// flush appends the bytes of the current (possibly incomplete) group.
func (d *base64Decoder) flush(buf []byte) []byte {
	g := d.group
	switch d.n {
	case 4:
		buf = append(buf, g[0]<<2|g[1]>>4, g[1]<<4|g[2]>>2, g[2]<<6|g[3])
	case 3:
		buf = append(buf, g[0]<<2|g[1]>>4, g[1]<<4|g[2]>>2)
	case 2:
		buf = append(buf, g[0]<<2|g[1]>>4)
	}
	d.n = 0
	return buf
}

// qpDecoder decodes quoted-printable (RFC 2045 section 6.7) leniently and
// streaming, line by line: trailing white space is removed, a final "="
// joins the line with the next (soft line break), "=XX" (hex digits in
// either case) is the byte XX, and anything else — an "=" not followed by
// two hex digits, control or 8-bit bytes — is kept literally. Lines longer
// than the read buffer (64 KiB) are decoded in pieces; white space at the
// end of such a piece is kept.
type qpDecoder struct {
	br      *bufio.Reader
	carry   []byte // an escape split across pieces of a long line
	scratch []byte
	buf     []byte
	out     []byte
	done    bool
}

func newQPDecoder(src io.Reader) *qpDecoder {
	return &qpDecoder{br: bufio.NewReaderSize(src, 64<<10)}
}

func (d *qpDecoder) Read(p []byte) (int, error) {
	for len(d.out) == 0 {
		if d.done {
			return 0, io.EOF
		}
		line, err := d.br.ReadSlice('\n')
		data := append(append(d.scratch[:0], d.carry...), line...)
		d.scratch, d.carry = data, d.carry[:0]
		buf := d.buf[:0]
		switch {
		case err == bufio.ErrBufferFull:
			keep := 0
			if k := len(data); k >= 1 && data[k-1] == '=' {
				keep = 1
			} else if k >= 2 && data[k-2] == '=' {
				keep = 2
			}
			d.carry = append(d.carry, data[len(data)-keep:]...)
			buf = qpUnescape(buf, data[:len(data)-keep])
		case err == nil || err == io.EOF:
			buf = qpDecodeLine(buf, data)
			d.done = err == io.EOF
		default:
			return 0, fmt.Errorf("mime: reading a quoted-printable body: %v: %w", err, core.ErrInput)
		}
		d.buf, d.out = buf, buf
	}
	n := copy(p, d.out)
	d.out = d.out[n:]
	return n, nil
}

// qpDecodeLine appends the decoded form of one line (with its line ending, if any).
func qpDecodeLine(dst, line []byte) []byte {
	text := bytes.TrimSuffix(line, []byte("\n"))
	eol := len(text) < len(line)
	text = bytes.TrimSuffix(text, []byte("\r"))
	text = bytes.TrimRight(text, " \t")
	soft := bytes.HasSuffix(text, []byte("="))
	if soft {
		text = text[:len(text)-1]
	}
	dst = qpUnescape(dst, text)
	if eol && !soft {
		dst = append(dst, '\r', '\n')
	}
	return dst
}

// qpUnescape appends s with its "=XX" escapes decoded.
func qpUnescape(dst, s []byte) []byte {
	for len(s) > 0 {
		i := bytes.IndexByte(s, '=')
		if i < 0 {
			return append(dst, s...)
		}
		dst = append(dst, s[:i]...)
		s = s[i:]
		if len(s) >= 3 {
			hi, ok1 := unhex(s[1])
			lo, ok2 := unhex(s[2])
			if ok1 && ok2 {
				dst = append(dst, hi<<4|lo)
				s = s[3:]
				continue
			}
		}
		dst = append(dst, '=')
		s = s[1:]
	}
	return dst
}

func unhex(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	case 'A' <= c && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}
