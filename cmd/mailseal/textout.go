package main

import (
	"fmt"
	"io"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// visible writes the text of a report for a person: control characters
// that came with a message (a display name, a subject, a DKIM d=, a
// reason) are shown escaped (\x1b, \u0085) instead of reaching the
// terminal, where an escape sequence could rewrite what was printed
// before it — a "good" over a "bad". Line ends and tabs stay.
type visible struct{ w io.Writer }

func (v visible) Write(p []byte) (int, error) {
	s := string(p)
	if strings.IndexFunc(s, needsEscape) < 0 {
		return v.w.Write(p)
	}
	var b strings.Builder
	for _, r := range s {
		switch {
		case !needsEscape(r):
			b.WriteRune(r)
		case r < 0x100:
			fmt.Fprintf(&b, `\x%02x`, r)
		default:
			fmt.Fprintf(&b, `\u%04x`, r)
		}
	}
	if _, err := io.WriteString(v.w, b.String()); err != nil {
		return 0, err
	}
	return len(p), nil
}

// uidText is a user ID (or another one-line name from a key) as a line of
// text shows it: as it is, or quoted with Go's escapes when it holds a
// control or format character, a line end among them, which could forge
// the lines after it.
func uidText(s string) string {
	if strings.IndexFunc(s, func(r rune) bool { return r == '\n' || r == '\t' || needsEscape(r) }) >= 0 || !utf8.ValidString(s) {
		return strconv.Quote(s)
	}
	return s
}

// needsEscape: control and format characters (bidirectional overrides
// among them), other than a line end or a tab.
func needsEscape(r rune) bool {
	if r == '\n' || r == '\t' {
		return false
	}
	return unicode.IsControl(r) || unicode.Is(unicode.Cf, r)
}
