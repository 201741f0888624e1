package mime

import (
	"bytes"
	"crypto"
	"crypto/rand"
	"encoding/base64"
	"io"
	"maps"
	"slices"
	"strings"
	"testing"
)

// tapMessage is a multipart/signed with boundary "b": a first part of
// header and body, then a small signature part.
func tapMessage(preamble, body string) []byte {
	return []byte("Content-Type: multipart/signed; boundary=\"b\"; micalg=sha-256; protocol=\"application/pkcs7-signature\"\r\n\r\n" +
		preamble + "--b\r\nContent-Type: application/octet-stream\r\n\r\n" + body + "\r\n--b\r\n" +
		"Content-Type: application/pkcs7-signature\r\n\r\nAAAA\r\n--b--\r\n")
}

// tapped feeds msg to a tap in writes of chunk bytes and parses it with
// the tap, as decryption does.
func tapped(t *testing.T, msg []byte, chunk int, hs ...crypto.Hash) (*Message, *SignedPartTap) {
	t.Helper()
	fn := func(map[string]string) []crypto.Hash { return hs }
	tap := NewSignedPartTap(fn)
	for p := msg; len(p) > 0; {
		k := min(chunk, len(p))
		tap.Write(p[:k])
		p = p[k:]
	}
	tap.Close()
	m, err := ParseAt(bytes.NewReader(msg), int64(len(msg)), DefaultLimits(), 1<<20, HashSignedPart(fn), ParseWithTap(tap))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	return m, tap
}

// checkDigests says whether the signed part's digests came from the tap
// (all of them), and fails unless each is that of the part's bytes.
func checkDigests(t *testing.T, m *Message, hs ...crypto.Hash) (fromTap bool) {
	t.Helper()
	part := m.Root.Children[0]
	raw, err := io.ReadAll(part.Raw())
	if err != nil {
		t.Fatal(err)
	}
	tapUsed := part.hashed != nil && part.hashed.tap != nil
	fromTap = tapUsed
	for _, h := range hs {
		hh := h.New()
		hh.Write(raw)
		got, ok := part.Digest(h)
		if ok && !bytes.Equal(got, hh.Sum(nil)) {
			t.Fatalf("%v: digest %x is not that of the part's %d bytes", h, got, len(raw))
		}
		if !ok && !tapUsed {
			t.Fatalf("%v: no digest from the parse's own hashing", h)
		}
		fromTap = fromTap && ok
	}
	return fromTap
}

func largeBody(n int) string {
	raw := make([]byte, n)
	rand.Read(raw)
	enc := base64.StdEncoding.EncodeToString(raw)
	var b strings.Builder
	for len(enc) > 76 {
		b.WriteString(enc[:76] + "\r\n")
		enc = enc[76:]
	}
	b.WriteString(enc)
	return b.String()
}

// The tap's digests are those of the part the parse finds, whatever the
// sizes of the writes (a possible end across two writes included), with
// a preamble, and with lines in the part that begin like a delimiter.
func TestSignedPartTap(t *testing.T) {
	body := largeBody(300 << 10)
	lookalikes := "--bx\r\n--b-\r\n--b x\r\n" + body
	for _, tc := range []struct {
		name, preamble, body string
	}{
		{"plain", "", body},
		{"preamble", "This is an S/MIME signed message.\r\n", body},
		{"lines like a delimiter", "", lookalikes},
	} {
		msg := tapMessage(tc.preamble, tc.body)
		for _, chunk := range []int{1 << 20, 64 << 10, 4099, 7, 3} {
			m, _ := tapped(t, msg, chunk, crypto.SHA256, crypto.SHA512)
			if !checkDigests(t, m, crypto.SHA256, crypto.SHA512) {
				t.Fatalf("%s, writes of %d: the tap's digests were not used", tc.name, chunk)
			}
		}
	}
}

// Where the tap cannot follow, the parse hashes the part itself, with the
// same result: a preamble longer than the tap reads, more lines that
// look like delimiters than it keeps states for, a hash it cannot keep,
// content with other line endings (parsed through a conversion, whose
// offsets are not the bytes the tap saw), other bytes than it saw, and a
// message that is not multipart/signed.
func TestSignedPartTapLeavesItToTheParse(t *testing.T) {
	body := largeBody(300 << 10)
	many := strings.Repeat("--bx\r\n", maxTapEnds+1) + body
	for _, tc := range []struct {
		name string
		msg  []byte
		hs   []crypto.Hash
	}{
		{"long preamble", tapMessage(strings.Repeat("x", maxTapPrefix)+"\r\n", body), []crypto.Hash{crypto.SHA256}},
		{"many look-alikes", tapMessage("", many), []crypto.Hash{crypto.SHA256}},
		{"LF line endings", bytes.ReplaceAll(tapMessage("", body), []byte("\r\n"), []byte("\n")), []crypto.Hash{crypto.SHA256}},
		{"not signed", bytes.Replace(tapMessage("", body), []byte("multipart/signed"), []byte("multipart/mixed"), 1), []crypto.Hash{crypto.SHA256}},
	} {
		m, _ := tapped(t, tc.msg, 64<<10, tc.hs...)
		if len(m.Root.Children) == 0 {
			t.Fatalf("%s: no parts", tc.name)
		}
		if m.Root.MediaType == "multipart/signed" && checkDigests(t, m, tc.hs...) {
			t.Fatalf("%s: the tap's digests were used", tc.name)
		}
	}
	// Bytes other than the tap saw: one line more.
	msg := tapMessage("", body)
	tap := NewSignedPartTap(func(map[string]string) []crypto.Hash { return []crypto.Hash{crypto.SHA256} })
	tap.Write(msg)
	tap.Close()
	grown := append(bytes.Clone(msg), "\r\n"...)
	for _, src := range [][]byte{grown} {
		m, err := ParseAt(bytes.NewReader(src), int64(len(src)), DefaultLimits(), 1<<20,
			HashSignedPart(func(map[string]string) []crypto.Hash { return []crypto.Hash{crypto.SHA256} }), ParseWithTap(tap))
		if err != nil {
			t.Fatal(err)
		}
		if checkDigests(t, m, crypto.SHA256) {
			t.Fatal("a message of another size used the tap's digests")
		}
		m.Close()
	}
}

// A message with bare LFs, parsed through a conversion that adds CRs,
// where a line of the second part that begins like a delimiter lies, in
// the bytes the tap saw, exactly where the converted first part ends:
// the tap hashed other bytes up to there (the unconverted part and more),
// which must never stand for the part.
func TestSignedPartTapNotThroughAConversion(t *testing.T) {
	body := largeBody(300 << 10)
	part := "Content-Type: text/plain\n\n" + body // LF endings inside the part
	head := "Content-Type: multipart/signed; boundary=\"b\"; micalg=sha-256\r\n\r\n--b\r\n"
	lfs := strings.Count(part, "\n")
	// Canonical end of part 1, in canonical offsets: head + part with a CR
	// before each LF. In the raw bytes, put "\r\n--bx" there in part 2.
	canonEnd := len(head) + len(part) + lfs
	rest := "\r\n--b\r\nContent-Type: application/pkcs7-signature\r\n\r\n"
	pad := canonEnd - (len(head) + len(part) + len(rest))
	if pad < 0 {
		t.Fatal("test set-up: padding")
	}
	msg := []byte(head + part + rest + strings.Repeat("A", pad) + "\r\n--bx\r\nAAAA\r\n--b--\r\n")
	if !bytes.Equal(msg[canonEnd:canonEnd+6], []byte("\r\n--bx")) {
		t.Fatal("test set-up: the look-alike is not where the converted part ends")
	}
	m, tap := tapped(t, msg, 64<<10, crypto.SHA256)
	if _, ok := tap.t.ends[int64(canonEnd)]; !ok {
		t.Fatal("test set-up: the tap kept no state where the converted part ends")
	}
	if checkDigests(t, m, crypto.SHA256) {
		t.Fatal("the tap's digests stood for a converted part")
	}
}

// BenchmarkSignedPartTap: base64 content, and the hostile case of a part
// that is one line of '-' under a boundary of 1,000 '-' (each byte cost
// the boundary's length before a match that begins no line moved the
// search to the next line: 27 times the time of base64).
func BenchmarkSignedPartTap(b *testing.B) {
	dashes := strings.Repeat("-", 1000)
	hostile := []byte(strings.Replace(string(tapMessage("", strings.Repeat("-", 16<<20))), `boundary="b"`, `boundary="`+dashes+`"`, 1))
	hostile = bytes.ReplaceAll(hostile, []byte("\r\n--b"), []byte("\r\n--"+dashes))
	for _, bc := range []struct {
		name string
		msg  []byte
	}{{"base64", tapMessage("", largeBody(16<<20))}, {"dashes", hostile}} {
		b.Run(bc.name, func(b *testing.B) {
			b.SetBytes(int64(len(bc.msg)))
			for b.Loop() {
				tap := NewSignedPartTap(func(map[string]string) []crypto.Hash { return []crypto.Hash{crypto.SHA256} })
				for p := bc.msg; len(p) > 0; p = p[min(len(p), 256<<10):] {
					tap.Write(p[:min(len(p), 256<<10)])
				}
				tap.Close()
			}
		})
	}
}

// Whatever the bytes and the sizes of the writes, a digest the parse
// gives for the signed part is that of the part's bytes, from the tap or
// not (every first part hashed, however small).
func FuzzSignedPartTap(f *testing.F) {
	small := tapMessage("", "hello\r\nworld")
	f.Add(small, uint16(7))
	f.Add(tapMessage("preamble\r\n", "--bx\r\n--b \r\nbody\r\n--b-"), uint16(1))
	f.Add(bytes.ReplaceAll(small, []byte("\r\n"), []byte("\n")), uint16(64))
	f.Add(bytes.Replace(small, []byte("hello\r\n"), []byte("hello\n"), 1), uint16(3))
	f.Add([]byte("Content-Type: multipart/signed; boundary=b\r\n\r\n--b\r\n\r\n--b\r\n\r\n--b--\r\n"), uint16(2))
	f.Add([]byte("From x\r\nContent-Type: multipart/signed; boundary=b\r\n\r\n--b\r\nx\r\n--b--\r\n"), uint16(5))
	fn := func(map[string]string) []crypto.Hash { return []crypto.Hash{crypto.SHA256} }
	hashAll := func(p *parser) { p.minHashed = 0 }
	f.Fuzz(func(t *testing.T, msg []byte, chunk uint16) {
		tap := directTap(fn, msg, max(int(chunk), 1))
		m, err := ParseAt(bytes.NewReader(msg), int64(len(msg)), DefaultLimits(), 1<<20, HashSignedPart(fn), ParseWithTap(tap), hashAll)
		if err != nil {
			return
		}
		defer m.Close()
		if m.Root.MediaType != "multipart/signed" || len(m.Root.Children) == 0 {
			return
		}
		part := m.Root.Children[0]
		got, ok := part.Digest(crypto.SHA256)
		if !ok {
			return
		}
		raw, err := io.ReadAll(part.Raw())
		if err != nil {
			t.Fatal(err)
		}
		if want := crypto.SHA256.New(); true {
			want.Write(raw)
			if !bytes.Equal(got, want.Sum(nil)) {
				t.Fatalf("digest of %q is not that of the part %q", msg, raw)
			}
		}
	})
}

// The tap stands only for the bytes it saw, parsed where they lie: not
// for a copy (Parse), not for a conversion (parseNonCanonical's view),
// even of the very bytes it saw; and only for the start and the ends it
// found.
func TestSignedPartTapOnlyInPlace(t *testing.T) {
	fn := func(map[string]string) []crypto.Hash { return []crypto.Hash{crypto.SHA256} }
	msg := tapMessage("", largeBody(300<<10))
	tap := NewSignedPartTap(fn)
	tap.Write(msg)
	tap.Close()
	m, err := Parse(bytes.NewReader(msg), DefaultLimits(), 1<<20, HashSignedPart(fn), ParseWithTap(tap))
	if err != nil {
		t.Fatal(err)
	}
	if checkDigests(t, m, crypto.SHA256) {
		t.Error("Parse, which copies, used the tap")
	}
	m.Close()

	// A view of LF content, with a tap given the view's own bytes.
	lf := bytes.ReplaceAll(msg, []byte("\r\n"), []byte("\n"))
	v, err := newCRLFView(bytes.NewReader(lf), int64(len(lf)), DefaultLimits().MaxSize)
	if err != nil {
		t.Fatal(err)
	}
	canon, err := io.ReadAll(io.NewSectionReader(v, 0, v.Size()))
	if err != nil || !bytes.Equal(canon, msg) {
		t.Fatalf("test set-up: the view is not the CRLF message (%v)", err)
	}
	vtap := NewSignedPartTap(fn)
	vtap.Write(canon)
	vtap.Close()
	m, err = parseNonCanonical(bytes.NewReader(lf), int64(len(lf)), DefaultLimits(), 1<<20, []ParseOption{HashSignedPart(fn), ParseWithTap(vtap)})
	if err != nil {
		t.Fatal(err)
	}
	if checkDigests(t, m, crypto.SHA256) {
		t.Error("a parse through a view used the tap")
	}
	m.Close()

	// Another start, another end.
	m, _ = tapped(t, msg, 64<<10, crypto.SHA256)
	part := m.Root.Children[0]
	if !tap.covers(part.start, int64(len(msg)), []crypto.Hash{crypto.SHA256}) {
		t.Fatal("test set-up: the tap does not cover the part")
	}
	if tap.covers(part.start+1, int64(len(msg)), []crypto.Hash{crypto.SHA256}) || tap.covers(part.start, int64(len(msg)), []crypto.Hash{crypto.SHA512}) {
		t.Error("the tap covers another start or another hash")
	}
	if _, ok := tap.digest(crypto.SHA256, part.start, part.end); !ok {
		t.Fatal("test set-up: no digest for the part")
	}
	for _, r := range [][2]int64{{part.start + 1, part.end}, {part.start, part.end - 1}, {part.start, part.end + 2}} {
		if _, ok := tap.digest(crypto.SHA256, r[0], r[1]); ok {
			t.Errorf("a digest for [%d, %d), the part being [%d, %d)", r[0], r[1], part.start, part.end)
		}
	}
}

// directTap gives msg to a tap's work in writes of chunk bytes, as they
// come (a SignedPartTap's stage gathers small writes first).
func directTap(fn func(map[string]string) []crypto.Hash, msg []byte, chunk int) *SignedPartTap {
	tap := &SignedPartTap{t: tapState{hashesFor: fn}, closed: true}
	for p := msg; len(p) > 0; {
		k := min(chunk, len(p))
		tap.t.Write(p[:k])
		p = p[k:]
	}
	tap.done.Store(true)
	return tap
}

// The tap's work finds the same start and possible ends, with the same
// states, however its writes cut the message: a CRLF, a delimiter or a
// possible end cut in two, a match of "--" and the boundary inside a line
// just before a delimiter line, a run of dashes.
func TestTapStateWrites(t *testing.T) {
	fn := func(map[string]string) []crypto.Hash { return []crypto.Hash{crypto.SHA256} }
	for _, body := range []string{
		"hello\r\nx--b\r\n--bx\r\nmore",
		"x--b",
		"--b-x--b\r\n--b -\r\nend",
		"a--b--b--b\r\n--bz\r\n",
		strings.Repeat("-", 300) + "\r\n--b\r\n",
	} {
		for _, preamble := range []string{"", "pre\r\namble x--b\r\n"} {
			msg := tapMessage(preamble, body)
			whole := directTap(fn, msg, len(msg))
			if whole.t.hashes == nil {
				t.Fatalf("%q: the tap found no start", msg)
			}
			for chunk := 1; chunk <= 16; chunk++ {
				cut := directTap(fn, msg, chunk)
				if cut.t.start != whole.t.start || !maps.EqualFunc(cut.t.ends, whole.t.ends, func(a, b map[crypto.Hash][]byte) bool {
					return bytes.Equal(a[crypto.SHA256], b[crypto.SHA256])
				}) {
					t.Fatalf("%q in writes of %d: start %d, ends %v; in one write: start %d, ends %v",
						msg, chunk, cut.t.start, slices.Sorted(maps.Keys(cut.t.ends)), whole.t.start, slices.Sorted(maps.Keys(whole.t.ends)))
				}
			}
		}
	}
}
