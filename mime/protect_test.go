package mime

import (
	"io"
	"strings"
	"testing"
)

// TestProtectLegacyDisplay: the Legacy Display Element shows the hidden
// Subject decoded, also from a legacy charset, a word in an unknown charset
// as written, and is left out where the decoded text could not stand in
// the body as is.
func TestProtectLegacyDisplay(t *testing.T) {
	const cp1252 = "=?windows-1252?Q?Re=3A_Git_hangs_at_=93Writing_objects=3A_11=25?= =?windows-1252?Q?=94?="
	const utf8Body = "Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n"
	const asciiBody = "Content-Type: text/plain; charset=us-ascii\r\n"
	for _, tc := range []struct{ name, subject, content, want string }{
		{"utf-8 8bit", cp1252, utf8Body, "Subject: Re: Git hangs at “Writing objects: 11%”\r\n\r\nbody\r\n"},
		{"us-ascii 7bit", cp1252, asciiBody, "body\r\n"},
		{"unknown charset", "=?x-unknown?q?a?= =?utf-8?q?b?=", asciiBody, "Subject: =?x-unknown?q?a?= b\r\n\r\nbody\r\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := mustParse(t, "From: a@example.org\r\nSubject: "+tc.subject+"\r\nMIME-Version: 1.0\r\n"+tc.content+"\r\nbody\r\n")
			outer, payload := Protect(m, true, false)
			if got := outer.Get("Subject"); got != ObscuredSubject {
				t.Fatalf("outer Subject %q", got)
			}
			b, err := io.ReadAll(payload)
			if err != nil {
				t.Fatal(err)
			}
			_, body, _ := strings.Cut(string(b), "\r\n\r\n")
			if body != tc.want {
				t.Fatalf("body %q, want %q", body, tc.want)
			}
		})
	}
}
