package mime

import (
	"fmt"
	"io"
	"mime/quotedprintable"

	"github.com/mailseal/mailseal"
)

// Body returns the body with its Content-Transfer-Encoding decoded:
// base64 (leniently: characters outside the alphabet, such as line breaks
// and spaces, are skipped, and an incomplete last group is decoded as far as
// it goes), quoted-printable, and 7bit, 8bit, binary and unknown encodings
// passed through. A multipart body is passed through too: composite types
// may not be encoded (RFC 2045 section 6.4). Read errors wrap
// mailseal.ErrInput.
func (e *Entity) Body() io.Reader {
	raw := e.RawBody()
	if e.IsMultipart() {
		return raw
	}
	switch e.transferEncoding() {
	case "base64":
		return newBase64Decoder(raw)
	case "quoted-printable":
		return &wrapErrReader{r: quotedprintable.NewReader(raw), context: "mime: decoding the quoted-printable body of " + e.name()}
	default:
		return raw
	}
}

// wrapErrReader wraps errors other than io.EOF with context and ErrInput.
type wrapErrReader struct {
	r       io.Reader
	context string
}

func (w *wrapErrReader) Read(p []byte) (int, error) {
	n, err := w.r.Read(p)
	if err != nil && err != io.EOF {
		err = fmt.Errorf("%s: %v: %w", w.context, err, mailseal.ErrInput)
	}
	return n, err
}

const base64Alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"

// base64Values maps a byte to its 6-bit value, 0xFE for '=', 0xFF for others.
var base64Values = func() [256]byte {
	var t [256]byte
	for i := range t {
		t[i] = 0xFF
	}
	for i := 0; i < len(base64Alphabet); i++ {
		t[base64Alphabet[i]] = byte(i)
	}
	t['='] = 0xFE
	return t
}()

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
	return &base64Decoder{src: src, in: make([]byte, 16<<10)}
}

func (d *base64Decoder) Read(p []byte) (int, error) {
	for len(d.out) == 0 {
		if d.done {
			return 0, io.EOF
		}
		n, err := d.src.Read(d.in)
		buf := d.buf[:0]
		for _, c := range d.in[:n] {
			v := base64Values[c]
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
		if err == io.EOF {
			buf = d.flush(buf)
			d.done = true
		} else if err != nil {
			return 0, fmt.Errorf("mime: reading a base64 body: %v: %w", err, mailseal.ErrInput)
		}
		d.buf, d.out = buf, buf
	}
	n := copy(p, d.out)
	d.out = d.out[n:]
	return n, nil
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
