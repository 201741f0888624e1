// Package autocrypt implements Autocrypt Level 1 (https://autocrypt.org/level1.html):
// the Autocrypt and Autocrypt-Gossip header fields that carry a sender's
// OpenPGP certificate in its mail, the per-peer state a receiver keeps from
// them, and the recommendation whether to encrypt to a peer.
//
// # Headers
//
// Parse reads the value of one header field (addr, prefer-encrypt, keydata;
// an unknown attribute without a leading underscore makes the field
// invalid, one with an underscore is skipped; at most MaxFieldSize bytes).
// Header.Field writes one, folded, as a sender puts it in its mail; KeyData
// makes the minimal certificate it carries (the primary key, the user ID for
// the address with its self-signature, one encryption subkey with its
// binding). ReadMessage applies the receiving rules to a message's header:
// auto-replies, multipart/report and a From without exactly one address are
// ignored, the header's addr must be the From address, and a message with
// more than one valid header counts as having none. ReadGossip reads the
// Autocrypt-Gossip fields of the header of decrypted content, keeping those
// for an address of To, Cc or Reply-To.
//
// # Peer state
//
// Peer holds what Level 1 keeps per address (last_seen, autocrypt_timestamp,
// public_key, prefer_encrypt, gossip_timestamp, gossip_key); Peer.Update and
// Peer.UpdateGossip are the specification's update steps, dated by the
// message's effective date (its Date, or the time of receipt when the Date is
// missing or in the future). Gossip never replaces the key a peer sent
// itself: it is kept apart and used only when there is no such key. A Store
// keeps peers in a directory, one file each, updated under a lock.
//
// # Recommendation
//
// Peer.Recommend gives disable, discourage, available or encrypt for one
// recipient, and Aggregate combines them for a message, as Level 1 defines;
// the caller says whether a key is usable for encryption (not revoked or
// expired), since that is the keystore's judgement.
//
// This package decides nothing about trust: a key learned from a header is
// as good as the message it came in, which anyone could have sent. The
// keystore records that provenance; signatures by such a key are not
// believed on its account.
package autocrypt

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
)

// MaxFieldSize is the largest Autocrypt field accepted, "Autocrypt: " and
// folding included (10 KiB, as Level 1 says receivers should treat larger
// ones as invalid).
const MaxFieldSize = 10 << 10

// Field names.
const (
	FieldAutocrypt = "Autocrypt"
	FieldGossip    = "Autocrypt-Gossip"
)

// ErrInvalid is wrapped by every error for a field that is not a valid
// Level 1 header.
var ErrInvalid = errors.New("invalid Autocrypt header")

// A Header is one Autocrypt or Autocrypt-Gossip field.
type Header struct {
	// Addr is the address the key is for, lower-cased (Autocrypt's
	// canonical form).
	Addr string
	// PreferEncrypt is true for prefer-encrypt=mutual; any other value or
	// none is "nopreference".
	PreferEncrypt bool
	// KeyData is the binary OpenPGP certificate (transferable public key).
	KeyData []byte
}

// Parse reads the value of an Autocrypt or Autocrypt-Gossip field (what
// follows the colon, folded or not).
func Parse(value string) (Header, error) {
	var h Header
	if len(FieldGossip)+2+len(value) > MaxFieldSize {
		return h, fmt.Errorf("%w: %d bytes, more than %d", ErrInvalid, len(value), MaxFieldSize)
	}
	seen := map[string]bool{}
	haveKey := false
	for _, attr := range strings.Split(value, ";") {
		attr = strings.TrimSpace(attr)
		if attr == "" {
			continue
		}
		if haveKey {
			return h, fmt.Errorf("%w: keydata must be the last attribute", ErrInvalid)
		}
		name, val, ok := strings.Cut(attr, "=")
		name = strings.TrimSpace(name)
		if !ok || name == "" {
			return h, fmt.Errorf("%w: %q is not name=value", ErrInvalid, short(attr))
		}
		if seen[name] {
			return h, fmt.Errorf("%w: %s given twice", ErrInvalid, short(name))
		}
		seen[name] = true
		val = strings.TrimSpace(val)
		switch {
		case name == "addr":
			addr, err := canonicalAddr(val)
			if err != nil {
				return h, err
			}
			h.Addr = addr
		case name == "prefer-encrypt":
			h.PreferEncrypt = val == "mutual"
		case name == "keydata":
			data, err := decodeKeyData(val)
			if err != nil {
				return h, err
			}
			h.KeyData = data
			haveKey = true
		case strings.HasPrefix(name, "_"):
			// non-critical: skipped
		default:
			return h, fmt.Errorf("%w: unknown critical attribute %q", ErrInvalid, short(name))
		}
	}
	if h.Addr == "" {
		return h, fmt.Errorf("%w: no addr", ErrInvalid)
	}
	if !haveKey {
		return h, fmt.Errorf("%w: no keydata", ErrInvalid)
	}
	return h, nil
}

// canonicalAddr checks that v is one addr-spec (local@domain) and
// lower-cases it. An address in angle brackets at the end is taken out of
// them: sq 0.27 writes the whole user ID (addr=Juliet
// <juliet@example.org>, or addr=<juliet@example.org>) unless given
// --email. The address must still be the From address to count.
func canonicalAddr(v string) (string, error) {
	if strings.HasSuffix(v, ">") {
		if lt := strings.LastIndexByte(v, '<'); lt >= 0 {
			v = v[lt+1 : len(v)-1]
		}
	}
	at := strings.LastIndexByte(v, '@')
	if at <= 0 || at == len(v)-1 || strings.ContainsAny(v, " \t\r\n<>,\"()[]\\") || len(v) > 254 {
		return "", fmt.Errorf("%w: addr %q is not an address", ErrInvalid, short(v))
	}
	return strings.ToLower(v), nil
}

// decodeKeyData decodes base64 with white space (folding) anywhere.
func decodeKeyData(v string) ([]byte, error) {
	clean := strings.Map(func(r rune) rune {
		switch r {
		case ' ', '\t', '\r', '\n':
			return -1
		}
		return r
	}, v)
	data, err := base64.StdEncoding.DecodeString(clean)
	if err != nil {
		data, err = base64.RawStdEncoding.DecodeString(strings.TrimRight(clean, "="))
	}
	if err != nil {
		return nil, fmt.Errorf("%w: keydata is not base64: %v", ErrInvalid, err)
	}
	if len(data) == 0 {
		return nil, fmt.Errorf("%w: empty keydata", ErrInvalid)
	}
	return data, nil
}

func short(s string) string {
	if len(s) > 40 {
		return s[:40] + "..."
	}
	return s
}

// Field writes h as a header field named name (FieldAutocrypt or
// FieldGossip), folded into lines of at most 78 characters, ending in
// CRLF.
func (h Header) Field(name string) string {
	var b bytes.Buffer
	b.WriteString(name)
	b.WriteString(": addr=")
	b.WriteString(h.Addr)
	b.WriteString(";")
	if h.PreferEncrypt {
		b.WriteString(" prefer-encrypt=mutual;")
	}
	b.WriteString(" keydata=\r\n")
	enc := base64.StdEncoding.EncodeToString(h.KeyData)
	for len(enc) > 0 {
		n := min(len(enc), 76)
		b.WriteString(" ")
		b.WriteString(enc[:n])
		b.WriteString("\r\n")
		enc = enc[n:]
	}
	return b.String()
}
