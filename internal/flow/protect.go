package flow

import (
	"bytes"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/mailseal/mailseal/core"
	"github.com/mailseal/mailseal/internal/stage"
	"github.com/mailseal/mailseal/mime"
)

// traceFields are outer header fields that belong to the transport, not to
// the message as the sender wrote it; they are kept in decrypted output and
// never compared with the protected header.
var traceFields = map[string]bool{
	"received": true, "return-path": true, "delivered-to": true, "x-original-to": true,
	"authentication-results": true, "dkim-signature": true, "arc-seal": true,
	"arc-message-signature": true, "arc-authentication-results": true, "mime-version": true,
	"x-spam-status": true, "x-spam-score": true, "x-spam-flag": true,
}

// headerProtection applies RFC 9788 to an opened message whose protected
// entity is e: its header fields replace the outer ones, outer fields that
// differ from what the sender left outside are reported, and senders are
// taken from the protected From and Sender. It returns nil senders when e
// has no Header Protection.
func headerProtection(rep *core.Report, outer mime.Header, e *mime.Entity) (*core.Senders, error) {
	hp := strings.ToLower(e.Params["hp"])
	if hp != mime.HPCipher && hp != mime.HPClear {
		return nil, nil
	}
	rep.HeaderProtection = hp
	protected := e.Header.NonContentFields()
	// expected: what should be outside, as fieldKey compares it, and the
	// names of those fields. Sets, so that comparing costs one look-up a
	// field (a header of a megabyte holds some 150,000 fields).
	expected, expectedNames := map[string]bool{}, map[string]bool{}
	expect := func(name, value string) {
		expected[fieldKey(name, value)] = true
		expectedNames[strings.ToLower(strings.TrimSpace(name))] = true
	}
	if hp == mime.HPCipher {
		for _, v := range protected.Values("HP-Outer") {
			name, value, _ := strings.Cut(v, ":")
			expect(name, value)
		}
	} else {
		for _, f := range protected {
			expect(f.Key, f.Value)
		}
	}
	seen := map[string]bool{}
	for _, f := range outer {
		name := strings.ToLower(f.Key)
		if traceFields[name] || strings.HasPrefix(name, "content-") || seen[name] || hp == mime.HPClear && name == "bcc" {
			continue // the protected copy of a signed message leaves Bcc out on purpose
		}
		if !expected[fieldKey(f.Key, f.Value)] {
			seen[name] = true
			rep.OuterDiffers = append(rep.OuterDiffers, f.Key)
			if shownOutside[name] {
				rep.Warnings = append(rep.Warnings, fmt.Sprintf("the outer %s is not what the sender wrote (the protected header has %s): a client that shows the outer header shows text the sender did not write",
					f.Key, protectedValue(protected, f.Key)))
			}
		}
	}
	// A field the sender left outside and that is gone is as misleading
	// as one changed (a removed Cc hides who else got the message). The
	// outside of a signed message (hp=clear) is the sender's only when
	// nobody wrapped it since: the envelope of an encryption around it is
	// the encryptor's, which need not repeat the fields.
	for _, name := range []string{"Subject", "To", "Cc", "Date"} {
		if (hp == mime.HPCipher || !rep.Encrypted) && len(outer.Values(name)) == 0 && expectedNames[strings.ToLower(name)] {
			rep.OuterDiffers = append(rep.OuterDiffers, name)
			rep.Warnings = append(rep.Warnings, fmt.Sprintf("the outer %s was removed in transit (the protected header has %s): a client that shows the outer header does not show what the sender wrote",
				name, protectedValue(protected, name)))
		}
	}
	s, err := Senders(protected)
	if err != nil {
		return nil, err
	}
	return &s, nil
}

// shownOutside are the outer fields, besides From, Sender and Reply-To
// (judged on their own: sender mismatch, headerWarnings), that a mail
// client shows a reader, so that one changed in transit is a warning and
// not only a name in Report.OuterDiffers.
var shownOutside = map[string]bool{"subject": true, "to": true, "cc": true, "date": true}

// protectedValue is the quoted value of the protected field key, or "none".
func protectedValue(h mime.Header, key string) string {
	if v := h.Values(key); len(v) > 0 {
		return strconv.Quote(core.Clip(mime.DecodeWords(strings.Join(v, ", ")), core.MaxQuote))
	}
	return "none"
}

// fieldKey is how a header field compares between the outer header and
// what the sender left outside, so that a change a relay or a list may
// make without changing what a reader sees is not reported: the name in
// lower case, then
//   - for a field of addresses (From, Sender, Reply-To, To, Cc, Bcc), its
//     mailboxes in order, each as its address (core.AddressKey: the domain's
//     case does not count) and its display name decoded, with white space
//     collapsed ("Bob<bob@example.org>", "\"Bob\" <bob@Example.org>" and
//     "=?utf-8?q?Bob?= <bob@example.org>" are one), or its value as written
//     if it holds a comment, a group or a route (writtenAddresses);
//   - for Subject, its text with encoded words decoded;
//   - for Date, the instant it names and its comment, where it can be read;
//   - otherwise its value;
//
// every text with runs of white space made one space. The name and the
// kind of key come first, each ended by a colon, which no field name
// holds: a key read one way never equals one read another (a Date of
// digits written out is not the instant they count).
func fieldKey(name, value string) string {
	name = strings.ToLower(strings.TrimSpace(name))
	value = strings.TrimSpace(value)
	switch name {
	case "from", "sender", "reply-to", "to", "cc", "bcc":
		// A field holding a comment, a group or a route is compared as
		// written (writtenAddresses): where a comment stands is the
		// parser's to say, not a second reading's (reviews: keying the
		// comments by position read some fields otherwise than the
		// parser), and a group's name, which its mailboxes share, is in
		// none of them. So is one with a mailbox that has no address.
		if writtenAddresses(value) {
			break
		}
		list := (mime.Header{{Key: name, Value: value}}).Mailboxes(name)
		var b strings.Builder
		for i, m := range list {
			if m.Address == "" {
				b.Reset()
				break
			}
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString(strconv.Quote(collapseSpace(m.Name)) + " <" + core.AddressKey(m.Address) + ">")
		}
		if b.Len() > 0 {
			return name + ":mailboxes:" + b.String()
		}
	case "subject":
		return name + ":text:" + collapseSpace(mime.DecodeWords(value))
	case "date":
		if t, comment, ok := dateInstant(value); ok {
			return name + ":at:" + strconv.FormatInt(t.UnixNano(), 10) + comment
		}
	}
	return name + ":written:" + collapseSpace(value)
}

// dateInstant reads a Date as RFC 5322 writes it, strictly: it must be
// exactly what Go writes back from the instant it reads (an optional day
// of the week that agrees with the date, the day with or without a zero,
// month, four-digit year, hours, minutes and optional seconds, no
// fraction), with a numeric zone within 14 hours, or GMT, UT or UTC, and
// after it at most one comment ("(CET)"), which it returns with a space
// before it ("" if there is none): the key keeps it, as a client that
// shows the Date as written shows it. Anything else
// is not read, and is compared as written: net/mail's lenient reading gave a
// zone name it did not know (PST, XYZT) no offset and took text after the
// zone or a wrong day of the week for nothing, so an outer Date a client
// shows hours or days away compared equal to the protected one (reviews).
func dateInstant(v string) (t time.Time, comment string, ok bool) {
	v = collapseSpace(v)
	if rest, ok := strings.CutSuffix(v, ")"); ok {
		i := strings.LastIndexByte(rest, '(')
		if i < 1 || strings.ContainsAny(rest[i+1:], "()\\") {
			return time.Time{}, "", false
		}
		v, comment = strings.TrimSpace(rest[:i]), " "+rest[i:]+")"
	}
	for _, zone := range []string{" GMT", " UTC", " UT"} {
		if rest, ok := strings.CutSuffix(v, zone); ok {
			v = rest + " +0000"
			break
		}
	}
	for _, layout := range []string{
		"Mon, 2 Jan 2006 15:04:05 -0700", "Mon, 02 Jan 2006 15:04:05 -0700", "Mon, 2 Jan 2006 15:04 -0700", "Mon, 02 Jan 2006 15:04 -0700",
		"2 Jan 2006 15:04:05 -0700", "02 Jan 2006 15:04:05 -0700", "2 Jan 2006 15:04 -0700", "02 Jan 2006 15:04 -0700",
	} {
		t, err := time.Parse(layout, v)
		if err != nil || t.Format(layout) != v {
			continue
		}
		if _, off := t.Zone(); off > 14*3600 || off < -14*3600 {
			return time.Time{}, "", false
		}
		return t, comment, true
	}
	return time.Time{}, "", false
}

// writtenAddresses reports whether an address field is compared as
// written rather than by mailbox: when it holds what the mailboxes leave
// out and a client may show: a comment ("Bob (fired) <bob@...>"), a group's
// name or an empty group ("Payment approved: Bob <bob@...>;", "Board:;"),
// a route ("<@evil.example:bob@...>"), or angle brackets that do not pair
// (reviews). None of these is in an ordinary To or Cc; a relay that
// rewrites a field holding one is reported.
func writtenAddresses(v string) bool {
	return strings.ContainsAny(v, "():;") || strings.Count(v, "<") != strings.Count(v, ">")
}

// collapseSpace is s with runs of white space made one space and none at
// either end. Only ASCII white space (what folding and relays write):
// other spaces (NBSP, U+1680, U+2028, U+3000) are drawn otherwise by
// clients, and count (a review).
func collapseSpace(s string) string {
	return strings.Join(strings.FieldsFunc(s, func(r rune) bool { return r == ' ' || r == '\t' || r == '\r' || r == '\n' }), " ")
}

// sameFrom reports whether the outer From and Sender name the same
// addresses as the protected ones.
func sameFrom(outer core.Senders, protected *core.Senders) bool {
	if len(outer.From) != len(protected.From) || (outer.Sender == "") != (protected.Sender == "") ||
		outer.Sender != "" && !core.SameAddress(outer.Sender, protected.Sender) {
		return false
	}
	for i := range outer.From {
		if !core.SameAddress(outer.From[i], protected.From[i]) {
			return false
		}
	}
	return true
}

// protectedOutput is the decrypted message as the sender wrote it: the
// outer trace fields, then e with its HP-Outer fields removed and the
// legacy display elements (in e and the parts under it marked
// hp-legacy-display="1") taken off again, with the parameters Protect
// added.
func protectedOutput(outer mime.Header, e *mime.Entity) (mime.Header, io.Reader, error) {
	var trace mime.Header
	for _, f := range outer {
		if traceFields[strings.ToLower(f.Key)] && !strings.EqualFold(f.Key, "MIME-Version") {
			trace = append(trace, f)
		}
	}
	body, stripped, err := mime.WithoutLegacyDisplay(e)
	if err != nil {
		return nil, nil, err
	}
	var head bytes.Buffer
	for _, f := range e.Header {
		if strings.EqualFold(f.Key, "HP-Outer") {
			continue
		}
		if strings.EqualFold(f.Key, "Content-Type") {
			// Take off the parameters mailseal's Protect added, so that a
			// message it encrypted comes back byte for byte.
			if v, ok := strings.CutSuffix(f.Value, mime.HPParams(e.Params["hp"], stripped)); ok {
				head.WriteString(f.Key + ": " + v + "\r\n")
				continue
			}
		}
		head.Write(f.Raw)
		if len(f.Raw) == 0 {
			head.WriteString(f.Key + ": " + f.Value + "\r\n")
		}
	}
	head.WriteString("\r\n")
	return trace, stage.Concat(bytes.NewReader(head.Bytes()), body), nil
}
