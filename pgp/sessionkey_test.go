package pgp

import (
	"strings"
	"testing"

	"github.com/mailseal/mailseal/core"
)

func TestParseSessionKey(t *testing.T) {
	good := "9:" + strings.Repeat("0a", 32)
	sk, err := ParseSessionKey(" " + good + "\n")
	if err != nil {
		t.Fatal(err)
	}
	if sk.String() != strings.ToUpper(good) {
		t.Fatalf("round trip: %s", sk)
	}
	for _, bad := range []string{
		"", "9", "x:00", "9:zz", "7:" + strings.Repeat("00", 32), // AES-128 needs 16 bytes
		"99:" + strings.Repeat("00", 16), "1:" + strings.Repeat("00", 16), // IDEA is not supported
	} {
		if _, err := ParseSessionKey(bad); err == nil {
			t.Errorf("%q parsed", bad)
		} else {
			wantErr(t, err, core.ErrUsage)
		}
	}
}
