package upperhex

import (
	"crypto/rand"
	"encoding/hex"
	"strings"
	"testing"
)

// Encode is encoding/hex in upper case, for every length up to 100 and
// every byte value.
func TestEncode(t *testing.T) {
	if got := Encode([]byte{0x00, 0x09, 0x0a, 0x7f, 0x80, 0xab, 0xff}); got != "00090A7F80ABFF" {
		t.Fatalf("%s", got)
	}
	for n := range 100 {
		b := make([]byte, n)
		rand.Read(b)
		if got, want := Encode(b), strings.ToUpper(hex.EncodeToString(b)); got != want {
			t.Fatalf("%x: %s, want %s", b, got, want)
		}
	}
}

// A SHA-256 fingerprint costs one allocation, the string.
func TestEncodeAllocations(t *testing.T) {
	sum := make([]byte, 32)
	if n := testing.AllocsPerRun(100, func() { Encode(sum) }); n > 1 {
		t.Fatalf("%v allocations", n)
	}
}
