package crlf

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"math/rand"
	"strings"
	"testing"
)

// dashLinesOf is the reference: every line start (0, or after a LF) that
// begins with "--".
func dashLinesOf(b []byte) []int64 {
	var at []int64
	for i := 0; i+1 < len(b); i++ {
		if (i == 0 || b[i-1] == '\n') && b[i] == '-' && b[i+1] == '-' {
			at = append(at, int64(i))
		}
	}
	return at
}

// writeInPieces writes content to d in pieces of the sizes given (cycled;
// all of it at once when there are none).
func writeInPieces(d *Dashes, content, sizes []byte) {
	for rest, k := content, 0; len(rest) > 0; k++ {
		n := len(rest)
		if len(sizes) > 0 {
			n = min(n, 1+int(sizes[k%len(sizes)]))
		}
		d.Write(rest[:n])
		rest = rest[n:]
	}
}

// Lines gives the reference's offsets whatever pieces the content is
// written in (single bytes among them, so that a "\n--" is cut anywhere),
// and so does content cut in two at a line start and joined.
func TestDashesMatchReference(t *testing.T) {
	rng := rand.New(rand.NewSource(11))
	for i := 0; i < 4000; i++ {
		// Dense in '-' (the search for "\n--" takes over), or sparse.
		alphabet := []byte("-\n\r-a")
		if i%2 == 1 {
			alphabet = []byte("-\n\rabcdefghijklmnopqrstuvwxyz")
		}
		content := make([]byte, rng.Intn(600))
		for k := range content {
			content[k] = alphabet[rng.Intn(len(alphabet))]
		}
		sizes := make([]byte, 1+rng.Intn(4))
		for k := range sizes {
			sizes[k] = byte(rng.Intn(5))
		}
		want := fmt.Sprint(dashLinesOf(content))
		for _, sz := range [][]byte{sizes, nil} { // in pieces, and whole (long writes search for "\n--" once '-' proves common)
			var d Dashes
			writeInPieces(&d, content, sz)
			if got, ok := d.Lines(); !ok || fmt.Sprint(got) != want {
				t.Fatalf("content %q in pieces of %v: Lines %v (%v), want %s", content, sz, got, ok, want)
			}
		}
		// Cut after a LF, as the parser's check cuts a message in two.
		if mid := bytes.IndexByte(content[len(content)/2:], '\n'); mid >= 0 {
			mid += len(content)/2 + 1
			var a Dashes
			b := DashesFrom(int64(mid))
			writeInPieces(&a, content[:mid], sizes)
			writeInPieces(&b, content[mid:], sizes)
			if got, ok := JoinDashes(&a, &b); !ok || fmt.Sprint(got) != want {
				t.Fatalf("content %q cut at %d: %v (%v), want %s", content, mid, got, ok, want)
			}
		}
	}
}

// Past MaxDashes line starts, Lines says it does not know, and so does a
// join of two pieces that have more together.
func TestDashesOverflow(t *testing.T) {
	line := []byte("--x\r\n")
	var d Dashes
	d.Write(bytes.Repeat(line, MaxDashes))
	if at, ok := d.Lines(); !ok || len(at) != MaxDashes {
		t.Fatalf("%d line starts: %d, %v", MaxDashes, len(at), ok)
	}
	d.Write(line)
	if at, ok := d.Lines(); ok || at != nil {
		t.Fatalf("one more: %d, %v", len(at), ok)
	}
	for _, extra := range []int{0, 1} {
		var a Dashes
		a.Write(bytes.Repeat(line, MaxDashes/2+extra))
		b := DashesFrom(a.size)
		b.Write(bytes.Repeat(line, MaxDashes/2))
		at, ok := JoinDashes(&a, &b)
		if want := extra == 0; ok != want || (ok && len(at) != MaxDashes) || (!ok && at != nil) {
			t.Fatalf("two halves with %d together: %d, %v", MaxDashes+extra, len(at), ok)
		}
	}
}

// FuzzDashes: any content, written in pieces of the sizes given, gives the
// reference's line starts.
func FuzzDashes(f *testing.F) {
	f.Add([]byte("--a\n--b\r\n-\n--\n-"), []byte{1, 2, 3})
	f.Add([]byte("\n\n----\n-a--\n--"), []byte{5})
	f.Fuzz(func(t *testing.T, content, sizes []byte) {
		var d Dashes
		writeInPieces(&d, content, sizes)
		if want := dashLinesOf(content); fmt.Sprint(d.at) != fmt.Sprint(want) {
			t.Fatalf("content %q in pieces of %v: %v, want %v", content, sizes, d.at, want)
		}
	})
}

// BenchmarkDashes: the search over base64 lines (a LF every 78 bytes, no
// '-'), what a large attachment is.
func BenchmarkDashes(b *testing.B) {
	raw := make([]byte, 3<<20)
	rand.New(rand.NewSource(1)).Read(raw)
	s := base64.StdEncoding.EncodeToString(raw)
	var buf bytes.Buffer
	for len(s) > 76 {
		buf.WriteString(s[:76] + "\r\n")
		s = s[76:]
	}
	data := buf.Bytes()[:256<<10]
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		var d Dashes
		d.Write(data)
	}
}

// BenchmarkDashesDense: content where '-' is common but starts no line
// (an attacker's "-a-a-a" lines), which a call per '-' would make 50 times
// slower than BenchmarkDashes.
func BenchmarkDashesDense(b *testing.B) {
	line := strings.Repeat("-a", 38) + "\r\n"
	data := []byte(strings.Repeat(line, (256<<10)/len(line)))
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		var d Dashes
		d.Write(data)
	}
}
