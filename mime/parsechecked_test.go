package mime

import (
	"bytes"
	"fmt"
	"math/rand"
	"strings"
	"testing"

	"github.com/mailseal/mailseal/internal/crlf"
)

// treeOf describes every entity of root: its path, type and byte ranges.
func treeOf(root *Entity) string {
	var b strings.Builder
	var walk func(e *Entity)
	walk = func(e *Entity) {
		fmt.Fprintf(&b, "%q %s [%d %d %d %d %d] %q\n", e.Path, e.MediaType, e.start, e.bodyStart, e.preambleEnd, e.epilogueStart, e.end, e.Ambiguous)
		for _, c := range e.Children {
			walk(c)
		}
	}
	walk(root)
	return b.String()
}

// searchedTree parses src as the parser does without knowing where the
// lines that begin with "--" are: searching every multipart body.
func searchedTree(t *testing.T, src []byte) string {
	t.Helper()
	p := newParser(bytes.NewReader(src), int64(len(src)), Limits{}.withDefaults(), nil)
	p.haveLines = false
	root, err := p.parseEntity("", 0, int64(len(src)), 0, "")
	if err != nil {
		t.Fatal(err)
	}
	return treeOf(root)
}

// bigMultipart is a message of over 8 MiB (where ParseAt checks two halves
// and learns the dash lines): nested multiparts, lines that begin with
// "--" but are no delimiter, and base64 filler; the delimiter of the
// second part starts at the line ParseAt's check splits the message at
// when shift is 0, and near it otherwise.
func bigMultipart(t *testing.T, shift int, dashLines int) []byte {
	t.Helper()
	filler := func(n int) string {
		line := strings.Repeat("QUJD", 19) + "\r\n"
		return strings.Repeat(line, n/len(line)+1)
	}
	var b bytes.Buffer
	b.WriteString("From: a@example.org\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"b\"\r\n\r\npreamble\r\n--bx not a delimiter\r\n")
	b.WriteString("--b\r\nContent-Type: multipart/alternative; boundary=c\r\n\r\n--c\r\nContent-Type: text/plain\r\n\r\n--cx not this either\r\n-- a signature separator\r\n")
	b.WriteString(strings.Repeat("--x\r\n", dashLines))
	b.WriteString("--c\r\nContent-Type: text/html\r\n\r\n<p>hi</p>\r\n--c--\r\n")
	b.WriteString("--b\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\r\n")
	b.WriteString(filler(5 << 20))
	b.WriteString("--b \t\r\nContent-Type: application/octet-stream\r\n\r\n")
	delimiterLF := b.Len() - len("--b \t\r\nContent-Type: application/octet-stream\r\n\r\n") - 1
	b.WriteString(filler(4 << 20))
	b.WriteString("--b--\r\nepilogue\r\n--b\r\n")
	// Pad the epilogue so that half the size falls on the LF before the
	// third delimiter (then the check's second half starts with it).
	pad := 2*(delimiterLF+shift) - b.Len()
	if pad < 0 {
		t.Fatalf("message too long for shift %d", shift)
	}
	for pad > 0 {
		n := min(pad, 78)
		if n >= 2 {
			b.WriteString(strings.Repeat("e", n-2) + "\r\n")
		} else {
			b.WriteString("\r\n") // one byte over: half the size moves by half a byte
			pad = 0
		}
		pad -= n
	}
	return b.Bytes()
}

// bigMultipartCases: where the delimiter lies against the split (shift),
// how many dash lines the message has, and whether they can be kept.
var bigMultipartCases = []struct {
	shift, dashLines int
	learnt           bool
}{{0, 3, true}, {1, 3, true}, {-3, 3, true}, {40, 0, true}, {0, crlf.MaxDashes, false}}

// A large message in place is checked in two halves that also learn where
// the lines that begin with "--" start, and its parse then finds the
// delimiters with them: the same entities as searching, whether a
// delimiter starts right at the split or near it, with too many dash
// lines to keep (then it searches), and the message read about once, not
// once for the check and again for the search.
func TestParseCheckedLearnsDashLines(t *testing.T) {
	for _, tc := range bigMultipartCases {
		src := bigMultipart(t, tc.shift, tc.dashLines)
		size := int64(len(src))
		if size < 2*canonicalSplit {
			t.Fatalf("the message is %d bytes, under ParseAt's split", size)
		}
		_, lines, haveLines, err := scanLines(bytes.NewReader(src), size, true)
		if err != nil || haveLines != tc.learnt {
			t.Fatalf("shift %d: scanLines learnt %v (%v), want %v", tc.shift, haveLines, err, tc.learnt)
		}
		if tc.learnt && fmt.Sprint(lines) != fmt.Sprint(dashReference(src)) {
			t.Fatalf("shift %d: lines %v, want %v", tc.shift, lines, dashReference(src))
		}
		c := &countingReaderAt{r: bytes.NewReader(src)}
		m, err := ParseAt(c, size, Limits{}, 1<<20)
		if err != nil {
			t.Fatal(err)
		}
		if got, want := treeOf(m.Root), searchedTree(t, src); got != want {
			t.Fatalf("shift %d, %d dash lines: entities\n%s\nwant (searched)\n%s", tc.shift, tc.dashLines, got, want)
		}
		if len(m.Root.Children) != 3 || len(m.Root.Children[0].Children) != 2 {
			t.Fatalf("shift %d: %d parts\n%s", tc.shift, len(m.Root.Children), treeOf(m.Root))
		}
		if read := c.bytes.Load(); tc.learnt && read > size+size/8 {
			t.Errorf("shift %d: %d bytes read for a message of %d: searched again", tc.shift, read, size)
		}
		m.Close()
	}
}

// dashReference: every line start (0, or after a LF) that begins with "--".
func dashReference(b []byte) []int64 {
	var at []int64
	for i := 0; i+1 < len(b); i++ {
		if (i == 0 || b[i-1] == '\n') && b[i] == '-' && b[i+1] == '-' {
			at = append(at, int64(i))
		}
	}
	return at
}

// With no LF in the 64 KiB after the middle, the check runs as one range
// and still learns the dash lines (a 300 KiB line sits at the middle).
func TestParseCheckedNoLineAtTheMiddle(t *testing.T) {
	line := strings.Repeat("QUJD", 19) + "\r\n"
	var b bytes.Buffer
	b.WriteString("Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n\r\n")
	b.WriteString(strings.Repeat(line, (4<<20)/len(line)))
	b.WriteString("--b\r\n\r\n")
	b.WriteString(strings.Repeat("A", 300<<10) + "\r\n")
	b.WriteString(strings.Repeat(line, (4<<20)/len(line)))
	b.WriteString("--b\r\n\r\nlast\r\n--b--\r\n")
	src := b.Bytes()
	size := int64(len(src))
	if size < 2*canonicalSplit || bytes.IndexByte(src[size/2:size/2+64<<10], '\n') >= 0 {
		t.Fatalf("the message (%d bytes) has a LF within 64 KiB of its middle", size)
	}
	_, lines, haveLines, err := scanLines(bytes.NewReader(src), size, true)
	if err != nil || !haveLines || fmt.Sprint(lines) != fmt.Sprint(dashReference(src)) {
		t.Fatalf("lines %v (%v, %v), want %v", lines, haveLines, err, dashReference(src))
	}
	m, err := ParseAt(bytes.NewReader(src), size, Limits{}, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	if got, want := treeOf(m.Root), searchedTree(t, src); got != want || len(m.Root.Children) != 3 {
		t.Fatalf("entities\n%s\nwant (searched, 3 parts)\n%s", got, want)
	}
}

// The same messages with LF line endings are read through a crlfView,
// whose index learns the dash lines (in canonical offsets) the same way:
// the same entities as the view's search, the lines those of the
// canonical form, and the file read about once.
func TestCRLFViewLearnsDashLines(t *testing.T) {
	for _, tc := range bigMultipartCases {
		canonical := bigMultipart(t, tc.shift, tc.dashLines)
		src := bytes.ReplaceAll(canonical, []byte("\r\n"), []byte("\n"))
		if tc.shift == 1 {
			src = append([]byte("From alice@example.org Mon Dec  7 10:00:00 2026\n"), src...)
		}
		size := int64(len(src))
		v, err := newCRLFView(bytes.NewReader(src), size, 1<<40)
		if err != nil {
			t.Fatal(err)
		}
		lines, haveLines := v.DashLines()
		if haveLines != tc.learnt || (tc.learnt && fmt.Sprint(lines) != fmt.Sprint(dashReference(canonical))) {
			t.Fatalf("shift %d: lines %v (%v), want %v (%v)", tc.shift, len(lines), haveLines, len(dashReference(canonical)), tc.learnt)
		}
		// The reference: the view's own search.
		p := newParser(v, v.Size(), Limits{}.withDefaults(), nil)
		p.haveLines = false
		ref, err := p.parseEntity("", 0, v.Size(), 0, "")
		if err != nil {
			t.Fatal(err)
		}
		c := &countingReaderAt{r: bytes.NewReader(src)}
		m, err := ParseAt(c, size, Limits{}, 1<<20)
		if err != nil {
			t.Fatal(err)
		}
		if got, want := treeOf(m.Root), treeOf(ref); got != want || len(m.Root.Children) != 3 {
			t.Fatalf("shift %d, %d dash lines: entities\n%s\nwant (searched, 3 parts)\n%s", tc.shift, tc.dashLines, got, want)
		}
		if read := c.bytes.Load(); tc.learnt && read > size+size/8 {
			t.Errorf("shift %d: %d bytes read for a message of %d: searched again", tc.shift, read, size)
		}
		m.Close()
	}
	// A CR anywhere: the source's line starts are not all the canonical
	// form's (a bare CR ends a line), so nothing is learnt.
	src := bytes.ReplaceAll(bigMultipart(t, 0, 3), []byte("\r\n"), []byte("\n"))
	src = append(src, "x\r--b--\n"...)
	v, err := newCRLFView(bytes.NewReader(src), int64(len(src)), 1<<40)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := v.DashLines(); ok {
		t.Fatal("lines learnt from a source with a CR")
	}
}

// The view's learnt line starts against the canonical form's, for random
// LF text dense in "--" (so that line starts fall on the index's 16 KiB
// block edges and on the edges of its reads), in one range and in two.
func TestCRLFViewDashLinesRandom(t *testing.T) {
	rng := rand.New(rand.NewSource(8))
	pieces := []string{"--", "-", "\n", "a", "--b\n", "\n--", strings.Repeat("QUJD", 40)}
	checked := 0
	for i := 0; i < 40; i++ {
		size := 70<<10 + rng.Intn(300<<10)
		if i%10 == 0 {
			size = 2*canonicalSplit + rng.Intn(1<<20)
		}
		var b []byte
		for len(b) < size {
			b = append(b, pieces[rng.Intn(len(pieces))]...)
		}
		v, err := newCRLFView(bytes.NewReader(b), int64(len(b)), 1<<40)
		if err != nil {
			t.Fatal(err)
		}
		lines, ok := v.DashLines()
		want := dashReference(bytes.ReplaceAll(b, []byte("\n"), []byte("\r\n")))
		if len(want) > crlf.MaxDashes {
			if ok {
				t.Fatalf("%d line starts learnt, more than MaxDashes", len(lines))
			}
			continue
		}
		if !ok || fmt.Sprint(lines) != fmt.Sprint(want) {
			t.Fatalf("%d bytes: %d lines (%v), want %d", len(b), len(lines), ok, len(want))
		}
		checked++
	}
	if checked < 30 {
		t.Fatalf("only %d of 40 contents had few enough dash lines to check", checked)
	}
}

// nestedDashes is a hostile message: depth nested multiparts, the
// innermost body holding lines dash lines that begin like every boundary
// above it but close none, then fill lines of base64.
func nestedDashes(depth, lines, fill int, eol string) []byte {
	var b bytes.Buffer
	bd := func(i int) string { return "b" + strings.Repeat("x", i) }
	b.WriteString("Content-Type: multipart/mixed; boundary=" + bd(0) + eol + eol)
	for i := 1; i < depth; i++ {
		b.WriteString("--" + bd(i-1) + eol + "Content-Type: multipart/mixed; boundary=" + bd(i) + eol + eol)
	}
	b.WriteString("--" + bd(depth-1) + eol + eol)
	for i := 0; i < lines; i++ {
		b.WriteString("--" + bd(depth) + "y" + eol)
	}
	b.WriteString(strings.Repeat(strings.Repeat("Q", 76)+eol, fill))
	return b.Bytes()
}

// Known dash lines are read one by one only where they are sparse: a body
// dense with them, under 30 levels that would each read them again, is
// searched (it took 1.9 million reads of the source, each level reading
// every line, where the search takes a few hundred). Through a crlfView
// (LF) and in place (CRLF, large enough to be checked in two halves).
func TestDenseDashLinesSearched(t *testing.T) {
	for _, tc := range []struct {
		name string
		src  []byte
	}{
		{"LF", nestedDashes(30, 32000, 1300, "\n")},
		{"CRLF", nestedDashes(30, 32000, 2*canonicalSplit/78, "\r\n")},
	} {
		c := &countingReaderAt{r: bytes.NewReader(tc.src)}
		m, err := ParseAt(c, int64(len(tc.src)), Limits{}, 1<<20)
		if err != nil {
			t.Fatal(err)
		}
		depth := 0
		for e := m.Root; len(e.Children) > 0; e = e.Children[0] {
			depth++
		}
		m.Close()
		if depth != 30 {
			t.Fatalf("%s: %d levels parsed, want 30", tc.name, depth)
		}
		if reads := c.reads.Load(); reads > 20000 {
			t.Errorf("%s: %d reads of the source for a message of %d bytes", tc.name, reads, len(tc.src))
		}
	}
}

// A body with a dash line every 4.6 KiB (one level, a few thousand lines)
// is searched, not read line by line: a review measured two reads per line
// and 3-5 times the search's time at that density. Through a crlfView (LF)
// and in place (CRLF, checked in two halves).
func TestThresholdDashLinesSearched(t *testing.T) {
	for _, eol := range []string{"\n", "\r\n"} {
		var b bytes.Buffer
		b.WriteString("Content-Type: multipart/mixed; boundary=b" + eol + eol)
		fill := strings.Repeat(strings.Repeat("Q", 76)+eol, 60)
		for b.Len() < 2*canonicalSplit+1<<20 {
			b.WriteString("--bx" + eol + fill)
		}
		b.WriteString("--b" + eol + eol + "x" + eol + "--b--" + eol)
		src := b.Bytes()
		c := &countingReaderAt{r: bytes.NewReader(src)}
		m, err := ParseAt(c, int64(len(src)), Limits{}, 1<<20)
		if err != nil {
			t.Fatal(err)
		}
		if n := len(m.Root.Children); n != 1 {
			t.Fatalf("%q: %d parts, want 1", eol, n)
		}
		m.Close()
		if reads := c.reads.Load(); reads > 1000 {
			t.Errorf("%q: %d reads of the source for %d bytes (a dash line every 4.6 KiB)", eol, reads, len(src))
		}
	}
}

// joinLines keeps the two halves' lines only while their total is within
// crlf.MaxDashes.
func TestJoinLinesTotal(t *testing.T) {
	line := []byte("--x\n")
	for _, extra := range []int{0, 1} {
		var a, b canonDashes
		a.d = crlf.DashesFrom(0)
		a.write(bytes.Repeat(line, crlf.MaxDashes/2+extra), 0, 0)
		b.d = crlf.DashesFrom(0)
		b.write(bytes.Repeat(line, crlf.MaxDashes/2), 0, 0)
		lines, ok := joinLines(&a, &b)
		if want := extra == 0; ok != want || (ok && len(lines) != crlf.MaxDashes) {
			t.Fatalf("%d lines in all: %d kept (%v)", crlf.MaxDashes+extra, len(lines), ok)
		}
	}
}
