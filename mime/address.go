package mime

import (
	"strings"
	"unicode/utf8"
)

// parseMailboxes reads an address-list field value leniently, as mail
// clients show it, in time linear in its length. It is the one address
// parser of the package: Mailboxes and Addresses use it.
//
// Besides RFC 5322's mailboxes, groups and comments it reads:
//   - an unquoted display name holding specials, "@" and "." among them:
//     alice@example.org <alice@example.org>, Dr. J. Doe <j@example.org>;
//   - the obsolete forms (RFC 5322 section 4.4): comments and white space
//     around the dots and the "@" of an address (a . b @ example . org),
//     a route before it (<@relay.example:a@example.org>), a local part of
//     quoted strings ("a"."b"@example.org; one that is a plain dot-atom is
//     given without its quotes, "alice"@example.org as alice@example.org);
//   - raw 8-bit bytes: UTF-8 as it stands, and a value that is not valid
//     UTF-8 as Latin-1 (what such a client meant, and what is shown);
//   - an unclosed quoted string, comment or angle bracket, closed at the
//     end of the field (an angle bracket, and a domain literal, at the
//     next "<" or ",").
//
// What holds no address still gives a mailbox, with Address "": a display
// name alone ("The Manager"), an empty angle address. What holds more than
// one address gives one mailbox each: "<a@x> <b@y>", "a@x b@y". A reader
// of the list so never takes one address of several for the only one.
//
// A mailbox in a group without a display name of its own has the group's
// name as its name: a client shows that. work counts the tokens and bytes
// examined, for the test that proves the reading linear.
func parseMailboxes(v string) (out []Mailbox, work int) {
	if !utf8.ValidString(v) {
		v = latin1(v)
	}
	p := addrParser{}
	p.tokenize(v)
	p.list()
	return p.out, p.work
}

// latin1 reads s as ISO-8859-1.
func latin1(s string) string {
	var b strings.Builder
	b.Grow(2 * len(s))
	for i := 0; i < len(s); i++ {
		b.WriteRune(rune(s[i]))
	}
	return b.String()
}

// Token kinds; the specials are their own byte.
const (
	tokAtom    = 'a' // a run of bytes that are not white space or specials
	tokQuoted  = 'q' // a quoted string, text unquoted
	tokComment = 'c' // a comment, text without the outer parentheses
	tokLiteral = 'l' // a domain literal after "@", text as written
)

type addrToken struct {
	kind  byte
	text  string
	space bool // white space or a comment stood before it
}

type addrParser struct {
	toks  []addrToken
	out   []Mailbox
	group string // the display name of the group being read, "" outside
	// groupName is group decoded (DecodeWords), once for all the
	// mailboxes that take it, which share it: decoding it for each made
	// a name of half a megabyte over 100,000 mailboxes minutes of work
	// and gigabytes of copies. "" outside a group and for one without a
	// name.
	groupName string
	work      int
}

// tokenize splits v into tokens: atoms, quoted strings, comments, domain
// literals and the specials , ; : < > @ . each on its own.
func (p *addrParser) tokenize(v string) {
	space := false
	for i := 0; i < len(v); {
		p.work++
		c := v[i]
		switch {
		case c == ' ' || c == '\t' || c == '\r' || c == '\n':
			space = true
			i++
			continue
		case c == '"':
			text, n := p.quoted(v[i:])
			p.toks = append(p.toks, addrToken{kind: tokQuoted, text: text, space: space})
			i += n
		case c == '(':
			text, n := p.comment(v[i:])
			p.toks = append(p.toks, addrToken{kind: tokComment, text: text, space: space})
			i += n
			space = true
			continue
		case c == '[' && len(p.toks) > 0 && p.toks[len(p.toks)-1].kind == '@':
			// To the "]", or, unclosed, to the next "<", ">" or ",".
			n := strings.IndexAny(v[i:], "]<>,")
			switch {
			case n < 0:
				n = len(v) - i
			case v[i+n] == ']':
				n++
			}
			p.work += n
			p.toks = append(p.toks, addrToken{kind: tokLiteral, text: v[i : i+n], space: space})
			i += n
		case strings.IndexByte(",;:<>@.", c) >= 0:
			p.toks = append(p.toks, addrToken{kind: c, text: v[i : i+1], space: space})
			i++
		default:
			start := i
			for i < len(v) && strings.IndexByte(" \t\r\n\"(,;:<>@.", v[i]) < 0 {
				p.work++
				i++
			}
			p.toks = append(p.toks, addrToken{kind: tokAtom, text: v[start:i], space: space})
		}
		space = false
	}
}

// quoted reads the quoted string at the start of s: its text with the
// quoted pairs undone, and its length (to the end of s if unclosed).
func (p *addrParser) quoted(s string) (string, int) {
	var b strings.Builder
	i := 1
	for i < len(s) {
		p.work++
		c := s[i]
		i++
		switch c {
		case '"':
			return b.String(), i
		case '\\':
			if i < len(s) {
				c = s[i]
				i++
			}
		}
		b.WriteByte(c)
	}
	return b.String(), i
}

// comment reads the (nested) comment at the start of s: its text between
// the outer parentheses, as written, and its length (to the end of s if
// unclosed).
func (p *addrParser) comment(s string) (string, int) {
	depth := 0
	for i := 0; i < len(s); i++ {
		p.work++
		switch s[i] {
		case '\\':
			i++
		case '(':
			depth++
		case ')':
			depth--
			if depth == 0 {
				return s[1:i], i + 1
			}
		}
	}
	return s[1:], len(s)
}

// list reads the tokens as a list of mailboxes and groups.
func (p *addrParser) list() {
	start := 0 // of the current element's phrase
	for i := 0; i < len(p.toks); {
		p.work++
		switch p.toks[i].kind {
		case ',':
			p.bare(p.toks[start:i])
			i++
			start = i
		case ';':
			p.bare(p.toks[start:i])
			p.group, p.groupName = "", ""
			i++
			start = i
		case ':':
			if p.group != "" {
				i++ // text in a display name
				continue
			}
			p.group = render(p.toks[start:i])
			if p.group == "" {
				p.group = " " // a group without a name is a group all the same
			} else {
				p.work += len(p.group)
				p.groupName = DecodeWords(p.group)
			}
			i++
			start = i
		case '<':
			name := p.name(p.toks[start:i])
			var addr string
			addr, i = p.angle(i + 1)
			p.add(name, addr)
			start = i
		case '>':
			// A stray ">" stands between words like white space.
			p.bare(p.toks[start:i])
			i++
			start = i
		default:
			i++
		}
	}
	p.bare(p.toks[start:])
}

// add appends a mailbox, giving it the group's name if it has none;
// nothing if it has neither a name nor an address ("<>").
func (p *addrParser) add(name, addr string) {
	switch {
	case name == "" && addr == "":
		return
	case name == "":
		name = p.groupName
	default:
		p.work += len(name)
		name = DecodeWords(name)
	}
	p.out = append(p.out, Mailbox{Name: name, Address: addr})
}

// name is the display name of the phrase before an angle address: its
// words as written (white space between them made one space), or, if it
// has none, its comments.
func (p *addrParser) name(phrase []addrToken) string {
	p.work += len(phrase)
	if n := render(phrase); n != "" {
		return n
	}
	return comments(phrase)
}

// angle reads the angle address whose first token is at i: the address
// ("" if it has no "@": <> or <alice> binds nothing), and where reading goes on (after the ">", or at the "<" or "," that ends
// an unclosed one). A route before the address is dropped.
func (p *addrParser) angle(i int) (string, int) {
	j := i
	for j < len(p.toks) && p.toks[j].kind == tokComment {
		j++
	}
	if j < len(p.toks) && p.toks[j].kind == '@' { // obs-route: @a,@b:
		k := j
		for k < len(p.toks) && strings.IndexByte(":<>", p.toks[k].kind) < 0 {
			p.work++
			k++
		}
		if k < len(p.toks) && p.toks[k].kind == ':' {
			i = k + 1
		}
	}
	end, at := i, false
	for end < len(p.toks) && strings.IndexByte("<>,", p.toks[end].kind) < 0 {
		p.work++
		at = at || p.toks[end].kind == '@'
		end++
	}
	addr := ""
	if at {
		addr = compact(p.toks[i:end])
	}
	if end < len(p.toks) && p.toks[end].kind == '>' {
		end++
	}
	return addr, end
}

// bare reads a phrase without an angle address: words joined by "." and
// "@" (white space and comments around these allowed, as the obsolete
// syntax does) make runs, and each run with an "@" is an address. One
// such run is the mailbox's address, the other words its name (or, if
// there are none, its comments); several are a mailbox each; none leave
// the words a display name without an address.
func (p *addrParser) bare(phrase []addrToken) {
	type run struct{ start, end int }
	var runs []run
	prev := byte(0) // the kind of the last token that is no comment
	for i, t := range phrase {
		p.work++
		if t.kind == tokComment {
			continue
		}
		if len(runs) == 0 || !isJoiner(t.kind) && !isJoiner(prev) {
			runs = append(runs, run{i, i + 1})
		}
		runs[len(runs)-1].end = i + 1
		prev = t.kind
	}
	var addrs []run
	for _, r := range runs {
		for _, t := range phrase[r.start:r.end] {
			p.work++
			if t.kind == '@' {
				addrs = append(addrs, r)
				break
			}
		}
	}
	switch len(addrs) {
	case 0:
		if n := render(phrase); n != "" {
			p.add(n, "")
		}
	case 1:
		r := addrs[0]
		words := append(append([]addrToken(nil), phrase[:r.start]...), phrase[r.end:]...)
		p.add(p.name(words), compact(phrase[r.start:r.end]))
	default:
		for _, r := range addrs {
			p.add("", compact(phrase[r.start:r.end]))
		}
	}
}

func isJoiner(kind byte) bool { return kind == '.' || kind == '@' }

// render is the text of a display name: its tokens other than comments as
// written, quoted strings unquoted, one space where white space or a
// comment stood between them.
func render(toks []addrToken) string {
	var b strings.Builder
	for _, t := range toks {
		if t.kind == tokComment {
			continue
		}
		if t.space && b.Len() > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(t.text)
	}
	return b.String()
}

// comments is the text of the comments among toks, one space between them.
func comments(toks []addrToken) string {
	var parts []string
	for _, t := range toks {
		if t.kind == tokComment {
			if c := strings.TrimSpace(t.text); c != "" {
				parts = append(parts, c)
			}
		}
	}
	return strings.Join(parts, " ")
}

// compact is the address the tokens of an addr-spec give: without comments
// and the white space around "." and "@", quoted strings quoted only when
// they are no dot-atom. Two words with only white space between them keep
// one space: that is no address, and matches none.
func compact(toks []addrToken) string {
	var b strings.Builder
	prev := byte(0)
	for _, t := range toks {
		if t.kind == tokComment {
			continue
		}
		if isWord(t.kind) && isWord(prev) {
			b.WriteByte(' ')
		}
		if t.kind == tokQuoted {
			b.WriteString(quoteLocal(t.text))
		} else {
			b.WriteString(t.text)
		}
		prev = t.kind
	}
	return b.String()
}

func isWord(kind byte) bool {
	return kind == tokAtom || kind == tokQuoted || kind == tokLiteral
}

// quoteLocal gives the text of a quoted local-part word as an address
// shows it: as it is if it is a dot-atom, else quoted.
func quoteLocal(s string) string {
	if s != "" && !strings.HasPrefix(s, ".") && !strings.HasSuffix(s, ".") && !strings.Contains(s, "..") &&
		strings.IndexFunc(s, func(r rune) bool {
			return r < utf8.RuneSelf && !('a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || '0' <= r && r <= '9' ||
				strings.ContainsRune(".!#$%&'*+-/=?^_`{|}~", r))
		}) < 0 {
		return s
	}
	var b strings.Builder
	b.WriteByte('"')
	for i := 0; i < len(s); i++ {
		if s[i] == '"' || s[i] == '\\' {
			b.WriteByte('\\')
		}
		b.WriteByte(s[i])
	}
	b.WriteByte('"')
	return b.String()
}
