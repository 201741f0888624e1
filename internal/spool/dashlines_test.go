package spool

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"math/rand"
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

// DashLines gives the reference's offsets whatever pieces the content is
// written in (single bytes among them, so that a "\n--" is cut anywhere),
// in memory and spilled to the file.
func TestDashLinesMatchReference(t *testing.T) {
	rng := rand.New(rand.NewSource(11))
	alphabet := []byte("-\n\r-a")
	for i := 0; i < 2000; i++ {
		content := make([]byte, rng.Intn(300))
		for k := range content {
			content[k] = alphabet[rng.Intn(len(alphabet))]
		}
		for _, memLimit := range []int64{1 << 20, 16} {
			s := New(memLimit)
			for rest := content; len(rest) > 0; {
				n := min(len(rest), 1+rng.Intn(5))
				if rng.Intn(3) == 0 {
					n = min(len(rest), 1)
				}
				s.Write(rest[:n])
				rest = rest[n:]
			}
			got, ok := s.DashLines()
			if want := dashLinesOf(content); !ok || fmt.Sprint(got) != fmt.Sprint(want) {
				t.Fatalf("content %q: DashLines %v (%v), want %v", content, got, ok, want)
			}
			s.Close()
		}
	}
}

// Past maxDashLines line starts, DashLines says it does not know.
func TestDashLinesOverflow(t *testing.T) {
	s := New(1 << 20)
	defer s.Close()
	line := []byte("--x\r\n")
	s.Write(bytes.Repeat(line, maxDashLines))
	if at, ok := s.DashLines(); !ok || len(at) != maxDashLines {
		t.Fatalf("%d line starts: %d, %v", maxDashLines, len(at), ok)
	}
	s.Write(line)
	if at, ok := s.DashLines(); ok || at != nil {
		t.Fatalf("one more: %d, %v", len(at), ok)
	}
}

// BenchmarkDashLines: the search over base64 lines (a LF every 78 bytes,
// no '-'), what a large attachment is.
func BenchmarkDashLines(b *testing.B) {
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
		var d dashLines
		d.write(data)
	}
}

// FuzzDashLines: any content, written in pieces of the sizes given, gives
// the reference's line starts.
func FuzzDashLines(f *testing.F) {
	f.Add([]byte("--a\n--b\r\n-\n--\n-"), []byte{1, 2, 3})
	f.Add([]byte("\n\n----\n-a--\n--"), []byte{5})
	f.Fuzz(func(t *testing.T, content, sizes []byte) {
		var d dashLines
		for rest, k := content, 0; len(rest) > 0; k++ {
			n := len(rest)
			if len(sizes) > 0 {
				n = min(n, 1+int(sizes[k%len(sizes)]))
			}
			d.write(rest[:n])
			rest = rest[n:]
		}
		if want := dashLinesOf(content); fmt.Sprint(d.at) != fmt.Sprint(want) {
			t.Fatalf("content %q in pieces of %v: %v, want %v", content, sizes, d.at, want)
		}
	})
}
