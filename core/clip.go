package core

import "unicode/utf8"

// MaxQuote is how much of a sender's text a warning or an error quotes,
// through Clip.
const MaxQuote = 200

// Clip is s cut to at most n bytes, at the start of a character, with
// "..." after it where it was cut: for quoting a sender's text in a
// warning or an error, whose length the sender chooses (a header of a
// megabyte quoted in each of many warnings).
func Clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	cut := max(n, 0)
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "..."
}
