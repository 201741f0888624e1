package pgp

import (
	"encoding/base64"
	"errors"
	"io"
)

// armorWriter is a fast streaming ASCII-armor encoder (RFC 9580 §6.2): the
// header line, a blank line, base64 in 64-character lines, the CRC-24
// checksum line (which RFC 9580 deprecates but GnuPG 2.2 needs), and the
// footer. It encodes whole lines at a time with encoding/base64, so it runs
// near base64 speed instead of a byte at a time.
type armorWriter struct {
	w         io.Writer
	blockType string
	crc       uint32
	pending   []byte // less than one line of input not yet encoded
	out       []byte
	started   bool
	closed    bool
}

const (
	armorLineBytes = 48                  // input bytes per 64-character line
	armorChunk     = 64 * armorLineBytes // input encoded per batch
)

// newArmorWriter returns an encoder writing to w. Nothing is written until
// the first Write or Close, so a failure before that leaves w untouched.
func newArmorWriter(w io.Writer, blockType string) (*armorWriter, error) {
	return &armorWriter{w: w, blockType: blockType, crc: crc24Init,
		pending: make([]byte, 0, armorLineBytes), out: make([]byte, 0, armorChunk/48*65)}, nil
}

func (a *armorWriter) writeHeader() error {
	if a.started {
		return nil
	}
	a.started = true
	_, err := io.WriteString(a.w, "-----BEGIN "+a.blockType+"-----\n\n")
	return err
}

func (a *armorWriter) Write(p []byte) (int, error) {
	if a.closed {
		return 0, errors.New("pgp: armor: write after close")
	}
	if err := a.writeHeader(); err != nil {
		return 0, err
	}
	n := len(p)
	a.crc = crc24Update(a.crc, p)
	if len(a.pending) > 0 {
		k := copy(a.pending[len(a.pending):armorLineBytes], p)
		a.pending = a.pending[:len(a.pending)+k]
		p = p[k:]
		if len(a.pending) < armorLineBytes {
			return n, nil
		}
		if err := a.encodeLines(a.pending); err != nil {
			return 0, err
		}
		a.pending = a.pending[:0]
	}
	for len(p) >= armorLineBytes {
		k := len(p) - len(p)%armorLineBytes
		if k > armorChunk {
			k = armorChunk
		}
		if err := a.encodeLines(p[:k]); err != nil {
			return 0, err
		}
		p = p[k:]
	}
	a.pending = append(a.pending, p...)
	return n, nil
}

// encodeLines writes whole 48-byte groups as 64-character lines.
func (a *armorWriter) encodeLines(p []byte) error {
	out := a.out[:0]
	for len(p) > 0 {
		k := armorLineBytes
		if k > len(p) {
			k = len(p)
		}
		start := len(out)
		out = append(out, make([]byte, base64.StdEncoding.EncodedLen(k)+1)...)
		base64.StdEncoding.Encode(out[start:], p[:k])
		out[len(out)-1] = '\n'
		p = p[k:]
	}
	a.out = out
	_, err := a.w.Write(out)
	return err
}

func (a *armorWriter) Close() error {
	if a.closed {
		return nil
	}
	a.closed = true
	if err := a.writeHeader(); err != nil {
		return err
	}
	if len(a.pending) > 0 {
		if err := a.encodeLines(a.pending); err != nil {
			return err
		}
	}
	sum := []byte{byte(a.crc >> 16), byte(a.crc >> 8), byte(a.crc)}
	tail := "=" + base64.StdEncoding.EncodeToString(sum) + "\n-----END " + a.blockType + "-----\n"
	_, err := io.WriteString(a.w, tail)
	return err
}

// CRC-24 of RFC 9580 §6.1.1, computed slicing-by-4: the 24-bit register
// is kept in the top of a 32-bit word (the polynomial shifted left by 8),
// so four input bytes are folded in per step.
const (
	crc24Init = 0xb704ce
	crc24Poly = 0x864cfb00 // 0x1864cfb << 8, the x^24 term implicit
)

var crc24Tables = func() (t [4][256]uint32) {
	for i := range t[0] {
		crc := uint32(i) << 24
		for j := 0; j < 8; j++ {
			if crc&0x80000000 != 0 {
				crc = crc<<1 ^ crc24Poly
			} else {
				crc <<= 1
			}
		}
		t[0][i] = crc
	}
	for k := 1; k < 4; k++ {
		for i := range t[k] {
			prev := t[k-1][i]
			t[k][i] = prev<<8 ^ t[0][prev>>24]
		}
	}
	return t
}()

// crc24Update folds p into crc (a 24-bit CRC value).
func crc24Update(crc uint32, p []byte) uint32 {
	c := crc << 8
	t := &crc24Tables
	for len(p) >= 4 {
		x := c ^ (uint32(p[0])<<24 | uint32(p[1])<<16 | uint32(p[2])<<8 | uint32(p[3]))
		c = t[3][x>>24] ^ t[2][x>>16&0xff] ^ t[1][x>>8&0xff] ^ t[0][x&0xff]
		p = p[4:]
	}
	for _, b := range p {
		c = c<<8 ^ t[0][byte(c>>24)^b]
	}
	return c >> 8
}
