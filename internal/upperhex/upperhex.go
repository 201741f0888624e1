// Package upperhex writes fingerprints as mailseal shows and stores
// them: upper-case hex, the form gpg, sq and the keystore's file names
// use.
package upperhex

// Encode is b in upper-case hex, in one allocation (a batch names each
// message's signer and recipients by it).
func Encode(b []byte) string {
	const digits = "0123456789ABCDEF"
	text := make([]byte, 2*len(b))
	for i, v := range b {
		text[2*i], text[2*i+1] = digits[v>>4], digits[v&15]
	}
	return string(text)
}
