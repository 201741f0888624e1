// Package armor is the one OpenPGP ASCII-armor codec of mailseal (RFC 9580
// §6.2): a streaming Reader, which decodes whole runs of base64 lines at a
// time (internal/b64lines), and a streaming Writer. The pgp package reads
// and writes messages and signatures with it, keystore imports and exports
// keys with it, locate reads keys from the network and for WKD trees and
// armors the VKS upload with it, and the SOP front end armors and dearmors
// with it.
//
// A CRC-24 line is written, because GnuPG 2.2 requires one. When read, a
// wrong checksum is not a reason to refuse the data (RFC 9580 §6.1: the
// packets inside carry their own integrity checks), but the Reader says so
// (ChecksumMismatch): when the packets then fail, the armor was damaged
// in transit rather than the data tampered with. Damage that a lenient
// reading undoes unambiguously — non-breaking spaces and other white space
// in a line (mail clients insert them), or a base64 line and the checksum
// line joined by a broken quoted-printable soft line break, padded or not —
// is undone, and Repaired says so. Base64 whose last group lacks its
// padding is read when the checksum line follows it, as gpg reads it
// (without a checksum line gpg complains of it, and it is refused).
//
// The CRC-24 was a sixth of the CPU time of signing and encrypting a
// large message with version 4 keys (slicing-by-8 tables, about 1.6
// GB/s). On amd64 processors with PCLMULQDQ, whole 16-byte blocks are
// folded with carry-less multiplication (crc24_amd64.s: the running
// 128-bit remainder times x^128, as its two halves times x^192 and x^128
// modulo the polynomial, plus the next block), and the tables finish the
// last 16 bytes and the rest: BenchmarkCRC24 runs at about 7 GB/s against
// BenchmarkCRC24Tables' 1.6. TestCRC24Blocks and FuzzCRC24 compare the
// two for any register, length and alignment, TestCRC24 with the
// bit-by-bit definition; the purego build tag, and other architectures,
// use the tables alone.
package armor

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"

	"github.com/mailseal/mailseal/internal/b64lines"
)

// Writer is a streaming ASCII-armor encoder: the header line, a blank line,
// base64 in 64-character lines (b64lines), the CRC-24
// checksum line (which RFC 9580 deprecates but GnuPG 2.2 needs), and the
// footer line, ended by a line feed (NewWriter) or by CRLF (NewCRLFWriter).
type Writer struct {
	w         io.Writer
	blockType string
	eol       string
	crc       uint32
	body      *b64lines.Writer
	started   bool
	closed    bool
}

// NewWriter returns an encoder of a block of the given type (such as "PGP
// MESSAGE") writing to w. Nothing is written until the first Write or Close,
// so a failure before that leaves w untouched. Close ends the block; it does
// not close w.
func NewWriter(w io.Writer, blockType string) *Writer {
	return newWriter(w, blockType, "\n")
}

// NewCRLFWriter is NewWriter with every line ended by CRLF, as the body of
// a MIME part carries it: the armor goes into a message as it is (its
// line endings are checked there, not converted).
func NewCRLFWriter(w io.Writer, blockType string) *Writer {
	return newWriter(w, blockType, "\r\n")
}

func newWriter(w io.Writer, blockType, eol string) *Writer {
	return &Writer{w: w, blockType: blockType, eol: eol, crc: crc24Init, body: b64lines.NewWriter(w, 64, eol)}
}

func (a *Writer) writeHeader() error {
	if a.started {
		return nil
	}
	a.started = true
	_, err := io.WriteString(a.w, "-----BEGIN "+a.blockType+"-----"+a.eol+a.eol)
	return err
}

func (a *Writer) Write(p []byte) (int, error) {
	if a.closed {
		return 0, errors.New("armor: write after close")
	}
	if err := a.writeHeader(); err != nil {
		return 0, err
	}
	a.crc = crc24Update(a.crc, p)
	return a.body.Write(p)
}

func (a *Writer) Close() error {
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
	tail := "=" + base64.StdEncoding.EncodeToString(sum) + a.eol + "-----END " + a.blockType + "-----" + a.eol
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

// crc24Tables are built on first use, not at start-up: a run that reads
// or writes no armor does not pay for them.
var crc24Tables = sync.OnceValue(func() *[8][256]uint32 {
	t := new([8][256]uint32)
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
})

// crc24Update folds p into crc (a 24-bit CRC value): its whole 16-byte
// blocks with carry-less multiplication where the processor has it
// (crc24Blocks), the rest with the tables.
func crc24Update(crc uint32, p []byte) uint32 {
	for len(p) >= 64 {
		var n int
		crc, n = crc24Blocks(crc, p[:min(len(p), crcRun)])
		if n == 0 {
			break
		}
		p = p[n:]
	}
	return crc24Table(crc, p)
}

// crcRun is the most crc24Blocks is given at a time: a goroutine in the
// assembly is out of the scheduler's reach, and crc24Blocks's entry (it
// is not inlined) is where it can be stopped.
const crcRun = 1 << 20

// xPowMod is x^n modulo the CRC-24 polynomial.
func xPowMod(n int) uint64 {
	v := uint64(1)
	for range n {
		v <<= 1
		if v&(1<<24) != 0 {
			v ^= crc24Poly>>8 | 1<<24
		}
	}
	return v
}

// crc24Table is crc24Update with the tables alone.
func crc24Table(crc uint32, p []byte) uint32 {
	c := crc << 8
	t := crc24Tables()
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

// Reader decodes one ASCII-armored block as it is read: armor header lines
// (their values are not kept) up to the blank line, then base64 lines, the
// optional CRC-24 line and the END line. Neither the CRC-24 nor a missing
// END line is a reason to refuse the data (RFC 9580 §6.1; a truncated
// message is caught by its packets' own integrity checks, as damage of any
// other kind is). Runs of clean base64 lines are decoded together
// (b64lines.DecodeLines); other lines one at a time, white space dropped,
// failing the read if they hold anything but base64. Base64 runs on across
// line ends: a line need not hold whole groups of four characters (gpg
// reads armor wrapped at any width). The checksum line ends the data; lines
// after it, up to the END line, are not read as data (as gpg and go-crypto
// do).
type Reader struct {
	Type string // the block type, from the BEGIN line, such as "PGP MESSAGE"

	br   *bufio.Reader
	out  []byte // decoded, not yet returned
	buf  []byte // backing store of out
	err  error  // after out: io.EOF at the END line, or the failure
	slow int    // lines to decode one at a time before the fast path

	searched int // bytes stop has looked at (tests check it is linear)

	// carry holds the base64 characters, fewer than four, that the lines
	// read so far left of an unfinished group: base64 runs on across line
	// ends, so a line need not hold whole groups (gpg reads armor wrapped
	// at any width).
	carry   []byte
	scratch []byte // decode's buffer for carry and a line

	crc      uint32 // CRC-24 of the data decoded so far
	noCRC    bool   // SkipChecksum: crc is not computed
	sum      []byte // the checksum line's value, if there is one
	summed   bool   // the checksum line was read: the data has ended
	repaired bool   // a line was read leniently (see the package doc)
}

// ChecksumMismatch reports, once the block is read to its end, whether it
// had a CRC-24 line that does not match its data: the armor was changed
// after it was made. It is false after SkipChecksum.
func (a *Reader) ChecksumMismatch() bool {
	if len(a.sum) != 3 || a.noCRC {
		return false
	}
	return a.crc != uint32(a.sum[0])<<16|uint32(a.sum[1])<<8|uint32(a.sum[2])
}

// Repaired reports whether a line was read leniently: white space (also
// non-breaking spaces) removed, or a base64 line split from the checksum
// line a broken quoted-printable soft line break joined it to.
func (a *Reader) Repaired() bool { return a.repaired }

// ErrInvalid is wrapped by the errors for data that is not ASCII armor: no
// BEGIN line, an armor line longer than the read buffer or a body line that is
// not base64.
var ErrInvalid = errors.New("invalid ASCII armor")

// errNoBlock is the error of NewReader when the input ends before a BEGIN
// line.
var errNoBlock = fmt.Errorf("%w: no BEGIN line", ErrInvalid)

// NewReader reads up to and including the armor header and returns the
// decoder of the body. Text before the BEGIN line is skipped, however long
// its lines. A *bufio.Reader is used as it is and is not read beyond the
// END line, so that the next block can be read from it.
func NewReader(r io.Reader) (*Reader, error) {
	br, ok := r.(*bufio.Reader)
	if !ok {
		br = bufio.NewReaderSize(r, 64<<10)
	}
	a := &Reader{br: br, crc: crc24Init}
	for inLine := false; ; {
		line, err := br.ReadSlice('\n')
		if err == bufio.ErrBufferFull {
			inLine = true // a long line of text, not a BEGIN line
			continue
		}
		if err != nil && (err != io.EOF || len(line) == 0) {
			if err == io.EOF {
				return nil, errNoBlock
			}
			return nil, err
		}
		if inLine {
			inLine = false
			continue
		}
		line = bytes.TrimRight(line, " \t\r\n")
		if t, ok := bytes.CutPrefix(line, []byte("-----BEGIN ")); ok {
			if t, ok = bytes.CutSuffix(t, []byte("-----")); ok && len(t) > 0 {
				a.Type = string(t)
				break
			}
		}
	}
	// Armor headers ("Key: Value", possibly with an empty value) up to a
	// blank line. A line without a colon, which no base64 line has, is the
	// first body line (some writers leave out the blank line).
	for {
		peek, _ := a.br.Peek(1024)
		end := bytes.IndexByte(peek, '\n')
		if end < 0 {
			end = len(peek)
		}
		line := bytes.TrimRight(peek[:end], " \t\r")
		if len(line) > 0 && bytes.IndexByte(line, ':') < 0 {
			break
		}
		if _, err := a.line(); err != nil {
			return nil, ErrInvalid
		}
		if len(line) == 0 {
			break
		}
	}
	return a, nil
}

// A Block is an armored block, decoded.
type Block struct {
	Type string // from the BEGIN line, such as "PGP PUBLIC KEY BLOCK"
	Data []byte
}

// DecodeAll decodes every armored block of data in order, skipping the text
// before, between and after them (a key file may hold several). It fails if
// there is no block, if a block is not valid armor, or if its checksum
// does not match its data (as gpg refuses such a key block: the data was
// changed, perhaps cut short, after the armor was made).
func DecodeAll(data []byte) ([]Block, error) {
	br := bufio.NewReaderSize(bytes.NewReader(data), 64<<10)
	var out []Block
	for {
		a, err := NewReader(br)
		if err == errNoBlock && len(out) > 0 {
			return out, nil
		}
		if err != nil {
			return nil, err
		}
		body, err := io.ReadAll(a)
		if err != nil {
			return nil, err
		}
		if a.ChecksumMismatch() {
			return nil, fmt.Errorf("%w: the %s's checksum does not match its data: it was changed after it was armored", ErrInvalid, strings.ToLower(a.Type))
		}
		out = append(out, Block{Type: a.Type, Data: body})
	}
}

// line returns the next line without its line ending and trailing blanks.
func (a *Reader) line() ([]byte, error) {
	line, err := a.br.ReadSlice('\n')
	if err == bufio.ErrBufferFull {
		return nil, ErrInvalid
	}
	if err != nil && (err != io.EOF || len(line) == 0) {
		return nil, err
	}
	return bytes.TrimRight(line, " \t\r\n"), nil
}

func (a *Reader) Read(p []byte) (int, error) {
	for len(a.out) == 0 {
		if a.err != nil {
			return 0, a.err
		}
		a.fill()
	}
	n := copy(p, a.out)
	a.out = a.out[n:]
	return n, nil
}

// fill decodes the next lines into a.out, or sets a.err.
func (a *Reader) fill() {
	buf := a.buf[:0]
	// The fast path: whole buffered lines before any '-' or '=' (which
	// only the END line, the CRC line and the last base64 line hold). If
	// they are not clean base64, they are done one at a time.
	if err := a.peekLines(); a.slow == 0 && len(a.carry) == 0 && !a.summed && (err == nil || err == io.EOF) {
		data, _ := a.br.Peek(a.br.Buffered())
		end := bytes.LastIndexByte(data[:a.stop(data)], '\n') + 1
		if end > 0 {
			var ok bool
			if buf, ok = b64lines.DecodeLines(buf, data[:end]); ok {
				a.br.Discard(end)
				a.buf, a.out = buf, buf
				a.addCRC(buf)
				return
			}
			a.slow = bytes.Count(data[:end], []byte("\n"))
		}
	}
	if a.slow > 0 {
		a.slow--
	}
	// One line at a time.
	line, err := a.line()
	switch {
	case err == io.EOF || err == nil && bytes.HasPrefix(line, []byte("-----END ")):
		// Without an END line, the packets tell whether data is missing.
		a.err = io.EOF
		if len(a.carry) > 0 {
			a.err = fmt.Errorf("%w: the base64 ends inside a group of four characters", ErrInvalid)
		}
	case err != nil:
		a.err = err
	case a.summed:
		// Lines between the checksum line and the END line are not
		// data, as gpg and go-crypto read them.
	case len(line) > 0 && line[0] == '=' && len(line) < 8 && len(a.carry) == 0:
		a.checksum(line[1:])
	case len(a.carry) >= 2 && isChecksumLine(line):
		// The checksum line after base64 whose last group lacks its
		// padding, which gpg reads: the group ends there.
		out, ok := a.decodeData(buf, nil, line[1:])
		if !ok {
			a.err = fmt.Errorf("%w: a line is not base64", ErrInvalid)
			return
		}
		a.buf, a.out = out, out
		a.addCRC(out)
	case len(line) > 0:
		var ok bool
		if buf, ok = a.decode(buf, line); !ok {
			a.err = fmt.Errorf("%w: a line is not base64", ErrInvalid)
			return
		}
		a.buf, a.out = buf, buf
		a.addCRC(buf)
	}
}

// decode appends the decoding of a body line to buf, after the characters
// the lines before left over (a.carry), and keeps what it leaves over of
// an unfinished group (padding split from its group too). A line that is
// not clean base64 is read leniently (see lenient).
func (a *Reader) decode(buf, line []byte) ([]byte, bool) {
	if len(a.carry) == 0 {
		if out, ok := b64lines.DecodeLines(buf, line); ok {
			return out, true
		}
	}
	data, sum, ok := a.lenient(line)
	if !ok {
		return buf, false
	}
	return a.decodeData(buf, data, sum)
}

// decodeData decodes data after the characters carried from the lines
// before; with sum (the checksum line's value) the data ends there, its
// last group padded.
func (a *Reader) decodeData(buf, data, sum []byte) ([]byte, bool) {
	a.scratch = append(append(a.scratch[:0], a.carry...), data...)
	all := a.scratch
	a.carry = a.carry[:0]
	if sum != nil {
		// A checksum joined to the last line: the data ends here.
		for len(all)%4 != 0 {
			all = append(all, '=')
		}
	}
	k := len(all)
	if sum == nil {
		k -= k % 4 // an unfinished group (or its padding) waits for the next line
		a.carry = append(a.carry, all[k:]...)
	}
	out, err := base64.StdEncoding.AppendDecode(buf, all[:k])
	if err != nil {
		return buf, false
	}
	if sum != nil {
		a.checksum(sum)
	}
	return out, true
}

// addCRC folds decoded data into the CRC-24, unless SkipChecksum.
func (a *Reader) addCRC(p []byte) {
	if !a.noCRC {
		a.crc = crc24Update(a.crc, p)
	}
}

// SkipChecksum makes the reader not compute the CRC-24 of what it
// decodes, so ChecksumMismatch reports false: for data whose packets
// carry their own integrity checks and that can be read again to learn
// the checksum's hint when they fail (pgp's Decrypt); the CRC-24 was a
// tenth of the time of decrypting a large message. Call it before the
// first Read.
func (a *Reader) SkipChecksum() { a.noCRC = true }

// checksum records the value of the CRC-24 line (without its '='), which
// ends the data.
func (a *Reader) checksum(b64 []byte) {
	a.summed = true
	if sum, err := base64.StdEncoding.DecodeString(string(b64)); err == nil && len(sum) == 3 {
		a.sum = sum
	}
}

// lenient returns the base64 characters of a body line: white space in
// it (ASCII, and non-breaking spaces in UTF-8 or Latin-1) is dropped, and
// a line that ends in '=' and four base64 characters is a base64 line,
// padded or not, joined to the checksum line (the '=' that begins that is
// what a broken quoted-printable soft line break leaves), whose value it
// returns as sum, if it is the body's last line (endFollows); gpg reads
// both. Either repair sets a.repaired; anything
// but base64 characters then is not base64 (ok false).
func (a *Reader) lenient(line []byte) (data, sum []byte, ok bool) {
	clean, checked := line, allBase64(line)
	if !checked {
		clean = make([]byte, 0, len(line))
		for i := 0; i < len(line); i++ {
			switch c := line[i]; {
			case c == ' ' || c == '\t' || c == '\r' || c == 0xa0:
			case c == 0xc2 && i+1 < len(line) && line[i+1] == 0xa0:
				i++
			default:
				clean = append(clean, c)
			}
		}
		if len(clean) != len(line) {
			a.repaired = true
		}
	}
	if j := bytes.LastIndexByte(clean, '='); j > 0 && len(clean)-j == 5 && a.endFollows() {
		a.repaired = true
		return clean[:j], clean[j+1:], true
	}
	if !checked && !allBase64(clean) {
		return nil, nil, false
	}
	return clean, nil, true
}

// endFollows reports whether the END line (or the end of the input)
// follows the line just read: only the body's last line can be joined to
// the checksum line. A line in the middle that ends so is damaged (gpg:
// "CRC error"), and taking its end for the checksum would end the data
// there.
func (a *Reader) endFollows() bool {
	next, err := a.br.Peek(len("-----END "))
	if len(next) == 0 && err != nil {
		return true
	}
	return bytes.HasPrefix(next, []byte("-----END "))
}

// isChecksumLine reports whether line is '=' and four base64 characters.
func isChecksumLine(line []byte) bool {
	return len(line) == 5 && line[0] == '=' && allBase64(line[1:]) && bytes.IndexByte(line[1:], '=') < 0
}

// allBase64 reports whether every byte of p is a character of standard
// base64 or its padding.
func allBase64(p []byte) bool {
	values := b64lines.Values()
	for _, c := range p {
		if values[c] == 0xFF {
			return false
		}
	}
	return true
}

// stop returns the index of the first '-' or '=' in data, or len(data).
// The search window is the first line, then doubles, so the search looks
// at a few times as many bytes as fill then consumes (at least the first
// line): a '-' or '=' on the next line is found without searching the rest
// of the buffer, which would make a body of short padded lines cost the
// buffer size per line.
func (a *Reader) stop(data []byte) int {
	n := bytes.IndexByte(data, '\n') + 1
	if n == 0 {
		n = len(data)
	}
	a.searched += n
	for lo := 0; lo < len(data); lo, n = lo+n, 2*n {
		w := data[lo:min(lo+n, len(data))]
		a.searched += len(w)
		i := bytes.IndexByte(w, '-')
		if i < 0 {
			i = len(w)
		}
		if j := bytes.IndexByte(w[:i], '='); j >= 0 {
			i = j
		}
		if i < len(w) {
			return lo + i
		}
	}
	return len(data)
}

// peekLines makes sure the buffer holds data, reading more when it holds
// no complete line.
func (a *Reader) peekLines() error {
	if data, _ := a.br.Peek(a.br.Buffered()); bytes.IndexByte(data, '\n') >= 0 {
		return nil
	}
	_, err := a.br.Peek(a.br.Size())
	if err == bufio.ErrBufferFull {
		return nil
	}
	return err
}
