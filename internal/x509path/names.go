package x509path

import (
	"bytes"
	"encoding/asn1"
	"errors"
	"fmt"
	"sort"
	"strings"

	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"
)

// distinguishedName is a parsed Name in comparable form: one entry per RDN,
// each a sorted list of "type=value" keys, string values normalised per
// RFC 5280 §7.1 (case folded, internal whitespace collapsed, trimmed) for
// PrintableString and UTF8String, other types kept as their exact encoding.
type distinguishedName [][]string

var oidEmailAddress = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 1}

// parseName parses a DER Name (RDNSequence).
func parseName(raw []byte) (distinguishedName, error) {
	in := cryptobyte.String(raw)
	var seq cryptobyte.String
	if !in.ReadASN1(&seq, cbasn1.SEQUENCE) || !in.Empty() {
		return nil, errors.New("malformed name")
	}
	var dn distinguishedName
	for !seq.Empty() {
		var set cryptobyte.String
		if !seq.ReadASN1(&set, cbasn1.SET) {
			return nil, errors.New("malformed RDN")
		}
		var rdn []string
		for !set.Empty() {
			var atv cryptobyte.String
			var oid asn1.ObjectIdentifier
			var tag cbasn1.Tag
			var value cryptobyte.String
			if !set.ReadASN1(&atv, cbasn1.SEQUENCE) || !atv.ReadASN1ObjectIdentifier(&oid) ||
				!atv.ReadAnyASN1(&value, &tag) || !atv.Empty() {
				return nil, errors.New("malformed attribute in name")
			}
			rdn = append(rdn, oid.String()+"="+canonicalValue(tag, value))
		}
		if len(rdn) == 0 {
			return nil, errors.New("empty RDN")
		}
		sort.Strings(rdn)
		dn = append(dn, rdn)
	}
	return dn, nil
}

// nameAttributes returns the values of attribute oid in a DER Name, as
// strings (only string-typed values).
func nameAttributes(raw []byte, oid asn1.ObjectIdentifier) []string {
	in := cryptobyte.String(raw)
	var seq cryptobyte.String
	if !in.ReadASN1(&seq, cbasn1.SEQUENCE) {
		return nil
	}
	var out []string
	for !seq.Empty() {
		var set cryptobyte.String
		if !seq.ReadASN1(&set, cbasn1.SET) {
			return out
		}
		for !set.Empty() {
			var atv, value cryptobyte.String
			var got asn1.ObjectIdentifier
			var tag cbasn1.Tag
			if !set.ReadASN1(&atv, cbasn1.SEQUENCE) || !atv.ReadASN1ObjectIdentifier(&got) ||
				!atv.ReadAnyASN1(&value, &tag) {
				return out
			}
			if got.Equal(oid) {
				out = append(out, string(value))
			}
		}
	}
	return out
}

func canonicalValue(tag cbasn1.Tag, value []byte) string {
	switch tag {
	case cbasn1.PrintableString, cbasn1.UTF8String:
		return "s:" + strings.Join(strings.Fields(strings.ToLower(string(value))), " ")
	}
	return fmt.Sprintf("t%d:%x", tag, value)
}

func (n distinguishedName) equal(m distinguishedName) bool {
	return len(n) == len(m) && n.hasPrefix(m)
}

// hasPrefix reports whether the first RDNs of n are exactly m (the
// directoryName name-constraint subtree test).
func (n distinguishedName) hasPrefix(m distinguishedName) bool {
	if len(m) > len(n) {
		return false
	}
	for i := range m {
		if len(n[i]) != len(m[i]) {
			return false
		}
		for j := range m[i] {
			if n[i][j] != m[i][j] {
				return false
			}
		}
	}
	return true
}

// appendRDN returns n with one more RDN (for nameRelativeToCRLIssuer).
func (n distinguishedName) appendRDN(rdn []string) distinguishedName {
	out := make(distinguishedName, 0, len(n)+1)
	out = append(out, n...)
	return append(out, rdn)
}

// parseRDN parses a RelativeDistinguishedName given as the content of a SET.
func parseRDNContent(content []byte) ([]string, error) {
	// Reuse parseName on a synthetic SEQUENCE { SET { ... } }.
	var b cryptobyte.Builder
	b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
		b.AddASN1(cbasn1.SET, func(b *cryptobyte.Builder) { b.AddBytes(content) })
	})
	raw, err := b.Bytes()
	if err != nil {
		return nil, err
	}
	dn, err := parseName(raw)
	if err != nil || len(dn) != 1 {
		return nil, errors.New("malformed RDN")
	}
	return dn[0], nil
}

// General name kinds (context tags of GeneralName).
const (
	gnOther     = 0
	gnRFC822    = 1
	gnDNS       = 2
	gnX400      = 3
	gnDirectory = 4
	gnEDIParty  = 5
	gnURI       = 6
	gnIP        = 7
	gnRegID     = 8
)

// generalName is one GeneralName.
type generalName struct {
	kind  int
	text  string            // rfc822Name, dNSName, URI
	dn    distinguishedName // directoryName
	bytes []byte            // iPAddress and other kinds: raw content
}

func (g generalName) equal(h generalName) bool {
	if g.kind != h.kind {
		return false
	}
	switch g.kind {
	case gnDirectory:
		return g.dn.equal(h.dn)
	case gnRFC822, gnDNS:
		return strings.EqualFold(g.text, h.text)
	case gnURI:
		return g.text == h.text
	}
	return bytes.Equal(g.bytes, h.bytes)
}

// parseGeneralNames parses the content of a GeneralNames SEQUENCE.
func parseGeneralNames(content cryptobyte.String) ([]generalName, error) {
	var out []generalName
	for !content.Empty() {
		var value cryptobyte.String
		var tag cbasn1.Tag
		if !content.ReadAnyASN1(&value, &tag) {
			return nil, errors.New("malformed GeneralName")
		}
		if tag&0xc0 != 0x80 { // context-specific class
			return nil, errors.New("malformed GeneralName tag")
		}
		kind := int(tag & 0x1f)
		g := generalName{kind: kind, bytes: []byte(value)}
		switch kind {
		case gnRFC822, gnDNS, gnURI:
			g.text = string(value)
		case gnDirectory:
			dn, err := parseName(value)
			if err != nil {
				return nil, err
			}
			g.dn = dn
		}
		out = append(out, g)
	}
	return out, nil
}
