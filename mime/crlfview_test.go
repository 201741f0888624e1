package mime

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"math/rand"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/mailseal/mailseal/core"
)

// fill, given any room and any pieces of the source, writes exactly the
// canonical form: a cut between the CR and LF of a CRLF it makes is carried
// over in its state.
func TestCRLFStateFillMatchesReference(t *testing.T) {
	rng := rand.New(rand.NewSource(2))
	for n := 0; n < 4000; n++ {
		alphabet := []byte("ab\r\n\r\n \r")
		if n%2 == 1 {
			alphabet = []byte("ab\n")
		}
		in := make([]byte, rng.Intn(300))
		for i := range in {
			in[i] = alphabet[rng.Intn(len(alphabet))]
		}
		var st crlfState
		var out []byte
		srcMax, dstMax := 20, 8
		if n%4 >= 2 { // room for whole lines
			srcMax, dstMax = 300, 300
		}
		for rest := in; len(rest) > 0 || st.pendingLF; {
			src := rest[:min(len(rest), rng.Intn(srcMax))]
			dst := make([]byte, rng.Intn(dstMax))
			nd, ns := st.fill(dst, src)
			if ns > len(src) || nd > len(dst) {
				t.Fatalf("fill wrote %d of %d, read %d of %d", nd, len(dst), ns, len(src))
			}
			out = append(out, dst[:nd]...)
			rest = rest[ns:]
		}
		if want := referenceCRLF(in); !bytes.Equal(out, want) {
			t.Fatalf("%q: got %q, want %q", in, out, want)
		}
	}
}

// randomText is n bytes of lines of random length (some long), with LF
// line endings, or with CRLF, bare CR and LF mixed.
func randomText(rng *rand.Rand, n int, mixed bool) []byte {
	out := make([]byte, 0, n)
	for len(out) < n {
		width := rng.Intn(100)
		if rng.Intn(50) == 0 {
			width = rng.Intn(40 << 10)
		}
		for i := 0; i < width && len(out) < n; i++ {
			out = append(out, byte('a'+rng.Intn(26)))
		}
		end := "\n"
		if mixed {
			end = []string{"\n", "\r\n", "\r", "\r\n"}[rng.Intn(4)]
		}
		out = append(out, end...)
	}
	return out[:n]
}

// Every read of a view, at any offset and of any length, sequential or not,
// gives the bytes of the canonical form; a leading mbox "From " line is
// skipped. The large inputs are indexed in two halves.
func TestCRLFViewMatchesReference(t *testing.T) {
	rng := rand.New(rand.NewSource(3))
	sizes := []int{0, 1, 100, viewMark - 1, viewMark, viewMark + 1, 200 << 10, 3 * viewReadSize}
	if !testing.Short() {
		sizes = append(sizes, 2*canonicalSplit+12345)
	}
	for i, size := range sizes {
		for _, mixed := range []bool{false, true} {
			in := randomText(rng, size, mixed)
			from := ""
			if i%2 == 1 {
				from = "From alice@example.org Sun Nov 22 10:00:00 2026\n"
			}
			src := append([]byte(from), in...)
			want := referenceCRLF(in)
			v, err := newCRLFView(bytes.NewReader(src), int64(len(src)), 1<<40)
			if err != nil {
				t.Fatal(err)
			}
			if v.Size() != int64(len(want)) {
				t.Fatalf("size %d mixed %v: view size %d, want %d", size, mixed, v.Size(), len(want))
			}
			// Sequential reads with buffers of random sizes.
			var got []byte
			r := io.NewSectionReader(v, 0, v.Size())
			for {
				buf := make([]byte, 1+rng.Intn(70<<10))
				n, err := r.Read(buf)
				got = append(got, buf[:n]...)
				if err == io.EOF {
					break
				}
				if err != nil {
					t.Fatal(err)
				}
			}
			if !bytes.Equal(got, want) {
				t.Fatalf("size %d mixed %v: sequential reads differ from the reference", size, mixed)
			}
			// Reads anywhere.
			for k := 0; k < 200 && len(want) > 0; k++ {
				off := rng.Intn(len(want))
				buf := make([]byte, rng.Intn(300<<10))
				if k%2 == 0 {
					buf = make([]byte, rng.Intn(100)) // small reads, as of a part's header
				}
				n, err := v.ReadAt(buf, int64(off))
				wantN := min(len(buf), len(want)-off)
				if n != wantN || (n < len(buf)) != (err == io.EOF) || (err != nil && err != io.EOF) {
					t.Fatalf("ReadAt(%d bytes, %d) of %d = %d, %v", len(buf), off, len(want), n, err)
				}
				if !bytes.Equal(buf[:n], want[off:off+n]) {
					t.Fatalf("size %d mixed %v: ReadAt(%d bytes, %d) differs from the reference", size, mixed, len(buf), off)
				}
			}
			if n, err := v.ReadAt(make([]byte, 1), v.Size()); n != 0 || err != io.EOF {
				t.Fatalf("ReadAt at the end = %d, %v", n, err)
			}
		}
	}
}

// A message with LF line endings of viewMinSize or more is parsed where
// it lies (no spool), whether or not it would fit in the memory spool, into
// the same entities with the same bytes as the copying parse; from a file
// too, where it stays open until Close. A smaller one is copied.
func TestParseLFInPlace(t *testing.T) {
	for _, c := range []struct{ size, memLimit int64 }{{3 << 20, 1 << 20}, {200 << 10, 2 << 20}} {
		var b bytes.Buffer
		io.Copy(&b, bigMessage(c.size))
		testParseLFInPlace(t, b.Bytes(), c.memLimit)
	}
	small := []byte("From: a@example.org\nSubject: small\n\nbody\n")
	m, err := ParseAt(bytes.NewReader(small), int64(len(small)), DefaultLimits(), 2<<20)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	if m.spool == nil {
		t.Error("a small LF message was not copied")
	}
}

func testParseLFInPlace(t *testing.T, lf []byte, memLimit int64) {
	for _, from := range []string{"", "From alice@example.org Sun Nov 22 10:00:00 2026\n"} {
		src := append([]byte(from), lf...)
		ref, err := Parse(bytes.NewReader(src), DefaultLimits(), 64<<30)
		if err != nil {
			t.Fatal(err)
		}
		name := filepath.Join(t.TempDir(), "lf.eml")
		if err := os.WriteFile(name, src, 0o600); err != nil {
			t.Fatal(err)
		}
		f, err := os.Open(name)
		if err != nil {
			t.Fatal(err)
		}
		for what, parse := range map[string]func() (*Message, error){
			"ParseAt": func() (*Message, error) {
				return ParseAt(bytes.NewReader(src), int64(len(src)), DefaultLimits(), memLimit)
			},
			"ParseFile": func() (*Message, error) { return ParseFile(f, DefaultLimits(), memLimit) },
		} {
			m, err := parse()
			if err != nil {
				t.Fatal(what, err)
			}
			if m.spool != nil {
				t.Errorf("%s: an LF message of %d bytes was spooled", what, len(src))
			}
			if m.Size() != ref.Size() {
				t.Errorf("%s: size %d, want %d", what, m.Size(), ref.Size())
			}
			got, want := m.Entities(), ref.Entities()
			if len(got) != len(want) {
				t.Fatalf("%s: %d entities, want %d", what, len(got), len(want))
			}
			for i := range got {
				a, _ := io.ReadAll(got[i].Raw())
				b, _ := io.ReadAll(want[i].Raw())
				if !bytes.Equal(a, b) || got[i].MediaType != want[i].MediaType {
					t.Errorf("%s: entity %q differs", what, got[i].Path)
				}
			}
			body, _ := io.ReadAll(got[2].Body())
			refBody, _ := io.ReadAll(want[2].Body())
			if len(body) < len(lf)/2 || !bytes.Equal(body, refBody) {
				t.Errorf("%s: decoded attachment differs (%d bytes)", what, len(body))
			}
			m.Close()
		}
		ref.Close()
	}
}

// The size limit counts the canonical form, which is longer than the LF
// source.
func TestParseLFInPlaceLimit(t *testing.T) {
	var b bytes.Buffer
	io.Copy(&b, bigMessage(3<<20))
	lim := DefaultLimits()
	lim.MaxSize = int64(b.Len()) + 100 // above the source, below its canonical form
	_, err := ParseAt(bytes.NewReader(b.Bytes()), int64(b.Len()), lim, 1<<20)
	var le *core.LimitError
	if !errors.As(err, &le) || le.Limit != "MaxSize" || !strings.Contains(err.Error(), "size limit") {
		t.Fatalf("err = %v, want the MaxSize limit", err)
	}
}

// BenchmarkInputForms parses a 16 MiB message and reads its bytes twice
// (what sign+encrypt does: the hash and the encryption), from a CRLF file
// in place, an LF file (read in place through crlfView), and a pipe of
// each (copied into the spool, which spills to its encrypted file).
func BenchmarkInputForms(b *testing.B) {
	var buf bytes.Buffer
	io.Copy(&buf, bigMessage(16<<20))
	lf := buf.Bytes()
	crlfMsg := referenceCRLF(lf)
	dir := b.TempDir()
	for _, form := range []struct {
		name string
		data []byte
		pipe bool
	}{{"CRLF-file", crlfMsg, false}, {"LF-file", lf, false}, {"CRLF-pipe", crlfMsg, true}, {"LF-pipe", lf, true}} {
		name := filepath.Join(dir, form.name)
		if err := os.WriteFile(name, form.data, 0o600); err != nil {
			b.Fatal(err)
		}
		b.Run(form.name, func(b *testing.B) {
			b.SetBytes(int64(len(crlfMsg)))
			for i := 0; i < b.N; i++ {
				f, err := os.Open(name)
				if err != nil {
					b.Fatal(err)
				}
				var m *Message
				if form.pipe {
					pr, pw := io.Pipe()
					go func() { io.Copy(pw, f); pw.Close() }()
					m, err = Parse(pr, DefaultLimits(), 2<<20)
					f.Close()
				} else {
					m, err = ParseFile(f, DefaultLimits(), 2<<20)
				}
				if err != nil {
					b.Fatal(err)
				}
				for range 2 {
					if n, _ := io.Copy(io.Discard, m.Root.Raw()); n != int64(len(crlfMsg)) {
						b.Fatalf("read %d bytes, want %d", n, len(crlfMsg))
					}
				}
				m.Close()
			}
		})
	}
}

// sourceOffset gives, for a canonical offset, the source offset whose
// prefix has exactly that canonical form, and refuses the offsets between
// a CR and the LF the view puts in.
func TestCRLFViewSourceOffset(t *testing.T) {
	rng := rand.New(rand.NewSource(5))
	for _, size := range []int{0, 1, 100, viewMark + 7, 3 * viewMark} {
		for _, from := range []string{"", "From alice@example.org Sun Nov 22 10:00:00 2026\n"} {
			in := randomText(rng, size, true)
			src := append([]byte(from), in...)
			want := referenceCRLF(in)
			v, err := newCRLFView(bytes.NewReader(src), int64(len(src)), 1<<40)
			if err != nil {
				t.Fatal(err)
			}
			offs := []int{0, len(want)}
			for k := 0; k < 300 && len(want) > 0; k++ {
				offs = append(offs, rng.Intn(len(want)))
			}
			for _, off := range offs {
				s, ok := v.sourceOffset(int64(off))
				if !ok {
					// Only a LF the view put in may refuse: the canonical
					// byte before is a CR the source does not follow with LF.
					if off == 0 || want[off-1] != '\r' || want[off] != '\n' {
						t.Fatalf("size %d: sourceOffset(%d) refused", size, off)
					}
					continue
				}
				if got := referenceCRLF(src[len(from):s]); !bytes.Equal(got, want[:off]) {
					t.Fatalf("size %d: sourceOffset(%d) = %d, whose canonical prefix has %d bytes", size, off, s, len(got))
				}
			}
			if _, ok := v.sourceOffset(int64(len(want)) + 1); ok {
				t.Fatal("an offset past the end was given a source offset")
			}
		}
	}
}

// countingReaderAt counts the reads of r and the bytes they ask for.
type countingReaderAt struct {
	r            io.ReaderAt
	reads, bytes atomic.Int64
}

func (c *countingReaderAt) ReadAt(p []byte, off int64) (int, error) {
	c.reads.Add(1)
	c.bytes.Add(int64(len(p)))
	return c.r.ReadAt(p, off)
}

// A small ReadAt of the view that starts past every cursor reads the
// source once, whatever it converts to get there (it took one read per
// 4 KiB converted, and one more for what was asked: a message of many
// small parts with LF line endings took twice the system calls of its
// CRLF form).
func TestCRLFViewSmallReadOnce(t *testing.T) {
	rng := rand.New(rand.NewSource(5))
	in := randomText(rng, 3*viewMark, false)
	c := &countingReaderAt{r: bytes.NewReader(in)}
	v, err := newCRLFView(c, int64(len(in)), 1<<40)
	if err != nil {
		t.Fatal(err)
	}
	want := referenceCRLF(in)
	for _, off := range []int{viewMark - 10, 2*viewMark - 100, 2*viewMark + 5000, 3*viewMark - 1} {
		c.reads.Store(0)
		buf := make([]byte, 80)
		n, err := v.ReadAt(buf, int64(off))
		if err != nil && err != io.EOF || !bytes.Equal(buf[:n], want[off:off+n]) {
			t.Fatalf("ReadAt(80, %d) = %d, %v, or differs from the reference", off, n, err)
		}
		if r := c.reads.Load(); r != 1 {
			t.Errorf("ReadAt(80, %d) read the source %d times, want once", off, r)
		}
	}
}

// The delimiter search through a view of a source with LF line endings
// reads the source about once, in large pieces, however many delimiters
// it finds: it converts their offsets by counting the LFs in the bytes it
// holds (it took two more reads for each delimiter, and a message of a
// million small parts twice the time of its CRLF form).
func TestSplitPartsThroughViewReadsOnce(t *testing.T) {
	var b bytes.Buffer
	for i := 0; i < 50000; i++ {
		fmt.Fprintf(&b, "--sep\n\npart %d\n", i)
	}
	b.WriteString("--sep--\n")
	src := b.Bytes()
	c := &countingReaderAt{r: bytes.NewReader(src)}
	v, err := newCRLFView(c, int64(len(src)), 1<<40)
	if err != nil {
		t.Fatal(err)
	}
	lim := DefaultLimits()
	lim.MaxParts = 1 << 20
	c.reads.Store(0)
	c.bytes.Store(0)
	e := &Entity{bodyStart: 0, end: v.Size()}
	p := &parser{src: v, lim: lim, minHashed: 1 << 62}
	spans, _, err := p.splitParts(e, "sep", nil)
	if err != nil || len(spans) != 50000 {
		t.Fatalf("%d parts, %v", len(spans), err)
	}
	canonical := bytes.ReplaceAll(src, []byte("\n"), []byte("\r\n"))
	for i, sp := range spans[:3] {
		if want := fmt.Sprintf("part %d", i); string(canonical[sp.start:sp.end]) != "\r\n"+want {
			t.Fatalf("part %d is %q", i, canonical[sp.start:sp.end])
		}
	}
	if r, n := c.reads.Load(), c.bytes.Load(); r > int64(len(src))/(32<<10)+2 || n > 2*int64(len(src)) {
		t.Errorf("the search of %d bytes read the source %d times, %d bytes", len(src), r, n)
	}
}

// A base64 body read through the view is decoded from the source as it
// lies, without the conversion; Body and BodyStaged give what they give for
// the canonical copy, whatever the line endings (LF, CRLF, bare CR, mixed),
// in a leaf root and in a part, and in BodyStaged's parallel decoder.
func TestBase64BodyThroughView(t *testing.T) {
	rng := rand.New(rand.NewSource(9))
	data := make([]byte, parallelMin+(100<<10))
	rng.Read(data)
	lines := b64Lines(data)
	for _, ends := range []string{"\n", "\r\n", "mixed"} {
		var body bytes.Buffer
		for i, l := range lines {
			end := ends
			if ends == "mixed" {
				end = []string{"\n", "\r\n", "\r"}[i%3]
			}
			body.WriteString(l)
			body.WriteString(end)
		}
		leaf := "From: a@example.org\nContent-Type: application/octet-stream\nContent-Transfer-Encoding: base64\n\n" + body.String()
		part := "From: a@example.org\nContent-Type: multipart/mixed; boundary=b\n\n--b\nContent-Type: text/plain\n\nhi\n--b\n" +
			"Content-Type: application/octet-stream\nContent-Transfer-Encoding: base64\n\n" + body.String() + "\n--b--\n"
		for name, msg := range map[string]string{"leaf": leaf, "part": part} {
			src := []byte(msg)
			m, err := ParseAt(bytes.NewReader(src), int64(len(src)), DefaultLimits(), 1<<20)
			if err != nil {
				t.Fatal(err)
			}
			if m.spool != nil {
				t.Fatalf("%s %q: spooled", name, ends)
			}
			ents := m.Entities()
			e := ents[len(ents)-1]
			if outer, _, _ := e.encodedBody().(*io.SectionReader).Outer(); outer != io.ReaderAt(m.Root.src.(*crlfView).src) {
				t.Fatalf("%s %q: the base64 body is not read from the source", name, ends)
			}
			got, _ := io.ReadAll(e.Body())
			staged := e.BodyStaged()
			gotStaged, _ := io.ReadAll(staged)
			staged.Close()
			if !bytes.Equal(got, data) || !bytes.Equal(gotStaged, data) {
				t.Fatalf("%s %q: Body equal %v, BodyStaged equal %v", name, ends, bytes.Equal(got, data), bytes.Equal(gotStaged, data))
			}
			m.Close()
		}
	}
}

// b64Lines is data in standard base64, in lines of 76 characters.
func b64Lines(data []byte) []string {
	enc := base64.StdEncoding.EncodeToString(data)
	var lines []string
	for len(enc) > 76 {
		lines = append(lines, enc[:76])
		enc = enc[76:]
	}
	return append(lines, enc)
}

func trunc(b []byte) []byte { return b[:min(len(b), 80)] }

// Reads of the last few canonical bytes, also starting between the CR and
// LF the view puts in for the source's last line ending, give the
// reference's bytes, whatever the source ends with.
func TestCRLFViewTailReads(t *testing.T) {
	rng := rand.New(rand.NewSource(1))
	for _, size := range []int{1, 2, 5, viewMark - 1, viewMark, viewMark + 1, 2 * viewMark} {
		for _, mixed := range []bool{false, true} {
			for _, end := range []string{"\n", "\r", "\r\n", "x"} {
				in := append(randomText(rng, size, mixed), end...)
				want := referenceCRLF(in)
				for k := 1; k <= 6 && k <= len(want); k++ {
					off := len(want) - k
					v, err := newCRLFView(bytes.NewReader(in), int64(len(in)), 1<<40)
					if err != nil {
						t.Fatal(err)
					}
					for _, l := range []int{1, k, k + 3} {
						buf := make([]byte, l)
						n, err := v.ReadAt(buf, int64(off))
						wn := min(l, k)
						if n != wn || !bytes.Equal(buf[:n], want[off:off+n]) || (n < l) != (err == io.EOF) || (err != nil && err != io.EOF) {
							t.Fatalf("size %d end %q: ReadAt(%d, %d) = %d, %v, %q; want %q", size, end, l, off, n, err, buf[:n], want[off:off+wn])
						}
					}
				}
			}
		}
	}
}

// BenchmarkCRLFStateFill converts 16 MiB of base64 lines with LF endings
// 64 KiB at a time, as a reader of an LF file's view does.
func BenchmarkCRLFStateFill(b *testing.B) {
	raw := make([]byte, 12<<20)
	src := []byte(base64.StdEncoding.EncodeToString(raw))
	var lines []byte
	for len(src) > 76 {
		lines = append(append(lines, src[:76]...), '\n')
		src = src[76:]
	}
	dst := make([]byte, 64<<10)
	b.SetBytes(int64(len(lines)))
	for b.Loop() {
		var st crlfState
		for rest := lines; len(rest) > 0; {
			_, ns := st.fill(dst, rest[:min(len(rest), 64<<10)])
			rest = rest[ns:]
		}
	}
}
