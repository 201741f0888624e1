package pgp

import (
	"encoding/base64"
	"errors"
	"io"

	"github.com/mailseal/mailseal/internal/b64lines"
)

// armorWriter is a streaming ASCII-armor encoder (RFC 9580 §6.2): the
// header line, a blank line, base64 in 64-character lines (internal/b64lines,
// near encoding/base64 speed), the CRC-24 checksum line (which RFC 9580
// deprecates but GnuPG 2.2 needs), and the footer.
type armorWriter struct {
	w         io.Writer
	blockType string
	crc       uint32
	body      *b64lines.Writer
	started   bool
	closed    bool
}

// newArmorWriter returns an encoder writing to w. Nothing is written until
// the first Write or Close, so a failure before that leaves w untouched.
func newArmorWriter(w io.Writer, blockType string) (*armorWriter, error) {
	return &armorWriter{w: w, blockType: blockType, crc: crc24Init, body: b64lines.NewWriter(w, 64, "\n")}, nil
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
	a.crc = crc24Update(a.crc, p)
	return a.body.Write(p)
}

func (a *armorWriter) Close() error {
	if a.closed {
		return nil
	}
	a.closed = true
	if err := a.writeHeader(); err != nil {
		return err
	}
	if err := a.body.Close(); err != nil {
		return err
	}
	sum := []byte{byte(a.crc >> 16), byte(a.crc >> 8), byte(a.crc)}
	tail := "=" + base64.StdEncoding.EncodeToString(sum) + "\n-----END " + a.blockType + "-----\n"
	_, err := io.WriteString(a.w, tail)
	return err
}

// CRC-24 of RFC 9580 §6.1.1, computed slicing-by-8: the 24-bit register
// is kept in the top of a 32-bit word (the polynomial shifted left by 8),
// so eight input bytes are folded in per step.
const (
	crc24Init = 0xb704ce
	crc24Poly = 0x864cfb00 // 0x1864cfb << 8, the x^24 term implicit
)

var crc24Tables = func() (t [8][256]uint32) {
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
	for k := 1; k < 8; k++ {
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
	for len(p) >= 8 {
		x := c ^ (uint32(p[0])<<24 | uint32(p[1])<<16 | uint32(p[2])<<8 | uint32(p[3]))
		c = t[7][x>>24] ^ t[6][x>>16&0xff] ^ t[5][x>>8&0xff] ^ t[4][x&0xff] ^
			t[3][p[4]] ^ t[2][p[5]] ^ t[1][p[6]] ^ t[0][p[7]]
		p = p[8:]
	}
	for _, b := range p {
		c = c<<8 ^ t[0][byte(c>>24)^b]
	}
	return c >> 8
}
