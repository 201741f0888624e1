package main

import (
	"bytes"
	"strings"
	"testing"

	"github.com/ProtonMail/go-crypto/openpgp/packet"
	openpgp "github.com/ProtonMail/go-crypto/openpgp/v2"
)

// Names that come with keys (user IDs, certificate names) reach the
// terminal as one line each, escaped: a user ID with an escape sequence
// and a line end cleared the screen and forged a line under keys import
// (review finding). keys list quoted only user IDs that bind no address.
func TestKeyNamesOneLine(t *testing.T) {
	home := t.TempDir()
	e, err := openpgp.NewEntity("Bob\x1b[2J", "", "bob@example.org", &packet.Config{Algorithm: packet.PubKeyAlgoEdDSA})
	if err != nil {
		t.Fatal(err)
	}
	imp := func(args ...string) string {
		var pub bytes.Buffer
		e.Serialize(&pub)
		var out, errb bytes.Buffer
		if code := run(append([]string{"mailseal", "--home", home}, args...), bytes.NewReader(pub.Bytes()), &out, &errb); code != 0 {
			t.Fatalf("%v: exit %d: %s", args, code, errb.String())
		}
		return out.String() + errb.String()
	}
	for _, text := range []string{imp("keys", "import"), imp("keys", "list")} {
		if strings.ContainsRune(text, 0x1b) {
			t.Errorf("a raw escape:\n%q", text)
		}
	}
	// A new user ID whose name holds a line that looks like another key's
	// comes back in import's list of changes.
	if err := e.AddUserId("Bob\n    EEEE Alice", "", "bob@example.org", &packet.Config{}); err != nil {
		t.Fatal(err)
	}
	for _, text := range []string{imp("keys", "import"), imp("keys", "list")} {
		if strings.ContainsRune(text, 0x1b) || strings.Contains(text, "\n    EEEE") {
			t.Errorf("a raw escape or a forged line:\n%q", text)
		}
	}
}

func TestUIDText(t *testing.T) {
	for in, want := range map[string]string{
		"Alice <alice@example.org>": "Alice <alice@example.org>",
		"Bob\x1b[2J":                `"Bob\x1b[2J"`,
		"a\nb":                      `"a\nb"`,
		"x\u202ey":                  `"x\u202ey"`,
		"\xff":                      `"\xff"`,
	} {
		if got := uidText(in); got != want {
			t.Errorf("uidText(%q) = %s, want %s", in, got, want)
		}
	}
}
