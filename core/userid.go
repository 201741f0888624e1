package core

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// UserIDAddress returns the address an OpenPGP user ID binds its key to: the
// one rule for reading a user ID, used wherever a key is matched to an
// address (listing, choosing recipients and signers, verifying a sender).
//
// A user ID is read as an RFC 5322 mailbox (UTF-8 allowed, RFC 6532):
//
//	Alice Example <alice@example.org>     a display name and the address in angle brackets
//	"Example, Alice" <alice@example.org>  a quoted display name
//	Example, Alice <alice@example.org>    the same unquoted, as GnuPG writes it
//	<alice@example.org>                   the address alone, in angle brackets
//	alice@example.org                     a bare address
//	Alice (work) <alice@example.org>      RFC 5322 comments, nested or not, between the parts
//
// The bound address is the one in the angle brackets, or the whole of a bare
// address, exactly as written. It has a dot-atom local part (ASCII letters,
// digits and !#$%&'*+-/=?^_`{|}~, and letters, marks and digits beyond
// ASCII), one "@", and a domain of dot-separated labels of letters, digits,
// marks and inner hyphens; nothing else, no space or comment, stands between
// the brackets.
//
// A user ID with no "@" (nor a look-alike such as U+FF20) and no angle
// bracket names no address: addr is "" and err is nil ("Alice Example").
// Every other user ID that does not bind an address has an err, a
// *UserIDError saying why; it is to be reported, never matched. That is
// the case when it:
//   - names more than one address: "<a@x> <b@y>", "A <a@x>, B <b@y>", a
//     display name or comment that is (or holds) another address, as in
//     "alice@example.org <eve@evil.org>" (a display name or comment that is
//     the bound address again, as some tools write, is accepted);
//   - has an "@" or a look-alike anywhere but in its address;
//   - has an RFC 2047 encoded word ("=?...?=") in a display name or
//     comment, which some programs would show decoded;
//   - is not valid UTF-8, or has a control character (tab aside), a format
//     character (bidirectional overrides, zero-width space; zero-width
//     joiners aside), a private-use character or a line separator;
//   - has a quoted local part ("\"a@x\"@y"), a domain literal, unbalanced
//     brackets, parentheses or quotes, group syntax, or anything else
//     outside the forms above.
//
// It reads the user ID once, in time linear in its length.
func UserIDAddress(uid string) (addr string, err error) {
	p := uidParser{s: uid}
	return p.parse()
}

// uidParser reads one user ID. work counts the bytes examined, for the
// test that proves the reading linear.
type uidParser struct {
	s        string
	i        int
	work     int
	words    []uidWord
	comments []string // raw text between the outer parentheses
}

type uidWord struct {
	text   string // decoded (quotes and quoted pairs removed)
	quoted bool
}

// UserIDError says why a user ID that names an address binds none.
type UserIDError struct {
	UserID string
	// Reason completes "the user ID ...", e.g. "names more than one address".
	Reason string
}

func (e *UserIDError) Error() string {
	return fmt.Sprintf("user ID %s %s; it binds to none", quoteUID(e.UserID), e.Reason)
}

// quoteUID quotes a user ID for a message, shortened if very long.
func quoteUID(uid string) string {
	if len(uid) <= MaxQuote {
		return fmt.Sprintf("%q", uid)
	}
	return fmt.Sprintf("%q (%d bytes)", Clip(uid, MaxQuote), len(uid))
}

const (
	reasonTwoAddresses = "names more than one address"
	reasonStrayAt      = `has an "@" (or a look-alike) outside its address`
)

func (p *uidParser) fail(format string, args ...any) (string, error) {
	return "", &UserIDError{UserID: p.s, Reason: fmt.Sprintf(format, args...)}
}

func (p *uidParser) parse() (string, error) {
	hasAt, names, bad, badUTF8 := false, false, false, false
	for i := 0; i < len(p.s); {
		r, n := utf8.DecodeRuneInString(p.s[i:])
		p.work += n
		switch {
		case r == utf8.RuneError && n == 1:
			badUTF8 = true
		case isAtLike(r):
			hasAt, names = true, true
		case r == '<', r == '>':
			names = true
		case forbiddenRune(r):
			bad = true
		}
		i += n
	}
	switch {
	case !names:
		return "", nil
	case badUTF8:
		return p.fail("is not valid UTF-8")
	case bad:
		return p.fail("has a control, format or private-use character")
	}
	if err := p.cfws(); err != nil {
		return "", err
	}
	for p.i < len(p.s) && p.s[p.i] != '<' {
		p.work++
		switch c := p.s[p.i]; {
		case c == '"':
			w, err := p.quoted()
			if err != nil {
				return "", err
			}
			if p.i < len(p.s) && p.s[p.i] == '@' {
				return p.fail("has a quoted local part")
			}
			p.words = append(p.words, uidWord{text: w, quoted: true})
		case c == ')':
			return p.fail(`has an unbalanced ")"`)
		case c == '>':
			return p.fail(`has an unbalanced ">"`)
		default:
			p.words = append(p.words, uidWord{text: p.atom()})
		}
		if err := p.cfws(); err != nil {
			return "", err
		}
	}
	var addr string
	if p.i == len(p.s) {
		// No angle bracket: a bare address, with comments at most.
		if !hasAt {
			return "", nil // angle brackets only in quotes or comments
		}
		if len(p.words) != 1 || p.words[0].quoted || !containsAtLike(p.words[0].text) {
			return p.fail("is neither \"Name <address>\" nor a bare address")
		}
		addr = p.words[0].text
		p.words = nil
		if reason := p.addrSpec(addr); reason != "" {
			return p.fail("%s", reason)
		}
	} else {
		p.i++ // '<'
		end := strings.IndexByte(p.s[p.i:], '>')
		if end < 0 {
			p.work += len(p.s) - p.i
			return p.fail(`has an unbalanced "<"`)
		}
		p.work += end
		addr = p.s[p.i : p.i+end]
		p.i += end + 1
		if reason := p.addrSpec(addr); reason != "" {
			return p.fail("%s", reason)
		}
		if err := p.cfws(); err != nil {
			return "", err
		}
		if p.i < len(p.s) {
			p.work += len(p.s) - p.i
			if containsAtLike(p.s[p.i:]) {
				return p.fail(reasonTwoAddresses)
			}
			return p.fail("has text after its address")
		}
	}
	// The display name and comments may repeat the address, nothing more.
	if len(p.words) > 0 {
		if len(p.words) == 1 && containsAtLike(p.words[0].text) && SameAddress(p.words[0].text, addr) && p.addrSpec(p.words[0].text) == "" {
			p.words = nil
		}
		for _, w := range p.words {
			p.work += len(w.text)
			if containsAtLike(w.text) {
				return p.strayFail()
			}
			if strings.Contains(w.text, "=?") {
				return p.fail("has an encoded word (=?...?=) in its name")
			}
		}
	}
	for _, c := range p.comments {
		p.work += len(c)
		if containsAtLike(c) && !SameAddress(strings.TrimSpace(c), addr) {
			return p.strayFail()
		}
		if strings.Contains(c, "=?") {
			return p.fail("has an encoded word (=?...?=) in a comment")
		}
	}
	return addr, nil
}

// strayFail reports an "@" outside the address: a second address if the
// text around it looks like one.
func (p *uidParser) strayFail() (string, error) {
	if p.strayAddress() {
		return p.fail(reasonTwoAddresses)
	}
	return p.fail(reasonStrayAt)
}

// strayAddress reports whether a display-name word or a comment holds
// something shaped like an address (text on both sides of an "@").
func (p *uidParser) strayAddress() bool {
	texts := make([]string, 0, len(p.words)+len(p.comments))
	for _, w := range p.words {
		texts = append(texts, w.text)
	}
	texts = append(texts, p.comments...)
	for _, t := range texts {
		p.work += len(t)
		for _, f := range strings.FieldsFunc(t, func(r rune) bool { return unicode.IsSpace(r) || strings.ContainsRune("()<>,;:\"", r) }) {
			if i := indexAtLike(f); i > 0 && i < len(f)-1 {
				return true
			}
		}
	}
	return false
}

// cfws skips white space and comments, keeping the comments.
func (p *uidParser) cfws() error {
	for p.i < len(p.s) {
		p.work++
		switch p.s[p.i] {
		case ' ', '\t':
			p.i++
		case '(':
			start := p.i + 1
			depth := 0
			for {
				if p.i == len(p.s) {
					_, err := p.fail(`has an unbalanced "("`)
					return err
				}
				p.work++
				c := p.s[p.i]
				p.i++
				switch c {
				case '\\':
					if p.i == len(p.s) {
						_, err := p.fail(`has an unbalanced "("`)
						return err
					}
					p.i++
				case '(':
					depth++
				case ')':
					depth--
				}
				if depth == 0 {
					break
				}
			}
			p.comments = append(p.comments, p.s[start:p.i-1])
		default:
			return nil
		}
	}
	return nil
}

// quoted reads a quoted string at p.i and returns its content.
func (p *uidParser) quoted() (string, error) {
	var b strings.Builder
	p.i++
	for p.i < len(p.s) {
		p.work++
		c := p.s[p.i]
		p.i++
		switch c {
		case '"':
			return b.String(), nil
		case '\\':
			if p.i == len(p.s) {
				break
			}
			c = p.s[p.i]
			p.i++
		}
		b.WriteByte(c)
	}
	_, err := p.fail(`has an unbalanced '"'`)
	return "", err
}

// atom reads a run of characters up to white space, a comment, a quote
// or an angle bracket. The other RFC 5322 specials (, ; : [ ] \ and the
// "@" and "." judged later) stand in it: GnuPG writes user IDs such as
// "Doe, John <john@example.org>" without quotes, and they name one
// address all the same. A second address is caught by its "@".
func (p *uidParser) atom() string {
	start := p.i
	for p.i < len(p.s) {
		c := p.s[p.i]
		if c == ' ' || c == '\t' || strings.IndexByte(`()<>"`, c) >= 0 {
			break
		}
		p.work++
		p.i++
	}
	return p.s[start:p.i]
}

// addrSpec checks an address as it stands between the angle brackets (or
// alone) and says what is wrong with it, "" if nothing.
func (p *uidParser) addrSpec(a string) string {
	p.work += len(a)
	if a == "" {
		return "has an empty address"
	}
	at := strings.IndexByte(a, '@')
	switch {
	case strings.ContainsAny(a, "<>"):
		return "has nested angle brackets"
	case a[0] == '"':
		return "has a quoted local part"
	case at < 0:
		if containsAtLike(a) {
			return reasonStrayAt
		}
		return `has an address without "@"`
	case strings.Count(a, "@") > 1:
		return `has more than one "@" in its address`
	}
	local, domain := a[:at], a[at+1:]
	if local == "" || domain == "" {
		return "has an address without a local part or a domain"
	}
	if strings.HasPrefix(domain, "[") {
		return "has a domain literal"
	}
	for _, l := range strings.Split(local, ".") {
		if l == "" {
			return "has an address with an empty dot-separated part"
		}
		for _, r := range l {
			if !localRune(r) {
				return fmt.Sprintf("has %q in its address", r)
			}
		}
	}
	for _, l := range strings.Split(domain, ".") {
		if l == "" {
			return "has an address with an empty dot-separated part"
		}
		if l[0] == '-' || l[len(l)-1] == '-' {
			return "has a domain label that starts or ends with a hyphen"
		}
		for _, r := range l {
			if !domainRune(r) {
				return fmt.Sprintf("has %q in the domain of its address", r)
			}
		}
	}
	return ""
}

func localRune(r rune) bool {
	if r < utf8.RuneSelf {
		return 'a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || '0' <= r && r <= '9' ||
			strings.ContainsRune("!#$%&'*+-/=?^_`{|}~", r)
	}
	return unicode.In(r, unicode.L, unicode.M, unicode.N)
}

func domainRune(r rune) bool {
	if r < utf8.RuneSelf {
		return 'a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || '0' <= r && r <= '9' || r == '-'
	}
	return unicode.In(r, unicode.L, unicode.M, unicode.N)
}

// isAtLike reports "@" and the characters drawn like it.
func isAtLike(r rune) bool {
	return r == '@' || r == '\uFF20' || r == '\uFE6B'
}

func containsAtLike(s string) bool { return indexAtLike(s) >= 0 }

func indexAtLike(s string) int {
	return strings.IndexFunc(s, isAtLike)
}

// forbiddenRune reports characters that have no place in a user ID that
// names an address: controls other than tab, format characters other than
// the zero-width (non-)joiners, private-use characters and line or
// paragraph separators.
func forbiddenRune(r rune) bool {
	switch {
	case r == '\t', r == '\u200C', r == '\u200D':
		return false
	case r < 0x20, r == 0x7f:
		return true
	}
	return r >= 0x80 && unicode.In(r, unicode.Cc, unicode.Cf, unicode.Co, unicode.Zl, unicode.Zp)
}
