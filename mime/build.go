package mime

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/mailseal/mailseal/core"
	"github.com/mailseal/mailseal/internal/b64lines"
	"github.com/mailseal/mailseal/internal/crlf"
	"github.com/mailseal/mailseal/internal/stage"
)

// Boundaries are "----=_mailseal_" followed by 32 random hex digits
// (128 bits from crypto/rand).
//
// The signed part of WriteSigned streams, so it cannot be searched for the
// boundary before the boundary is written into the Content-Type. A random
// 128-bit boundary suffices: the content exists independently of the
// boundary (an attacker who supplies content cannot predict crypto/rand), so
// the chance that any line of n lines starts with it is at most n/2^128.
// Moreover "=_" cannot occur in quoted-printable text (it is not a valid
// escape) and '-' and '_' are outside the base64 alphabet, so encoded
// content can never contain it. As a last guard every byte written between
// the delimiters is checked while streaming (boundaryGuard); a collision
// makes the builder fail instead of writing an ambiguous message.
const boundaryPrefix = "----=_mailseal_"

func newBoundary() (string, error) {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("mime: making a boundary: %w", err)
	}
	return boundaryPrefix + hex.EncodeToString(b[:]), nil
}

// WriteSigned writes a multipart/signed message (RFC 1847) to w:
//
//   - outer, the non-content header fields, raw (Content-* fields in outer
//     are dropped: the message gets its own Content-Type);
//   - "MIME-Version: 1.0" unless outer has a MIME-Version field;
//   - Content-Type: multipart/signed with micalg, protocol and a random boundary;
//   - the first part: the bytes of signed, with line endings made CRLF,
//     copied to w and teed into hash, which therefore sees exactly the bytes
//     between the first delimiter's CRLF and the CRLF of the next delimiter
//     (what RFC 1847/3156 sign, and what Entity.Raw of the parsed first part
//     returns);
//   - the second part: the fields of sigHeader (e.g. Content-Type,
//     Content-Transfer-Encoding), a blank line and the bytes returned by
//     signature(), which is called once signed is exhausted and must already
//     be in the transfer encoding sigHeader names;
//   - the close delimiter.
func WriteSigned(w io.Writer, outer Header, protocol, micalg string, signed io.Reader, hash io.Writer,
	sigHeader Header, signature func() ([]byte, error)) error {
	if err := checkHeaderValues(protocol, micalg); err != nil {
		return err
	}
	if err := checkPartHeader(sigHeader); err != nil {
		return err
	}
	if signed == nil || signature == nil {
		return fmt.Errorf("mime: WriteSigned needs the signed content and a signature function: %w", core.ErrUsage)
	}
	if hash == nil {
		hash = io.Discard
	}
	boundary, err := newBoundary()
	if err != nil {
		return err
	}
	// The buffer fits a small signed part (which tells its size, or
	// about it): a small message does not allocate buildBuffer.
	bw := bufio.NewWriterSize(w, max(2<<10, stage.ReadBufferSize(signed, buildBuffer)))
	if err := writeOuter(bw, outer); err != nil {
		return err
	}
	writeField(bw, "Content-Type", "multipart/signed; micalg="+formatParam(micalg)+
		"; protocol="+formatParam(protocol)+"; boundary="+formatParam(boundary))
	bw.WriteString("\r\n--" + boundary + "\r\n")

	guard := newBoundaryGuard(boundary)
	// A large part is hashed on a goroutine of its own, beside the writing.
	staged := stage.NewWriter(hash)
	body := &crlfWriter{w: io.MultiWriter(guard, bw, staged)}
	// Sized to the part (signed tells its size, or about it, for mime's
	// own readers): a large part read straight from its file goes in
	// 64 KiB system calls.
	_, err = io.CopyBuffer(body, signed, make([]byte, stage.ReadBufferSize(signed, 64<<10)))
	if cerr := staged.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("mime: writing the signed part: %w", err)
	}
	sig, err := signature()
	if err != nil {
		return err
	}
	bw.WriteString("\r\n--" + boundary + "\r\n")
	writePartHeader(bw, sigHeader)
	sigGuard := newBoundaryGuard(boundary)
	if _, err := (&crlfWriter{w: io.MultiWriter(sigGuard, bw)}).Write(sig); err != nil {
		return fmt.Errorf("mime: writing the signature part: %w", err)
	}
	bw.WriteString("\r\n--" + boundary + "--\r\n")
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("mime: writing the message: %w", err)
	}
	return nil
}

// WriteEncrypted writes the start of a multipart/encrypted message (RFC 1847)
// to w: outer (as for WriteSigned), MIME-Version, Content-Type
// multipart/encrypted with the given protocol, the control part
// (controlType and controlBody, e.g. "application/pgp-encrypted" and
// "Version: 1\r\n") and the header of the payload part (payloadType). The
// returned writer takes the payload body (line endings are made CRLF); its
// Close writes the close delimiter (it does not close w).
func WriteEncrypted(w io.Writer, outer Header, protocol, controlType string, controlBody []byte,
	payloadType string) (io.WriteCloser, error) {
	if err := checkHeaderValues(protocol, controlType, payloadType); err != nil {
		return nil, err
	}
	boundary, err := newBoundary()
	if err != nil {
		return nil, err
	}
	bw := bufio.NewWriterSize(w, buildBuffer)
	if err := writeOuter(bw, outer); err != nil {
		return nil, err
	}
	writeField(bw, "Content-Type", "multipart/encrypted; protocol="+formatParam(protocol)+"; boundary="+formatParam(boundary))
	bw.WriteString("\r\n--" + boundary + "\r\n")
	writeField(bw, "Content-Type", controlType)
	bw.WriteString("\r\n")
	guard := newBoundaryGuard(boundary)
	if _, err := (&crlfWriter{w: io.MultiWriter(guard, bw)}).Write(controlBody); err != nil {
		return nil, fmt.Errorf("mime: writing the control part: %w", err)
	}
	bw.WriteString("\r\n--" + boundary + "\r\n")
	writeField(bw, "Content-Type", payloadType)
	bw.WriteString("\r\n")
	if err := bw.Flush(); err != nil {
		return nil, fmt.Errorf("mime: writing the message: %w", err)
	}
	return &payloadWriter{
		body:     &crlfWriter{w: io.MultiWriter(newBoundaryGuard(boundary), bw)},
		bw:       bw,
		boundary: boundary,
	}, nil
}

// payloadWriter is the body of the payload part of WriteEncrypted.
type payloadWriter struct {
	body     io.Writer
	bw       *bufio.Writer
	boundary string
	closed   bool
}

func (p *payloadWriter) Write(b []byte) (int, error) {
	if p.closed {
		return 0, errors.New("mime: write to a closed encrypted part")
	}
	return p.body.Write(b)
}

func (p *payloadWriter) Close() error {
	if p.closed {
		return nil
	}
	p.closed = true
	p.bw.WriteString("\r\n--" + p.boundary + "--\r\n")
	if err := p.bw.Flush(); err != nil {
		return fmt.Errorf("mime: writing the message: %w", err)
	}
	return nil
}

// WriteBase64Part writes a single-part message whose body is binary data in
// base64 (an S/MIME application/pkcs7-mime message): outer (as for
// WriteSigned), MIME-Version, the fields of part (Content-Type and
// friends; a Content-Transfer-Encoding field is added), a blank line; the
// returned writer takes the binary body and writes it as base64 in
// 76-character CRLF lines. Close ends the body (it does not close w).
func WriteBase64Part(w io.Writer, outer Header, part Header) (io.WriteCloser, error) {
	if err := checkPartHeader(part); err != nil {
		return nil, err
	}
	bw := bufio.NewWriterSize(w, buildBuffer)
	if err := writeOuter(bw, outer); err != nil {
		return nil, err
	}
	writePartHeader(bw, append(part.Without("Content-Transfer-Encoding"), Field{Key: "Content-Transfer-Encoding", Value: "base64"}))
	return &base64Part{enc: b64lines.NewWriter(bw, 76, "\r\n"), bw: bw}, nil
}

type base64Part struct {
	enc    *b64lines.Writer
	bw     *bufio.Writer
	closed bool
}

func (p *base64Part) Write(b []byte) (int, error) { return p.enc.Write(b) }

func (p *base64Part) Close() error {
	if p.closed {
		return nil
	}
	p.closed = true
	if err := p.enc.Close(); err != nil {
		return fmt.Errorf("mime: writing the message: %w", err)
	}
	if err := p.bw.Flush(); err != nil {
		return fmt.Errorf("mime: writing the message: %w", err)
	}
	return nil
}

// checkPartHeader checks fields built by hand for a part header.
func checkPartHeader(h Header) error {
	if h.Get("Content-Type") == "" {
		return fmt.Errorf("mime: a part header without Content-Type: %w", core.ErrUsage)
	}
	for _, f := range h {
		if err := checkHeaderValues(f.Key, f.Value); err != nil {
			return err
		}
		if strings.ContainsAny(f.Key, ": ") {
			return fmt.Errorf("mime: bad header field name %q: %w", f.Key, core.ErrUsage)
		}
	}
	return nil
}

// writePartHeader writes hand-built fields (folded) and the blank line.
func writePartHeader(w *bufio.Writer, h Header) {
	for _, f := range h {
		writeField(w, f.Key, f.Value)
	}
	w.WriteString("\r\n")
}

// WriteMessage writes outer (as for WriteSigned), then "MIME-Version: 1.0"
// if neither outer nor the entity's own header has a MIME-Version field,
// then the entity bytes (which start with the entity's own header fields),
// with line endings made CRLF. It is used for decrypted output and for
// unwrapping a signed entity.
func WriteMessage(w io.Writer, outer Header, entity io.Reader) error {
	// A large entity is read on a goroutine of its own, beside the writing.
	size := stage.ReadBufferSize(entity, 64<<10)
	sr := stage.NewReader(entity)
	defer sr.Close()
	br := bufio.NewReaderSize(sr, size)
	head, _ := br.Peek(64 << 10) // as much as is available; errors resurface below
	bw := bufio.NewWriterSize(w, buildBuffer)
	if err := writeFieldsRaw(bw, outer.filter(func(f Field) bool { return !isContentField(f) })); err != nil {
		return err
	}
	if !outer.has("MIME-Version") && !headerHasField(head, "MIME-Version") {
		bw.WriteString("MIME-Version: 1.0\r\n")
	}
	if _, err := io.Copy(&crlfWriter{w: bw}, br); err != nil {
		return fmt.Errorf("mime: writing the message: %w", err)
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("mime: writing the message: %w", err)
	}
	return nil
}

// writeOuter writes the outer fields except Content-* ones, raw, and a
// MIME-Version field if outer has none.
func writeOuter(w *bufio.Writer, outer Header) error {
	if err := writeFieldsRaw(w, outer.filter(func(f Field) bool { return !isContentField(f) })); err != nil {
		return err
	}
	if !outer.has("MIME-Version") {
		w.WriteString("MIME-Version: 1.0\r\n")
	}
	return nil
}

// writeFieldsRaw writes fields as their raw bytes, with CRLF line endings.
func writeFieldsRaw(w io.Writer, fields Header) error {
	cw := &crlfWriter{w: w}
	for _, f := range fields {
		if _, err := cw.Write(f.rawBytes()); err != nil {
			return fmt.Errorf("mime: writing the header: %w", err)
		}
	}
	return nil
}

// writeField writes "name: value" CRLF, folding the value after semicolons
// (outside quoted strings) so that lines stay under 78 characters where
// the pieces allow.
func writeField(w *bufio.Writer, name, value string) {
	pieces := splitParams(value)
	line := name + ": " + pieces[0]
	w.WriteString(line)
	col := len(line)
	for _, p := range pieces[1:] {
		if p == "" {
			continue
		}
		if col+2+len(p) > 76 {
			w.WriteString(";\r\n\t" + p)
			col = 8 + len(p)
		} else {
			w.WriteString("; " + p)
			col += 2 + len(p)
		}
	}
	w.WriteString("\r\n")
}

// buildBuffer is the size of the buffer each builder writes through: the
// headers and boundaries are small writes, and the bodies' large writes
// pass a buffer that is empty; 8 KiB keeps a small message from
// allocating 32 KiB per part (BenchmarkSessionEncryptSign) without slowing
// a large one (BenchmarkMessages at 10 MiB).
const buildBuffer = 8 << 10

// paramQuoter escapes a quoted-string's backslashes and quotes (a Replacer
// is immutable and safe for concurrent use; building one per call was a
// tenth of a small message's allocations).
var paramQuoter = strings.NewReplacer(`\`, `\\`, `"`, `\"`)

// formatParam formats a parameter value: as is if it is an RFC 2045 token,
// else as a quoted string.
func formatParam(v string) string {
	if v != "" && !strings.ContainsAny(v, "()<>@,;:\\\"/[]?= \t") {
		return v
	}
	return `"` + paramQuoter.Replace(v) + `"`
}

// checkHeaderValues refuses values that would break the header they are
// written into: empty ones, line breaks, control and non-ASCII characters.
func checkHeaderValues(values ...string) error {
	for _, v := range values {
		if strings.TrimSpace(v) == "" {
			return fmt.Errorf("mime: an empty protocol or content type was given: %w", core.ErrUsage)
		}
		for i := 0; i < len(v); i++ {
			if c := v[i]; c < 32 && c != '\t' || c >= 127 {
				return fmt.Errorf("mime: header value %q holds a control or non-ASCII character: %w", v, core.ErrUsage)
			}
		}
	}
	return nil
}

// headerHasField reports whether the header block at the start of data
// (up to the first empty line) has a field named key.
func headerHasField(data []byte, key string) bool {
	for len(data) > 0 {
		line := data
		if i := bytes.IndexByte(data, '\n'); i >= 0 {
			line, data = data[:i], data[i+1:]
		} else {
			data = nil
		}
		line = bytes.TrimSuffix(line, []byte("\r"))
		if len(line) == 0 {
			return false
		}
		if i := bytes.IndexByte(line, ':'); i > 0 && strings.EqualFold(string(bytes.TrimRight(line[:i], " \t")), key) {
			return true
		}
	}
	return false
}

// crlfWriter writes its input with bare CR and bare LF made CRLF.
type crlfWriter struct {
	w    io.Writer
	conv crlfConverter
	buf  []byte
}

func (c *crlfWriter) Write(p []byte) (int, error) {
	if !c.conv.st.afterCR {
		// Content that is canonical already (decrypted content from a
		// parsed message always is) passes through without a copy.
		var check crlf.Check
		check.Write(p)
		if check.Canonical() {
			if _, err := c.w.Write(p); err != nil {
				return 0, err
			}
			return len(p), nil
		}
	}
	c.buf = c.conv.convert(c.buf[:0], p)
	if _, err := c.w.Write(c.buf); err != nil {
		return 0, err
	}
	if cap(c.buf) > 1<<20 {
		c.buf = nil // keep one ordinary buffer, not the largest ever seen
	}
	return len(p), nil
}

// boundaryGuard fails a write that puts "--" boundary at the start of a line.
type boundaryGuard struct {
	delimiter []byte
	matched   int // bytes of delimiter matched at the start of the current line; -1: none
}

func newBoundaryGuard(boundary string) *boundaryGuard {
	return &boundaryGuard{delimiter: []byte("--" + boundary)}
}

func (g *boundaryGuard) Write(p []byte) (int, error) {
	if g.matched <= 0 && bytes.IndexByte(p, '-') < 0 {
		// Every delimiter starts with "--": nothing here can begin one
		// (base64 and armor bodies never hold a '-').
		switch {
		case len(p) == 0:
		case p[len(p)-1] == '\n':
			g.matched = 0
		default:
			g.matched = -1
		}
		return len(p), nil
	}
	for i := 0; i < len(p); {
		if g.matched < 0 {
			j := bytes.IndexByte(p[i:], '\n')
			if j < 0 {
				break
			}
			i += j + 1
			g.matched = 0
			continue
		}
		c := p[i]
		i++
		switch {
		case c == g.delimiter[g.matched]:
			g.matched++
			if g.matched == len(g.delimiter) {
				return 0, core.WithKind(fmt.Errorf("mime: the content contains the multipart boundary %q; the output is invalid, try again (a new boundary is chosen each time)", g.delimiter[2:]), core.ErrInput)
			}
		case c == '\n':
			g.matched = 0
		default:
			g.matched = -1
		}
	}
	return len(p), nil
}
