//go:build !amd64 || purego

package crlf

// haveLinesAsm: no assembly here.
const haveLinesAsm = false

// checkLines reports whether data has CRLF line endings only, given
// whether the byte before it was a CR (prevCR: its LF must come first),
// and whether its last byte is a CR.
func checkLines(data []byte, prevCR bool) (ok, endsCR bool) {
	return checkLinesGeneric(data, prevCR)
}

// ExpandLF copies the start of src, which holds no CR, to dst with every
// LF made CRLF, and returns how much it wrote and read: it stops where
// dst or src runs short, perhaps inside a line, never between a CR and
// its LF. It may write over dst beyond nd.
func ExpandLF(dst, src []byte) (nd, ns int) { return expandLines(dst, src) }
