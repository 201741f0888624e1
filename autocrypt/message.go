package autocrypt

import (
	"net/mail"
	"strings"
	"time"

	"github.com/mailseal/mailseal/mime"
)

// maxGossip bounds the Autocrypt-Gossip fields read from one message (a
// header has room for few; Level 1 sends one per recipient).
const maxGossip = 100

// An Incoming is what a received message tells Autocrypt about its
// sender.
type Incoming struct {
	// From is the sender's address, lower-cased.
	From string
	// Date is the message's effective date: its Date, or the time of
	// receipt when the Date is missing, unreadable or later.
	Date time.Time
	// Header is the message's one valid Autocrypt header; nil if it has
	// none, or more than one.
	Header *Header
}

// ReadMessage reads what the root of a received message says for
// Autocrypt. ok is false for a message to be ignored: an auto-reply
// (Auto-Submitted: auto-replied), a multipart/report (delivery and
// disposition notifications), or a From field without exactly one
// address. received is the time of receipt.
func ReadMessage(root *mime.Entity, received time.Time) (in Incoming, ok bool) {
	h := root.Header
	if strings.HasPrefix(strings.ToLower(strings.TrimSpace(h.Get("Auto-Submitted"))), "auto-replied") ||
		root.MediaType == "multipart/report" {
		return in, false
	}
	from := h.Mailboxes("From")
	if len(from) != 1 || from[0].Address == "" {
		return in, false
	}
	in.From = strings.ToLower(from[0].Address)
	in.Date = EffectiveDate(h, received)
	var valid []Header
	for _, v := range h.Values(FieldAutocrypt) {
		hdr, err := Parse(v)
		if err != nil || hdr.Addr != in.From {
			continue // invalid: as if absent
		}
		valid = append(valid, hdr)
		if len(valid) > 1 {
			return in, true // more than one valid header: none counts
		}
	}
	if len(valid) == 1 {
		in.Header = &valid[0]
	}
	return in, true
}

// EffectiveDate is the Date of a message, or received when the Date is
// missing, unreadable or later than received.
func EffectiveDate(h mime.Header, received time.Time) time.Time {
	d, err := mail.ParseDate(strings.TrimSpace(h.Get("Date")))
	if err != nil || d.After(received) {
		return received.UTC()
	}
	return d.UTC()
}

// ReadGossip reads the Autocrypt-Gossip fields of payload, the header of
// a message's decrypted content, keeping the valid ones whose addr is an
// address of the To, Cc or Reply-To fields of that header. Gossip outside
// encrypted content is not to be read: the caller passes decrypted
// content only.
func ReadGossip(payload mime.Header) []Header {
	to := map[string]bool{}
	for _, f := range []string{"To", "Cc", "Reply-To"} {
		for _, m := range payload.Mailboxes(f) {
			if m.Address != "" {
				to[strings.ToLower(m.Address)] = true
			}
		}
	}
	var out []Header
	for i, v := range payload.Values(FieldGossip) {
		if i == maxGossip {
			break
		}
		hdr, err := Parse(v)
		if err != nil || !to[hdr.Addr] {
			continue
		}
		out = append(out, hdr)
	}
	return out
}
