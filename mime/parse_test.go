package mime

import (
	"bufio"
	"bytes"
	"crypto"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"math/rand"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/mailseal/mailseal/core"
	"github.com/mailseal/mailseal/internal/spool"
)

func mustParse(t testing.TB, s string) *Message {
	t.Helper()
	m, err := Parse(strings.NewReader(s), DefaultLimits(), 1<<20)
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	t.Cleanup(func() { m.Close() })
	return m
}

func readString(t testing.TB, r io.Reader) string {
	t.Helper()
	b, err := io.ReadAll(r)
	if err != nil {
		t.Fatalf("read: %v", err)
	}
	return string(b)
}

// wantEntity describes an expected entity; an empty mediaType and a raw or
// body of "-" are not checked.
type wantEntity struct {
	path      string
	mediaType string
	raw       string
	body      string // RawBody
}

// parseCases are shared with the fuzz seeds.
var parseCases = []struct {
	name  string
	input string
	want  []wantEntity // depth-first
}{
	{
		name:  "lf only",
		input: "Subject: hi\nFrom: a@example.org\n\nhello\nworld\n",
		want: []wantEntity{{"", "text/plain",
			"Subject: hi\r\nFrom: a@example.org\r\n\r\nhello\r\nworld\r\n", "hello\r\nworld\r\n"}},
	},
	{
		name:  "cr only",
		input: "Subject: hi\r\rhello\rworld",
		want:  []wantEntity{{"", "text/plain", "Subject: hi\r\n\r\nhello\r\nworld", "hello\r\nworld"}},
	},
	{
		name:  "mixed line endings",
		input: "A: 1\r\nB: 2\n\r\nx\r\ry\n\nz",
		want:  []wantEntity{{"", "text/plain", "A: 1\r\nB: 2\r\n\r\nx\r\n\r\ny\r\n\r\nz", "x\r\n\r\ny\r\n\r\nz"}},
	},
	{
		name:  "mbox From line skipped",
		input: "From alice@example.org Mon Nov  4 10:12:03 2024\nSubject: x\n\nbody\n",
		want:  []wantEntity{{"", "text/plain", "Subject: x\r\n\r\nbody\r\n", "body\r\n"}},
	},
	{
		name:  "From field kept",
		input: "From: a@example.org\n\nbody",
		want:  []wantEntity{{"", "text/plain", "From: a@example.org\r\n\r\nbody", "body"}},
	},
	{
		name:  "obsolete From field kept",
		input: "From : a@example.org\n\nbody",
		want:  []wantEntity{{"", "text/plain", "From : a@example.org\r\n\r\nbody", "body"}},
	},
	{
		name:  "header without body",
		input: "Subject: only a header",
		want:  []wantEntity{{"", "text/plain", "Subject: only a header", ""}},
	},
	{
		name:  "header and blank line",
		input: "Subject: x\n\n",
		want:  []wantEntity{{"", "text/plain", "Subject: x\r\n\r\n", ""}},
	},
	{
		name:  "empty input",
		input: "",
		want:  []wantEntity{{"", "text/plain", "", ""}},
	},
	{
		name:  "no header",
		input: "\nbody only\n",
		want:  []wantEntity{{"", "text/plain", "\r\nbody only\r\n", "body only\r\n"}},
	},
	{
		name:  "non-field line ends the header",
		input: "Subject: x\nthis is the body\n",
		want:  []wantEntity{{"", "text/plain", "Subject: x\r\nthis is the body\r\n", "this is the body\r\n"}},
	},
	{
		name:  "unparseable content type",
		input: "Content-Type: text\n\nx",
		want:  []wantEntity{{"", "application/octet-stream", "Content-Type: text\r\n\r\nx", "x"}},
	},
	{
		name:  "multipart with preamble and epilogue",
		input: "Content-Type: multipart/mixed; boundary=b\n\npreamble\n--b\nContent-Type: text/plain\n\none\n--b\n\ntwo\n\n--b--\nepilogue\n",
		want: []wantEntity{
			{"", "multipart/mixed", "-", "preamble\r\n--b\r\nContent-Type: text/plain\r\n\r\none\r\n--b\r\n\r\ntwo\r\n\r\n--b--\r\nepilogue\r\n"},
			{"1", "text/plain", "Content-Type: text/plain\r\n\r\none", "one"},
			{"2", "text/plain", "\r\ntwo\r\n", "two\r\n"},
		},
	},
	{
		name:  "first delimiter at body start, close at EOF without CRLF",
		input: "Content-Type: multipart/mixed; boundary=\"b b\"\r\n\r\n--b b\r\n\r\nx\r\n--b b--",
		want: []wantEntity{
			{"", "multipart/mixed", "-", "-"},
			{"1", "text/plain", "\r\nx", "x"},
		},
	},
	{
		name:  "transport padding",
		input: "Content-Type: multipart/mixed; boundary=b\n\n--b \t \nA: 1\n\nx\n--b\t\n\ny\n--b--  \n",
		want: []wantEntity{
			{"", "multipart/mixed", "-", "-"},
			{"1", "", "A: 1\r\n\r\nx", "x"},
			{"2", "", "\r\ny", "y"},
		},
	},
	{
		name:  "missing close delimiter",
		input: "Content-Type: multipart/mixed; boundary=b\n\n--b\n\nfirst\n--b\n\nsecond\nand more\n",
		want: []wantEntity{
			{"", "multipart/mixed", "-", "-"},
			{"1", "", "\r\nfirst", "first"},
			{"2", "", "\r\nsecond\r\nand more\r\n", "second\r\nand more\r\n"},
		},
	},
	{
		name:  "boundary as prefix of a longer line is not a delimiter",
		input: "Content-Type: multipart/mixed; boundary=b\n\n--b\n\n--bb\n--b-x\n--b--\n",
		want: []wantEntity{
			{"", "multipart/mixed", "-", "-"},
			{"1", "", "\r\n--bb\r\n--b-x", "--bb\r\n--b-x"},
		},
	},
	{
		name:  "empty parts",
		input: "Content-Type: multipart/mixed; boundary=b\n\n--b\n--b\n\n--b--",
		want: []wantEntity{
			{"", "multipart/mixed", "-", "-"},
			{"1", "", "", ""},
			{"2", "", "", ""},
		},
	},
	{
		name: "nested multipart",
		input: "Content-Type: multipart/mixed; boundary=outer\n\n--outer\n" +
			"Content-Type: multipart/alternative; boundary=inner\n\n--inner\nContent-Type: text/plain\n\nplain\n--inner\nContent-Type: text/html\n\n<p>html</p>\n--inner--\n" +
			"--outer\nContent-Type: application/octet-stream\nContent-Transfer-Encoding: base64\n\nAAEC\n--outer--\n",
		want: []wantEntity{
			{"", "multipart/mixed", "-", "-"},
			{"1", "multipart/alternative", "Content-Type: multipart/alternative; boundary=inner\r\n\r\n--inner\r\nContent-Type: text/plain\r\n\r\nplain\r\n--inner\r\nContent-Type: text/html\r\n\r\n<p>html</p>\r\n--inner--", "-"},
			{"1.1", "text/plain", "Content-Type: text/plain\r\n\r\nplain", "plain"},
			{"1.2", "text/html", "Content-Type: text/html\r\n\r\n<p>html</p>", "<p>html</p>"},
			{"2", "application/octet-stream", "Content-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\r\nAAEC", "AAEC"},
		},
	},
	{
		name:  "digest children default to message/rfc822 and are leaves",
		input: "Content-Type: multipart/digest; boundary=d\n\n--d\n\nContent-Type: multipart/mixed; boundary=x\n\n--x\n\ninner\n--x--\n--d--\n",
		want: []wantEntity{
			{"", "multipart/digest", "-", "-"},
			{"1", "message/rfc822", "\r\nContent-Type: multipart/mixed; boundary=x\r\n\r\n--x\r\n\r\ninner\r\n--x--", "-"},
		},
	},
	{
		name:  "multipart without boundary is a leaf",
		input: "Content-Type: multipart/mixed\n\n--b\n\nx\n",
		want:  []wantEntity{{"", "multipart/mixed", "-", "--b\r\n\r\nx\r\n"}},
	},
	{
		name:  "duplicate parameter is tolerated",
		input: "Content-Type: multipart/mixed; boundary=a; boundary=b\n\n--a\n\nx\n--a--\n",
		want: []wantEntity{
			{"", "multipart/mixed", "-", "-"},
			{"1", "text/plain", "\r\nx", "x"},
		},
	},
}

func TestParse(t *testing.T) {
	for _, tc := range parseCases {
		t.Run(tc.name, func(t *testing.T) {
			m := mustParse(t, tc.input)
			got := m.Entities()
			if len(got) != len(tc.want) {
				t.Fatalf("got %d entities, want %d", len(got), len(tc.want))
			}
			for i, w := range tc.want {
				e := got[i]
				if e.Path != w.path {
					t.Errorf("entity %d: path %q, want %q", i, e.Path, w.path)
				}
				if w.mediaType != "" && e.MediaType != w.mediaType {
					t.Errorf("entity %q: media type %q, want %q", e.Path, e.MediaType, w.mediaType)
				}
				if w.raw != "-" {
					if raw := readString(t, e.Raw()); raw != w.raw {
						t.Errorf("entity %q: Raw\n got %q\nwant %q", e.Path, raw, w.raw)
					}
				}
				if w.body != "-" {
					if body := readString(t, e.RawBody()); body != w.body {
						t.Errorf("entity %q: RawBody\n got %q\nwant %q", e.Path, body, w.body)
					}
				}
				if e.BodySize() != int64(len(readString(t, e.RawBody()))) {
					t.Errorf("entity %q: BodySize %d wrong", e.Path, e.BodySize())
				}
				if m.Find(e.Path) != e {
					t.Errorf("Find(%q) does not return the entity", e.Path)
				}
			}
		})
	}
}

func TestParseHeaderFields(t *testing.T) {
	m := mustParse(t, "Subject: a\n  folded\tsubject  \nX-Empty:\nContent-Type: text/plain;\n charset=\"utf-8\"\nContent-Transfer-Encoding:  Quoted-Printable\n\nbody")
	h := m.Root.Header
	if len(h) != 4 {
		t.Fatalf("got %d fields", len(h))
	}
	if h[0].Key != "Subject" || h[0].Value != "a  folded\tsubject" || string(h[0].Raw) != "Subject: a\r\n  folded\tsubject  \r\n" {
		t.Errorf("Subject field: %+v (raw %q)", h[0], h[0].Raw)
	}
	if h.Get("x-empty") != "" || len(h.Values("X-EMPTY")) != 1 {
		t.Errorf("X-Empty: %q", h.Values("X-EMPTY"))
	}
	if m.Root.MediaType != "text/plain" || m.Root.Params["charset"] != "utf-8" {
		t.Errorf("media type %q %v", m.Root.MediaType, m.Root.Params)
	}
	if m.Root.transferEncoding() != "quoted-printable" {
		t.Errorf("cte %q", m.Root.transferEncoding())
	}
	if got := m.Root.Header.ContentFields(); len(got) != 2 || got[0].Key != "Content-Type" {
		t.Errorf("ContentFields: %v", got)
	}
	if got := m.Root.Header.NonContentFields(); len(got) != 2 || got[1].Key != "X-Empty" {
		t.Errorf("NonContentFields: %v", got)
	}
	if got := m.Root.Header.Without("subject", "X-Empty"); len(got) != 2 {
		t.Errorf("Without: %v", got)
	}
	// The last field without a line ending still gets its CRLF in Raw.
	m2 := mustParse(t, "A: 1\nB: 2")
	if raw := string(m2.Root.Header[1].Raw); raw != "B: 2\r\n" {
		t.Errorf("last field raw %q", raw)
	}
}

func TestParseDefaults(t *testing.T) {
	m := mustParse(t, "Subject: x\n\nbody")
	if m.Root.Params["charset"] != "us-ascii" {
		t.Errorf("default params %v", m.Root.Params)
	}
	if m.Root.IsMultipart() {
		t.Error("text/plain is multipart")
	}
	if m.Find("1") != nil || m.Find("x") != nil || m.Find("01") != nil {
		t.Error("Find of a missing part is not nil")
	}
	if m.Size() != int64(len("Subject: x\r\n\r\nbody")) {
		t.Errorf("Size %d", m.Size())
	}
}

func TestParseLimits(t *testing.T) {
	nested := func(depth int) string {
		var b strings.Builder
		for i := 0; i < depth; i++ {
			b.WriteString("Content-Type: multipart/mixed; boundary=b" + string(rune('a'+i)) + "\n\n--b" + string(rune('a'+i)) + "\n")
		}
		b.WriteString("\nleaf\n")
		return b.String()
	}
	manyParts := "Content-Type: multipart/mixed; boundary=b\n\n" + strings.Repeat("--b\n\nx\n", 20) + "--b--\n"
	cases := []struct {
		name  string
		input string
		lim   Limits
		ok    bool
		msg   string
	}{
		{"size ok", strings.Repeat("x", 100), Limits{MaxSize: 100}, true, ""},
		{"size exceeded", strings.Repeat("x", 101), Limits{MaxSize: 100}, false, "size limit of 100 bytes"},
		{"size counts canonical bytes", strings.Repeat("\n", 60), Limits{MaxSize: 100}, false, "size limit"},
		{"header ok", "A: " + strings.Repeat("x", 90) + "\n\nbody", Limits{MaxHeaderBytes: 100}, true, ""},
		{"header too big", "A: " + strings.Repeat("x", 200) + "\n\nbody", Limits{MaxHeaderBytes: 100}, false, "MaxHeaderBytes"},
		{"header too big, folded", "A: x\n" + strings.Repeat(" y\n", 100) + "\nbody", Limits{MaxHeaderBytes: 100}, false, "MaxHeaderBytes"},
		{"huge header default limit", "A: " + strings.Repeat("x", 2<<20) + "\n\nbody", Limits{}, false, "MaxHeaderBytes"},
		{"depth ok", nested(3), Limits{MaxDepth: 3}, true, ""},
		{"depth exceeded", nested(4), Limits{MaxDepth: 3}, false, "MaxDepth"},
		{"parts ok", manyParts, Limits{MaxParts: 21}, true, ""},
		{"parts exceeded", manyParts, Limits{MaxParts: 20}, false, "MaxParts"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			m, err := Parse(strings.NewReader(tc.input), tc.lim, 1<<20)
			if tc.ok {
				if err != nil {
					t.Fatalf("Parse: %v", err)
				}
				m.Close()
				return
			}
			if err == nil {
				m.Close()
				t.Fatal("Parse succeeded")
			}
			if !errors.Is(err, core.ErrInput) || !strings.Contains(err.Error(), tc.msg) || !strings.HasPrefix(err.Error(), "mime: ") {
				t.Errorf("error %q: want mime: ... %q wrapping ErrInput", err, tc.msg)
			}
			// The error names the limit, so that a caller can say how to
			// raise it.
			var le *core.LimitError
			want := tc.msg
			if strings.HasPrefix(want, "size limit") {
				want = "MaxSize"
			}
			if !errors.As(err, &le) || le.Limit != want {
				t.Errorf("error %q: no LimitError for %s (%+v)", err, want, le)
			}
		})
	}
}

type failingReader struct{}

func (failingReader) Read([]byte) (int, error) { return 0, errors.New("disk on fire") }

func TestParseReadError(t *testing.T) {
	_, err := Parse(failingReader{}, DefaultLimits(), 1024)
	if !errors.Is(err, core.ErrInput) || !strings.Contains(err.Error(), "disk on fire") {
		t.Errorf("error %v", err)
	}
}

func TestParseSpillsToFile(t *testing.T) {
	// A memory limit of 0 puts the whole message in the encrypted file.
	in := "Content-Type: multipart/mixed; boundary=b\n\n--b\n\none\n--b\n\ntwo\n--b--\n"
	m, err := Parse(strings.NewReader(in), DefaultLimits(), 0)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	if got := readString(t, m.Find("2").Body()); got != "two" {
		t.Errorf("body %q", got)
	}
}

func TestParseTestdata(t *testing.T) {
	files, _ := filepath.Glob("testdata/*.eml")
	if len(files) < 3 {
		t.Fatalf("only %d testdata messages", len(files))
	}
	want := map[string][]string{ // path:mediatype of every entity
		"pgp-signed-thunderbird.eml": {":multipart/signed", "1:multipart/mixed", "1.1:text/plain", "1.2:text/csv", "2:application/pgp-signature"},
		"html-alternative.eml":       {":multipart/alternative", "1:text/plain", "2:text/html"},
		"attachment-8bit.eml":        {":multipart/mixed", "1:text/plain", "2:application/pdf"},
	}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		m := mustParse(t, string(data))
		var got []string
		for _, e := range m.Entities() {
			got = append(got, e.Path+":"+e.MediaType)
		}
		if w, ok := want[filepath.Base(f)]; ok && strings.Join(got, " ") != strings.Join(w, " ") {
			t.Errorf("%s: entities %v, want %v", f, got, w)
		}
		checkInvariants(t, m)
	}
}

func TestThunderbirdSignedShape(t *testing.T) {
	data, err := os.ReadFile("testdata/pgp-signed-thunderbird.eml")
	if err != nil {
		t.Fatal(err)
	}
	m := mustParse(t, string(data))
	if m.Root.Params["protocol"] != "application/pgp-signature" || m.Root.Params["micalg"] != "pgp-sha256" {
		t.Errorf("params %v", m.Root.Params)
	}
	signed := readString(t, m.Find("1").Raw())
	if !strings.HasPrefix(signed, "Content-Type: multipart/mixed; boundary=\"------------p0Ks7XcRb2LmQy6VwE1aTuGd\";\r\n protected-headers=\"v1\"\r\n") ||
		!strings.HasSuffix(signed, "\r\n--------------p0Ks7XcRb2LmQy6VwE1aTuGd--\r\n") {
		t.Errorf("signed part:\n%q", signed)
	}
	if strings.Contains(signed, "\n\n") || strings.Count(signed, "\n") != strings.Count(signed, "\r\n") {
		t.Error("signed part is not CRLF-canonical")
	}
	sig := readString(t, m.Find("2").Body())
	if !strings.HasPrefix(sig, "-----BEGIN PGP SIGNATURE-----\r\n") || !strings.HasSuffix(sig, "-----END PGP SIGNATURE-----\r\n") {
		t.Errorf("signature %q", sig)
	}
	if got := readString(t, m.Find("1.2").Body()); got != "quarter,revenue\n1,100\n2,120\n3,90\n4,150\n" {
		t.Errorf("csv %q", got)
	}
}

func TestParseAtInPlace(t *testing.T) {
	canonical := "From: a@example.org\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n\r\nx\r\n--b--\r\n"
	for _, tc := range []struct {
		in      string
		inPlace bool
	}{
		{canonical, true},
		{strings.ReplaceAll(canonical, "\r\n", "\n"), false},
		{canonical + "tail\r", false},
		{"a\rb\r\n", false},
		{"From someone\r\n" + canonical, false},
	} {
		m, err := ParseAt(strings.NewReader(tc.in), int64(len(tc.in)), DefaultLimits(), 1<<20)
		if err != nil {
			t.Fatal(err)
		}
		if (m.spool == nil) != tc.inPlace {
			t.Errorf("%q: parsed in place %v, want %v", tc.in, m.spool == nil, tc.inPlace)
		}
		ref, _ := Parse(strings.NewReader(tc.in), DefaultLimits(), 1<<20)
		a, _ := io.ReadAll(m.Root.Raw())
		b, _ := io.ReadAll(ref.Root.Raw())
		if string(a) != string(b) || len(m.Root.Children) != len(ref.Root.Children) {
			t.Errorf("%q: ParseAt and Parse differ", tc.in)
		}
		m.Close()
		ref.Close()
	}
}

// referenceCRLF is the obvious byte-at-a-time canonicalisation.
func referenceCRLF(in []byte) []byte {
	var out []byte
	for i := 0; i < len(in); i++ {
		switch in[i] {
		case '\r':
			out = append(out, '\r', '\n')
			if i+1 < len(in) && in[i+1] == '\n' {
				i++
			}
		case '\n':
			out = append(out, '\r', '\n')
		default:
			out = append(out, in[i])
		}
	}
	return out
}

func TestCRLFConverterMatchesReference(t *testing.T) {
	rng := rand.New(rand.NewSource(1))
	for n := 0; n < 6000; n++ {
		alphabet := []byte("ab\r\n\r\n \r")
		if n%2 == 1 {
			alphabet = []byte("ab\n") // LF only: the converter's fast path
		}
		in := make([]byte, rng.Intn(200))
		for i := range in {
			in[i] = alphabet[rng.Intn(len(alphabet))]
		}
		if n%3 == 2 {
			in = referenceCRLF(in) // canonical: crlfWriter passes it through
		}
		var c crlfConverter
		var out []byte
		var written bytes.Buffer
		w := &crlfWriter{w: &written}
		for rest := in; len(rest) > 0; {
			k := 1 + rng.Intn(len(rest))
			out = c.convert(out, rest[:k])
			w.Write(rest[:k])
			rest = rest[k:]
		}
		if want := referenceCRLF(in); !bytes.Equal(out, want) || !bytes.Equal(written.Bytes(), want) {
			t.Fatalf("%q: converted %q, written %q, want %q", in, out, written.Bytes(), want)
		}
		// ParseAt's check agrees: canonical input is exactly what converts to itself.
		ok, _ := isCanonical(bytes.NewReader(in), int64(len(in)))
		if ok != (bytes.Equal(referenceCRLF(in), in) && !bytes.HasPrefix(in, []byte("From "))) {
			t.Fatalf("isCanonical(%q) = %v", in, ok)
		}
	}
}

func TestIsCanonicalAcrossChunks(t *testing.T) {
	base := bytes.Repeat([]byte("a"), canonicalChunk-1)
	for _, tc := range []struct {
		tail string
		want bool
	}{{"\r\nok\r\n", true}, {"\rx\r\n", false}, {"\n\r\n", false}, {"\r", false}, {"\r\n", true}} {
		in := append(bytes.Clone(base), tc.tail...)
		if got, _ := isCanonical(bytes.NewReader(in), int64(len(in))); got != tc.want {
			t.Errorf("tail %q: %v, want %v", tc.tail, got, tc.want)
		}
	}
}

// ParseFile reads a CRLF file in place from its current offset, falls back
// to spooling for LF files and pipes, and closes the file with the message.
func TestParseFile(t *testing.T) {
	crlf := "Subject: x\r\nContent-Type: text/plain\r\n\r\nbody\r\n"
	for _, tc := range []struct {
		name, data string
		skip       int
		inPlace    bool
	}{
		{"crlf", crlf, 0, true},
		{"offset", "junk" + crlf, 4, true},
		{"lf", strings.ReplaceAll(crlf, "\r\n", "\n"), 0, false},
		{"mbox", "From a@b Sat Jan  1 00:00:00 2000\n" + crlf, 0, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "m")
			if err := os.WriteFile(path, []byte(tc.data), 0o600); err != nil {
				t.Fatal(err)
			}
			f, err := os.Open(path)
			if err != nil {
				t.Fatal(err)
			}
			f.Seek(int64(tc.skip), io.SeekStart)
			m, err := ParseFile(f, DefaultLimits(), 1<<20)
			if err != nil {
				t.Fatal(err)
			}
			if (m.spool == nil) != tc.inPlace {
				t.Fatalf("in place: %v, want %v", m.spool == nil, tc.inPlace)
			}
			raw, _ := io.ReadAll(m.Root.Raw())
			if string(raw) != crlf {
				t.Fatalf("raw %q", raw)
			}
			if m.Root.Header.Get("Subject") != "x" {
				t.Fatalf("subject %q", m.Root.Header.Get("Subject"))
			}
			m.Close()
			if _, err := f.Stat(); err == nil {
				t.Fatal("the file is still open after Close")
			}
		})
	}
	// A pipe is spooled.
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	go func() { io.WriteString(w, crlf); w.Close() }()
	m, err := ParseFile(r, DefaultLimits(), 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	if m.spool == nil {
		t.Fatal("a pipe was parsed in place")
	}
}

// splitPartsByLines is the line-by-line splitParts that the scanning one
// replaced, kept as the reference it is checked against.
func (p *parser) splitPartsByLines(e *Entity, boundary string) ([]span, error) {
	dash := []byte("--" + boundary)
	// A line the buffer cannot hold is longer than maxDelimiterLine.
	br := bufio.NewReaderSize(io.NewSectionReader(p.src, e.bodyStart, e.end-e.bodyStart), maxDelimiterLine+1)
	var spans []span
	inPart := false
	var partStart int64
	off := e.bodyStart
	for {
		lineStart := off
		line, err := br.ReadSlice('\n')
		off += int64(len(line))
		kind := delimNone
		if err == bufio.ErrBufferFull {
			// A line longer than the buffer is not a delimiter (it would
			// need kilobytes of transport padding); skip the rest of it.
			for err == bufio.ErrBufferFull {
				line, err = br.ReadSlice('\n')
				off += int64(len(line))
			}
		} else if len(line) > 0 && len(line) <= maxDelimiterLine {
			kind = delimiterKind(line, dash, []byte("\r\n"))
		}
		if err != nil && err != io.EOF {
			return nil, fmt.Errorf("mime: reading the body of %s: %v: %w", e.name(), err, core.ErrInput)
		}
		if kind != delimNone {
			// The CRLF before the delimiter belongs to it, unless the
			// delimiter starts the body.
			partEnd := lineStart
			if lineStart > e.bodyStart {
				partEnd -= 2
			}
			if inPart {
				spans = append(spans, span{partStart, max(partStart, partEnd)})
			}
			if kind == delimClose {
				return spans, nil
			}
			inPart, partStart = true, off
			if p.parts+len(spans)+1 > p.lim.MaxParts {
				return nil, fmt.Errorf("mime: message has more than %d MIME parts (the MaxParts limit): %w", p.lim.MaxParts, core.ErrInput)
			}
		}
		if err == io.EOF {
			break
		}
	}
	if inPart {
		spans = append(spans, span{partStart, e.end})
	}
	return spans, nil
}

// splitParts (searching for the boundary) and the line-by-line reference
// agree on bodies with delimiters anywhere: at the start, at the edges of
// the search window, inside lines, with transport padding, in lines far
// longer than the window.
func TestSplitPartsMatchesLineByLine(t *testing.T) {
	rng := rand.New(rand.NewSource(5))
	const b = "frontier"
	pieces := []string{"--" + b + "\r\n", "--" + b + "--\r\n", "--" + b + " \t\r\n", "x--" + b + "\r\n",
		"--" + b + "x\r\n", "--" + b, "-", "\r\n", "line of text\r\n", "--" + b + "--trailing\r\n"}
	for i := 0; i < 300; i++ {
		var body []byte
		for size := rng.Intn(600 << 10); len(body) < size; {
			switch r := rng.Intn(10); {
			case r < 6:
				body = append(body, bytes.Repeat([]byte("QUJD"), rng.Intn(30000))...)
				body = append(body, "\r\n"...)
			default:
				body = append(body, pieces[rng.Intn(len(pieces))]...)
			}
		}
		if i%3 == 0 && len(body) > 300<<10 {
			// a delimiter right at the edge of a read window (64 KiB under
			// 4 MiB, 256 KiB above: 256 KiB is an edge of both)
			at := 256<<10 - rng.Intn(20)
			body = append(append(append([]byte{}, body[:at]...), "\r\n--"+b+"\r\n"...), body[at:]...)
		}
		checkSplitParts(t, body, b)
	}
}

// A delimiter (with the CRLF before it) at every offset across the edge
// of the first read window, and of the second (the first one's last
// bytes are kept and searched again), for a short and a long boundary:
// the spans agree with the line-by-line reference, and the first part's
// hashing never gets past the part's end.
func TestSplitPartsDelimiterAcrossReadEdges(t *testing.T) {
	for _, b := range []string{"b", strings.Repeat("z", 70)} {
		dash := len(b) + 2
		window := maxDelimiterLine + 2     // splitParts's buffer below 4 MiB
		second := window + (window - dash) // the kept bytes are read once
		for _, edge := range []int{window, second} {
			for at := edge - dash - 8; at <= edge+4; at++ {
				head := "--" + b + "\r\n"
				body := head + strings.Repeat("Q", at-len(head)) + "\r\n--" + b + "\r\ntail\r\n" +
					strings.Repeat("R", 100<<10) + "\r\n--" + b + "--\r\n"
				checkSplitParts(t, []byte(body), b)
			}
		}
	}
}

func FuzzSplitParts(f *testing.F) {
	f.Add([]byte("--b\r\nx\r\n--b--\r\n"), "b")
	f.Add([]byte("pre\r\n--b \r\nx\r\n--bb\r\n--b\r\ny"), "b")
	f.Fuzz(func(t *testing.T, body []byte, boundary string) {
		if boundary == "" || unusableBoundary(boundary) != "" {
			return // parseEntity does not search for it (TestUnusableBoundary)
		}
		checkSplitParts(t, body, boundary)
	})
}

func checkSplitParts(t *testing.T, body []byte, boundary string) {
	t.Helper()
	lim := DefaultLimits()
	lim.MaxParts = 1 << 20
	for _, off := range []int64{0, 7} {
		src := append(bytes.Repeat([]byte("h"), int(off)), body...)
		e := &Entity{bodyStart: off, end: int64(len(src))}
		p := &parser{src: bytes.NewReader(src), lim: lim} // minHashed 0: every first part is hashed
		got, hashed, err1 := p.splitParts(e, boundary, []crypto.Hash{crypto.SHA256})
		want, err2 := p.splitPartsByLines(e, boundary)
		if (err1 == nil) != (err2 == nil) || fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("body of %d bytes at %d: spans %v (%v), line by line %v (%v)", len(body), off, got, err1, want, err2)
		}
		// The first part, hashed beside the search, is hashed exactly: the
		// search never lets the hashing past the part's end.
		switch {
		case hashed != nil:
			if c := hashed.cleared.Load(); len(got) == 0 || c > got[0].end {
				t.Fatalf("body of %d bytes at %d: hashing cleared to %d, past the first part of %v", len(body), off, c, got)
			}
			sum, ok := hashed.sum(crypto.SHA256)
			wantSum := sha256.Sum256(src[got[0].start:got[0].end])
			if !ok || !bytes.Equal(sum, wantSum[:]) {
				t.Fatalf("body of %d bytes at %d: digest of the first part %x, %v", len(body), off, sum, ok)
			}
		case err1 == nil && len(got) > 0:
			t.Fatalf("body of %d bytes at %d: first part not hashed", len(body), off)
		}
		p.stopHashers()
		checkSplitPartsAtLines(t, src, off, boundary, e, got, err1, hashed)
	}
	checkSplitPartsThroughView(t, body, boundary)
}

// checkSplitPartsAtLines: from a spool, which learnt where its lines that
// begin with "--" start while src was written to it (in pieces of sizes
// that vary), the split reads only those lines and finds what the search
// of src found (e, spans, err, the first part's hash).
func checkSplitPartsAtLines(t *testing.T, src []byte, off int64, boundary string, e *Entity, spans []span, err error, hashed *partHasher) {
	t.Helper()
	lim := DefaultLimits()
	lim.MaxParts = 1 << 20
	sp := spool.New(1 << 30)
	defer sp.Close()
	rng := rand.New(rand.NewSource(int64(len(src))))
	for rest := src; len(rest) > 0; {
		k := min(len(rest), 1+rng.Intn(1<<uint(rng.Intn(18))))
		sp.Write(rest[:k])
		rest = rest[k:]
	}
	p := newParser(sp, sp.Size(), lim, nil)
	p.minHashed = 0
	if !p.haveLines {
		if _, ok := sp.DashLines(); ok {
			t.Fatal("the parser did not take the spool's DashLines")
		}
		return // more "--" lines than a spool keeps: searched as above
	}
	defer p.stopHashers()
	e2 := &Entity{bodyStart: off, end: int64(len(src))}
	got, h2, err2 := p.splitParts(e2, boundary, []crypto.Hash{crypto.SHA256})
	if (err == nil) != (err2 == nil) || fmt.Sprint(got) != fmt.Sprint(spans) ||
		e2.preambleEnd != e.preambleEnd || e2.epilogueStart != e.epilogueStart || (hashed == nil) != (h2 == nil) {
		t.Fatalf("body of %d bytes at %d: at the known lines %v (%v), preamble to %d, epilogue from %d, hashed %v; searched %v (%v), %d, %d, %v",
			len(src)-int(off), off, got, err2, e2.preambleEnd, e2.epilogueStart, h2 != nil, spans, err, e.preambleEnd, e.epilogueStart, hashed != nil)
	}
	if h2 != nil {
		if c := h2.cleared.Load(); c > got[0].end {
			t.Fatalf("body of %d bytes at %d: hashing cleared to %d, past the first part of %v", len(src)-int(off), off, c, got)
		}
		sum, ok := h2.sum(crypto.SHA256)
		want := sha256.Sum256(src[got[0].start:got[0].end])
		if !ok || !bytes.Equal(sum, want[:]) {
			t.Fatalf("body of %d bytes at %d: digest of the first part at the known lines %x, %v", len(src)-int(off), off, sum, ok)
		}
	}
}

// checkSplitPartsThroughView: the body with LF line endings (every CR
// dropped), read through a crlfView, splits as its canonical form (every
// LF made CRLF) does when that is read directly: the same spans, preamble,
// epilogue and digest of the first part, also for an entity that ends
// before the end of the view (a part of a part).
func checkSplitPartsThroughView(t *testing.T, body []byte, boundary string) {
	t.Helper()
	lim := DefaultLimits()
	lim.MaxParts = 1 << 20
	lf := bytes.ReplaceAll(body, []byte("\r"), nil)
	for _, off := range []int64{0, 7} {
		for _, trailer := range []string{"", "\n--outer--\n"} {
			src := append(append(bytes.Repeat([]byte("h"), int(off)), lf...), trailer...)
			canonical := bytes.ReplaceAll(src, []byte("\n"), []byte("\r\n"))
			v, err := newCRLFView(bytes.NewReader(src), int64(len(src)), 1<<40)
			if err != nil {
				t.Fatal(err)
			}
			end := v.Size() - int64(len(trailer)+strings.Count(trailer, "\n"))
			if _, _, _, ok := sourceRange(v, off, end, true); !ok {
				t.Fatalf("body of %d bytes at %d: not read from the source", len(lf), off)
			}
			type result struct {
				spans                     string
				err                       error
				preambleEnd, epilogueFrom int64
				sum                       []byte
			}
			split := func(ra io.ReaderAt, withLines bool) result {
				e := &Entity{bodyStart: off, end: end}
				p := &parser{src: ra, lim: lim}
				if d, ok := ra.(interface{ DashLines() ([]int64, bool) }); ok && withLines {
					p.lines, p.haveLines = d.DashLines() // what the view learnt while indexing
				}
				defer p.stopHashers()
				got, hashed, err := p.splitParts(e, boundary, []crypto.Hash{crypto.SHA256})
				r := result{spans: fmt.Sprint(got), err: err, preambleEnd: e.preambleEnd, epilogueFrom: e.epilogueStart}
				if hashed != nil {
					if c := hashed.cleared.Load(); len(got) == 0 || c > got[0].end {
						t.Fatalf("body of %d bytes at %d: hashing cleared to %d, past the first part of %v", len(lf), off, c, got)
					}
					r.sum, _ = hashed.sum(crypto.SHA256)
				}
				return r
			}
			viewed, direct := split(v, false), split(bytes.NewReader(canonical), false)
			if fmt.Sprint(viewed) != fmt.Sprint(direct) {
				t.Fatalf("body of %d bytes at %d, trailer %q: through the view %+v, canonical %+v", len(lf), off, trailer, viewed, direct)
			}
			if lines := split(v, true); fmt.Sprint(lines) != fmt.Sprint(direct) {
				t.Fatalf("body of %d bytes at %d, trailer %q: through the view at its learnt lines %+v, canonical %+v", len(lf), off, trailer, lines, direct)
			}
		}
	}
}

// A delimiter line with transport padding is one up to maxDelimiterLine
// bytes (its CRLF counted) and not beyond, wherever it lies (at the start
// of the body, past the first read, in a body large enough for the larger
// read buffer) and in either form: the search used to skip such a line
// of exactly maxDelimiterLine bytes in a body under 4 MiB (its buffer,
// 64 KiB, could not hold it and the byte before it).
func TestSplitPartsLongestDelimiter(t *testing.T) {
	const b = "edge"
	for _, lineLen := range []int{maxDelimiterLine - 1, maxDelimiterLine, maxDelimiterLine + 1} {
		line := "--" + b + strings.Repeat(" ", lineLen-len(b)-4) + "\r\n"
		for _, before := range []int{0, 1000, 70000, 5 << 20} {
			var body string
			if before > 0 {
				body = "--" + b + "\r\n" + strings.Repeat("Q", before) + "\r\n"
			}
			body += line + "part\r\n--" + b + "--\r\n"
			checkSplitParts(t, []byte(body), b)
			e := &Entity{bodyStart: 0, end: int64(len(body))}
			p := &parser{src: strings.NewReader(body), lim: DefaultLimits(), minHashed: 1 << 62}
			spans, _, err := p.splitParts(e, b, nil)
			want := 0 // the padded line, if no delimiter, is part of the preamble or the first part
			if before > 0 {
				want++
			}
			if lineLen <= maxDelimiterLine {
				want++
			}
			if err != nil || len(spans) != want {
				t.Errorf("a delimiter line of %d bytes after %d: %d parts (%v), want %d", lineLen, before, len(spans), err, want)
			}
		}
	}
}

// isCanonical's fast path for lines of one width agrees with the
// reference on long inputs (several chunks) with one defect anywhere.
func TestIsCanonicalEvenLines(t *testing.T) {
	rng := rand.New(rand.NewSource(7))
	line := bytes.Repeat([]byte("Q"), 76)
	for i := 0; i < 300; i++ {
		var in []byte
		for len(in) < 3*canonicalChunk+rng.Intn(1000) {
			in = append(append(in, line...), '\r', '\n')
		}
		switch rng.Intn(6) {
		case 0: // as it is
		case 1:
			in[rng.Intn(len(in))] = '\n'
		case 2:
			in[rng.Intn(len(in))] = '\r'
		case 3: // a shorter line somewhere
			k := rng.Intn(len(in) - 10)
			in = append(in[:k:k], append([]byte("\r\n"), in[k:]...)...)
		case 4: // a CR as the last byte of a chunk (canonicalChunk is a multiple of every read size)
			in[canonicalChunk-1] = '\r'
		case 5: // cut anywhere
			in = in[:rng.Intn(len(in))]
		}
		want := bytes.Equal(referenceCRLF(in), in)
		if got, _ := isCanonical(bytes.NewReader(in), int64(len(in))); got != want {
			t.Fatalf("case %d: isCanonical = %v, want %v", i, got, want)
		}
	}
}

// crlfSource is content that says what its line endings are.
type crlfSource struct {
	*bytes.Reader
	crlf bool
}

func (s crlfSource) CRLF() bool { return s.crlf }

// ParseAt takes a source's word for its line endings (a spool learns them
// while it is written), directly or under a section of all of it.
func TestParseAtKnownCRLF(t *testing.T) {
	msg := []byte("Subject: x\r\nContent-Type: text/plain\r\n\r\nbody\r\n")
	for _, says := range []bool{true, false} {
		src := crlfSource{bytes.NewReader(msg), says}
		for name, ra := range map[string]io.ReaderAt{"direct": src, "section": io.NewSectionReader(src, 0, int64(len(msg)))} {
			m, err := ParseAt(ra, int64(len(msg)), DefaultLimits(), 1<<20)
			if err != nil {
				t.Fatal(err)
			}
			// Told "not canonical", ParseAt copies and converts (Parse).
			if inPlace := m.spool == nil; inPlace != says {
				t.Errorf("%s, source says %v: parsed in place %v", name, says, inPlace)
			}
			m.Close()
		}
	}
	// A spool's own knowledge: a bare LF sends the message to Parse.
	sp := spool.New(1 << 20)
	sp.Write([]byte("Subject: x\r\n\r\nbare\nLF\r\n"))
	m, err := ParseAt(sp.Reader(), sp.Size(), DefaultLimits(), 1<<20)
	if err != nil || m.spool == nil {
		t.Fatalf("%v, parsed in place", err)
	}
	m.Close()
	sp.Close()
	// What a source knows is about all of it, not about a prefix of it
	// (here one that ends in a lone CR).
	sp = spool.New(1 << 20)
	sp.Write([]byte("Subject: x\r\n\r\nbody\r\n"))
	m, err = ParseAt(sp, sp.Size()-1, DefaultLimits(), 1<<20)
	if err != nil || m.spool == nil {
		t.Fatalf("%v: a prefix ending in CR was parsed in place", err)
	}
	m.Close()
	sp.Close()
}

// A large input is checked in two halves; defects on either side of the
// split, and at the split itself, are still found.
func TestIsCanonicalHalves(t *testing.T) {
	var in []byte
	line := append(bytes.Repeat([]byte("Q"), 76), '\r', '\n')
	for len(in) < 2*canonicalSplit+1000 {
		in = append(in, line...)
	}
	mid := int64(len(in) / 2)
	split := mid + int64(bytes.IndexByte(in[mid:], '\n')) // the LF the halves meet after
	for name, pos := range map[string]int64{
		"start": 0, "before split": split - 200, "CR of the split": split - 1, "the split LF": split,
		"after split": split + 1, "late": int64(len(in)) - 5,
	} {
		for _, c := range []byte{'\n', '\r', 'x'} {
			bad := bytes.Clone(in)
			bad[pos] = c
			want := bytes.Equal(referenceCRLF(bad), bad)
			if got, _ := isCanonical(bytes.NewReader(bad), int64(len(bad))); got != want {
				t.Errorf("%s = %q: %v, want %v", name, c, got, want)
			}
		}
	}
	if ok, _ := isCanonical(bytes.NewReader(in), int64(len(in))); !ok {
		t.Fatal("canonical input refused")
	}
}

func TestPreambleAndEpilogue(t *testing.T) {
	for _, tc := range []struct {
		name, input, path, preamble, epilogue string
	}{
		{"both", "Content-Type: multipart/signed; boundary=b\n\nWire the money.\n--b\n\none\n--b\n\ntwo\n--b--\nP.S. and the passwords\n",
			"", "Wire the money.", "\r\nP.S. and the passwords\r\n"},
		{"delimiter at body start", "Content-Type: multipart/mixed; boundary=b\n\n--b\n\none\n--b--", "", "", ""},
		{"blank preamble", "Content-Type: multipart/mixed; boundary=b\n\n\n--b\n\none\n--b--\n", "", "", "\r\n"},
		{"text after the close delimiter", "Content-Type: multipart/mixed; boundary=b\n\n--b\n\none\n--b--trailing\n", "", "", "trailing\r\n"},
		{"no close delimiter", "Content-Type: multipart/mixed; boundary=b\n\npre\n--b\n\none\n", "", "pre", ""},
		{"no delimiter at all", "Content-Type: multipart/mixed; boundary=b\n\njust text\n", "", "just text\r\n", ""},
		{"nested", "Content-Type: multipart/mixed; boundary=b\n\n--b\nContent-Type: multipart/signed; boundary=c\n\ninner pre\n--c\n\nx\n--c--\ninner epi\n--b--\n",
			"1", "inner pre", "\r\ninner epi"},
		{"leaf", "Content-Type: text/plain\n\n--b\nnot a multipart\n", "", "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := mustParse(t, tc.input)
			e := m.Find(tc.path)
			if pre, epi := readString(t, e.Preamble()), readString(t, e.Epilogue()); pre != tc.preamble || epi != tc.epilogue {
				t.Fatalf("preamble %q, epilogue %q; want %q, %q", pre, epi, tc.preamble, tc.epilogue)
			}
			checkInvariants(t, m)
		})
	}
}

func TestAmbiguousContentType(t *testing.T) {
	for _, tc := range []struct {
		name, header, want string
	}{
		{"plain", `Content-Type: multipart/signed; protocol="application/pgp-signature"; boundary="b"`, ""},
		{"same value twice", `Content-Type: multipart/signed; boundary="b"; boundary=b`, ""},
		{"continuations", "Content-Type: multipart/signed; boundary*0=b; boundary*1=c", ""},
		{"boundary twice", `Content-Type: multipart/signed; boundary="b"; boundary="c"`,
			`the Content-Type of the message gives the parameter boundary twice ("b" and "c")`},
		{"case", `Content-Type: multipart/signed; boundary=b; BOUNDARY=c`,
			`the Content-Type of the message gives the parameter boundary twice ("b" and "c")`},
		{"boundary and boundary*", `Content-Type: multipart/signed; boundary="b"; boundary*=us-ascii''c`,
			"the Content-Type of the message gives the parameter boundary both as boundary and as boundary*"},
		{"boundary* and boundary", `Content-Type: multipart/signed; boundary*=us-ascii''c; boundary=b`,
			"the Content-Type of the message gives the parameter boundary both as boundary* and as boundary"},
		{"boundary and continuations", `Content-Type: multipart/signed; boundary=b; boundary*0=c`,
			"the Content-Type of the message gives the parameter boundary both as boundary and as boundary*0..."},
		{"continuation gap", "Content-Type: multipart/signed; boundary*0=go; boundary*2=od",
			"the Content-Type of the message gives the parameter boundary in sections with section 1 missing"},
		{"no section 0", "Content-Type: multipart/signed; boundary*1=b",
			"the Content-Type of the message gives the parameter boundary in sections with section 0 missing"},
		{"section twice", "Content-Type: multipart/signed; boundary*0=b; boundary*1=c; boundary*1*=us-ascii''d",
			"the Content-Type of the message gives section 1 of the parameter boundary twice"},
		{"section not a number", "Content-Type: multipart/signed; boundary*0=b; boundary*x=c",
			`the Content-Type of the message gives the parameter boundary a continuation "boundary*x" that is not a section number`},
		{"protocol twice", `Content-Type: multipart/signed; protocol="application/pgp-signature"; boundary=b; protocol="application/pkcs7-signature"`,
			`the Content-Type of the message gives the parameter protocol twice ("application/pgp-signature" and "application/pkcs7-signature")`},
		{"quoted semicolon", `Content-Type: multipart/signed; boundary="b;boundary=c"`, ""},
		{"two fields", "Content-Type: multipart/signed; boundary=b\nContent-Type: text/plain", "the message has 2 Content-Type fields"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := mustParse(t, tc.header+"\n\n--b\n\nx\n--b--\n")
			if m.Root.Ambiguous != tc.want {
				t.Fatalf("Ambiguous %q, want %q", m.Root.Ambiguous, tc.want)
			}
		})
	}
	// A part: named by its path.
	m := mustParse(t, "Content-Type: multipart/mixed; boundary=b\n\n--b\nContent-Type: text/plain\nContent-type: text/html\n\nx\n--b--\n")
	if m.Root.Ambiguous != "" || m.Find("1").Ambiguous != "part 1 has 2 Content-Type fields" {
		t.Fatalf("root %q, part 1 %q", m.Root.Ambiguous, m.Find("1").Ambiguous)
	}
}

// A small message costs little fresh memory to parse: buffers are sized to
// what they read (a batch parses thousands of them).
func TestParseSmallMessageAllocates(t *testing.T) {
	msg := "From: a@example.org\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n" +
		"--b\r\nContent-Type: text/plain\r\n\r\nhello\r\n" +
		"--b\r\nContent-Type: multipart/alternative; boundary=c\r\n\r\n--c\r\n\r\nx\r\n--c\r\n\r\ny\r\n--c--\r\n" +
		"--b--\r\n"
	src := strings.NewReader(msg)
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	const runs = 50
	for range runs {
		m, err := ParseAt(src, int64(len(msg)), DefaultLimits(), 1<<20)
		if err != nil || m.spool != nil || len(m.Entities()) != 5 {
			t.Fatalf("%v", err)
		}
		m.Close()
	}
	runtime.ReadMemStats(&after)
	if per := (after.TotalAlloc - before.TotalAlloc) / runs; per > 16<<10 {
		t.Fatalf("parsing a %d-byte message allocates %d bytes", len(msg), per)
	}
}

// A boundary that no delimiter line can match the same way in every form
// of a message, one with a line break (RFC 2231's percent-encoding can
// give one) or one longer than maxBoundary (a 70 KiB one stalled the
// search), gives a multipart entity no parts, marked ambiguous, whether
// the message has CRLF or LF line endings, is small or large (the LF form
// of a large one is read through the view, the search looking at its LF
// bytes), in a file or a pipe.
func TestUnusableBoundary(t *testing.T) {
	long := strings.Repeat("z", 70<<10)
	for _, c := range []struct{ param, dash string }{
		{"boundary*=us-ascii''b%0A", "--b"},
		{"boundary*=us-ascii''b%0D%0A", "--b"},
		{"boundary*=us-ascii''b%0D", "--b"},
		{`boundary="` + long + `"`, "--" + long},
	} {
		for _, size := range []int{100, 200 << 10} {
			lf := "From: a@example.org\nContent-Type: multipart/mixed; " + c.param + "\n\n" +
				c.dash + "\nContent-Type: text/plain\n\nshown\n" +
				c.dash + "\nContent-Type: text/plain\n\n" + strings.Repeat("x", size) + "\n" + c.dash + "--\n"
			for name, msg := range map[string]string{"LF": lf, "CRLF": strings.ReplaceAll(lf, "\n", "\r\n")} {
				for _, how := range []string{"file", "pipe"} {
					done := make(chan *Message, 1)
					errs := make(chan error, 1)
					go func() {
						var m *Message
						var err error
						if how == "file" {
							m, err = ParseAt(strings.NewReader(msg), int64(len(msg)), DefaultLimits(), 1<<20)
						} else {
							m, err = Parse(strings.NewReader(msg), DefaultLimits(), 1<<20)
						}
						if err != nil {
							errs <- err
							return
						}
						done <- m
					}()
					select {
					case err := <-errs:
						t.Fatalf("%s, %s of %d, %s: %v", c.param[:min(len(c.param), 40)], name, size, how, err)
					case m := <-done:
						if len(m.Root.Children) != 0 || !strings.Contains(m.Root.Ambiguous, "boundary") {
							t.Errorf("%s, %s of %d, %s: %d parts, ambiguous %q", c.param[:min(len(c.param), 40)], name, size, how, len(m.Root.Children), m.Root.Ambiguous)
						}
						m.Close()
					case <-time.After(30 * time.Second):
						t.Fatalf("%s, %s of %d, %s: the parse did not end", c.param[:min(len(c.param), 40)], name, size, how)
					}
				}
			}
		}
	}
}

// Short bodies with a delimiter at an edge (the start, the very end
// without a line ending, a line exactly as long as "--boundary") split
// alike in every way of finding delimiters checkSplitParts compares.
func TestSplitPartsEdges(t *testing.T) {
	for _, body := range []string{
		"--b", "--b\r\n", "x\r\n--b", "--b\r\nx\r\n--b", "--b\r\nx\r\n--b--", "--b--", "\r\n--b\r\n",
		"--b \t", "--bb\r\n--b", "--b\r\n--", "--b\r\n-", "--b\r\nx\r\n--b \t\r\ny", "--b\r\n\r\n--b--x",
	} {
		checkSplitParts(t, []byte(body), "b")
	}
}

// Finding delimiters at the lines a spool saw allocates about what the
// search does, however many multiparts a message holds: a buffer for a
// long line is made only for a line that begins with the delimiter (9,990
// small nested multiparts, 3 MB, allocated 720 MiB before).
func TestSplitAtLinesAllocation(t *testing.T) {
	var b strings.Builder
	b.WriteString("Content-Type: multipart/mixed; boundary=outer\r\n\r\n")
	for i := 0; i < 9990; i++ {
		b.WriteString("--outer\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n" + strings.Repeat("x", 262) + "\r\n")
	}
	b.WriteString("--outer--\r\n")
	msg := b.String()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	m, err := Parse(strings.NewReader(msg), DefaultLimits(), 64<<20)
	runtime.ReadMemStats(&after)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	if len(m.Root.Children) != 9990 {
		t.Fatalf("%d parts", len(m.Root.Children))
	}
	if grew := after.TotalAlloc - before.TotalAlloc; grew > 20*uint64(len(msg)) {
		t.Errorf("parsing %d bytes allocated %d MiB", len(msg), grew>>20)
	}
}

// The delimiter search on its own, given a boundary longer than any
// delimiter line may be (parseEntity never gives it one: unusableBoundary),
// finds no delimiter and ends, in a body larger than its buffer; it used
// to keep all it had read and read nothing more.
func TestSearchBoundaryLongerThanALine(t *testing.T) {
	b := strings.Repeat("z", maxDelimiterLine)
	body := "--" + b + "\r\nx\r\n" + strings.Repeat("Q", 200<<10) + "\r\n--" + b + "--\r\n"
	done := make(chan string, 1)
	go func() {
		e := &Entity{bodyStart: 0, end: int64(len(body))}
		p := &parser{src: strings.NewReader(body), lim: DefaultLimits(), minHashed: 1 << 62}
		spans, _, err := p.splitParts(e, b, nil)
		done <- fmt.Sprint(spans, err)
	}()
	select {
	case got := <-done:
		if got != "[] <nil>" {
			t.Errorf("spans and error %s, want none", got)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the search did not end")
	}
}

// A long line that holds the delimiter many times, not at its start, costs
// one pass: such a match is skipped before its line is read on (the search
// moved every match to the front of its buffer and read on, a buffer's
// work per match: 4 MiB of "--b" took 28 s and 1.3 million reads).
func TestSplitPartsDashRun(t *testing.T) {
	body := "--b\r\nx\r\n" + strings.Repeat("--b", 1<<20/3) + "\r\n--b--\r\n"
	checkSplitParts(t, []byte(body), "b")
	c := &countingReaderAt{r: strings.NewReader(body)}
	e := &Entity{bodyStart: 0, end: int64(len(body))}
	p := &parser{src: c, lim: DefaultLimits(), minHashed: 1 << 62}
	spans, _, err := p.splitParts(e, "b", nil)
	if err != nil || len(spans) != 1 {
		t.Fatalf("%d parts, %v", len(spans), err)
	}
	if r := c.reads.Load(); r > int64(len(body))/(32<<10)+2 {
		t.Errorf("the search of %d bytes read the source %d times", len(body), r)
	}
}

// A delimiter whose line begins just past the search's buffer, after lines
// of LF (in the LF form read through the view), is at the canonical offset
// of its CRLF form: the LFs of the bytes the search drops when it moves a
// match to the front are counted.
func TestSplitPartsDelimiterAfterLFsAtBufferEdge(t *testing.T) {
	window := maxDelimiterLine + 2
	for at := window - 8; at <= window+2; at++ {
		head := "--b\n"
		fill := at - 1 - len(head)
		lf := head + strings.Repeat("Q\n", fill/2) + strings.Repeat("Q", fill%2) + "\n--b\ntail\n" + strings.Repeat("R", 100<<10) + "\n--b--\n"
		checkSplitParts(t, []byte(strings.ReplaceAll(lf, "\n", "\r\n")), "b")
	}
}

// endlessReaderAt is size bytes of header lines.
type endlessReaderAt struct{ size int64 }

func (e endlessReaderAt) ReadAt(p []byte, off int64) (int, error) {
	if off >= e.size {
		return 0, io.EOF
	}
	n := int(min(int64(len(p)), e.size-off))
	for i := range n {
		p[i] = "X-Pad: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n"[(off+int64(i))%39]
	}
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

func isSizeLimit(err error) bool {
	var le *core.LimitError
	return errors.As(err, &le) && le.Limit == "MaxSize"
}

// A source larger than MaxSize, with no mbox "From " line that the parse
// would drop to bring it under, is refused before it is read: it was
// spooled up to the limit first (4 GiB by default).
func TestParseAtOverLimitReadsNothing(t *testing.T) {
	lim := DefaultLimits()
	lim.MaxSize = 1 << 20
	for _, size := range []int64{lim.MaxSize + 1, 64 << 20, 1 << 40} {
		src := &countingReaderAt{r: endlessReaderAt{size}}
		m, err := ParseAt(src, size, lim, 1<<20)
		if err == nil {
			m.Close()
		}
		if !isSizeLimit(err) || src.bytes.Load() > 64<<10+1 {
			t.Fatalf("%d bytes: %v after reading %d bytes", size, err, src.bytes.Load())
		}
	}
}

// Whether ParseAt refuses a source over MaxSize at once is what Parse
// decides reading it: the same for sources around the limit with and
// without an mbox "From " line (which the parse drops), in every line
// ending.
func TestParseAtOverLimitSameAsParse(t *testing.T) {
	for _, from := range []string{"", "From a@example.org Thu Jan  1 00:00:00 2026", "From: a@example.org", "From  :x", strings.Repeat("From x", 2000),
		"From " + strings.Repeat(" ", 1019) + ":x", "From " + strings.Repeat(" ", 1018) + ":x"} {
		// The limit near the message's size with the From line, and
		// without it.
		for _, max := range []int64{300, 300 + int64(len(from))} {
			lim := DefaultLimits()
			lim.MaxSize = max
			for _, eol := range []string{"\r\n", "\n", "\r"} {
				for pad := 200; pad < 340; pad++ {
					msg := "Subject: x" + eol + eol + strings.Repeat("b", pad) + eol
					if from != "" {
						msg = from + eol + msg
					}
					m1, err1 := ParseAt(strings.NewReader(msg), int64(len(msg)), lim, 1<<20)
					if err1 == nil {
						m1.Close()
					}
					m2, err2 := Parse(strings.NewReader(msg), lim, 1<<20)
					if err2 == nil {
						m2.Close()
					}
					if isSizeLimit(err1) != isSizeLimit(err2) {
						t.Fatalf("from %.20q (%d bytes), eol %q, %d bytes, limit %d: ParseAt %v, Parse %v", from, len(from), eol, len(msg), max, err1, err2)
					}
				}
			}
		}
	}
}

// A source shorter than the size it is said to have (a file cut short
// after its size was read) is parsed as it is, as Parse would, not
// refused by the size it was said to have.
func TestParseAtShortSource(t *testing.T) {
	lim := DefaultLimits()
	lim.MaxSize = 1000
	for _, msg := range []string{"Subject: x\r\n\r\nbody\r\n", "Subject: x\r\n\r\n" + strings.Repeat("b", 80<<10) + "\r\n"} {
		lim.MaxSize = int64(len(msg)) + 10
		m, err := ParseAt(strings.NewReader(msg), 2*int64(len(msg))+100<<10, lim, 1<<20)
		if err != nil {
			t.Fatalf("%d bytes: %v", len(msg), err)
		}
		m.Close()
	}
}
