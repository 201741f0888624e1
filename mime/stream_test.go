package mime

import (
	"bytes"
	"io"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// bigMessage streams a multipart/mixed message with a text part and a
// base64 attachment of about size bytes, without holding it in memory.
func bigMessage(size int64) io.Reader {
	head := "From: a@example.org\nTo: b@example.net\nSubject: big\nMIME-Version: 1.0\n" +
		"Content-Type: multipart/mixed; boundary=\"big-boundary\"\n\n--big-boundary\n" +
		"Content-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: 8bit\n\nGrüße\n--big-boundary\n" +
		"Content-Type: application/octet-stream\nContent-Transfer-Encoding: base64\n\n"
	line := strings.Repeat("QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVo", 3)[:76] + "\n"
	lines := size / int64(len(line))
	body := &repeatReader{line: []byte(line), n: lines}
	return io.MultiReader(strings.NewReader(head), body, strings.NewReader("--big-boundary--\n"))
}

type repeatReader struct {
	line []byte
	n    int64
	off  int
}

func (r *repeatReader) Read(p []byte) (int, error) {
	total := 0
	for len(p) > 0 && r.n > 0 {
		c := copy(p, r.line[r.off:])
		p, total, r.off = p[c:], total+c, r.off+c
		if r.off == len(r.line) {
			r.off, r.n = 0, r.n-1
		}
	}
	if total == 0 {
		return 0, io.EOF
	}
	return total, nil
}

// peakHeap samples the live heap objects while f runs and returns the peak
// growth over the heap before f.
func peakHeap(f func()) uint64 {
	sample := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	read := func() uint64 {
		metrics.Read(sample)
		return sample[0].Value.Uint64()
	}
	runtime.GC()
	base := read()
	var peak atomic.Uint64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			if v := read(); v > peak.Load() {
				peak.Store(v)
			}
			select {
			case <-stop:
				return
			case <-time.After(time.Millisecond):
			}
		}
	}()
	f()
	close(stop)
	wg.Wait()
	if v := read(); v > peak.Load() {
		peak.Store(v)
	}
	if peak.Load() < base {
		return 0
	}
	return peak.Load() - base
}

// TestParseMemoryDoesNotGrowWithSize is a correctness test of streaming:
// parsing a 64 MiB message, and reading its bodies and content, must not
// hold the message in memory.
func TestParseMemoryDoesNotGrowWithSize(t *testing.T) {
	if testing.Short() {
		t.Skip("64 MiB message")
	}
	const size = 64 << 20
	const bound = 24 << 20 // generous for GC slack, far below the message size
	// Collect garbage (the spool's short-lived encryption buffers) early, so
	// that the peak reflects what is held, not what awaits collection.
	defer debug.SetGCPercent(debug.SetGCPercent(10))
	var m *Message
	grew := peakHeap(func() {
		var err error
		m, err = Parse(bigMessage(size), DefaultLimits(), 1<<20)
		if err != nil {
			t.Fatal(err)
		}
	})
	defer m.Close()
	if m.Size() < size {
		t.Fatalf("message has %d bytes", m.Size())
	}
	t.Logf("parse: peak heap growth %d KiB for a %d MiB message", grew>>10, m.Size()>>20)
	if grew > bound {
		t.Errorf("parsing grew the heap by %d MiB", grew>>20)
	}
	runtime.GC()
	var retained runtime.MemStats
	runtime.ReadMemStats(&retained)

	att := m.Find("2")
	if att == nil || att.BodySize() < size {
		t.Fatalf("attachment missing or short")
	}
	var n int64
	grew = peakHeap(func() {
		var err error
		if n, err = io.Copy(io.Discard, att.Body()); err != nil {
			t.Fatal(err)
		}
		if _, err = io.Copy(io.Discard, m.Content(true)); err != nil {
			t.Fatal(err)
		}
	})
	t.Logf("Body and Content(true): peak heap growth %d KiB", grew>>10)
	if grew > bound || n < size/2 {
		t.Errorf("reading the bodies grew the heap by %d MiB (%d bytes decoded)", grew>>20, n)
	}
}

func BenchmarkParse10MiB(b *testing.B) {
	data, err := io.ReadAll(bigMessage(10 << 20))
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		m, err := Parse(bytes.NewReader(data), DefaultLimits(), 32<<20)
		if err != nil {
			b.Fatal(err)
		}
		if len(m.Root.Children) != 2 {
			b.Fatal("wrong structure")
		}
		m.Close()
	}
}
