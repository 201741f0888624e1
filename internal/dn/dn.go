// Package dn writes X.509 distinguished names for people: as
// pkix.Name.String does (RFC 4514 escaping, in pkix's order), but
// with the attributes mail certificates carry named too — emailAddress,
// UID, DC, givenName, surname, title, organizationIdentifier and others —
// where pkix.Name.String shows an OID and the hex of its DER
// ("1.2.840.113549.1.9.1=#16...") for any it does not know. Every place
// that shows a subject or an issuer uses String, so that a name reads the
// same in keys list, verify and every error.
package dn

import (
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/hex"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// names are the short names of attribute types (RFC 4514 section 3, RFC
// 4519, PKCS #9 for emailAddress as OpenSSL writes it).
var names = map[string]string{
	"2.5.4.3":                    "CN",
	"2.5.4.4":                    "SN",
	"2.5.4.5":                    "SERIALNUMBER",
	"2.5.4.6":                    "C",
	"2.5.4.7":                    "L",
	"2.5.4.8":                    "ST",
	"2.5.4.9":                    "STREET",
	"2.5.4.10":                   "O",
	"2.5.4.11":                   "OU",
	"2.5.4.12":                   "title",
	"2.5.4.13":                   "description",
	"2.5.4.17":                   "POSTALCODE",
	"2.5.4.42":                   "GN",
	"2.5.4.43":                   "initials",
	"2.5.4.44":                   "generationQualifier",
	"2.5.4.46":                   "dnQualifier",
	"2.5.4.65":                   "pseudonym",
	"2.5.4.97":                   "organizationIdentifier",
	"0.9.2342.19200300.100.1.1":  "UID",
	"0.9.2342.19200300.100.1.25": "DC",
	"1.2.840.113549.1.9.1":       "emailAddress",
}

// String writes n as pkix.Name.String does, naming the attribute
// types it knows; an unknown type, or a value that is not a string, is
// written as its OID and the hex of its DER, as pkix.Name.String does.
func String(n pkix.Name) string {
	var rdns pkix.RDNSequence
	if n.ExtraNames == nil {
		// As pkix.Name.String: the parsed attributes that ToRDNSequence
		// leaves out, first (so that they are written last).
		for _, atv := range n.Names {
			if t := atv.Type; len(t) == 4 && t[0] == 2 && t[1] == 5 && t[2] == 4 {
				switch t[3] {
				case 3, 5, 6, 7, 8, 9, 10, 11, 17:
					continue
				}
			}
			rdns = append(rdns, pkix.RelativeDistinguishedNameSET{atv})
		}
	}
	rdns = append(rdns, n.ToRDNSequence()...)
	var b strings.Builder
	for i := len(rdns) - 1; i >= 0; i-- {
		if i < len(rdns)-1 {
			b.WriteByte(',')
		}
		for j, atv := range rdns[i] {
			if j > 0 {
				b.WriteByte('+')
			}
			writeAttribute(&b, atv)
		}
	}
	return b.String()
}

func writeAttribute(b *strings.Builder, atv pkix.AttributeTypeAndValue) {
	oid := atv.Type.String()
	name, known := names[oid]
	value, isString := atv.Value.(string)
	if !known || !isString {
		if der, err := asn1.Marshal(atv.Value); err == nil {
			b.WriteString(oid + "=#" + hex.EncodeToString(der))
			return
		}
		if !known {
			name = oid
		}
		value = fmt.Sprint(atv.Value)
	}
	b.WriteString(name + "=")
	for k, c := range value {
		switch {
		case unicode.IsControl(c) || unicode.Is(unicode.Cf, c) || c == utf8.RuneError:
			// Control and format characters (a line end, an escape
			// sequence, a bidi override) and bytes that are not UTF-8, as
			// RFC 4514's hex pairs, so that a name is one line that shows
			// what it says wherever it is printed.
			_, size := utf8.DecodeRuneInString(value[k:])
			for i := 0; i < size; i++ {
				fmt.Fprintf(b, "\\%02X", value[k+i])
			}
			continue
		case strings.ContainsRune(`,+"\<>;`, c),
			c == ' ' && (k == 0 || k == len(value)-1),
			c == '#' && k == 0:
			b.WriteByte('\\')
		}
		b.WriteRune(c)
	}
}
