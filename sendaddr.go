package mailseal

import (
	"bytes"
	"fmt"
	"io"
	"net/mail"
	"strings"

	"github.com/mailseal/mailseal/mime"
)

// System mail — what cron, at, mdadm or apt-listchanges send — names
// people by their local part only: "From: root (Cron Daemon)", "To: root".
// SendOptions.Domain and SystemFrom turn those into addresses before a
// send is planned; this file finds and rewrites them.

// addressFields are the fields whose bare local parts Domain qualifies.
var addressFields = []string{"From", "To", "Cc", "Bcc"}

// addrElem is one element of an address list as written: the text, and
// for a mailbox whose address has no domain, where that local part is.
type addrElem struct {
	text string
	// local is the bare local part ("root"); start and end are its place
	// in text. local is "" when the element has a domain, or is a group,
	// or a name without an address.
	local      string
	start, end int
	// name is the display name, or else the text of the comments around
	// a bare address ("Cron Daemon"), for a new From.
	name string
}

// outside calls f with the index of each byte of v outside quoted strings
// and comments, in order, until f returns false. It reads v once.
func outside(v string, f func(i int) bool) {
	depth, quoted, escaped := 0, false, false
	for i := 0; i < len(v); i++ {
		c := v[i]
		switch {
		case escaped:
			escaped = false
		case c == '\\' && (quoted || depth > 0):
			escaped = true
		case quoted:
			quoted = c != '"'
		case c == '"' && depth == 0:
			quoted = true
		case c == '(':
			depth++
		case c == ')' && depth > 0:
			depth--
		case depth > 0:
		default:
			if !f(i) {
				return
			}
		}
	}
}

// splitAddressList splits a field value at the commas outside quoted
// strings, comments and angle brackets. It reads v once.
func splitAddressList(v string) []string {
	var out []string
	angle, last := false, 0
	outside(v, func(i int) bool {
		switch v[i] {
		case '<':
			angle = true
		case '>':
			angle = false
		case ',':
			if !angle {
				out = append(out, v[last:i])
				last = i + 1
			}
		}
		return true
	})
	return append(out, v[last:])
}

// parseAddrElem finds the bare local part of one address-list element,
// if it has one: an angle address without '@' ("Name <root>"), or an
// address written alone without '@', comments allowed around it
// ("root (Cron Daemon)"). Anything else — an address with a domain, a
// group, a display name of several words without an address — has none.
func parseAddrElem(text string) addrElem {
	e := addrElem{text: text}
	if i := angleStart(text); i >= 0 {
		j := strings.IndexByte(text[i:], '>')
		if j < 0 {
			return e
		}
		inner := strings.TrimSpace(text[i+1 : i+j])
		if inner == "" || strings.Contains(inner, "@") || !isDotAtom(inner) {
			return e
		}
		e.local = inner
		e.start = i + 1 + strings.Index(text[i+1:i+j], inner)
		e.end = e.start + len(inner)
		e.name = strings.Trim(strings.TrimSpace(text[:i]), `"`)
		return e
	}
	// Outside comments, the element must be one dot-atom.
	var core strings.Builder
	var comments []string
	depth, start := 0, -1
	coreStart := -1
	for i := 0; i < len(text); i++ {
		c := text[i]
		switch {
		case c == '(':
			if depth == 0 {
				start = i + 1
			}
			depth++
		case c == ')' && depth > 0:
			depth--
			if depth == 0 {
				comments = append(comments, strings.TrimSpace(text[start:i]))
			}
		case depth > 0:
		case c == ' ' || c == '\t' || c == '\r' || c == '\n':
		default:
			if coreStart < 0 {
				coreStart = i
			} else if core.Len() > 0 && coreStart+core.Len() != i {
				return e // two words: a name, not an address
			}
			core.WriteByte(c)
		}
	}
	local := core.String()
	if local == "" || !isDotAtom(local) {
		return e
	}
	e.local, e.start, e.end = local, coreStart, coreStart+len(local)
	e.name = strings.Join(comments, " ")
	return e
}

// angleStart is the index of the '<' that opens text's angle address: the
// first one outside quoted strings and comments (a display name or a
// comment may hold "<root>"), or -1.
func angleStart(text string) int {
	at := -1
	outside(text, func(i int) bool {
		if text[i] == '<' {
			at = i
		}
		return at < 0
	})
	return at
}

// isDotAtom reports whether s is an RFC 5322 dot-atom of ASCII atext.
func isDotAtom(s string) bool {
	if s == "" || s[0] == '.' || s[len(s)-1] == '.' || strings.Contains(s, "..") {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '.' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("!#$%&'*+-/=?^_`{|}~", c) >= 0 {
			continue
		}
		return false
	}
	return true
}

// bareLocalParts returns the bare local parts in a field value.
func bareLocalParts(v string) []addrElem {
	var out []addrElem
	for _, t := range splitAddressList(v) {
		if e := parseAddrElem(t); e.local != "" {
			out = append(out, e)
		}
	}
	return out
}

// qualifyList returns v with each bare local part given @domain.
func qualifyList(v, domain string) string {
	parts := splitAddressList(v)
	for i, t := range parts {
		if e := parseAddrElem(t); e.local != "" {
			parts[i] = t[:e.end] + "@" + domain + t[e.end:]
		}
	}
	return strings.Join(parts, ",")
}

// qualify gives a bare envelope address @domain; an address with a
// domain, or the null sender, stays.
func qualify(addr, domain string) string {
	if addr == "" || domain == "" || strings.Contains(addr, "@") {
		return addr
	}
	return addr + "@" + domain
}

// systemMail rewrites what opts asks for in m's header: a From that is a
// bare local part (or missing) becomes SystemFrom, with its name; bare
// local parts in From, To, Cc and Bcc get @Domain. It returns nil when
// nothing changes, else the new message (the caller closes it). Without
// those settings a bare local part is a usage error naming them.
func systemMail(m *mime.Message, opts SendOptions) (fixed *mime.Message, systemFrom bool, err error) {
	var head bytes.Buffer
	changed := false
	fromSeen := false
	for _, f := range m.Root.Header.NonContentFields() {
		key := ""
		for _, k := range addressFields {
			if strings.EqualFold(f.Key, k) {
				key = k
			}
		}
		if key == "" {
			head.Write(f.Raw)
			continue
		}
		value := f.Value
		bare := bareLocalParts(value)
		if key == "From" {
			fromSeen = true
			if opts.SystemFrom != "" && len(bare) == 1 && len(splitAddressList(value)) == 1 {
				name := bare[0].name
				if name == "" {
					name = bare[0].local
				}
				value = (&mail.Address{Name: name, Address: opts.SystemFrom}).String()
				bare = nil
				changed = true
				systemFrom = true
			}
			if len(bare) > 0 {
				systemFrom = true
			}
		}
		if len(bare) > 0 {
			if opts.Domain == "" {
				return nil, false, fmt.Errorf("%s %q has no domain: set domain (the mail domain to add to bare names such as root) or, for the sender, from in the config, or give --domain or --from: %w",
					key, strings.TrimSpace(bare[0].text), ErrUsage)
			}
			value = qualifyList(value, opts.Domain)
			changed = true
		}
		if value == f.Value {
			head.Write(f.Raw)
			continue
		}
		if !sameButQualified(f.Key, f.Value, value) {
			// The scanner above and the message parser (what every
			// reader and the verdict go by) read the field differently:
			// rewriting it could add a recipient or replace a sender.
			return nil, false, fmt.Errorf("%s %q reads two ways (write each address as a bare name, name@domain or Name <name@domain>): %w", key, strings.TrimSpace(f.Value), ErrUsage)
		}
		fmt.Fprintf(&head, "%s: %s\r\n", f.Key, strings.TrimSpace(value))
	}
	if !fromSeen && opts.SystemFrom != "" {
		fmt.Fprintf(&head, "From: %s\r\n", opts.SystemFrom)
		changed = true
		systemFrom = true
	}
	if !changed {
		return nil, false, nil
	}
	fixed, err = mime.Parse(io.MultiReader(&head, m.Content(false)), mime.DefaultLimits(), 8<<20)
	return fixed, systemFrom, err
}

// sameButQualified reports whether the rewrite of field key from old to
// updated, both read by the message parser, keeps every mailbox that has
// an address as it was and gives an address to those that had none: the
// rewrite changed only the bare names the parser sees.
func sameButQualified(key, old, updated string) bool {
	before := mime.Header{{Key: key, Value: old}}.Mailboxes(key)
	after := mime.Header{{Key: key, Value: updated}}.Mailboxes(key)
	if len(before) != len(after) {
		return false
	}
	for i := range before {
		switch {
		case after[i].Address == "":
			return false
		case before[i].Address != "" && !strings.EqualFold(before[i].Address, after[i].Address):
			return false
		}
	}
	return true
}
