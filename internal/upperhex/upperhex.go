// Package upperhex writes fingerprints as mailseal shows and stores
// them: upper-case hex, the form gpg, sq and the keystore's file names
// use.
package upperhex

// Encode is b in upper-case hex. A fingerprint (up to 64 bytes) costs one
// allocation, the string: a batch names each message's signer and
// recipients by it.
func Encode(b []byte) string {
	const digits = "0123456789ABCDEF"
	var buf [128]byte
	text := buf[:0]
	if 2*len(b) > len(buf) {
		text = make([]byte, 0, 2*len(b))
	}
	for _, v := range b {
		text = append(text, digits[v>>4], digits[v&15])
	}
	return string(text)
}
