package mime

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"sort"
	"sync"

	"github.com/mailseal/mailseal/core"
	"github.com/mailseal/mailseal/internal/crlf"
)

// crlfState is the state of the line-ending canonicalisation between two
// pieces of a stream: bare CR and bare LF become CRLF, CRLF stays.
type crlfState struct {
	afterCR   bool // the last source byte was '\r' (already given as CRLF): a '\n' next is dropped
	pendingLF bool // a CRLF was cut after its '\r': its '\n' comes first
}

// fill puts the canonical form of src into dst until either is used up,
// and returns how many bytes it wrote and read. It never writes more than
// len(dst), so a reader can stop at any canonical offset and go on later
// from the state it left.
func (c *crlfState) fill(dst, src []byte) (nd, ns int) {
	noCR := bytes.IndexByte(src, '\r') < 0
	for {
		if c.pendingLF {
			if nd == len(dst) {
				return nd, ns
			}
			dst[nd] = '\n'
			nd++
			c.pendingLF = false
		}
		if ns == len(src) || nd == len(dst) {
			return nd, ns
		}
		if c.afterCR {
			c.afterCR = false
			if src[ns] == '\n' {
				ns++
				continue
			}
		}
		if noCR {
			// As far as it goes, every LF made CRLF in one pass
			// (crlf.ExpandLF), not one search and one copy a line.
			d, s := crlf.ExpandLF(dst[nd:], src[ns:])
			nd, ns = nd+d, ns+s
			if ns == len(src) || nd == len(dst) {
				return nd, ns
			}
		}
		rest := src[ns:min(len(src), ns+len(dst)-nd)]
		var i int
		if noCR {
			i = bytes.IndexByte(rest, '\n')
		} else {
			i = crlf.IndexCRorLF(rest)
		}
		if i < 0 {
			nd += copy(dst[nd:], rest)
			ns += len(rest)
			continue
		}
		nd += copy(dst[nd:], rest[:i])
		c.afterCR = rest[i] == '\r'
		ns += i + 1
		dst[nd] = '\r'
		nd++
		c.pendingLF = true
	}
}

// crlfView is a message that is not in canonical form (LF line endings, as
// files on Unix and mbox messages have, or an mbox "From " line) read
// where it lies, through an index, instead of being copied: ReadAt gives
// the canonical bytes, converting the source as it reads it. The index
// holds where every viewMark source bytes begin in the canonical form, and
// recent reads leave a cursor, so that a sequential reader converts every
// byte once.
type crlfView struct {
	src    io.ReaderAt
	srcEnd int64
	size   int64 // of the canonical form
	marks  []viewPos
	// anyCR: the source holds a CR (after the mbox "From " line); without
	// one, the canonical form is the source with every LF made CRLF.
	anyCR bool
	// lines: where the lines of the canonical form that begin with "--"
	// start, learnt while the source was indexed (DashLines), when it has
	// no CR and no more than crlf.MaxDashes of them.
	lines     []int64
	haveLines bool

	mu      sync.Mutex
	cursors [4]viewPos
	next    int
}

// viewPos is a position in both forms, with the conversion's state there.
type viewPos struct {
	src, canon int64
	st         crlfState
}

// viewMark is the distance between index marks in the source: a read that
// starts at no cursor converts at most this much before what it wants.
const viewMark = 16 << 10

// viewReadSize is the largest piece of the source a read takes at a time.
const viewReadSize = 256 << 10

var viewBuffers = sync.Pool{New: func() any { b := make([]byte, viewReadSize); return &b }}

// newCRLFView indexes the size bytes of src, skipping an mbox "From " line
// at the start; it fails if the canonical form is longer than maxSize. A
// large source is indexed in two halves side by side.
func newCRLFView(src io.ReaderAt, size, maxSize int64) (*crlfView, error) {
	sr := io.NewSectionReader(src, 0, size)
	br := bufio.NewReaderSize(sr, 4<<10)
	if err := skipMboxFromLine(br); err != nil {
		return nil, err
	}
	pos, _ := sr.Seek(0, io.SeekCurrent)
	base := pos - int64(br.Buffered())
	v := &crlfView{src: src, srcEnd: size}
	mid := int64(-1)
	if size-base >= 2*canonicalSplit {
		// Split after a LF: no state crosses it.
		probe := make([]byte, 64<<10)
		n, _ := src.ReadAt(probe, base+(size-base)/2)
		if i := bytes.IndexByte(probe[:n], '\n'); i >= 0 {
			mid = base + (size-base)/2 + int64(i) + 1
		}
	}
	var err error
	if mid < 0 {
		var r indexed
		r, err = indexRange(src, base, size)
		v.marks, v.size, v.anyCR = r.marks, r.size, r.anyCR
		v.lines, v.haveLines = r.dashes.Lines()
	} else {
		second := make(chan indexed, 1)
		go func() {
			r, err := indexRange(src, mid, size)
			r.err = err
			second <- r
		}()
		var r indexed
		r, err = indexRange(src, base, mid)
		h := <-second
		if err == nil {
			err = h.err
		}
		v.marks, v.anyCR = r.marks, r.anyCR || h.anyCR
		first := r.size
		for _, m := range h.marks {
			m.canon += first
			v.marks = append(v.marks, m)
		}
		v.size = first + h.size
		// The second half's line starts are in its own canonical offsets.
		for i := range h.dashes.at {
			h.dashes.at[i] += first
		}
		v.lines, v.haveLines = joinLines(&r.dashes, &h.dashes)
	}
	if v.anyCR {
		// A bare CR ends a canonical line where the source has no LF:
		// line starts found in the source are not all of them.
		v.lines, v.haveLines = nil, false
	}
	if err != nil {
		return nil, fmt.Errorf("mime: reading message: %v: %w", err, core.ErrInput)
	}
	if v.size > maxSize {
		return nil, fmt.Errorf("mime: %w", &core.LimitError{Limit: "MaxSize", Value: maxSize, What: "message exceeds the size limit of " + core.SizeName(maxSize)})
	}
	return v, nil
}

// indexed is what indexRange learns of a range of the source.
type indexed struct {
	marks  []viewPos
	size   int64 // of the range's canonical form
	anyCR  bool
	dashes canonDashes
	err    error
}

// canonDashes records the line starts that begin with "--" of a range of
// a source without CR, in canonical offsets counted from the range's
// start: a crlf.Dashes over the source bytes, each offset it records then
// moved by the number of LFs before it (each becomes CRLF). It is only
// meaningful while the range has no CR.
type canonDashes struct {
	d  crlf.Dashes
	at []int64
}

// write records the line starts in block, which starts at source offset
// srcOff and canonical offset canon (counted from the range's start).
func (c *canonDashes) write(block []byte, srcOff, canon int64) {
	before, _ := c.d.Lines()
	n := len(before)
	c.d.Write(block)
	lines, ok := c.d.Lines()
	if !ok {
		c.at = nil
		return
	}
	lfs, counted := 0, 0 // LFs in block[:counted]
	for _, s := range lines[n:] {
		rel := int(s - srcOff)
		if rel < 0 {
			// The first '-' ended the block before: the byte before
			// this block's first canonical byte.
			c.at = append(c.at, canon+int64(rel))
			continue
		}
		lfs += bytes.Count(block[counted:rel], []byte{'\n'})
		counted = rel
		c.at = append(c.at, canon+int64(rel+lfs))
	}
}

// Lines is as crlf.Dashes' Lines, in canonical offsets.
func (c *canonDashes) Lines() ([]int64, bool) {
	if _, ok := c.d.Lines(); !ok {
		return nil, false
	}
	return c.at, true
}

// joinLines is crlf.JoinDashes for two ranges' canonDashes, a then b (b's
// offsets already moved to follow a's).
func joinLines(a, b *canonDashes) ([]int64, bool) {
	la, oka := a.Lines()
	lb, okb := b.Lines()
	return crlf.JoinLines(la, oka, lb, okb)
}

// indexRange reads src[from:end), which starts a line (or the message),
// and returns a mark at every viewMark source bytes (canonical offsets
// counted from from), the canonical size of the range, whether it holds
// a CR, and (while it holds none) the line starts that begin with "--".
func indexRange(src io.ReaderAt, from, end int64) (indexed, error) {
	buf := make([]byte, min(scanBuffer(end-from), end-from+1))
	var scratch []byte
	r := indexed{marks: make([]viewPos, 0, (end-from)/viewMark+1)}
	r.dashes.d = crlf.DashesFrom(from)
	var st crlfState
	var canon int64
	for off := from; off < end; {
		n, err := src.ReadAt(buf[:min(int64(len(buf)), end-off)], off)
		if n == 0 && err != nil {
			return indexed{}, err
		}
		for b := buf[:n]; len(b) > 0; {
			k := min(len(b), viewMark)
			r.marks = append(r.marks, viewPos{src: off, canon: canon, st: st})
			block := b[:k]
			if !st.afterCR && bytes.IndexByte(block, '\r') < 0 {
				if !r.anyCR {
					r.dashes.write(block, off, canon)
				}
				canon += int64(k + bytes.Count(block, []byte{'\n'}))
			} else {
				r.anyCR = true
				if scratch == nil {
					scratch = make([]byte, 2*viewMark)
				}
				nd, _ := st.fill(scratch, block)
				canon += int64(nd)
			}
			b, off = b[k:], off+int64(k)
		}
	}
	r.size = canon
	return r, nil
}

// Size is the size of the canonical form.
func (v *crlfView) Size() int64 { return v.size }

// DashLines returns, in order, the canonical offsets of the lines that
// begin with "--", learnt while the source was indexed, so that the parser
// reads only those lines to find a multipart's delimiters; false when the
// source holds a CR or more such lines than crlf.MaxDashes.
func (v *crlfView) DashLines() ([]int64, bool) { return v.lines, v.haveLines }

// start is the position to convert from to reach canonical offset off:
// the latest cursor or mark at or before it.
func (v *crlfView) start(off int64) viewPos {
	i := sort.Search(len(v.marks), func(i int) bool { return v.marks[i].canon > off }) - 1
	best := viewPos{}
	if i >= 0 {
		best = v.marks[i]
	}
	v.mu.Lock()
	for _, c := range v.cursors {
		if c.src > 0 && c.canon <= off && c.canon > best.canon {
			best = c
		}
	}
	v.mu.Unlock()
	return best
}

// sourceOffset is the offset in the source where the canonical offset off
// begins; false when off falls between the CR and the LF that the view
// puts in for a bare LF or CR, where no source offset corresponds.
func (v *crlfView) sourceOffset(off int64) (int64, bool) {
	if off >= v.size {
		return v.srcEnd, off == v.size
	}
	pos := v.start(off)
	var in, out [4 << 10]byte
	for pos.canon < off {
		k, err := v.src.ReadAt(in[:min(int64(len(in)), v.srcEnd-pos.src)], pos.src)
		if k == 0 && err != nil {
			return 0, false
		}
		nd, ns := pos.st.fill(out[:min(int64(len(out)), off-pos.canon)], in[:k])
		if nd == 0 && ns == 0 {
			return 0, false
		}
		pos.src += int64(ns)
		pos.canon += int64(nd)
	}
	return pos.src, !pos.st.pendingLF
}

// ReadAt implements io.ReaderAt over the canonical form; it is safe for
// concurrent use, as the source must be.
func (v *crlfView) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, fmt.Errorf("mime: negative offset")
	}
	if off >= v.size {
		return 0, io.EOF
	}
	bp := viewBuffers.Get().(*[]byte)
	defer viewBuffers.Put(bp)
	in := *bp
	var scratch [4 << 10]byte
	pos := v.start(off)
	skip := off - pos.canon
	n := 0
	for n < len(p) && pos.canon < v.size {
		// One read of the source takes what is skipped and what is
		// wanted (a canonical byte takes at most one source byte, but
		// for the LF of a CRLF whose CR came before pos, which takes
		// two: then a second read follows), so a small read that starts
		// past a cursor costs one system call.
		chunk := in[:0]
		if want := min(skip+int64(len(p)-n), int64(len(in)), v.srcEnd-pos.src); want > 0 {
			k, err := v.src.ReadAt(in[:want], pos.src)
			if k == 0 && err != nil {
				return n, err
			}
			chunk = in[:k]
		}
		progressed := false
		for n < len(p) && (len(chunk) > 0 || pos.st.pendingLF) {
			dst := p[n:]
			if skip > 0 {
				dst = scratch[:min(skip, int64(len(scratch)))]
			}
			nd, ns := pos.st.fill(dst, chunk)
			if nd == 0 && ns == 0 {
				break
			}
			progressed = true
			chunk = chunk[ns:]
			pos.src += int64(ns)
			pos.canon += int64(nd)
			if skip > 0 {
				skip -= int64(nd)
			} else {
				n += nd
			}
		}
		if !progressed {
			return n, io.ErrUnexpectedEOF // the source changed under the index
		}
	}
	if skip == 0 {
		v.mu.Lock()
		v.cursors[v.next] = pos
		v.next = (v.next + 1) % len(v.cursors)
		v.mu.Unlock()
	}
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}
