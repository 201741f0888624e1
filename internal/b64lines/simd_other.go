//go:build !amd64 || purego

package b64lines

// haveAVX2 is false where there are no AVX2 kernels (other architectures,
// or the purego build tag).
const haveAVX2 = false

func simdDecodeLines(out, src []byte, width int, crlf bool) (read, written int) { return 0, 0 }

func simdEncodeLines(dst, src []byte, lineBytes int, eol string) (read, written int) { return 0, 0 }
