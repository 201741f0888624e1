// Package mime parses email messages into a tree of MIME entities that keeps
// the exact bytes of every entity, and builds the MIME structures of signed
// and encrypted mail (RFC 1847, RFC 3156, RFC 8551).
//
// Exact bytes matter because a multipart/signed signature covers the bytes
// of its first part as they were sent. Parse therefore does not decode
// anything up front: it canonicalises line endings to CRLF (the form that
// was signed), spools the message (internal/spool), and records for every
// entity its header fields (with their raw bytes) and byte offsets into the
// spool. Bodies are read back on demand through Raw, RawBody and Body, so
// memory does not grow with the size of the message.
//
// The builders (WriteSigned, WriteEncrypted, WriteMessage) stream, write CRLF
// line endings everywhere, and use random boundaries.
package mime

import (
	"fmt"
	"io"
	stdmime "mime"
	"strings"

	"github.com/emersion/go-message/charset"

	"github.com/mailseal/mailseal/core"
)

// Limits bound what Parse accepts, so that hostile input cannot exhaust
// memory, disk or time. A zero or negative field means its default.
type Limits struct {
	MaxSize        int64 // whole message, bytes (default 4 GiB)
	MaxDepth       int   // multipart nesting (default 32)
	MaxParts       int   // entities in total (default 10000)
	MaxHeaderBytes int   // one entity's header block (default 1 MiB)
}

// DefaultLimits are the limits of the command-line tool.
func DefaultLimits() Limits {
	return Limits{
		// 4 GiB: a message with a 1 GiB attachment, signed and encrypted
		// (base64 and armor make it about 1.9 GiB), still fits. Memory does
		// not grow with it: a message read from a stream is spooled to an
		// encrypted temporary file.
		MaxSize:        4 << 30,
		MaxDepth:       32,
		MaxParts:       10000,
		MaxHeaderBytes: 1 << 20,
	}
}

// withDefaults replaces unset fields by their defaults.
func (l Limits) withDefaults() Limits {
	d := DefaultLimits()
	if l.MaxSize <= 0 {
		l.MaxSize = d.MaxSize
	}
	if l.MaxDepth <= 0 {
		l.MaxDepth = d.MaxDepth
	}
	if l.MaxParts <= 0 {
		l.MaxParts = d.MaxParts
	}
	if l.MaxHeaderBytes <= 0 {
		l.MaxHeaderBytes = d.MaxHeaderBytes
	}
	return l
}

// Field is one header field.
type Field struct {
	Key   string // as written (e.g. "Content-Type")
	Value string // unfolded, leading/trailing space trimmed, not RFC 2047-decoded
	// Raw is the exact bytes of the field including folding and the final
	// CRLF. (A field on the last line of the input, without a line ending,
	// gets a CRLF appended here so that fields can always be concatenated;
	// Entity.Raw still returns the input exactly.)
	Raw []byte
}

// rawBytes returns the field as it is written out: Raw, or, for a field
// built by hand without Raw, "Key: Value" CRLF.
func (f Field) rawBytes() []byte {
	if len(f.Raw) > 0 {
		if f.Raw[len(f.Raw)-1] != '\n' {
			return append(append([]byte(nil), f.Raw...), '\r', '\n')
		}
		return f.Raw
	}
	return []byte(f.Key + ": " + f.Value + "\r\n")
}

// Header is an entity's header fields in their original order.
type Header []Field

// Get returns the value of the first field named key (case-insensitive), or "".
func (h Header) Get(key string) string {
	for _, f := range h {
		if strings.EqualFold(f.Key, key) {
			return f.Value
		}
	}
	return ""
}

// has reports whether a field named key is present.
func (h Header) has(key string) bool {
	for _, f := range h {
		if strings.EqualFold(f.Key, key) {
			return true
		}
	}
	return false
}

// Values returns the values of all fields named key (case-insensitive).
func (h Header) Values(key string) []string {
	var vs []string
	for _, f := range h {
		if strings.EqualFold(f.Key, key) {
			vs = append(vs, f.Value)
		}
	}
	return vs
}

// Without returns a copy of h without the fields named by keys (case-insensitive).
func (h Header) Without(keys ...string) Header {
	return h.filter(func(f Field) bool {
		for _, k := range keys {
			if strings.EqualFold(f.Key, k) {
				return false
			}
		}
		return true
	})
}

// ContentFields returns the Content-* fields, in order.
func (h Header) ContentFields() Header {
	return h.filter(isContentField)
}

// NonContentFields returns all fields except Content-* and MIME-Version, in order.
func (h Header) NonContentFields() Header {
	return h.filter(func(f Field) bool {
		return !isContentField(f) && !strings.EqualFold(f.Key, "MIME-Version")
	})
}

func (h Header) filter(keep func(Field) bool) Header {
	var out Header
	for _, f := range h {
		if keep(f) {
			out = append(out, f)
		}
	}
	return out
}

func isContentField(f Field) bool {
	return len(f.Key) >= 8 && strings.EqualFold(f.Key[:8], "Content-")
}

// Mailbox is one mailbox of an address field as a reader's client shows it.
type Mailbox struct {
	// Name is the display name with RFC 2047 encoded words decoded, also
	// inside quotes (as clients decode them); a comment after a bare
	// address ("alice@example.org (Alice)") counts as one, and a mailbox
	// in a group without a name of its own has the group's. "" if none.
	// The mailboxes of a group share the group's name: a reader that
	// works on the name of each of many mailboxes bounds that work (by
	// the field's length, or by how many it reads), since a long group
	// name taken by many mailboxes multiplies it.
	Name string
	// Address is the addr-spec, local@domain; "" for a display name that
	// stands without an address ("The Manager").
	Address string
}

// Mailboxes returns the mailboxes of every field named key, which should
// be an address-list field: From, To, Cc, Bcc, Sender, Reply-To. Groups
// are flattened. The fields are read leniently, as mail clients show them
// (see parseMailboxes: unquoted specials in display names, the obsolete
// syntax, raw 8-bit text, Latin-1 included), so reading never fails; a
// display name without an address gives a Mailbox with Address "", and
// text that holds several addresses gives several mailboxes. No field
// gives an empty list.
func (h Header) Mailboxes(key string) []Mailbox {
	var out []Mailbox
	for _, v := range h.Values(key) {
		list, _ := parseMailboxes(v)
		out = append(out, list...)
	}
	return out
}

// Addresses returns the addresses (local@domain) of Mailboxes(key), or an
// error wrapping core.ErrInput naming a mailbox of the field that has no
// address.
func (h Header) Addresses(key string) ([]string, error) {
	var out []string
	for _, b := range h.Mailboxes(key) {
		if b.Address == "" {
			return nil, fmt.Errorf("mime: %s field has %q without an address (write it as \"Name <local@domain>\"): %w", key, core.Clip(b.Name, core.MaxQuote), core.ErrInput)
		}
		out = append(out, b.Address)
	}
	return out, nil
}

// DecodeWords returns a header field value with its RFC 2047 encoded
// words decoded wherever they stand, also inside quoted strings and
// comments, where the RFC does not allow them but clients decode them all
// the same: what a reader may be shown. White space between two decoded
// words is dropped. A word that does not decode stays as it is, and does
// not hide the words after it. Linear in the length of v.
func DecodeWords(v string) string {
	start, end := nextEncodedWord(v, 0)
	if start < 0 {
		return v
	}
	dec := wordDecoder()
	var b strings.Builder
	last, lastDecoded := 0, false
	for ; start >= 0; start, end = nextEncodedWord(v, end) {
		d, err := dec.Decode(v[start:end])
		if gap := v[last:start]; !lastDecoded || err != nil || strings.Trim(gap, " \t\r\n") != "" {
			b.WriteString(gap)
		}
		if err != nil {
			d = v[start:end]
		}
		b.WriteString(d)
		last, lastDecoded = end, err == nil
	}
	b.WriteString(v[last:])
	return b.String()
}

// nextEncodedWord finds the next "=?charset?encoding?text?=" in v at or
// after from, with no '?' or white space in charset and text: its start
// and end, or -1, -1. Each attempt reads only to the third '?' after its
// start, and the next attempt starts after the first, so the search over
// all of v is linear.
func nextEncodedWord(v string, from int) (start, end int) {
	for {
		i := strings.Index(v[from:], "=?")
		if i < 0 {
			return -1, -1
		}
		start = from + i
		cs := tokenEnd(v, start+2) // charset
		if cs > start+2 && cs+2 < len(v) && v[cs] == '?' && strings.IndexByte("bBqQ", v[cs+1]) >= 0 && v[cs+2] == '?' {
			te := tokenEnd(v, cs+3) // text
			if te+1 < len(v) && v[te] == '?' && v[te+1] == '=' {
				return start, te + 2
			}
		}
		from = start + 2
	}
}

// tokenEnd is the index of the first '?' or white space in v at or after
// p, or len(v).
func tokenEnd(v string, p int) int {
	for p < len(v) && v[p] != '?' && v[p] != ' ' && v[p] != '\t' && v[p] != '\r' && v[p] != '\n' {
		p++
	}
	return p
}

// wordDecoder decodes RFC 2047 encoded words in every charset that
// go-message's charset package knows (golang.org/x/text: ISO-8859-x,
// Windows-125x, KOI8, GB2312/GBK/GB18030, Big5, Shift_JIS, EUC-JP,
// ISO-2022-JP, EUC-KR, UTF-16 and more), ignoring an RFC 2231 language
// ("=?utf-8*en?..."). A word in a charset it does not know fails to decode,
// and DecodeWords and Mailboxes keep it as written: its bytes mean nothing
// without the charset, so it is not shown as some other text.
func wordDecoder() *stdmime.WordDecoder {
	return &stdmime.WordDecoder{CharsetReader: readCharset}
}

func readCharset(name string, input io.Reader) (io.Reader, error) {
	name, _, _ = strings.Cut(name, "*") // RFC 2231 section 5: charset*language
	r, err := charset.Reader(name, input)
	if err != nil {
		// The error comes from reading, not from the lookup: DecodeWords
		// then keeps the word as written.
		return errReader{fmt.Errorf("mime: unknown charset %q", name)}, nil
	}
	return smallCopy{r}, nil
}

// smallCopy is a converted encoded word or parameter for the standard
// library's decoder, which copies it out with io.Copy: through WriteTo, in
// pieces of a small buffer, where io.Copy would allocate 32 KiB for each
// word (2.6 GB for a header of a megabyte of short words).
type smallCopy struct{ r io.Reader }

func (s smallCopy) Read(p []byte) (int, error) { return s.r.Read(p) }

func (s smallCopy) WriteTo(w io.Writer) (int64, error) {
	var buf [512]byte
	return io.CopyBuffer(w, struct{ io.Reader }{s.r}, buf[:])
}

// UnknownCharsets returns the charsets (in lower case, each once) of the
// RFC 2047 encoded words in v that DecodeWords keeps as written because it
// does not know them: a client that does may show other text there.
func UnknownCharsets(v string) []string {
	var out []string
	seen := map[string]bool{} // each name once: a field may name thousands
	for start, end := nextEncodedWord(v, 0); start >= 0; start, end = nextEncodedWord(v, end) {
		name := strings.ToLower(v[start+2 : tokenEnd(v, start+2)])
		if seen[name] {
			continue
		}
		seen[name] = true
		if r, _ := readCharset(name, strings.NewReader("")); isErrReader(r) {
			out = append(out, name)
		}
	}
	return out
}

type errReader struct{ err error }

func isErrReader(r io.Reader) bool {
	_, ok := r.(errReader)
	return ok
}

func (r errReader) Read([]byte) (int, error) { return 0, r.err }

// WriteTo fails at once, so that io.Copy allocates no buffer for it.
func (r errReader) WriteTo(io.Writer) (int64, error) { return 0, r.err }
