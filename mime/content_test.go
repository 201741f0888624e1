package mime

import (
	"bytes"
	"crypto/rand"
	"fmt"
	"io"
	mrand "math/rand"
	"os"
	"strings"
	"testing"
)

func readFile(t testing.TB, name string) string {
	t.Helper()
	b, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// assertSevenBit fails if data has a byte >= 128 or NUL, or a line over 998 octets.
func assertSevenBit(t *testing.T, data []byte) {
	t.Helper()
	for i, line := range bytes.Split(data, []byte("\r\n")) {
		if len(line) > 998 {
			t.Errorf("line %d has %d octets", i+1, len(line))
		}
		for _, c := range line {
			if c == 0 || c >= 0x80 {
				t.Errorf("line %d has byte %#x: %q", i+1, c, line)
				break
			}
		}
	}
}

func TestContentExact(t *testing.T) {
	cases := []struct{ name, in, want string }{
		{
			"non-content fields dropped, order kept",
			"From: a@example.org\nContent-Type: text/plain; charset=utf-8\nSubject: x\nMIME-Version: 1.0\nContent-Transfer-Encoding: quoted-printable\n\nCaf=C3=A9\n",
			"Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\nCaf=C3=A9\r\n",
		},
		{
			"no content type",
			"Subject: x\n\nhello",
			"Content-Type: text/plain; charset=us-ascii\r\n\r\nhello",
		},
		{
			"no content type but other content fields",
			"Content-Language: en\nSubject: x\n\nhello",
			"Content-Type: text/plain; charset=us-ascii\r\nContent-Language: en\r\n\r\nhello",
		},
		{
			"header only",
			"Subject: x",
			"Content-Type: text/plain; charset=us-ascii\r\n\r\n",
		},
		{
			"folded content type",
			"Content-Type: multipart/mixed;\n boundary=b\n\n--b\n\nx\n--b--\n",
			"Content-Type: multipart/mixed;\r\n boundary=b\r\n\r\n--b\r\n\r\nx\r\n--b--\r\n",
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			m := mustParse(t, tc.in)
			for _, seven := range []bool{false, true} {
				if got := readString(t, m.Content(seven)); got != tc.want {
					t.Errorf("Content(%v)\n got %q\nwant %q", seven, got, tc.want)
				}
			}
		})
	}
}

func TestContentSevenBitCleanStaysExact(t *testing.T) {
	for _, f := range []string{"testdata/pgp-signed-thunderbird.eml", "testdata/html-alternative.eml"} {
		m := mustParse(t, readFile(t, f))
		exact := readString(t, m.Content(false))
		if seven := readString(t, m.Content(true)); seven != exact {
			t.Errorf("%s: Content(true) differs from the exact content", f)
		}
		// And the exact content is the root's content fields and raw body.
		var want strings.Builder
		for _, fl := range m.Root.Header.ContentFields() {
			want.Write(fl.Raw)
		}
		want.WriteString("\r\n" + readString(t, m.Root.RawBody()))
		if exact != want.String() {
			t.Errorf("%s: exact content is not fields + body", f)
		}
	}
}

func TestContentReencode(t *testing.T) {
	binary := make([]byte, 3000)
	rand.Read(binary)
	longLine := strings.Repeat("abcdefghij", 120) // 1200 octets
	cases := []struct {
		name    string
		in      string
		wantCTE map[string]string // path -> Content-Transfer-Encoding after re-encoding
	}{
		{
			"8bit text leaf",
			"Content-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: 8bit\n\nGrüße   \nline two\n",
			map[string]string{"": "quoted-printable"},
		},
		{
			"non-ASCII without CTE",
			"Content-Type: text/plain; charset=utf-8\n\nGrüße\n",
			map[string]string{"": "quoted-printable"},
		},
		{
			"8bit but clean is only relabelled",
			"Content-Type: text/plain\nContent-Transfer-Encoding: 8bit\n\nplain ascii\n",
			map[string]string{"": "7bit"},
		},
		{
			"binary attachment",
			"Content-Type: application/octet-stream\nContent-Transfer-Encoding: binary\n\n" + string(binary),
			map[string]string{"": "base64"},
		},
		{
			"long line",
			"Content-Type: text/plain\n\n" + longLine + "\nshort\n",
			map[string]string{"": "quoted-printable"},
		},
		{
			"nested: only the dirty leaf changes",
			"Content-Type: multipart/mixed; boundary=b\nContent-Transfer-Encoding: 8bit\n\npreamble\n--b\nContent-Type: text/plain\n\nclean\n--b\nContent-Type: multipart/alternative; boundary=c\n\n--c\nContent-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: 8bit\nContent-Disposition: inline\n\nnaïve\n--c\nContent-Type: text/html\n\n<p>ok</p>\n--c--\n--b\nContent-Type: image/png\n\n\x89PNG\r\n\x1a\n--b--\nepilogue\n",
			map[string]string{"": "7bit", "1": "", "2": "", "2.1": "quoted-printable", "2.2": "", "3": "base64"},
		},
		{
			"testdata attachment",
			readFile(t, "testdata/attachment-8bit.eml"),
			map[string]string{"": "7bit", "1": "quoted-printable", "2": "base64"},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			m := mustParse(t, tc.in)
			out, err := io.ReadAll(m.Content(true))
			if err != nil {
				t.Fatal(err)
			}
			assertSevenBit(t, out)
			m2 := mustParse(t, string(out))
			checkInvariants(t, m2)
			orig, re := m.Entities(), m2.Entities()
			if len(orig) != len(re) {
				t.Fatalf("%d entities after re-encoding, %d before", len(re), len(orig))
			}
			for i, e := range orig {
				r := re[i]
				if r.Path != e.Path || r.MediaType != e.MediaType {
					t.Errorf("entity %d: %q %s became %q %s", i, e.Path, e.MediaType, r.Path, r.MediaType)
				}
				if got, want := r.Header.Get("Content-Transfer-Encoding"), tc.wantCTE[e.Path]; want != "" && got != want {
					t.Errorf("entity %q: CTE %q, want %q", e.Path, got, want)
				}
				if e.Path != "" && !changedWithin(tc.wantCTE, e.Path) {
					// Unchanged entities are byte-exact.
					if readString(t, r.Raw()) != readString(t, e.Raw()) {
						t.Errorf("entity %q changed", e.Path)
					}
				}
				if !e.IsMultipart() {
					if got, want := readString(t, r.Body()), readString(t, e.Body()); got != want {
						t.Errorf("entity %q: decoded body changed:\n got %q\nwant %q", e.Path, got, want)
					}
				}
			}
			// Other header fields of a changed entity keep their order and bytes.
			for _, e := range orig {
				r := m2.Find(e.Path)
				want := e.Header
				if e.Path == "" {
					want = e.Header.ContentFields()
				}
				if len(r.Header) != len(want)+btoi(!want.has("Content-Transfer-Encoding") && tc.wantCTE[e.Path] != "") {
					t.Errorf("entity %q: %d fields, had %d", e.Path, len(r.Header), len(want))
				}
			}
		})
	}
}

// changedWithin reports whether the entity at path or one below it is re-encoded.
func changedWithin(cte map[string]string, path string) bool {
	for p, v := range cte {
		if v != "" && (p == path || strings.HasPrefix(p, path+".")) {
			return true
		}
	}
	return false
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

func TestContentBase64LineLength(t *testing.T) {
	data := make([]byte, 10000)
	rand.Read(data)
	m := mustParse(t, "Content-Type: application/zip\n\n"+string(data))
	out := readString(t, m.Content(true))
	_, body, _ := strings.Cut(out, "\r\n\r\n")
	lines := strings.Split(body, "\r\n")
	for i, l := range lines {
		if len(l) > 76 || (i < len(lines)-1 && len(l) != 76) {
			t.Fatalf("line %d has %d characters", i+1, len(l))
		}
	}
}

func TestContentStreamsAfterClose(t *testing.T) {
	// Reading Content of a closed message fails cleanly (no panic).
	m, err := Parse(strings.NewReader("Content-Type: text/plain\n\nGrüße\n"), DefaultLimits(), 1024)
	if err != nil {
		t.Fatal(err)
	}
	m.Close()
	if _, err := io.ReadAll(m.Content(true)); err == nil {
		t.Error("reading a closed message succeeded")
	}
}

func TestQPEncoderRoundTrip(t *testing.T) {
	inputs := []string{
		"", "plain", "line\r\n", "a\r\nb", "trailing space \r\ntab\t\r\n", "end with space ",
		"bare\rcr and bare\nlf", "cr at the end\r", "= sign =3D", "-- dash\r\n--b\r\n-",
		strings.Repeat("x", 72) + "-boundary", strings.Repeat("é", 100),
		strings.Repeat(" ", 200) + "\r\n", strings.Repeat("a ", 40) + "\r\n",
	}
	for i := 0; i < 200; i++ {
		b := make([]byte, i*7)
		rand.Read(b)
		for j := range b { // mostly text, some specials
			switch b[j] % 8 {
			case 0:
				b[j] = ' '
			case 1:
				b[j] = '\r'
			case 2:
				b[j] = '\n'
			case 3:
				b[j] = '-'
			}
		}
		inputs = append(inputs, string(b))
	}
	for _, in := range inputs {
		var out bytes.Buffer
		enc := &qpEncoder{w: &out}
		// Write in uneven pieces to exercise the CR state across writes.
		for rest := in; len(rest) > 0; {
			n := min(len(rest), 1+len(rest)%5)
			enc.Write([]byte(rest[:n]))
			rest = rest[n:]
		}
		if err := enc.Close(); err != nil {
			t.Fatal(err)
		}
		for _, line := range strings.Split(out.String(), "\r\n") {
			if len(line) > 76 || strings.HasPrefix(line, "-") || strings.ContainsAny(line, "\r\n") ||
				strings.HasSuffix(line, " ") || strings.HasSuffix(line, "\t") {
				t.Fatalf("bad line %q in the encoding of %q", line, in)
			}
		}
		assertSevenBit(t, out.Bytes())
		dec, err := io.ReadAll(newQPDecoder(&out))
		if err != nil || string(dec) != in {
			t.Fatalf("round trip of %q gave %q (%v)", in, dec, err)
		}
	}
}

func TestContentReencodingCannotForgeDelimiters(t *testing.T) {
	// An 8-bit line that, soft-broken at 76 characters, would put the
	// enclosing boundary at the start of a line.
	for pad := 60; pad < 80; pad++ {
		in := "Content-Type: multipart/mixed; boundary=b\n\n--b\nContent-Type: text/plain; charset=utf-8\n\né" +
			strings.Repeat("x", pad) + "--b--\n--b\n\nsecond\n--b--\n"
		m := mustParse(t, in)
		out := readString(t, m.Content(true))
		m2 := mustParse(t, out)
		if len(m2.Root.Children) != 2 || readString(t, m2.Find("1").Body()) != readString(t, m.Find("1").Body()) {
			t.Fatalf("pad %d: structure changed:\n%s", pad, out)
		}
	}
}

// referenceSevenBitClean is the obvious byte-at-a-time check.
func referenceSevenBitClean(b []byte) bool {
	lineLen := 0
	for _, c := range b {
		switch {
		case c == 0 || c >= 0x80:
			return false
		case c == '\n':
			lineLen = 0
		case c == '\r':
		default:
			lineLen++
			if lineLen > maxLineLength {
				return false
			}
		}
	}
	return true
}

// chunkedReader returns its data in reads of random sizes.
type chunkedReader struct {
	data []byte
	rng  *mrand.Rand
}

func (c *chunkedReader) Read(p []byte) (int, error) {
	if len(c.data) == 0 {
		return 0, io.EOF
	}
	n := copy(p[:min(len(p), 1+c.rng.Intn(3000))], c.data)
	c.data = c.data[n:]
	return n, nil
}

// sevenBitClean agrees with the byte-at-a-time reference on lines around
// the length limit, CRs anywhere, 8-bit bytes and NULs, read in pieces of
// any size.
func TestSevenBitCleanMatchesReference(t *testing.T) {
	rng := mrand.New(mrand.NewSource(9))
	for n := 0; n < 3000; n++ {
		var in []byte
		for len(in) < rng.Intn(20000) {
			width := []int{0, 3, 40, 76, 997, 998, 999, 1000, 2500}[rng.Intn(9)]
			line := bytes.Repeat([]byte("a"), width)
			if width > 0 && rng.Intn(4) == 0 {
				line[rng.Intn(width)] = '\r'
			}
			in = append(append(in, line...), "\r\n"[rng.Intn(2):]...)
		}
		if len(in) > 0 && rng.Intn(5) == 0 {
			in[rng.Intn(len(in))] = []byte{0, 0x80, 0xff, 0x7f}[rng.Intn(4)]
		}
		if rng.Intn(3) == 0 {
			in = append(in, bytes.Repeat([]byte("b"), 990+rng.Intn(20))...) // no line end
		}
		got, err := sevenBitClean(&chunkedReader{in, rng})
		if want := referenceSevenBitClean(in); err != nil || got != want {
			t.Fatalf("input of %d bytes: %v %v, reference %v", len(in), got, err, want)
		}
	}
}

// For a message read through an index of its LF line endings, the 7-bit
// check reads the source bytes (lfBody), and answers as the reference does
// on the canonical body; with a CR in the source it reads the canonical
// body.
func TestSevenBitCleanLFSource(t *testing.T) {
	rng := mrand.New(mrand.NewSource(4))
	for n := 0; n < 40; n++ {
		var body []byte
		for len(body) < 100<<10 {
			width := []int{0, 5, 60, 997, 998, 999}[rng.Intn(6)]
			body = append(append(body, bytes.Repeat([]byte("a"), width)...), '\n')
		}
		if n%4 == 1 {
			body[rng.Intn(len(body))] = 0x80
		}
		withCR := n%4 == 2
		if withCR {
			body[rng.Intn(len(body))] = '\r'
		}
		msg := append([]byte("From: a@example.org\nContent-Type: text/plain\nContent-Transfer-Encoding: 8bit\n\n"), body...)
		m, err := ParseAt(bytes.NewReader(msg), int64(len(msg)), Limits{}, 0)
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := m.Root.src.(*crlfView); !ok {
			t.Fatal("test set-up: not read through a crlfView")
		}
		canonical, _ := io.ReadAll(m.Root.RawBody())
		lf, _ := io.ReadAll(m.Root.lfBody())
		if withCR != bytes.Equal(lf, canonical) || !withCR && !bytes.Equal(lf, bytes.ReplaceAll(canonical, []byte("\r\n"), []byte("\n"))) {
			t.Fatalf("CR in the source %v: lfBody is not what it should be", withCR)
		}
		got, err := sevenBitClean(m.Root.lfBody())
		if want := referenceSevenBitClean(canonical); err != nil || got != want {
			t.Fatalf("message %d: %v %v, reference %v", n, got, err, want)
		}
		m.Close()
	}
}

// The content readers tell about how much they yield, so that a copy sizes
// its buffer to the message (stage.ReadBufferSize).
func TestContentSizeHint(t *testing.T) {
	m := mustParse(t, "From: a@example.org\r\nSubject: s\r\nContent-Type: text/plain\r\n\r\n"+strings.Repeat("line\r\n", 500))
	type hinter interface{ SizeHint() int64 }
	for name, r := range map[string]io.Reader{
		"Content":         m.Content(false),
		"Content 7-bit":   m.Content(true),
		"Protect encrypt": func() io.Reader { _, p := Protect(m, ProtectOptions{Encrypt: true}); return p }(),
		"Protect sign":    func() io.Reader { _, p := Protect(m, ProtectOptions{SevenBit: true}); return p }(),
	} {
		h, ok := r.(hinter)
		if !ok {
			t.Fatalf("%s: no SizeHint", name)
		}
		n, err := io.Copy(io.Discard, r)
		if err != nil {
			t.Fatal(err)
		}
		if got := h.SizeHint(); got < m.Size() || got > n+m.Size() {
			t.Errorf("%s: SizeHint %d for %d bytes of a %d-byte message", name, got, n, m.Size())
		}
	}
}

// Planning the 7-bit form of an LF message of many small parts reads
// about the message, not a search of the source per part (finding each
// small body's range in the source read up to 16 KiB before each end: 2.5
// times the time of signing 9,999 such parts).
func TestSevenBitPlanSmallPartsLF(t *testing.T) {
	var b strings.Builder
	b.WriteString("Subject: parts\nContent-Type: multipart/mixed; boundary=B\n\n")
	for i := 0; i < 2000; i++ {
		fmt.Fprintf(&b, "--B\nContent-Type: text/plain\n\npart %d\n", i)
	}
	b.WriteString("--B--\n")
	msg := b.String()
	src := &countingReaderAt{r: strings.NewReader(msg)}
	m, err := ParseAt(src, int64(len(msg)), Limits{}, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	if _, ok := m.Root.src.(*crlfView); !ok {
		t.Fatal("test set-up: not read through a crlfView")
	}
	before := src.bytes.Load()
	if _, err := io.Copy(io.Discard, m.Content(true)); err != nil {
		t.Fatal(err)
	}
	if read := src.bytes.Load() - before; read > 8*int64(len(msg)) {
		t.Fatalf("%d bytes read for a message of %d", read, len(msg))
	}
}
