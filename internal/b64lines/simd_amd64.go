//go:build !purego

package b64lines

import "golang.org/x/sys/cpu"

// haveAVX2 says whether this processor runs the AVX2 kernels.
var haveAVX2 = cpu.X86.HasAVX2

//go:noescape
func decodeLinesAVX2(dst, src *byte, lines, width, eol int) int

//go:noescape
func encodeLinesAVX2(dst, src *byte, lines, lineBytes, eol, eolLen int)

// simdDecodeLines decodes the leading lines of src that hold width
// characters of the alphabet followed by CRLF (crlf) or LF, width/4*3
// bytes each into out, and returns how many bytes of src it read and of
// out it wrote: none without AVX2, or for a width under 32 or not a
// multiple of 4. It stops before a line with another byte ('=' included)
// or another line ending.
func simdDecodeLines(out, src []byte, width int, crlf bool) (read, written int) {
	eol := 1
	if crlf {
		eol = 2
	}
	if !haveAVX2 || width < 32 || width%4 != 0 {
		return 0, 0
	}
	n := min(len(src)/(width+eol), len(out)/(width/4*3))
	if n == 0 {
		return 0, 0
	}
	k := decodeLinesAVX2(&out[0], &src[0], n, width, eol)
	return k * (width + eol), k * (width / 4 * 3)
}

// simdEncodeLines encodes the leading lines of lineBytes bytes of src,
// each into lineBytes/3*4 characters followed by eol, into dst, and
// returns how many bytes of src it read and of dst it wrote: none without
// AVX2, or for lineBytes under 24 or not a multiple of 3, or an eol not of
// one or two bytes. The kernel reads 8 bytes past a line, so it encodes
// only lines followed by 8 more bytes within src's capacity.
func simdEncodeLines(dst, src []byte, lineBytes int, eol string) (read, written int) {
	if !haveAVX2 || lineBytes < 24 || lineBytes%3 != 0 || len(eol) < 1 || len(eol) > 2 {
		return 0, 0
	}
	out := lineBytes/3*4 + len(eol)
	n := min(len(src)/lineBytes, (cap(src)-8)/lineBytes, len(dst)/out)
	if n <= 0 {
		return 0, 0
	}
	w := int(eol[0])
	if len(eol) == 2 {
		w |= int(eol[1]) << 8
	}
	encodeLinesAVX2(&dst[0], &src[0], n, lineBytes, w, len(eol))
	return n * lineBytes, n * out
}
