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
