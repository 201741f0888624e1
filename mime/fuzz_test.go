package mime

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// checkInvariants walks every entity of m and checks the structural rules:
// offsets are ordered, children lie inside their parent's body in order,
// every child's Raw is the parent's body bytes at its offsets, and all
// readers can be read to the end.
func checkInvariants(t testing.TB, m *Message) {
	t.Helper()
	whole, err := io.ReadAll(m.Root.Raw())
	if err != nil {
		t.Fatalf("reading the root: %v", err)
	}
	if int64(len(whole)) != m.Size() {
		t.Fatalf("root Raw has %d bytes, Size %d", len(whole), m.Size())
	}
	if m.Root.start != 0 || m.Root.end != m.Size() {
		t.Fatalf("root spans [%d,%d) of %d", m.Root.start, m.Root.end, m.Size())
	}
	for _, e := range m.Entities() {
		if !(e.start <= e.bodyStart && e.bodyStart <= e.end) {
			t.Fatalf("entity %q: offsets %d %d %d not ordered", e.Path, e.start, e.bodyStart, e.end)
		}
		raw, err := io.ReadAll(e.Raw())
		if err != nil {
			t.Fatalf("entity %q: Raw: %v", e.Path, err)
		}
		if !bytes.Equal(raw, whole[e.start:e.end]) {
			t.Fatalf("entity %q: Raw is not the bytes at its offsets", e.Path)
		}
		body, err := io.ReadAll(e.RawBody())
		if err != nil {
			t.Fatalf("entity %q: RawBody: %v", e.Path, err)
		}
		if !bytes.HasSuffix(raw, body) || int64(len(body)) != e.BodySize() {
			t.Fatalf("entity %q: RawBody is not the end of Raw", e.Path)
		}
		var hdr []byte
		for _, f := range e.Header {
			hdr = append(hdr, f.Raw...)
		}
		if !bytes.HasPrefix(append(raw, '\r', '\n'), hdr) {
			t.Fatalf("entity %q: header fields are not the start of Raw", e.Path)
		}
		io.Copy(io.Discard, e.Body()) // may fail on bad encodings, must not panic
		if e.MediaType == "" || e.Params == nil {
			t.Fatalf("entity %q: media type %q params %v", e.Path, e.MediaType, e.Params)
		}
		checkPreambleEpilogue(t, e, whole)
		pos := e.bodyStart
		for i, c := range e.Children {
			if c.start < pos || c.end > e.end {
				t.Fatalf("child %q [%d,%d) outside parent body or overlapping [%d,%d)", c.Path, c.start, c.end, pos, e.end)
			}
			if want := childPath(e.Path, i); c.Path != want {
				t.Fatalf("child path %q, want %q", c.Path, want)
			}
			// The child's bytes are exactly the parent's body at the
			// child's offset.
			if !bytes.Equal(body[c.start-e.bodyStart:c.end-e.bodyStart], whole[c.start:c.end]) {
				t.Fatalf("child %q is not where its offsets say in the parent body", c.Path)
			}
			// A delimiter line ("--" boundary) precedes every child.
			before := string(whole[e.bodyStart:c.start])
			if !strings.Contains(before, "--"+e.Params["boundary"]) {
				t.Fatalf("no delimiter before child %q", c.Path)
			}
			pos = c.end
		}
	}
	for _, seven := range []bool{false, true} {
		if _, err := io.Copy(io.Discard, m.Content(seven)); err != nil {
			t.Fatalf("Content(%v): %v", seven, err)
		}
	}
}

// checkPreambleEpilogue checks that Preamble and Epilogue are the bytes
// before the first delimiter and after the close delimiter of a multipart,
// and nothing for other entities.
func checkPreambleEpilogue(t testing.TB, e *Entity, whole []byte) {
	t.Helper()
	pre, err1 := io.ReadAll(e.Preamble())
	epi, err2 := io.ReadAll(e.Epilogue())
	if err1 != nil || err2 != nil {
		t.Fatalf("entity %q: Preamble: %v, Epilogue: %v", e.Path, err1, err2)
	}
	if !(e.bodyStart <= e.preambleEnd && e.preambleEnd <= e.epilogueStart && e.epilogueStart <= e.end) ||
		!bytes.Equal(pre, whole[e.bodyStart:e.preambleEnd]) || !bytes.Equal(epi, whole[e.epilogueStart:e.end]) {
		t.Fatalf("entity %q: preamble [%d,%d), epilogue [%d,%d) in body [%d,%d)", e.Path, e.bodyStart, e.preambleEnd, e.epilogueStart, e.end, e.bodyStart, e.end)
	}
	dash := "--" + e.Params["boundary"]
	if !e.IsMultipart() || e.Params["boundary"] == "" {
		if len(pre) > 0 || len(epi) > 0 {
			t.Fatalf("entity %q (%s) has a preamble or epilogue", e.Path, e.MediaType)
		}
		return
	}
	if len(e.Children) == 0 {
		return
	}
	first, last := e.Children[0], e.Children[len(e.Children)-1]
	gap := string(whole[e.preambleEnd:first.start])
	if e.preambleEnd > first.start || !strings.HasPrefix(gap, dash) && !strings.HasPrefix(gap, "\r\n"+dash) {
		t.Fatalf("entity %q: the preamble does not end at the first delimiter: %q", e.Path, gap)
	}
	if e.epilogueStart < e.end && (e.epilogueStart < last.end || !strings.HasSuffix(string(whole[:e.epilogueStart]), dash+"--")) {
		t.Fatalf("entity %q: the epilogue does not start after the close delimiter", e.Path)
	}
}

func childPath(parent string, i int) string {
	if parent == "" {
		return strconv.Itoa(i + 1)
	}
	return parent + "." + strconv.Itoa(i+1)
}

func FuzzParse(f *testing.F) {
	files, _ := filepath.Glob("testdata/*.eml")
	for _, file := range files {
		data, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	for _, tc := range parseCases {
		f.Add([]byte(tc.input))
	}
	lim := Limits{MaxSize: 1 << 20, MaxDepth: 8, MaxParts: 200, MaxHeaderBytes: 4096}
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := Parse(bytes.NewReader(data), lim, 1<<16)
		if err != nil {
			return
		}
		defer m.Close()
		checkInvariants(t, m)
		sameParse(t, m, lim)
		// Content(true) must be 7-bit safe apart from what it leaves exact
		// by design (headers, preambles, epilogues) — check the leaves by
		// reparsing.
		c, err := io.ReadAll(m.Content(true))
		if err != nil {
			t.Fatal(err)
		}
		m2, err := Parse(bytes.NewReader(c), Limits{MaxSize: 8 << 20, MaxDepth: 8, MaxParts: 200, MaxHeaderBytes: 1 << 20}, 1<<20)
		if err != nil {
			return // e.g. the added Content-Type pushed a header over its limit
		}
		defer m2.Close()
		checkInvariants(t, m2)
		// Same structure, same decoded leaves, and 7-bit clean leaves.
		orig, re := m.Entities(), m2.Entities()
		if len(orig) != len(re) {
			t.Fatalf("Content(true) has %d entities, the message %d", len(re), len(orig))
		}
		for i, e := range orig {
			r := re[i]
			if r.Path != e.Path || r.MediaType != e.MediaType {
				t.Fatalf("entity %q %s became %q %s", e.Path, e.MediaType, r.Path, r.MediaType)
			}
			if len(r.Children) > 0 {
				continue
			}
			if clean, _ := sevenBitClean(r.RawBody()); !clean {
				t.Fatalf("entity %q is not 7-bit clean after Content(true)", r.Path)
			}
			a, _ := io.ReadAll(e.Body())
			b, _ := io.ReadAll(r.Body())
			if !bytes.Equal(a, b) {
				t.Fatalf("entity %q: decoded body changed\n got %q\nwant %q", e.Path, b, a)
			}
		}
	})
}

// sameParse: the canonical bytes of m (parsed from its spool, where the
// delimiters are found at the lines the spool saw) parsed where they lie
// (where the delimiters are searched for) give the same entities at the
// same offsets.
func sameParse(t *testing.T, m *Message, lim Limits) {
	t.Helper()
	whole, err := io.ReadAll(m.Root.Raw())
	if err != nil {
		t.Fatal(err)
	}
	p := newParser(bytes.NewReader(whole), int64(len(whole)), lim.withDefaults(), nil)
	if p.haveLines {
		t.Fatal("a bytes.Reader gave DashLines")
	}
	root, err := p.parseEntity("", 0, int64(len(whole)), 0, "")
	p.stopHashers()
	if err != nil {
		t.Fatalf("the spooled message parsed, the same bytes in place did not: %v", err)
	}
	describe := func(es []*Entity) string {
		var b strings.Builder
		for _, e := range es {
			fmt.Fprintf(&b, "%s %s %d %d %d %d %d %q\n", e.Path, e.MediaType, e.start, e.bodyStart, e.end, e.preambleEnd, e.epilogueStart, e.Ambiguous)
		}
		return b.String()
	}
	inPlace := (&Message{Root: root}).Entities()
	if a, b := describe(m.Entities()), describe(inPlace); a != b {
		t.Fatalf("parsed from the spool:\n%s\nin place:\n%s", a, b)
	}
}
