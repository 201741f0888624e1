// Package crlf checks, as text streams past, that every line ends in CRLF
// with no bare CR or LF: the canonical form that MIME signatures cover. The
// MIME parser uses it to decide whether a message can be parsed where it
// lies, and the spool runs it on what is written, so that decrypted content
// need not be read again just to check its line endings. Dashes, beside
// it, records where the lines that begin with "--" start, the only places
// a multipart delimiter can be.
//
// On amd64 with AVX2 the check is assembly (lines_amd64.s): each 32-byte
// block is compared with LF, the same block one byte back with CR, and
// the two must match (a LF exactly where a CR is before it), whatever the
// lengths of the lines. BenchmarkCheck: 57 GB/s for base64 lines and for
// text of uneven lines, where the Go code (lines of one width stepped
// through and their CR and LF bytes counted, other text searched line by
// line) does 16-18 and 1.8 (and the assembly it replaced, which counted
// CR and LF, 37 and 2). TestCheckLines and FuzzCheckLines compare
// both with a byte-by-byte reference for every length, alignment and
// density, TestCheckLinesBounds puts the data against unmapped pages; the
// purego build tag, and other processors, run the Go code.
//
// ExpandLF makes the LFs of text without CR into CRLF (mime's view of a
// message with LF line endings): in assembly, 32 bytes at a time, a block
// without LF stored whole and the lines of others copied with
// overlapping 32-byte moves, where the Go code searches and copies a
// line at a time. BenchmarkExpandLF: 15 GB/s for text of uneven lines
// and 17-19 for base64 lines, against 2.7 and 4.3. TestExpandLF and
// FuzzExpandLF check the output and that it stops only where a line
// does not fit, TestExpandLFBounds and TestExpandLFBoundsExtremes that it
// reads and writes nothing outside its buffers. The assembly takes at
// most 1 MiB of input a call, through Go functions that are not inlined
// (the scheduler can stop a goroutine at their entry, not inside the
// assembly): TestAssemblyRuns.
package crlf

import "bytes"

// Check is an io.Writer that records whether what was written so far has
// only CRLF line endings. The zero value is ready; once a bad line ending
// was seen, writes cost nothing.
type Check struct {
	prevCR bool // the last byte was a CR: a LF must come next
	bad    bool
}

// Write never fails.
func (c *Check) Write(p []byte) (int, error) {
	if c.bad || len(p) == 0 {
		return len(p), nil
	}
	ok, endsCR := checkLines(p, c.prevCR)
	c.bad, c.prevCR = !ok, endsCR
	return len(p), nil
}

// Canonical reports whether everything written has CRLF line endings (and
// does not end in a lone CR).
func (c *Check) Canonical() bool { return !c.bad && !c.prevCR }

// Failed reports whether a bare CR or LF was seen: no later write can make
// the text canonical.
func (c *Check) Failed() bool { return c.bad }

// IndexCRorLF is bytes.IndexAny(b, "\r\n") with two vectorised scans.
func IndexCRorLF(b []byte) int {
	i := bytes.IndexByte(b, '\n')
	head := b
	if i >= 0 {
		head = b[:i]
	}
	if j := bytes.IndexByte(head, '\r'); j >= 0 {
		return j
	}
	return i
}

// checkLinesGeneric is checkLines without assembly: lines of one width
// (base64 bodies) are checked by evenLines, others byte by byte between
// vectorised searches.
func checkLinesGeneric(p []byte, prevCR bool) (ok, endsCR bool) {
	if len(p) == 0 {
		return true, prevCR
	}
	start := 0
	if prevCR {
		if p[0] != '\n' {
			return false, false
		}
		start = 1
	}
	if ok, endsCR := evenLines(p[start:]); ok {
		return true, endsCR
	}
	for i := start; i < len(p); {
		j := IndexCRorLF(p[i:])
		if j < 0 {
			break
		}
		k := i + j
		if p[k] == '\n' {
			return false, false // a LF without CR
		}
		if k+1 == len(p) {
			break // CR at the end: its LF comes next
		}
		if p[k+1] != '\n' {
			return false, false // a bare CR
		}
		i = k + 2
	}
	return true, p[len(p)-1] == '\r'
}

// evenLines is the fast path for the common case of lines of one width
// (base64 bodies): it steps from line end to line end and compares the
// number of line ends found there with the numbers of CR and LF bytes
// (counted with vectorised searches), instead of searching each short line
// for CR and LF. ok means every CR and LF in data is part of a CRLF at
// such a line end, or a CR as the last byte (endsCR: its LF must come
// next); otherwise (irregular lines, or a bare CR or LF) the caller checks
// byte by byte.
func evenLines(data []byte) (ok, endsCR bool) {
	first := bytes.IndexByte(data, '\n')
	if first < 1 || data[first-1] != '\r' {
		return false, false
	}
	second := bytes.IndexByte(data[first+1:], '\n')
	if second < 0 {
		return false, false
	}
	width := second + 1
	lines := 0
	for pos := first; pos < len(data); pos += width {
		if data[pos] != '\n' || data[pos-1] != '\r' {
			break
		}
		lines++
	}
	endsCR = data[len(data)-1] == '\r'
	crs := lines
	if endsCR {
		crs++
	}
	return bytes.Count(data, []byte{'\n'}) == lines && bytes.Count(data, []byte{'\r'}) == crs, endsCR
}

// asmRun is the most input the assembly (where there is one) is given in
// one call: a goroutine inside it is out of the scheduler's reach.
const asmRun = 1 << 20

// expandLines is ExpandLF without assembly: whole lines while they fit,
// each one search and one copy.
func expandLines(dst, src []byte) (nd, ns int) {
	for {
		rest := src[ns:]
		fits := len(dst) - nd - 1 // a line of fits-1 bytes, its CR and LF
		if fits <= 0 {
			return nd, ns
		}
		i := bytes.IndexByte(rest[:min(len(rest), fits)], '\n')
		if i < 0 {
			return nd, ns
		}
		copy(dst[nd:], rest[:i])
		dst[nd+i] = '\r'
		dst[nd+i+1] = '\n'
		nd += i + 2
		ns += i + 1
	}
}
