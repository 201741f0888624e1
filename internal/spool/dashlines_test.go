package spool

import (
	"bytes"
	"fmt"
	"math/rand"
	"testing"

	"github.com/mailseal/mailseal/internal/crlf"
)

// dashLinesOf is what crlf.Dashes (whose own tests check it against the
// definition) records of content written to it at once.
func dashLinesOf(b []byte) []int64 {
	var d crlf.Dashes
	d.Write(b)
	at, _ := d.Lines()
	return at
}

// DashLines gives crlf.Dashes' offsets of the whole content whatever
// pieces it is written to the spool in (single bytes among them, so that a
// "\n--" is cut anywhere), in memory and spilled to the file.
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

// Past crlf.MaxDashes line starts, DashLines says it does not know.
func TestDashLinesOverflow(t *testing.T) {
	s := New(1 << 20)
	defer s.Close()
	line := []byte("--x\r\n")
	s.Write(bytes.Repeat(line, crlf.MaxDashes))
	if at, ok := s.DashLines(); !ok || len(at) != crlf.MaxDashes {
		t.Fatalf("%d line starts: %d, %v", crlf.MaxDashes, len(at), ok)
	}
	s.Write(line)
	if at, ok := s.DashLines(); ok || at != nil {
		t.Fatalf("one more: %d, %v", len(at), ok)
	}
}
