package dn

import (
	"crypto/x509/pkix"
	"encoding/asn1"
	"testing"
)

func parsed(t *testing.T, rdns pkix.RDNSequence) pkix.Name {
	t.Helper()
	// As a certificate's name arrives: DER, then FillFromRDNSequence.
	der, err := asn1.Marshal(rdns)
	if err != nil {
		t.Fatal(err)
	}
	var back pkix.RDNSequence
	if _, err := asn1.Unmarshal(der, &back); err != nil {
		t.Fatal(err)
	}
	var n pkix.Name
	n.FillFromRDNSequence(&back)
	return n
}

func atv(oid asn1.ObjectIdentifier, v any) pkix.RelativeDistinguishedNameSET {
	return pkix.RelativeDistinguishedNameSET{{Type: oid, Value: v}}
}

var (
	oidCN    = asn1.ObjectIdentifier{2, 5, 4, 3}
	oidO     = asn1.ObjectIdentifier{2, 5, 4, 10}
	oidC     = asn1.ObjectIdentifier{2, 5, 4, 6}
	oidEmail = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 1}
	oidDC    = asn1.ObjectIdentifier{0, 9, 2342, 19200300, 100, 1, 25}
	oidOther = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 99999, 1}
)

// Names of the attributes pkix knows read exactly as pkix.Name.String
// writes them, escaping included.
func TestSameAsPkix(t *testing.T) {
	for _, rdns := range []pkix.RDNSequence{
		{atv(oidC, "DE"), atv(oidO, "Example, Inc."), atv(oidCN, " Alice + Bob #1 ")},
		{atv(oidCN, `a"b\c<d>e;f`)},
		{atv(oidCN, "#x"), pkix.RelativeDistinguishedNameSET{{Type: oidO, Value: "O1"}, {Type: oidC, Value: "FR"}}},
		{atv(oidOther, "opaque")},
		{},
	} {
		n := parsed(t, rdns)
		if got, want := String(n), n.String(); got != want {
			t.Errorf("String = %q, pkix writes %q", got, want)
		}
	}
}

// The attributes of mail certificates that pkix writes as an OID and hex
// are named; an unknown one stays as pkix writes it.
func TestMailAttributes(t *testing.T) {
	n := parsed(t, pkix.RDNSequence{atv(oidDC, "org"), atv(oidDC, "example"), atv(oidCN, "Alice"), atv(oidEmail, "alice@example.org"), atv(oidOther, "x")})
	want := "CN=Alice,1.3.6.1.4.1.99999.1=#130178,emailAddress=alice@example.org,DC=example,DC=org" // pkix's order
	if got := String(n); got != want {
		t.Errorf("String = %q, want %q (pkix: %q)", got, want, n.String())
	}
	// A known type with a value that is not a string: OID and hex.
	n = pkix.Name{Names: []pkix.AttributeTypeAndValue{{Type: oidEmail, Value: 7}}}
	if got := String(n); got != "1.2.840.113549.1.9.1=#020107" {
		t.Errorf("non-string value: %q", got)
	}
}

// A name is one line that shows what it says: control and format
// characters and bytes that are not UTF-8 are RFC 4514 hex pairs (review
// finding: a title "x\x1b[2J...\n    subject CN=Alice Bank" cleared the
// terminal and forged a line in keys list).
func TestEscapesControls(t *testing.T) {
	oidTitle := asn1.ObjectIdentifier{2, 5, 4, 12}
	n := pkix.Name{Names: []pkix.AttributeTypeAndValue{
		{Type: oidTitle, Value: "x\x1b[2J\n    subject CN=Alice\u202e\x85\xff\ufffd"},
	}}
	got := String(n)
	want := `title=x\1B[2J\0A    subject CN=Alice\E2\80\AE\85\FF\EF\BF\BD`
	if got != want {
		t.Errorf("String = %q, want %q", got, want)
	}
}
