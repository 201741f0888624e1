package reserve

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// Blocks are allocated ahead of every write, in one run from offset 0,
// never more than a step past the write's end; an allocation that fails
// stops them and the writes go on without.
func TestAheadSteps(t *testing.T) {
	for _, failAt := range []int{-1, 0, 3} {
		var calls [][2]int64
		a := &Ahead{alloc: func(off, n int64) error {
			if len(calls) == failAt {
				return errors.New("no room")
			}
			calls = append(calls, [2]int64{off, n})
			return nil
		}}
		var off int64
		for i := 0; off < 300<<20; i++ {
			n := int64(1 + (i*333331)%(3<<20))
			a.Before(off, n)
			if a.alloc != nil && (a.reserved < off+n || a.reserved > off+n+step(off)) {
				t.Fatalf("writing %d at %d: allocated to %d", n, off, a.reserved)
			}
			off += n
		}
		var next int64
		for _, c := range calls {
			if c[0] != next || c[1] <= 0 {
				t.Fatalf("allocations %v: not one run from 0", calls)
			}
			next += c[1]
		}
		if failAt < 0 && (len(calls) < 5 || next < off) {
			t.Fatalf("allocations %v for %d bytes written", calls, off)
		}
		if failAt >= 0 && (len(calls) != failAt || a.alloc != nil) {
			t.Fatalf("failing at call %d: %d calls, allocating still %v", failAt, len(calls), a.alloc != nil)
		}
	}
	var none *Ahead
	none.Before(0, 1<<30) // nothing, no panic
	if none.reservedBytes() != 0 {
		t.Fatal("nil Ahead reserved something")
	}
}

// A Writer writes what it is given, and Finish truncates the file to it
// where more was allocated (here as if allocated: the file is what
// counts).
func TestWriterFinish(t *testing.T) {
	f, err := os.Create(filepath.Join(t.TempDir(), "out"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	w := NewWriter(f)
	w.ahead = &Ahead{alloc: func(off, n int64) error { return nil }}
	data := bytes.Repeat([]byte("0123456789abcdef"), 1<<16)
	for p := data; len(p) > 0; p = p[min(len(p), 100000):] {
		if _, err := w.Write(p[:min(len(p), 100000)]); err != nil {
			t.Fatal(err)
		}
	}
	if w.ahead.reservedBytes() <= int64(len(data)) {
		t.Fatalf("test set-up: reserved %d for %d", w.ahead.reservedBytes(), len(data))
	}
	if err := w.Finish(); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(f.Name())
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("content differs (%v)", err)
	}
}

// An allocation that fails may have allocated part of its range (ext4
// keeps it): Finish gives that back too, truncating to what was written.
func TestFinishAfterFailedAlloc(t *testing.T) {
	f, err := os.Create(filepath.Join(t.TempDir(), "out"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	calls := 0
	w := NewWriter(f)
	w.ahead = &Ahead{alloc: func(off, n int64) error {
		if calls++; calls == 2 {
			return errors.New("no space left on device")
		}
		return nil
	}}
	buf := make([]byte, 1<<20)
	for i := 0; i < 5; i++ { // past the first step of 4 MiB
		w.Write(buf)
	}
	if w.ahead.alloc != nil || w.ahead.reservedBytes() <= w.off {
		t.Fatalf("after a failed allocation: allocating %v, counted %d for %d written", w.ahead.alloc != nil, w.ahead.reservedBytes(), w.off)
	}
}
