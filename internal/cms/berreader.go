package cms

import (
	"bufio"
	"errors"
	"fmt"
	"io"

	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"
)

// A minimal incremental BER reader, private to this package: internal/ber
// was not available when this package was written. It reads headers one
// at a time, reads small elements whole (normalised to definite lengths so
// cryptobyte can parse them), and streams the pieces of a possibly
// constructed OCTET STRING without holding them.

const (
	maxBERDepth = 32
	eocTag      = 0x00
)

var errBERTruncated = errors.New("unexpected end of input")

type berReader struct {
	r      *bufio.Reader
	offset int64
}

func newBERReader(r io.Reader) *berReader {
	return &berReader{r: bufio.NewReaderSize(r, 64<<10)}
}

// berHeader is one identifier + length.
type berHeader struct {
	tag        byte // identifier octet (class, constructed bit, number < 31)
	indefinite bool
	length     int64 // for definite lengths
	end        int64 // offset just past the contents, for definite lengths
}

func (h berHeader) constructed() bool { return h.tag&0x20 != 0 }

func (b *berReader) readByte() (byte, error) {
	c, err := b.r.ReadByte()
	if err != nil {
		if errors.Is(err, io.EOF) {
			return 0, errBERTruncated
		}
		return 0, err
	}
	b.offset++
	return c, nil
}

func (b *berReader) readFull(p []byte) error {
	n, err := io.ReadFull(b.r, p)
	b.offset += int64(n)
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return errBERTruncated
	}
	return err
}

func (b *berReader) header() (berHeader, error) {
	var h berHeader
	tag, err := b.readByte()
	if err != nil {
		return h, err
	}
	if tag&0x1f == 0x1f {
		return h, errors.New("high tag numbers are not used in CMS")
	}
	h.tag = tag
	l, err := b.readByte()
	if err != nil {
		return h, err
	}
	switch {
	case l == 0x80:
		if tag&0x20 == 0 {
			return h, errors.New("indefinite length on a primitive element")
		}
		h.indefinite = true
		return h, nil
	case l < 0x80:
		h.length = int64(l)
	default:
		n := int(l & 0x7f)
		if n > 7 {
			return h, errors.New("length too large")
		}
		for i := 0; i < n; i++ {
			c, err := b.readByte()
			if err != nil {
				return h, err
			}
			h.length = h.length<<8 | int64(c)
		}
		if h.length > 1<<48 {
			return h, errors.New("length too large")
		}
	}
	h.end = b.offset + h.length
	return h, nil
}

// more reports whether the constructed element parent has another child;
// at the end of an indefinite-length element it consumes the end-of-contents.
func (b *berReader) more(parent berHeader) (bool, error) {
	if !parent.indefinite {
		switch {
		case b.offset == parent.end:
			return false, nil
		case b.offset > parent.end:
			return false, errors.New("element overruns its parent")
		}
		return true, nil
	}
	p, err := b.r.Peek(2)
	if err != nil {
		if errors.Is(err, io.EOF) {
			return false, errBERTruncated
		}
		return false, err
	}
	if p[0] == eocTag {
		if p[1] != 0 {
			return false, errors.New("bad end-of-contents")
		}
		b.r.Discard(2)
		b.offset += 2
		return false, nil
	}
	return true, nil
}

// peekTag returns the next identifier octet without consuming it.
func (b *berReader) peekTag() (byte, error) {
	p, err := b.r.Peek(1)
	if err != nil {
		if errors.Is(err, io.EOF) {
			return 0, errBERTruncated
		}
		return 0, err
	}
	return p[0], nil
}

// readElement reads the next element whole, at most budget bytes of
// contents in all, and returns it DER-like (definite lengths; constructed
// universal OCTET STRINGs joined into primitive ones).
func (b *berReader) readElement(budget int) ([]byte, byte, error) {
	h, err := b.header()
	if err != nil {
		return nil, 0, err
	}
	left := budget
	contents, err := b.readContents(h, &left, 0)
	if err != nil {
		return nil, 0, err
	}
	tag := h.tag
	if tag == 0x24 { // constructed OCTET STRING, joined
		tag = 0x04
	}
	return append(appendDefiniteHeader(nil, cbasn1.Tag(tag), len(contents)), contents...), h.tag, nil
}

func (b *berReader) readContents(h berHeader, budget *int, depth int) ([]byte, error) {
	if depth > maxBERDepth {
		return nil, errors.New("nesting too deep")
	}
	if !h.constructed() {
		if h.length > int64(*budget) {
			return nil, fmt.Errorf("element of %d bytes is larger than expected", h.length)
		}
		*budget -= int(h.length)
		p := make([]byte, h.length)
		return p, b.readFull(p)
	}
	var out []byte
	for {
		ok, err := b.more(h)
		if err != nil {
			return nil, err
		}
		if !ok {
			return out, nil
		}
		child, err := b.header()
		if err != nil {
			return nil, err
		}
		if child.tag == eocTag {
			return nil, errors.New("misplaced end-of-contents")
		}
		if !h.indefinite && !child.indefinite && child.end > h.end {
			return nil, errors.New("element overruns its parent")
		}
		contents, err := b.readContents(child, budget, depth+1)
		if err != nil {
			return nil, err
		}
		if h.tag == 0x24 {
			// pieces of a constructed OCTET STRING are OCTET STRINGs; join them
			if child.tag != 0x04 && child.tag != 0x24 {
				return nil, errors.New("bad piece in a constructed OCTET STRING")
			}
			out = append(out, contents...)
			continue
		}
		tag := child.tag
		if tag == 0x24 {
			tag = 0x04
		}
		if len(out)+len(contents)+8 > 1<<24 {
			return nil, errors.New("element too large")
		}
		out = appendDefiniteHeader(out, cbasn1.Tag(tag), len(contents))
		out = append(out, contents...)
	}
}

// streamOctets passes the contents of an OCTET STRING (primitive, or
// constructed from OCTET STRING pieces at any depth) to fn in pieces.
func (b *berReader) streamOctets(h berHeader, depth int, buf []byte, fn func([]byte) error) error {
	if depth > maxBERDepth {
		return errors.New("nesting too deep")
	}
	if !h.constructed() {
		for left := h.length; left > 0; {
			n := int(min(left, int64(len(buf))))
			if err := b.readFull(buf[:n]); err != nil {
				return err
			}
			if err := fn(buf[:n]); err != nil {
				return err
			}
			left -= int64(n)
		}
		return nil
	}
	for {
		ok, err := b.more(h)
		if err != nil || !ok {
			return err
		}
		child, err := b.header()
		if err != nil {
			return err
		}
		if child.tag != 0x04 && child.tag != 0x24 {
			return errors.New("bad piece in a constructed OCTET STRING")
		}
		if !h.indefinite && !child.indefinite && child.end > h.end {
			return errors.New("element overruns its parent")
		}
		if err := b.streamOctets(child, depth+1, buf, fn); err != nil {
			return err
		}
	}
}

// skip reads and discards the element with header h.
func (b *berReader) skip(h berHeader, budget int) error {
	_, err := b.readContents(h, &budget, 0)
	return err
}
