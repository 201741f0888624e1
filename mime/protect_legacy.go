package mime

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"html"
	"io"
	"strconv"
	"strings"
	"unicode/utf8"

	"golang.org/x/text/encoding"
	"golang.org/x/text/encoding/htmlindex"
	"golang.org/x/text/encoding/ianaindex"

	"github.com/mailseal/mailseal/core"
	"github.com/mailseal/mailseal/internal/b64lines"
	"github.com/mailseal/mailseal/internal/stage"
)

// The Legacy Display Element of RFC 9788 (section 4.5): the user-facing
// header fields Header Protection hid from the outside, put at the top of
// every Main Body Part for clients that do not know Header Protection, each
// such part marked with hp-legacy-display="1".
//
// The Main Body Parts are those a client renders as the message (RFC 9787
// section 7.1): a text/plain or text/html leaf that is not an attachment;
// every alternative of a multipart/alternative; the first part of a
// multipart/mixed that holds one (attachments are passed over), the root
// (first) part of a multipart/related. Nothing under any other multipart
// (multipart/signed, say, whose signature would break) or message/rfc822.
//
// In a text/plain part the element is "Name: value" lines and a blank line;
// in a text/html part it is <div class="header-protection-legacy-display">
// holding the lines, HTML-escaped, in a <pre>, put right after the <body>
// tag (at the very start when the HTML has none, or when it cannot go there
// as described below). The element is written in the part's own charset:
// converting the part to UTF-8 would change bytes the sender wrote (and a
// signature over a forwarded part, or a charset the reader relies on),
// where the element is only a courtesy to old clients. So:
//   - text/html: characters the charset (or a 7bit part) cannot hold are
//     numeric character references, which every charset can carry;
//   - text/plain: when the decoded value does not fit the charset (an
//     accented Subject in a us-ascii part, or in a 7bit part), the value is
//     shown as written in the header (its RFC 2047 encoded words), which is
//     ASCII; a part whose charset mailseal cannot encode to, or that is not
//     ASCII-compatible (UTF-16), gets no element.
//
// The original bytes of every part stay as they are, so that opening gives
// back the message byte for byte: the element is spliced into the
// transfer-encoded body, not the body decoded and encoded again.
//   - 7bit, 8bit, binary: the element's bytes go in as they are.
//   - quoted-printable: the element is encoded on lines of its own (ending
//     with its hard line break); in HTML the encoded line holding the end
//     of the <body> tag is cut there with a soft line break ("=" CRLF), so
//     the text around decodes as before.
//   - base64: the element is padded with spaces to a multiple of three
//     octets (after the first ": " in text, after the div in HTML) and
//     encoded on lines of its own; when the <body> tag ends
//     inside a 4-character group, that one group is encoded again together
//     with the element (the reader encodes it back: a whole group has one
//     encoding).
//
// Reading takes the element off again only from parts marked
// hp-legacy-display="1", and only an element of exactly this form at the
// start of the part (text/plain: at most legacyMaxLines header-like lines
// and a blank line; text/html: the div holding no markup, right after the
// <body> tag or at the start): a sender who marks a part of its own making
// can have no more than its leading header block hidden. Both look only at
// the first legacyWindow bytes of a part: the cost is linear, the rest of
// the part streams.
const (
	LegacyDisplayParam = "hp-legacy-display"
	legacyDisplayClass = "header-protection-legacy-display"
	legacyDivOpen      = `<div class="` + legacyDisplayClass + `">` + "\r\n<pre>"
	legacyDivClose     = "</pre>\r\n</div>"

	legacyWindow   = 96 << 10 // encoded bytes read from the start of a part
	legacyReach    = 48 << 10 // the element ends within this many bytes of the encoded output
	legacyBodySpan = 32 << 10 // how far into decoded HTML the <body> tag is looked for
	legacyMaxElem  = 8 << 10  // the longest element
	legacyMaxLines = 16       // the most header lines a text/plain element has
)

// legacyDisplay is what the element shows: "Name: value" lines with the
// values decoded (RFC 2047) and as written.
type legacyDisplay struct{ decoded, raw []string }

func (d *legacyDisplay) add(name, value string) {
	d.decoded = append(d.decoded, name+": "+displayValue(DecodeWords(value)))
	d.raw = append(d.raw, name+": "+displayValue(value))
}

// displayValue replaces control characters (a decoded CR LF would end the
// element early) with spaces.
func displayValue(v string) string {
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f || r >= 0x80 && r < 0xa0 {
			return ' '
		}
		return r
	}, v)
}

// mainBodyParts returns the Main Body Parts under e.
func mainBodyParts(e *Entity) []*Entity {
	switch e.MediaType {
	case "text/plain", "text/html":
		if isAttachment(e) {
			return nil
		}
		return []*Entity{e}
	case "multipart/alternative":
		var out []*Entity
		for _, c := range e.Children {
			out = append(out, mainBodyParts(c)...)
		}
		return out
	case "multipart/mixed":
		for _, c := range e.Children {
			if parts := mainBodyParts(c); len(parts) > 0 {
				return parts
			}
		}
	case "multipart/related":
		if len(e.Children) > 0 {
			return mainBodyParts(e.Children[0])
		}
	}
	return nil
}

func isAttachment(e *Entity) bool {
	d, _, _ := strings.Cut(e.Header.Get("Content-Disposition"), ";")
	return strings.EqualFold(strings.TrimSpace(d), "attachment")
}

// partCharset is the encoder for e's charset: ascii for us-ascii (and no
// charset), nil for UTF-8 (nothing to convert), ok false for a charset
// mailseal cannot write or one that does not keep ASCII as it is.
func partCharset(e *Entity) (enc encoding.Encoding, ascii, ok bool) {
	name := strings.ToLower(strings.TrimSpace(e.Params["charset"]))
	switch name {
	case "", "us-ascii", "ascii", "ansi_x3.4-1968", "iso646-us", "us":
		return nil, true, true
	case "utf-8", "utf8":
		return nil, false, true
	}
	enc, err := ianaindex.MIME.Encoding(name)
	if enc == nil || err != nil {
		if enc, err = htmlindex.Get(name); err != nil || enc == nil {
			return nil, false, false
		}
	}
	const probe = "\r\n !\"#$%&'()*+,-./0123456789:;<=>?@ABCDEFGHIJKLMNOPQRSTUVWXYZ[\\]^_`abcdefghijklmnopqrstuvwxyz{|}~"
	if out, err := enc.NewEncoder().String(probe); err != nil || out != probe {
		return nil, false, false
	}
	return enc, false, true
}

// element is the legacy display element for part e in its charset, or
// nil when it cannot be written there. sevenBit: the part's bytes go in
// unencoded into a 7bit body, so the element must be 7-bit (ASCII, or a
// charset's escape sequences, as ISO-2022-JP writes). pad: spaces
// make its length a multiple of three (for base64).
func (d *legacyDisplay) element(e *Entity, sevenBit, pad bool) []byte {
	enc, ascii, ok := partCharset(e)
	if !ok {
		return nil
	}
	var body []byte
	if e.MediaType == "text/html" {
		lines := make([]string, len(d.decoded))
		for i, l := range d.decoded {
			lines[i] = html.EscapeString(l)
		}
		text := strings.Join(lines, "\r\n")
		b := encodeLines(text, enc, ascii, sevenBit, true)
		if b == nil {
			b = []byte(charRefs(text)) // ASCII: fits every charset here
		}
		body = append(append([]byte(legacyDivOpen), b...), legacyDivClose...)
	} else {
		body = encodeLines(strings.Join(d.decoded, "\r\n"), enc, ascii, sevenBit, false)
		if body == nil {
			body = encodeLines(strings.Join(d.raw, "\r\n"), enc, ascii, sevenBit, false)
		}
		if body == nil {
			return nil
		}
	}
	end := "\r\n"
	if e.MediaType == "text/plain" {
		end = "\r\n\r\n"
	}
	if spaces := (3 - (len(body)+len(end))%3) % 3; pad && spaces > 0 {
		// In HTML after the div; in text after the first ": ", not at the
		// end of a line, where format=flowed would read a soft break.
		at := len(body)
		if e.MediaType == "text/plain" {
			at = bytes.Index(body, []byte(": ")) + 2
		}
		body = append(body[:at:at], append([]byte("  "[:spaces]), body[at:]...)...)
	}
	el := append(body, end...)
	if len(el) > legacyMaxElem {
		return nil
	}
	if sevenBit {
		for _, l := range bytes.Split(el, []byte("\r\n")) {
			if len(l) > maxLineLength {
				return nil
			}
		}
	}
	return el
}

// encodeLines is text in the part's charset (enc; nil for UTF-8, ascii for
// US-ASCII), or nil if it does not fit it, or a 7bit body (sevenBit).
// htmlRefs writes characters the charset lacks as character references.
func encodeLines(text string, enc encoding.Encoding, ascii, sevenBit, htmlRefs bool) []byte {
	switch {
	case ascii:
	case enc != nil:
		e := enc.NewEncoder()
		if htmlRefs {
			e = encoding.HTMLEscapeUnsupported(e)
		}
		var err error
		if text, err = e.String(text); err != nil {
			return nil
		}
	case !utf8.ValidString(text):
		return nil
	}
	if (ascii || sevenBit) && !isASCII(text) {
		return nil
	}
	return []byte(text)
}

// charRefs writes every non-ASCII character of s as an HTML numeric
// character reference.
func charRefs(s string) string {
	var b strings.Builder
	for _, r := range s {
		if r < 0x80 {
			b.WriteRune(r)
		} else {
			b.WriteString("&#" + strconv.Itoa(int(r)) + ";")
		}
	}
	return b.String()
}

// partWindow is the start of a leaf's body: enc its first transfer-encoded
// bytes, dec their decoded form.
type partWindow struct {
	cte      string // "raw", "quoted-printable" or "base64"
	enc, dec []byte
	whole    bool // enc is all of the body
	// quoted-printable: end[i] is the offset in enc just past the encoded
	// form of dec[i].
	end []int32
	// base64: start[k] is the offset in enc of the first character of
	// the k-th 4-character group (and one more: where the characters after
	// the whole groups start, if known); split[k] says the group has a
	// line break or other non-alphabet bytes inside.
	start []int32
	split []bool
}

// readWindow reads the start of e's body; nil for a transfer encoding it
// does not know.
func readWindow(e *Entity) (*partWindow, error) {
	w := &partWindow{}
	switch e.transferEncoding() {
	case "7bit", "8bit", "binary":
		w.cte = "raw"
	case "quoted-printable", "base64":
		w.cte = e.transferEncoding()
	default:
		return nil, nil
	}
	size := e.end - e.bodyStart
	w.whole = size <= legacyWindow
	w.enc = make([]byte, min(size, legacyWindow))
	if _, err := e.src.ReadAt(w.enc, e.bodyStart); err != nil && err != io.EOF {
		return nil, fmt.Errorf("mime: reading %s: %v: %w", e.name(), err, core.ErrInput)
	}
	switch w.cte {
	case "raw":
		w.dec = w.enc
	case "quoted-printable":
		w.decodeQP()
	case "base64":
		w.decodeBase64()
	}
	return w, nil
}

// decodeQP decodes the whole lines of the window as qpDecoder does,
// noting where each decoded byte ends in enc.
func (w *partWindow) decodeQP() {
	for pos := 0; pos < len(w.enc); {
		lineEnd := len(w.enc)
		if nl := bytes.IndexByte(w.enc[pos:], '\n'); nl >= 0 {
			lineEnd = pos + nl + 1
		} else if !w.whole {
			return // a line cut by the end of the window
		}
		line := w.enc[pos:lineEnd]
		text := bytes.TrimSuffix(line, []byte("\n"))
		eol := len(text) < len(line)
		text = bytes.TrimRight(bytes.TrimSuffix(text, []byte("\r")), " \t")
		soft := bytes.HasSuffix(text, []byte("="))
		if soft {
			text = text[:len(text)-1]
		}
		for i := 0; i < len(text); {
			c, n := text[i], 1
			if c == '=' && i+2 < len(text) {
				hi, ok1 := unhex(text[i+1])
				lo, ok2 := unhex(text[i+2])
				if ok1 && ok2 {
					c, n = hi<<4|lo, 3
				}
			}
			i += n
			w.dec = append(w.dec, c)
			w.end = append(w.end, int32(pos+i))
		}
		if eol && !soft {
			w.dec = append(w.dec, '\r', '\n')
			w.end = append(w.end, int32(lineEnd-1), int32(lineEnd))
		}
		pos = lineEnd
	}
}

// decodeBase64 decodes the whole 4-character groups of the window, up to
// the first "=".
func (w *partWindow) decodeBase64() {
	var pos []int32
	var vals []byte
	padded := false
	values := b64lines.Values()
	for i, c := range w.enc {
		v := values[c]
		if v == 0xFE {
			padded = true
			break
		}
		if v != 0xFF {
			pos = append(pos, int32(i))
			vals = append(vals, v)
		}
	}
	groups := len(pos) / 4
	for k := 0; k < groups; k++ {
		v := vals[4*k : 4*k+4]
		w.dec = append(w.dec, v[0]<<2|v[1]>>4, v[1]<<4|v[2]>>2, v[2]<<6|v[3])
		w.start = append(w.start, pos[4*k])
		w.split = append(w.split, pos[4*k+3] != pos[4*k]+3)
	}
	switch {
	case len(pos) > 4*groups:
		w.start = append(w.start, pos[4*groups])
	case w.whole && !padded:
		w.start = append(w.start, int32(len(w.enc)))
	}
}

// spliceIn returns what replaces the first resume bytes of the body to
// put el in at decoded offset p, or ok false where it cannot go.
func (w *partWindow) spliceIn(p int, el []byte) (head []byte, resume int, ok bool) {
	if p > len(w.dec) {
		return nil, 0, false
	}
	switch w.cte {
	case "raw":
		head, resume = append(append([]byte(nil), w.enc[:p]...), el...), p
	case "quoted-printable":
		if p > 0 {
			// The soft line break must fit on the line.
			resume = int(w.end[p-1])
			if resume-(bytes.LastIndexByte(w.enc[:resume], '\n')+1) >= 76 {
				return nil, 0, false
			}
			head = append(append([]byte(nil), w.enc[:resume]...), "=\r\n"...)
		}
		head = append(head, qpEncode(el)...)
	case "base64":
		k, r := p/3, p%3
		if k >= len(w.start) || r != 0 && (k >= len(w.split) || w.split[k]) {
			return nil, 0, false
		}
		at := int(w.start[k])
		x := el
		resume = at
		if r != 0 {
			x = append(append(append([]byte(nil), w.dec[3*k:p]...), el...), w.dec[p:3*k+3]...)
			resume = at + 4
		}
		head = append([]byte(nil), w.enc[:at]...)
		if at > 0 {
			head = append(head, "\r\n"...)
		}
		head = append(append(head, base64Lines(x)...), "\r\n"...)
		return head, resume, len(head) <= legacyReach
	}
	return head, resume, len(head) <= legacyReach
}

// spliceOut returns what replaces the first resume bytes of the body to
// take out the element of n decoded bytes at decoded offset q (the
// inverse of spliceIn), or ok false where it was not put in so.
func (w *partWindow) spliceOut(q, n int) (head []byte, resume int, ok bool) {
	switch w.cte {
	case "raw":
		return w.enc[:q], q + n, true
	case "quoted-printable":
		// The element ends with a hard line break: it ends a line of enc.
		// A soft line break before it is taken out with it.
		at := 0
		if q > 0 {
			at = int(w.end[q-1])
		}
		return w.enc[:at], int(w.end[q+n-1]), true
	case "base64":
		k, r := q/3, q%3
		xlen := n
		if r != 0 {
			xlen += 3
		}
		kEnd := k + xlen/3
		if xlen%3 != 0 || kEnd > len(w.split) || w.split[kEnd-1] {
			return nil, 0, false
		}
		at, stop := int(w.start[k]), int(w.start[kEnd-1])+4
		x := w.dec[3*k : 3*kEnd]
		if !bytes.Equal(w.enc[at:stop], base64Lines(x)) || !bytes.HasPrefix(w.enc[stop:], []byte("\r\n")) {
			return nil, 0, false
		}
		if at > 0 {
			if !bytes.HasSuffix(w.enc[:at], []byte("\r\n")) {
				return nil, 0, false
			}
			head = w.enc[:at-2]
		}
		if r != 0 {
			group := append(append([]byte(nil), x[:r]...), x[r+n:]...)
			head = append(append([]byte(nil), head...), base64.StdEncoding.EncodeToString(group)...)
		}
		return head, stop + 2, true
	}
	return nil, 0, false
}

func qpEncode(b []byte) []byte {
	var out bytes.Buffer
	q := &qpEncoder{w: &out}
	q.Write(b)
	q.Close()
	return out.Bytes()
}

// base64Lines is b in base64 on lines of 76 characters joined by CRLF.
func base64Lines(b []byte) []byte {
	var out bytes.Buffer
	enc := base64.NewEncoder(base64.StdEncoding, &lineWrapper{w: &out, width: 76})
	enc.Write(b)
	enc.Close()
	return out.Bytes()
}

// bodyTagEnd is the offset just past the first <body> start tag in the
// first legacyBodySpan bytes of html, or 0 if there is none.
func bodyTagEnd(h []byte) int {
	h = h[:min(len(h), legacyBodySpan)]
	for i := 0; ; {
		j := bytes.IndexByte(h[i:], '<')
		if j < 0 {
			return 0
		}
		i += j + 1
		if len(h)-i < 5 || !bytes.EqualFold(h[i:i+4], []byte("body")) || strings.IndexByte(" \t\r\n\f/>", h[i+4]) < 0 {
			continue
		}
		// The end of the tag, past quoted attribute values.
		var quote byte
		for k := i + 4; k < len(h); k++ {
			switch c := h[k]; {
			case quote != 0:
				if c == quote {
					quote = 0
				}
			case c == '"' || c == '\'':
				quote = c
			case c == '>':
				return k + 1
			}
		}
		return 0
	}
}

// legacyElementAt is the length of a legacy display element of the form
// element writes at dec[q:], or 0.
func legacyElementAt(media string, dec []byte, q int) int {
	rest := dec[q:]
	rest = rest[:min(len(rest), legacyMaxElem)]
	if media == "text/html" {
		if !bytes.HasPrefix(rest, []byte(legacyDivOpen)) {
			return 0
		}
		i := bytes.Index(rest, []byte(legacyDivClose))
		if i < 0 || bytes.IndexByte(rest[len(legacyDivOpen):i], '<') >= 0 {
			return 0
		}
		i += len(legacyDivClose)
		for k := 0; k < 2 && i < len(rest) && rest[i] == ' '; k++ {
			i++
		}
		if !bytes.HasPrefix(rest[i:], []byte("\r\n")) {
			return 0
		}
		return i + 2
	}
	if q != 0 {
		return 0
	}
	n := 0
	for lines := 0; lines <= legacyMaxLines; lines++ {
		eol := bytes.Index(rest[n:], []byte("\r\n"))
		if eol < 0 {
			return 0
		}
		line := rest[n : n+eol]
		n += eol + 2
		if len(line) == 0 {
			if lines == 0 {
				return 0
			}
			return n
		}
		name, _, found := bytes.Cut(line, []byte(": "))
		if !found || len(name) == 0 || bytes.ContainsAny(name, " \t:") {
			return 0
		}
	}
	return 0
}

// addLegacyDisplay puts el in front of part e (see the package comment
// above): the edit of e, with hp-legacy-display="1" on its Content-Type
// unless root (the caller writes the root's header), or ok false.
func addLegacyDisplay(e *Entity, d *legacyDisplay, root bool) (ed partEdit, ok bool, err error) {
	if !markerReadable(e, root) {
		return ed, false, nil
	}
	w, err := readWindow(e)
	if w == nil || err != nil {
		return ed, false, err
	}
	el := d.element(e, w.cte == "raw" && e.transferEncoding() == "7bit", w.cte == "base64")
	if el == nil {
		return ed, false, nil
	}
	var head []byte
	var resume int
	ok = false
	if e.MediaType == "text/html" {
		if p := bodyTagEnd(w.dec); p > 0 {
			head, resume, ok = w.spliceIn(p, el)
		}
	}
	if !ok {
		if head, resume, ok = w.spliceIn(0, el); !ok {
			return ed, false, nil
		}
	}
	if !root {
		if ed.head, ok = e.markedHeader(); !ok {
			return ed, false, nil
		}
	}
	ed.body = []io.Reader{bytes.NewReader(head), io.NewSectionReader(e.src, e.bodyStart+int64(resume), e.end-e.bodyStart-int64(resume))}
	return ed, true, nil
}

// markerReadable reports whether a reader will find the marker on e's
// Content-Type once added, with the other parameters as they were (a
// broken quote in the field may swallow what follows it).
func markerReadable(e *Entity, root bool) bool {
	ct := e.Header.Get("Content-Type")
	if !e.Header.has("Content-Type") {
		ct = "text/plain; charset=us-ascii"
	}
	added := map[string]string{LegacyDisplayParam: "1"}
	if root {
		ct += HPParams(HPCipher, true)
		added["hp"] = HPCipher
	} else {
		ct += legacyMarker
	}
	mt, params := mediaType(Header{{Key: "Content-Type", Value: ct}}, "")
	if mt != e.MediaType || len(params) != len(e.Params)+len(added) {
		return false
	}
	for k, v := range params {
		if want, ok := added[k]; ok && v != want || !ok && e.Params[k] != v {
			return false
		}
	}
	return true
}

// legacyMarker is what addLegacyDisplay appends to a part's Content-Type.
const legacyMarker = `; ` + LegacyDisplayParam + `="1"`

// markedHeader is e's header section with legacyMarker added to its
// Content-Type field (a field is added where it has none).
func (e *Entity) markedHeader() ([]byte, bool) {
	return e.editHeader(func(f Field) ([]byte, bool) {
		return append(bytes.TrimSuffix(f.rawBytes(), []byte("\r\n")), legacyMarker+"\r\n"...), true
	}, []byte("Content-Type: text/plain; charset=us-ascii"+legacyMarker+"\r\n"))
}

// editHeader is e's header section with its first Content-Type field
// replaced by edit's result, or, without one, missing added at the end;
// ok false for a header section without its blank line.
func (e *Entity) editHeader(edit func(Field) ([]byte, bool), missing []byte) ([]byte, bool) {
	var b bytes.Buffer
	n, done := 0, false
	for _, f := range e.Header {
		n += len(f.Raw)
		if !done && strings.EqualFold(f.Key, "Content-Type") {
			done = true
			nf, ok := edit(f)
			if !ok {
				return nil, false
			}
			b.Write(nf)
			continue
		}
		b.Write(f.rawBytes())
	}
	// The header section ends with the blank line (a part may have none:
	// its body starts right after the delimiter).
	blank := make([]byte, 2)
	if e.bodyStart-e.start-int64(n) != 2 {
		return nil, false
	}
	if _, err := e.src.ReadAt(blank, e.start+int64(n)); err != nil || string(blank) != "\r\n" {
		return nil, false
	}
	if !done {
		b.Write(missing)
	}
	b.WriteString("\r\n")
	return b.Bytes(), true
}

// WithoutLegacyDisplay returns the body of e, the root of a Cryptographic
// Payload, with the legacy display element taken off e and every part
// under it marked hp-legacy-display="1" where the element is found as
// mailseal writes it (see above), and the marker taken off those parts'
// Content-Type; stripped says whether e itself had one taken off (its
// header is the caller's). Errors wrap core.ErrInput.
func WithoutLegacyDisplay(e *Entity) (body io.Reader, stripped bool, err error) {
	edits := map[*Entity]partEdit{}
	var visit func(p *Entity) error
	visit = func(p *Entity) error {
		switch p.MediaType {
		case "multipart/mixed", "multipart/alternative", "multipart/related":
			for _, c := range p.Children {
				if err := visit(c); err != nil {
					return err
				}
			}
			return nil
		case "text/plain", "text/html":
		default:
			return nil
		}
		if p.Params[LegacyDisplayParam] != "1" {
			return nil
		}
		ed, ok, err := removeLegacyDisplay(p, p == e)
		if ok {
			edits[p] = ed
		}
		return err
	}
	if err := visit(e); err != nil {
		return nil, false, err
	}
	if ed, ok := edits[e]; ok {
		return stage.Concat(ed.body...), true, nil
	}
	return stage.Concat(bodyReaders(e, planEdits(e, nil, edits), edits)...), false, nil
}

// removeLegacyDisplay takes the element off part e.
func removeLegacyDisplay(e *Entity, root bool) (ed partEdit, ok bool, err error) {
	w, err := readWindow(e)
	if w == nil || err != nil {
		return ed, false, err
	}
	candidates := []int{0}
	if e.MediaType == "text/html" {
		if p := bodyTagEnd(w.dec); p > 0 {
			candidates = []int{p, 0}
		}
	}
	for _, q := range candidates {
		n := legacyElementAt(e.MediaType, w.dec, q)
		if n == 0 {
			continue
		}
		head, resume, found := w.spliceOut(q, n)
		if !found {
			continue
		}
		if !root {
			ed.head, _ = e.editHeader(func(f Field) ([]byte, bool) {
				raw := f.rawBytes()
				if v, cut := bytes.CutSuffix(raw, []byte(legacyMarker+"\r\n")); cut {
					raw = append(v, '\r', '\n')
				}
				return raw, true
			}, nil)
			if ed.head == nil {
				return ed, false, nil
			}
		}
		ed.body = []io.Reader{bytes.NewReader(head), io.NewSectionReader(e.src, e.bodyStart+int64(resume), e.end-e.bodyStart-int64(resume))}
		return ed, true, nil
	}
	return ed, false, nil
}

// planEdits marks with "" in plan (made if nil) every multipart above an
// edited part that plan does not rewrite already, so that bodyReaders
// walks down to the edited parts.
func planEdits(e *Entity, plan map[*Entity]string, edits map[*Entity]partEdit) map[*Entity]string {
	if plan == nil {
		plan = map[*Entity]string{}
	}
	var visit func(p *Entity) bool
	visit = func(p *Entity) bool {
		if _, ok := edits[p]; ok {
			return true
		}
		changed := false
		for _, c := range p.Children {
			if visit(c) {
				changed = true
			}
		}
		if _, ok := plan[p]; changed && !ok {
			plan[p] = ""
		}
		return changed
	}
	visit(e)
	return plan
}
