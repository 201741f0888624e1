//go:build !purego

package crlf

import (
	"bytes"
	"testing"
)

// No assembly call takes more than asmRun bytes of input (a goroutine in
// one is out of the scheduler's reach), and long inputs take several,
// with the same results.
func TestAssemblyRuns(t *testing.T) {
	if !haveLinesAsm {
		t.Skip("no assembly here")
	}
	asmCalls.Record(t)
	text := bytes.Repeat([]byte("a line of text, of a length that is not a power of two\r\n"), 4*asmRun/56+7)
	if ok, _ := checkLines(text, false); !ok {
		t.Fatal("checkLines: not canonical")
	}
	if calls, most := asmCalls.Calls(); calls < 4 || most > asmRun {
		t.Fatalf("checkLines: %d calls, the largest %d bytes", calls, most)
	}
	asmCalls.Record(t)
	lf := bytes.ReplaceAll(text, []byte("\r\n"), []byte("\n"))
	dst := make([]byte, 2*len(lf)+96)
	nd, ns := ExpandLF(dst, lf)
	if ns != len(lf) || !bytes.Equal(dst[:nd], text) {
		t.Fatalf("ExpandLF: read %d of %d, output equal %v", ns, len(lf), bytes.Equal(dst[:nd], text))
	}
	if calls, most := asmCalls.Calls(); calls < 4 || most > asmRun {
		t.Fatalf("ExpandLF: %d calls, the largest %d bytes", calls, most)
	}
}
