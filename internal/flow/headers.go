package flow

import (
	"cmp"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/mailseal/mailseal/core"
	"github.com/mailseal/mailseal/mime"
)

// headerWarnings are the warnings about header fields of a signed message
// that could mislead its reader, whatever the verdict on the signature:
//   - a From or Sender whose text (display name, comments, decoded encoded
//     words) shows an address other than the field's own addresses, or
//     holds encoded words in an unknown charset, in the outer or the
//     protected header;
//   - with Header Protection (protected is not nil), a From or Sender
//     display name that differs between the outer and the protected header
//     (a client of signed-only mail shows the outer one), and an outer
//     Reply-To that is not the protected one;
//   - without, a Reply-To that is not the From address: the signature does
//     not cover it, and replies would go there.
func headerWarnings(outer, protected mime.Header) []string {
	var warns []string
	seen := map[string]bool{}
	add := func(w string) {
		if w != "" && !seen[w] {
			seen[w] = true
			warns = append(warns, w)
		}
	}
	var from []mime.Mailbox // the outer From
	for _, key := range []string{"From", "Sender"} {
		ob := outer.Mailboxes(key)
		for _, w := range shownAddresses(outer, key, ob) {
			add(w)
		}
		if key == "From" {
			from = ob
		}
		if protected == nil {
			continue
		}
		pb := protected.Mailboxes(key)
		for _, w := range shownAddresses(protected, key, pb) {
			add(w)
		}
		for _, w := range nameChanges(key, ob, pb) {
			add(w)
		}
	}
	outerRT, list, ok := replyTo(outer)
	switch {
	case outerRT == "":
	case protected != nil:
		if protRT, _, _ := replyTo(protected); outerRT != protRT {
			add(fmt.Sprintf("Reply-To %s is not the protected one (%s): replies would go to an address the sender did not write",
				core.Clip(outerRT, core.MaxQuote), core.Clip(cmp.Or(protRT, "none"), core.MaxQuote)))
		}
	default:
		if !ok || !foldSet(from).hasAll(list) {
			add(fmt.Sprintf("Reply-To %s is not the sender and not covered by the signature: replies would go there", core.Clip(outerRT, core.MaxQuote)))
		}
	}
	return warns
}

// replyTo is the Reply-To of h as a reader would compare it: its
// addresses in lower case, sorted, or, if a mailbox in it has no address
// (not ok), its text quoted; "" without.
func replyTo(h mime.Header) (text string, list []mime.Mailbox, ok bool) {
	raw := strings.Join(h.Values("Reply-To"), ", ")
	if strings.TrimSpace(raw) == "" {
		return "", nil, true
	}
	list = h.Mailboxes("Reply-To")
	for _, b := range list {
		if b.Address == "" {
			return strconv.Quote(collapseSpace(raw)), nil, false
		}
	}
	return strings.Join(slices.Sorted(maps.Keys(foldSet(list))), ", "), list, true
}

// shownAddresses warns about addresses in the text of h's key field
// (display names, comments, decoded encoded words) that are not among its
// mailboxes' own addresses (own), about characters in it that reorder
// what is shown, and about encoded words in it that it cannot check
// because their charset is unknown.
func shownAddresses(h mime.Header, key string, own []mime.Mailbox) []string {
	if len(own) == 0 {
		return nil
	}
	mine := foldSet(own)
	var shown, warns, unknown []string
	seenUnknown := map[string]bool{}
	reorders := false
	for _, v := range h.Values(key) {
		text := mime.DecodeWords(v)
		for _, cs := range mime.UnknownCharsets(v) {
			if !seenUnknown[cs] {
				seenUnknown[cs] = true
				unknown = append(unknown, cs)
			}
		}
		if strings.IndexFunc(text, bidiControl) >= 0 {
			reorders = true
		}
		for _, a := range shownAddressesIn(text) {
			if !mine[strings.ToLower(a)] {
				mine[strings.ToLower(a)] = true // each one once
				shown = append(shown, a)
			}
		}
	}
	if reorders {
		warns = append(warns, fmt.Sprintf("%s has characters that reorder the text shown (bidirectional controls): a client may show another address than the one it holds", key))
	}
	if len(unknown) > 0 {
		warns = append(warns, fmt.Sprintf("%s has encoded words in a charset mailseal cannot decode (%s), checked as written: a client that decodes them may show an address there",
			key, core.Clip(strings.Join(unknown, ", "), core.MaxQuote)))
	}
	if len(shown) == 0 {
		return warns
	}
	role := "sender"
	if key != "From" {
		role = "field's own address"
	}
	var addrs []string
	for _, b := range own {
		if b.Address != "" {
			addrs = append(addrs, b.Address)
		}
	}
	if len(addrs) == 0 {
		addrs = []string{"none"}
	}
	return append(warns, fmt.Sprintf("%s display name shows an address (%s) that is not the %s (%s)",
		key, core.Clip(strings.Join(shown, ", "), core.MaxQuote), role, core.Clip(strings.Join(addrs, ", "), core.MaxQuote)))
}

// nameChanges warns about display names of the key field that differ
// between the outer and the protected mailboxes, for those whose
// addresses agree (different addresses are a sender mismatch), among the
// first maxNameChanges.
// maxNameChanges bounds the mailboxes nameChanges compares: a From or
// Sender of more than one is a sender mismatch whatever the names, and
// each comparison costs the names' length, which for a group is its name
// for every mailbox of it (a review: alternating a group's long name with
// other names made that work the name's length times the mailboxes).
const maxNameChanges = 16

func nameChanges(key string, outer, protected []mime.Mailbox) []string {
	if len(outer) != len(protected) {
		return nil
	}
	var warns []string
	for i := range min(len(outer), maxNameChanges) {
		on, pn := collapseSpace(outer[i].Name), collapseSpace(protected[i].Name)
		if strings.EqualFold(outer[i].Address, protected[i].Address) && on != pn {
			// Compared whole, quoted clipped (a review: clipped first, names
			// alike in their first 200 bytes compared equal).
			warns = append(warns, fmt.Sprintf("%s display name differs: %q outside, %q in the protected header (a client may show either)",
				key, strings.ToValidUTF8(core.Clip(on, core.MaxQuote), "\uFFFD"), strings.ToValidUTF8(core.Clip(pn, core.MaxQuote), "\uFFFD")))
		}
	}
	return warns
}

// shownAddressesIn returns the addresses a reader may see in text (a
// display name, a comment): as written with look-alike characters made
// plain (shownText), and as a client shows it without comments and with
// the white space around '@' and '.' dropped, as the obsolete address
// syntax allows ("alice @ example . org", "alice(x)@example.org").
func shownAddressesIn(text string) []string {
	shown := shownText(text)
	out := addressesIn(shown)
	seen := make(map[string]bool, len(out)) // a name may show thousands
	for _, a := range out {
		seen[a] = true
	}
	for _, a := range addressesIn(compacted(shown)) {
		if !seen[a] {
			seen[a] = true
			out = append(out, a)
		}
	}
	return out
}

// compacted is s without parenthesized comments and without the white
// space next to '@' and '.'. Linear.
func compacted(s string) string {
	var b strings.Builder
	depth := 0
	pendingSpace := false
	last := byte(0)
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '(':
			depth++
			continue
		case c == ')' && depth > 0:
			depth--
			continue
		case depth > 0:
			continue
		case c == ' ' || c == '\t':
			pendingSpace = true
			continue
		}
		if pendingSpace && last != '@' && last != '.' && c != '@' && c != '.' && last != 0 {
			b.WriteByte(' ')
		}
		pendingSpace = false
		b.WriteByte(c)
		last = c
	}
	return b.String()
}

// addressesIn returns what looks like an email address in text to a
// reader: address characters (ASCII letters, digits and punctuation of
// local parts, and letters, marks and digits beyond ASCII, so that a
// domain of look-alike letters counts), '@', and a domain with a dot.
// Linear: the runs to either side of one '@' end at the next.
func addressesIn(text string) []string {
	var out []string
	for i := 0; i < len(text); i++ {
		if text[i] != '@' {
			continue
		}
		l := i
		for l > 0 {
			r, n := utf8.DecodeLastRuneInString(text[:l])
			if !isLocalRune(r) {
				break
			}
			l -= n
		}
		r := i + 1
		for r < len(text) {
			c, n := utf8.DecodeRuneInString(text[r:])
			if !isDomainRune(c) {
				break
			}
			r += n
		}
		local, domain := strings.Trim(text[l:i], "."), strings.Trim(text[i+1:r], ".-")
		if local != "" && strings.Contains(domain, ".") {
			out = append(out, local+"@"+domain)
		}
	}
	return out
}

func isLocalRune(r rune) bool {
	return isDomainRune(r) || r == '_' || strings.ContainsRune("!#$%&'*+/=?^`{|}~", r)
}

func isDomainRune(r rune) bool {
	if r >= utf8.RuneSelf {
		return r != utf8.RuneError && unicode.In(r, unicode.L, unicode.M, unicode.N)
	}
	return 'a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || '0' <= r && r <= '9' || r == '.' || r == '-'
}

// shownText is text as a reader sees it, for addressesIn: the fullwidth
// forms of ASCII (U+FF01-U+FF5E) and the small commercial at (U+FE6B)
// mapped to ASCII, as Unicode's compatibility mapping does, full stops
// drawn like a dot mapped to '.', and characters drawn as nothing (format
// characters such as the zero-width space, the soft hyphen and the
// direction marks; the combining grapheme joiner; the Hangul fillers)
// removed: "bob＠example．org", "bob\u200b@example.org" and
// "bob@example\u3002org" all read as bob@example.org.
func shownText(s string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r >= 0xFF01 && r <= 0xFF5E:
			return r - 0xFEE0
		case r == 0xFE6B:
			return '@'
		case r == 0x3002, r == 0xFF61, r == 0xFE52, r == 0x2024:
			return '.'
		case r == 0x034F, r == 0x115F, r == 0x1160, r == 0x3164, r == 0xFFA0, unicode.Is(unicode.Cf, r):
			return -1
		}
		return r
	}, s)
}

// bidiControl reports the characters that reorder the text after them
// (embeddings, overrides, isolates; not the marks that names in
// right-to-left scripts hold): "\u202Egro.elpmaxe@bob" is shown as
// "bob@example.org".
func bidiControl(r rune) bool {
	return r >= 0x202A && r <= 0x202E || r >= 0x2066 && r <= 0x2069
}

// addressSet holds addresses in lower case: a reader sees no difference.
type addressSet map[string]bool

func foldSet(list []mime.Mailbox) addressSet {
	set := addressSet{}
	for _, b := range list {
		set[strings.ToLower(b.Address)] = true
	}
	return set
}

func (s addressSet) hasAll(list []mime.Mailbox) bool {
	for _, b := range list {
		if !s[strings.ToLower(b.Address)] {
			return false
		}
	}
	return true
}

// signerWarnings are the warnings about who a good signature seems to come
// from, as a reader sees the sender (the signature-spoofing attacks on
// people rather than on the crypto: "The Manager" <eve@corp>):
//   - a From display name that is none of the names the signer's key or
//     certificate gives (the signature binds the address, not the name);
//   - with Header Protection, a protected Reply-To in another domain than
//     the From address (without, headerWarnings warns about any Reply-To
//     that is not the sender).
//
// The header is the protected one where there is one, else the outer.
func signerWarnings(rep *core.Report, outer, protected mime.Header) []string {
	if rep.Status != core.StatusGood {
		return nil
	}
	h := outer
	if protected != nil {
		h = protected
	}
	from := h.Mailboxes("From")
	if len(from) != 1 || from[0].Address == "" {
		return nil
	}
	var warns []string
	// A display name that shows an address is warned about already
	// (shownAddresses).
	if name := collapseSpace(from[0].Name); name != "" && len(shownAddressesIn(name)) == 0 {
		var names []string
		known := false
		for _, s := range rep.Signers {
			for _, n := range s.Names {
				names = append(names, n)
				known = known || strings.EqualFold(collapseSpace(n), name)
			}
		}
		if !known {
			given := "it gives none"
			if len(names) > 0 {
				given = "it gives " + strings.Join(names, ", ")
			}
			warns = append(warns, fmt.Sprintf("From display name %q is not a name on the signer's key or certificate (%s): the signature binds %s, not the name",
				core.Clip(name, core.MaxQuote), core.Clip(given, core.MaxQuote), core.Clip(from[0].Address, core.MaxQuote)))
		}
	}
	if protected != nil {
		_, fromDomain, _ := strings.Cut(from[0].Address, "@")
		var elsewhere []string // one warning for them all: a Reply-To may name thousands
		seen := map[string]bool{}
		for _, mb := range protected.Mailboxes("Reply-To") {
			if _, d, _ := strings.Cut(mb.Address, "@"); mb.Address != "" && !strings.EqualFold(d, fromDomain) && !seen[mb.Address] {
				seen[mb.Address] = true
				elsewhere = append(elsewhere, mb.Address)
			}
		}
		if len(elsewhere) > 0 {
			warns = append(warns, fmt.Sprintf("Reply-To %s is in another domain than the signer %s: replies would go there",
				core.Clip(strings.Join(elsewhere, ", "), core.MaxQuote), core.Clip(from[0].Address, core.MaxQuote)))
		}
	}
	return warns
}
