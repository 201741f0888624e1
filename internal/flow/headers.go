package flow

import (
	"cmp"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/mailseal/mailseal/mime"
)

// headerWarnings are the warnings about header fields of a signed message
// that could mislead its reader, whatever the verdict on the signature:
//   - a From or Sender whose text (display name, comments, decoded encoded
//     words) shows an address other than the field's own addresses, in the
//     outer or the protected header;
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
		ob, oerr := outer.Mailboxes(key)
		add(shownAddresses(outer, key, ob, oerr))
		if key == "From" {
			from = ob
		}
		if protected == nil {
			continue
		}
		pb, perr := protected.Mailboxes(key)
		add(shownAddresses(protected, key, pb, perr))
		if oerr == nil && perr == nil {
			for _, w := range nameChanges(key, ob, pb) {
				add(w)
			}
		}
	}
	outerRT, list, err := replyTo(outer)
	switch {
	case outerRT == "":
	case protected != nil:
		if protRT, _, _ := replyTo(protected); outerRT != protRT {
			add(fmt.Sprintf("Reply-To %s is not the protected one (%s): replies would go to an address the sender did not write",
				outerRT, cmp.Or(protRT, "none")))
		}
	default:
		if err != nil || !foldSet(from).hasAll(list) {
			add(fmt.Sprintf("Reply-To %s is not the sender and not covered by the signature: replies would go there", outerRT))
		}
	}
	return warns
}

// replyTo is the Reply-To of h as a reader would compare it: its
// addresses in lower case, sorted, or, if they do not parse (err), its
// text quoted; "" without.
func replyTo(h mime.Header) (text string, list []mime.Mailbox, err error) {
	raw := strings.Join(h.Values("Reply-To"), ", ")
	if strings.TrimSpace(raw) == "" {
		return "", nil, nil
	}
	if list, err = h.Mailboxes("Reply-To"); err != nil {
		return strconv.Quote(strings.Join(strings.Fields(raw), " ")), nil, err
	}
	return strings.Join(slices.Sorted(maps.Keys(foldSet(list))), ", "), list, nil
}

// shownAddresses warns about addresses in the text of h's key field
// (display names, comments, decoded encoded words) that are not among its
// mailboxes' own addresses (own, err: the field parsed).
func shownAddresses(h mime.Header, key string, own []mime.Mailbox, err error) string {
	if err != nil || len(own) == 0 {
		return ""
	}
	mine := foldSet(own)
	var shown []string
	for _, v := range h.Values(key) {
		for _, a := range addressesIn(foldWidth(mime.DecodeWords(v))) {
			if !mine[strings.ToLower(a)] {
				mine[strings.ToLower(a)] = true // each one once
				shown = append(shown, a)
			}
		}
	}
	if len(shown) == 0 {
		return ""
	}
	role := "sender"
	if key != "From" {
		role = "field's own address"
	}
	addrs := make([]string, len(own))
	for i, b := range own {
		addrs[i] = b.Address
	}
	return fmt.Sprintf("%s display name shows an address (%s) that is not the %s (%s)",
		key, strings.Join(shown, ", "), role, strings.Join(addrs, ", "))
}

// nameChanges warns about display names of the key field that differ
// between the outer and the protected mailboxes, for those whose
// addresses agree (different addresses are a sender mismatch).
func nameChanges(key string, outer, protected []mime.Mailbox) []string {
	if len(outer) != len(protected) {
		return nil
	}
	var warns []string
	for i := range outer {
		on, pn := strings.Join(strings.Fields(outer[i].Name), " "), strings.Join(strings.Fields(protected[i].Name), " ")
		if strings.EqualFold(outer[i].Address, protected[i].Address) && on != pn {
			warns = append(warns, fmt.Sprintf("%s display name differs: %q outside, %q in the protected header (a client may show either)",
				key, strings.ToValidUTF8(on, "\uFFFD"), strings.ToValidUTF8(pn, "\uFFFD")))
		}
	}
	return warns
}

// addressesIn returns what looks like an email address in text to a
// reader: address characters, '@', and a domain with a dot. Linear: the
// runs to either side of one '@' end at the next.
func addressesIn(text string) []string {
	var out []string
	for i := 0; i < len(text); i++ {
		if text[i] != '@' {
			continue
		}
		l := i
		for l > 0 && isLocalChar(text[l-1]) {
			l--
		}
		r := i + 1
		for r < len(text) && isDomainChar(text[r]) {
			r++
		}
		local, domain := strings.Trim(text[l:i], "."), strings.Trim(text[i+1:r], ".-")
		if local != "" && strings.Contains(domain, ".") {
			out = append(out, local+"@"+domain)
		}
	}
	return out
}

func isLocalChar(c byte) bool {
	return isDomainChar(c) || c == '_' || strings.IndexByte("!#$%&'*+/=?^`{|}~", c) >= 0
}

func isDomainChar(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '.' || c == '-'
}

// foldWidth maps the fullwidth forms of ASCII (U+FF01-U+FF5E) and the
// small commercial at (U+FE6B) to ASCII, as Unicode's compatibility
// mapping does: "bob＠example．org" reads as an address too.
func foldWidth(s string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r >= 0xFF01 && r <= 0xFF5E:
			return r - 0xFEE0
		case r == 0xFE6B:
			return '@'
		}
		return r
	}, s)
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
