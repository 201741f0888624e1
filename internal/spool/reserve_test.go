package spool

import (
	"bytes"
	"errors"
	"testing"
)

// The file's blocks are allocated ahead of every write, in one run from
// offset 0, never more than reserveStep past what was written; a
// reservation that fails stops them and the writes go on without.
func TestSpoolReservesAhead(t *testing.T) {
	for _, failAt := range []int{-1, 0, 3} {
		s := New(1 << 20)
		s.Write(make([]byte, 2<<20)) // spills
		var calls [][2]int64
		s.reserved = 0
		s.reserve = func(off, n int64) error {
			if len(calls) == failAt {
				return errors.New("no room")
			}
			calls = append(calls, [2]int64{off, n})
			return nil
		}
		data := make([]byte, 90<<20)
		for i := range data {
			data[i] = byte(i * 13)
		}
		for off := 0; off < len(data); off += 333331 {
			p := data[off:min(off+333331, len(data))]
			flushed := s.flushed
			if _, err := s.Write(p); err != nil {
				t.Fatal(err)
			}
			if s.reserve != nil && (s.flushed > s.reserved || s.reserved > s.flushed+max(reserveStep(flushed), int64(len(p))+writeBatch)) {
				t.Fatalf("written to %d, reserved to %d", s.flushed, s.reserved)
			}
		}
		var next int64
		for _, c := range calls {
			if c[0] != next || c[1] <= 0 {
				t.Fatalf("reservations %v: not one run from 0", calls)
			}
			next += c[1]
		}
		if failAt < 0 && (len(calls) < 5 || next < s.flushed) {
			t.Fatalf("reservations %v for %d bytes written", calls, s.flushed)
		}
		if failAt >= 0 && (len(calls) != failAt || s.reserve != nil) {
			t.Fatalf("failing at call %d: %d calls, reserving still %v", failAt, len(calls), s.reserve != nil)
		}
		got := make([]byte, len(data))
		if _, err := s.ReadAt(got, 2<<20); err != nil || !bytes.Equal(got, data) {
			t.Fatalf("content differs (%v)", err)
		}
		s.Close()
	}
}
