package main

import (
	"fmt"
	"io"
	"strings"
	"unicode"
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

// needsEscape: control and format characters (bidirectional overrides
// among them), other than a line end or a tab.
func needsEscape(r rune) bool {
	if r == '\n' || r == '\t' {
		return false
	}
	return unicode.IsControl(r) || unicode.Is(unicode.Cf, r)
}
