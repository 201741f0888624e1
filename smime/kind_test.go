package smime

import (
	"encoding/hex"
	"testing"
)

func TestPeekKind(t *testing.T) {
	for _, tc := range []struct {
		hex  string
		want Kind
	}{
		{"3080" + "06092a864886f70d010702" + "a080", KindSignedData},                // BER, indefinite (openssl -stream)
		{"308209fb" + "06092a864886f70d010703" + "a08209ec", KindEnvelopedData},     // DER, long length
		{"3081f0" + "060b2a864886f70d0109100117" + "a081e2", KindAuthEnvelopedData}, // DER
		{"3010" + "06092a864886f70d010701", KindUnknown},                            // id-data
		{"3185" + "06092a864886f70d010702", KindUnknown},                            // not a SEQUENCE
		{"3089ffffffffffffffff06092a864886f70d010702", KindUnknown},                 // absurd length
		{"30", KindUnknown},
		{"", KindUnknown},
	} {
		b, _ := hex.DecodeString(tc.hex)
		if got := PeekKind(b); got != tc.want {
			t.Errorf("PeekKind(%s) = %v, want %v", tc.hex, got, tc.want)
		}
	}
}
