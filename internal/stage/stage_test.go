package stage

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/rand"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/iotest"
	"time"
)

func data(n int) []byte {
	b := make([]byte, n)
	rand.New(rand.NewSource(int64(n))).Read(b)
	return b
}

func TestWriter(t *testing.T) {
	for _, n := range []int{0, 1, StartSize - 1, StartSize, BufferSize - 1, BufferSize, 3*BufferSize + 17, growAfter + 5*BufferSize + 3} {
		in := data(n)
		var out bytes.Buffer
		w := NewWriter(&out)
		rng := rand.New(rand.NewSource(1))
		for rest := in; len(rest) > 0; {
			k := min(len(rest), 1+rng.Intn(100<<10))
			if m, err := w.Write(rest[:k]); m != k || err != nil {
				t.Fatalf("Write: %d %v", m, err)
			}
			rest = rest[k:]
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(out.Bytes(), in) {
			t.Fatalf("%d bytes: output differs", n)
		}
		if _, err := w.Write([]byte("x")); err == nil {
			t.Fatal("write after close")
		}
	}
}

type failAfter struct {
	n   int
	err error
}

func (f *failAfter) Write(p []byte) (int, error) {
	if f.n <= 0 {
		return 0, f.err
	}
	f.n--
	return len(p), nil
}

func TestWriterError(t *testing.T) {
	boom := errors.New("disk full")
	w := NewWriter(&failAfter{n: 2, err: boom})
	var err error
	for i := 0; i < 100 && err == nil; i++ {
		_, err = w.Write(make([]byte, BufferSize))
		time.Sleep(time.Millisecond)
	}
	if !errors.Is(err, boom) {
		t.Fatalf("Write error %v", err)
	}
	if err := w.Close(); !errors.Is(err, boom) {
		t.Fatalf("Close error %v", err)
	}

	// Before the goroutine starts, writes go straight through: the error
	// shows at once, and stays.
	w = NewWriter(&failAfter{n: 1, err: boom})
	if _, err := w.Write(make([]byte, smallWrite)); err != nil {
		t.Fatalf("first small Write: %v", err)
	}
	if _, err := w.Write(make([]byte, smallWrite)); !errors.Is(err, boom) {
		t.Fatalf("second small Write: %v", err)
	}
	if _, err := w.Write(make([]byte, 2*StartSize)); !errors.Is(err, boom) {
		t.Fatalf("large Write after the error: %v", err)
	}
	if err := w.Close(); !errors.Is(err, boom) {
		t.Fatalf("Close error %v", err)
	}

	// Short writes are gathered; an error writing them shows on Close.
	w = NewWriter(&failAfter{n: 0, err: boom})
	if _, err := w.Write([]byte("header")); err != nil {
		t.Fatalf("short Write: %v", err)
	}
	if err := w.Close(); !errors.Is(err, boom) {
		t.Fatalf("Close error %v", err)
	}
}

// Before the start, short writes reach the underlying writer gathered, in
// order with the longer ones, which go straight through.
func TestWriterGathersShortWrites(t *testing.T) {
	rec := &sizeRecorder{}
	var out bytes.Buffer
	w := NewWriter(io.MultiWriter(rec, &out))
	var in []byte
	for _, n := range []int{1, 2, 3, smallWrite, 5, 6, smallGather, 7} {
		p := data(n)
		in = append(in, p...)
		w.Write(p)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(out.Bytes(), in) {
		t.Fatal("output differs")
	}
	want := []int{6, smallWrite, 11, smallGather, 7}
	if fmt.Sprint(rec.sizes) != fmt.Sprint(want) {
		t.Fatalf("writes of %v, want %v", rec.sizes, want)
	}
}

func TestReader(t *testing.T) {
	for _, n := range []int{0, 1, BufferSize, 5*BufferSize + 3} {
		in := data(n)
		// Read in odd sizes.
		r := NewReader(iotest.HalfReader(bytes.NewReader(in)))
		var out []byte
		buf := make([]byte, 7777)
		for {
			k, err := r.Read(buf)
			out = append(out, buf[:k]...)
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
		}
		r.Close()
		if !bytes.Equal(out, in) {
			t.Fatalf("%d bytes: Read output differs", n)
		}
		// WriteTo, after a first small Read.
		r = NewReader(bytes.NewReader(in))
		var wb bytes.Buffer
		k, _ := r.Read(buf[:10])
		wb.Write(buf[:k])
		if _, err := io.Copy(&wb, r); err != nil {
			t.Fatal(err)
		}
		r.Close()
		if !bytes.Equal(wb.Bytes(), in) {
			t.Fatalf("%d bytes: WriteTo output differs", n)
		}
	}
}

func TestReaderError(t *testing.T) {
	boom := errors.New("bad armor")
	in := data(2*BufferSize + 5)
	r := NewReader(io.MultiReader(bytes.NewReader(in), iotest.ErrReader(boom)))
	defer r.Close()
	out, err := io.ReadAll(r)
	if !errors.Is(err, boom) || !bytes.Equal(out, in) {
		t.Fatalf("ReadAll: %d bytes, %v", len(out), err)
	}
	if _, err := r.Read(make([]byte, 1)); !errors.Is(err, boom) {
		t.Fatalf("second Read: %v", err)
	}
}

// Closing a reader that was not read to the end stops its goroutine.
func TestReaderCloseEarly(t *testing.T) {
	before := runtime.NumGoroutine()
	for i := 0; i < 50; i++ {
		r := NewReader(bytes.NewReader(make([]byte, 10*BufferSize)))
		io.ReadFull(r, make([]byte, BufferSize+1)) // past the direct part: the goroutine runs
		r.Close()
	}
	waitGoroutines(t, before)
}

func TestReadBufferSize(t *testing.T) {
	small := bytes.NewReader(make([]byte, 100))
	small.Read(make([]byte, 40)) // Len is what is left
	for _, tc := range []struct {
		r    any
		want int
	}{
		{small, 60 + 16},
		{io.NewSectionReader(bytes.NewReader(nil), 0, 1000), 1000 + 16},
		{bytes.NewReader(make([]byte, 1<<20)), 64 << 10},
		{iotest.HalfReader(small), 64 << 10}, // size unknown
		{hinted(2000), 2000 + 16},
		{hinted(100 << 20), 64 << 10},
	} {
		if got := ReadBufferSize(tc.r, 64<<10); got != tc.want {
			t.Errorf("%T: %d, want %d", tc.r, got, tc.want)
		}
	}
}

// hinted tells about how much it yields, as mime's content readers do.
type hinted int64

func (h hinted) SizeHint() int64 { return int64(h) }

// sizeRecorder records the size of each write it gets, or of each read
// asked of it.
type sizeRecorder struct {
	sizes []int
	r     io.Reader
}

func (s *sizeRecorder) Write(p []byte) (int, error) {
	s.sizes = append(s.sizes, len(p))
	return len(p), nil
}

func (s *sizeRecorder) Read(p []byte) (int, error) {
	s.sizes = append(s.sizes, len(p))
	return s.r.Read(p)
}

// A stream moves in small buffers at first and in large ones once it has
// proved long.
func TestBuffersGrow(t *testing.T) {
	check := func(name string, sizes []int) {
		t.Helper()
		if len(sizes) < 10 || sizes[0] != StartSize || sizes[len(sizes)-2] != BufferSize {
			t.Fatalf("%s: buffer sizes %v", name, sizes)
		}
		small := 0
		for _, n := range sizes {
			if n == StartSize {
				small++
			}
		}
		if small*StartSize > growAfter+buffers*StartSize {
			t.Fatalf("%s: %d small buffers", name, small)
		}
	}
	rec := &sizeRecorder{}
	w := NewWriter(rec)
	w.Write(make([]byte, 50000)) // written straight through
	if len(rec.sizes) != 1 || rec.sizes[0] != 50000 {
		t.Fatalf("Writer: the first write went through as %v", rec.sizes)
	}
	rec.sizes = nil
	for i := 1; i < 400; i++ {
		w.Write(make([]byte, 50000))
	}
	w.Close()
	check("Writer", rec.sizes)

	rec = &sizeRecorder{r: bytes.NewReader(make([]byte, 20<<20))}
	r := NewReader(rec)
	io.ReadFull(r, make([]byte, StartSize)) // read directly
	rec.sizes = nil
	if _, err := io.Copy(io.Discard, r); err != nil {
		t.Fatal(err)
	}
	r.Close()
	check("Reader", rec.sizes)
}

// slowSource counts the reads in progress.
type slowSource struct{ active atomic.Int32 }

func (r *slowSource) Read(p []byte) (int, error) {
	r.active.Add(1)
	defer r.active.Add(-1)
	time.Sleep(2 * time.Millisecond)
	return len(p), nil
}

// Once Close returns, the underlying reader is not being read, so that what
// it reads from (a spool) may be released.
func TestReaderCloseWaits(t *testing.T) {
	for i := 0; i < 20; i++ {
		src := &slowSource{}
		r := NewReader(src)
		io.ReadFull(r, make([]byte, StartSize+1)) // read directly
		io.ReadFull(r, make([]byte, 10))          // from the goroutine
		r.Close()
		if n := src.active.Load(); n != 0 {
			t.Fatalf("%d reads still in progress after Close", n)
		}
	}
}

// BenchmarkPipeline measures what a stage buys: two steps that each cost
// CPU (base64 decoding, then SHA-256 over the result — the shape of
// decoding and verifying a large attachment) run one after the other in
// the plain version, and beside each other with a Reader or a Writer
// between them. With one free core the three are alike; the gain is
// what the second core takes over.
func BenchmarkPipeline(b *testing.B) {
	raw := data(32 << 20)
	enc := []byte(base64.StdEncoding.EncodeToString(raw))
	for _, c := range []struct {
		name string
		run  func() error
	}{
		{"plain", func() error {
			_, err := io.Copy(sha256.New(), base64.NewDecoder(base64.StdEncoding, bytes.NewReader(enc)))
			return err
		}},
		{"reader", func() error {
			r := NewReader(base64.NewDecoder(base64.StdEncoding, bytes.NewReader(enc)))
			defer r.Close()
			_, err := io.Copy(sha256.New(), r)
			return err
		}},
		{"writer", func() error {
			w := NewWriter(sha256.New())
			if _, err := io.Copy(w, base64.NewDecoder(base64.StdEncoding, bytes.NewReader(enc))); err != nil {
				return err
			}
			return w.Close()
		}},
	} {
		b.Run(c.name, func(b *testing.B) {
			b.SetBytes(int64(len(raw)))
			for b.Loop() {
				if err := c.run(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// countingAt is a ReaderAt over data that counts the ReadAt calls in
// progress at once, and fails with err at failAt and beyond when err is
// set.
type countingAt struct {
	data         []byte
	err          error
	failAt       int64
	active, most atomic.Int32
	delay        time.Duration
}

func (c *countingAt) ReadAt(p []byte, off int64) (int, error) {
	n := c.active.Add(1)
	defer c.active.Add(-1)
	for m := c.most.Load(); n > m && !c.most.CompareAndSwap(m, n); m = c.most.Load() {
	}
	time.Sleep(c.delay)
	if c.err != nil && off+int64(len(p)) > c.failAt {
		k := max(0, int(c.failAt-off))
		return copy(p[:k], c.data[off:]), c.err
	}
	return bytes.NewReader(c.data).ReadAt(p, off)
}

// A large *io.SectionReader is read by two goroutines, alternate chunks,
// and comes out whole and in order: any size around the chunk edges,
// from a section that does not start at zero, after a first Read.
func TestReaderSectionInParallel(t *testing.T) {
	// The first StartSize bytes are read directly, the rest of the
	// section from where that left it.
	p := ParallelSize + 2*StartSize
	for _, n := range []int{p, p + 1, p + BufferSize - 1, p + BufferSize, 3*ParallelSize + 5} {
		in := data(n + 1000)
		src := &countingAt{data: in, delay: 100 * time.Microsecond}
		sec := io.NewSectionReader(src, 1000, int64(n))
		r := NewReader(sec)
		var out bytes.Buffer
		buf := make([]byte, 10)
		k, _ := r.Read(buf)
		out.Write(buf[:k])
		if _, err := io.Copy(&out, r); err != nil {
			t.Fatal(err)
		}
		r.Close()
		if !bytes.Equal(out.Bytes(), in[1000:]) {
			t.Fatalf("%d bytes: output differs", n)
		}
		if src.most.Load() < 2 {
			t.Fatalf("%d bytes: ReadAt never ran twice at once", n)
		}
		// Read (not WriteTo), in odd sizes.
		r = NewReader(io.NewSectionReader(src, 1000, int64(n)))
		got, err := io.ReadAll(iotest.OneByteReader(io.LimitReader(r, 100)))
		if err != nil || !bytes.Equal(got, in[1000:1100]) {
			t.Fatalf("%d bytes: Read: %v", n, err)
		}
		got, err = io.ReadAll(r)
		r.Close()
		if err != nil || !bytes.Equal(got, in[1100:]) {
			t.Fatalf("%d bytes: Read: %v", n, err)
		}
	}
	// Smaller sections take one goroutine.
	src := &countingAt{data: data(ParallelSize + StartSize - 1), delay: 100 * time.Microsecond}
	r := NewReader(io.NewSectionReader(src, 0, int64(len(src.data))))
	out, err := io.ReadAll(r)
	r.Close()
	if err != nil || !bytes.Equal(out, src.data) || src.most.Load() != 1 {
		t.Fatalf("small section: %v, equal %v, %d reads at once", err, bytes.Equal(out, src.data), src.most.Load())
	}
}

// An error of the section's ReadAt comes out after the data before it,
// and no chunk after it.
func TestReaderSectionError(t *testing.T) {
	boom := errors.New("spool: read error")
	in := data(2 * ParallelSize)
	for _, at := range []int64{StartSize + 5, ParallelSize + BufferSize, ParallelSize + 3*BufferSize + 17} {
		r := NewReader(io.NewSectionReader(&countingAt{data: in, err: boom, failAt: at}, 0, int64(len(in))))
		out, err := io.ReadAll(r)
		r.Close()
		// The data before the failing chunk arrives; the failing chunk's
		// own first bytes may or may not.
		chunkStart := StartSize + (at-StartSize)/BufferSize*BufferSize
		if !errors.Is(err, boom) || int64(len(out)) < chunkStart || int64(len(out)) > at || !bytes.Equal(out, in[:len(out)]) {
			t.Fatalf("fail at %d: %d bytes, %v", at, len(out), err)
		}
	}
}

// Closing a parallel reader early stops both its goroutines.
func TestReaderSectionCloseEarly(t *testing.T) {
	before := runtime.NumGoroutine()
	in := data(4 * ParallelSize)
	for i := 0; i < 30; i++ {
		r := NewReader(io.NewSectionReader(bytes.NewReader(in), 0, int64(len(in))))
		io.ReadFull(r, make([]byte, StartSize+BufferSize+1))
		r.Close()
	}
	waitGoroutines(t, before)
}

// Concat reads what io.MultiReader reads, at any offset, and is a
// section (for the parallel reading) only when every part is a reader at
// offsets with a size.
func TestConcat(t *testing.T) {
	rng := rand.New(rand.NewSource(7))
	for i := 0; i < 300; i++ {
		var parts, again []io.Reader
		var all []byte
		for range rng.Intn(6) {
			p := data(rng.Intn(3) * rng.Intn(2000))
			all = append(all, p...)
			if rng.Intn(2) == 0 {
				parts = append(parts, bytes.NewReader(p))
			} else {
				pad := data(50)
				whole := append(append(bytes.Clone(pad[:20]), p...), pad[20:]...)
				parts = append(parts, io.NewSectionReader(bytes.NewReader(whole), 20, int64(len(p))))
			}
			again = append(again, bytes.NewReader(p))
		}
		c := Concat(parts...)
		sec, ok := c.(*io.SectionReader)
		if !ok {
			t.Fatalf("Concat of readers at offsets is a %T", c)
		}
		for j := 0; j < 20; j++ {
			off := rng.Int63n(int64(len(all)) + 3)
			buf := make([]byte, rng.Intn(len(all)+5))
			n, err := sec.ReadAt(buf, off)
			want := all[min(off, int64(len(all))):]
			want = want[:min(len(want), len(buf))]
			wantEOF := n < len(buf) || off >= int64(len(all)) // as io.SectionReader does
			if n != len(want) || !bytes.Equal(buf[:n], want) || wantEOF != (err == io.EOF) || (err != nil && err != io.EOF) {
				t.Fatalf("ReadAt(%d bytes, %d) of %d: %d, %v", len(buf), off, len(all), n, err)
			}
		}
		got, err := io.ReadAll(c)
		if err != nil || !bytes.Equal(got, all) {
			t.Fatalf("Read: %v", err)
		}
		if got, _ := io.ReadAll(Concat(append(again, iotest.HalfReader(bytes.NewReader([]byte("tail"))))...)); !bytes.Equal(got, append(all, "tail"...)) {
			t.Fatal("Concat with a plain reader differs")
		}
	}
	if _, ok := Concat(bytes.NewReader(nil), iotest.HalfReader(strings.NewReader("x"))).(*io.SectionReader); ok {
		t.Fatal("Concat of a reader without a size is a section")
	}
	// A part that is shorter than its size.
	short := io.NewSectionReader(bytes.NewReader([]byte("abc")), 0, 10)
	if _, err := io.ReadAll(Concat(bytes.NewReader([]byte("x")), short)); !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("short part: %v", err)
	}
}

// Each of the two goroutines reads into buffers of its own. A review
// staged this schedule with testHookRunAt, where one pool for both
// deadlocked: goroutine 1 starts late and takes every buffer goroutine 0
// made, making none, while the reader waits for goroutine 0's next chunk.
func TestReaderSectionBuffersOwn(t *testing.T) {
	var mu sync.Mutex
	gates := map[[2]int64][2]chan struct{}{} // (goroutine, chunk): arrived, go on
	gate := func(w int, k int64) [2]chan struct{} {
		mu.Lock()
		defer mu.Unlock()
		key := [2]int64{int64(w), k}
		if _, ok := gates[key]; !ok {
			gates[key] = [2]chan struct{}{make(chan struct{}), make(chan struct{})}
		}
		return gates[key]
	}
	held := map[[2]int64]bool{{1, -1}: true, {0, 4}: true, {1, 1}: true, {1, 5}: true, {1, 7}: true, {1, 9}: true}
	testHookRunAt = func(w int, k int64) {
		if held[[2]int64{int64(w), k}] {
			g := gate(w, k)
			close(g[0])
			<-g[1]
		}
	}
	defer func() { testHookRunAt = nil }()
	arrived := func(w int, k int64) { <-gate(w, k)[0] }
	release := func(w int, k int64) { close(gate(w, k)[1]) }

	in := data(StartSize + 20*BufferSize)
	r := NewReader(io.NewSectionReader(bytes.NewReader(in), 0, int64(len(in))))
	defer r.Close()
	io.ReadFull(r, make([]byte, StartSize)) // read directly
	chunk := func(i int) chan bool {        // the reader takes chunk i
		done := make(chan bool, 1)
		go func() {
			b := make([]byte, BufferSize)
			_, err := io.ReadFull(r, b)
			done <- err == nil && bytes.Equal(b, in[StartSize+i*BufferSize:][:BufferSize])
		}()
		return done
	}
	must := func(i int, d chan bool) {
		select {
		case ok := <-d:
			if !ok {
				t.Fatalf("chunk %d differs", i)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("deadlock: the reader waits for chunk %d", i)
		}
	}
	settle := func() { time.Sleep(50 * time.Millisecond) }

	must(0, chunk(0)) // goroutine 0 made A, B, C: chunks 0, 2, 4; held after 4
	arrived(0, 4)
	d := chunk(1) // frees A, waits for 1
	settle()
	release(1, -1) // goroutine 1 starts: reads 1
	must(1, d)
	arrived(1, 1)
	must(2, chunk(2))
	d = chunk(3)
	settle()
	release(1, 1)
	must(3, d)
	arrived(1, 5)
	must(4, chunk(4))
	release(1, 5)
	arrived(1, 7)
	must(5, chunk(5))
	release(1, 7)
	arrived(1, 9)
	d = chunk(6) // waits for 6, from goroutine 0
	settle()
	release(1, 9)
	settle()
	release(0, 4)
	must(6, d)
}

// shortAt is a ReaderAt over data that breaks io.ReaderAt's contract
// (less than asked and no error) or fails after a full read, at failAt.
type shortAt struct {
	data   []byte
	failAt int64
	err    error // nil: a short read without an error
}

func (s *shortAt) ReadAt(p []byte, off int64) (int, error) {
	if off+int64(len(p)) > s.failAt {
		if s.err == nil {
			return copy(p[:max(0, s.failAt-off)], s.data[off:]), nil
		}
		return copy(p, s.data[off:]), s.err // all of it, and an error
	}
	return copy(p, s.data[off:]), nil
}

// The end of a section read in parallel: a short read without an error is
// io.ErrUnexpectedEOF, a full chunk with an error other than io.EOF passes
// the error on after its data, and the goroutines end by themselves.
func TestReaderSectionReadAtErrors(t *testing.T) {
	boom := errors.New("disk error")
	in := data(StartSize + 20*BufferSize)
	at := int64(StartSize + 9*BufferSize)
	before := runtime.NumGoroutine()
	for _, c := range []struct {
		src  *shortAt
		want error
	}{
		{&shortAt{data: in, failAt: at + 10}, io.ErrUnexpectedEOF},
		{&shortAt{data: in, failAt: at + 10, err: boom}, boom},
	} {
		r := NewReader(io.NewSectionReader(c.src, 0, int64(len(in))))
		out, err := io.ReadAll(r)
		if !errors.Is(err, c.want) || int64(len(out)) < at || !bytes.Equal(out, in[:len(out)]) {
			t.Fatalf("%v: %d bytes, %v", c.want, len(out), err)
		}
	}
	r := NewReader(io.NewSectionReader(bytes.NewReader(in), 0, int64(len(in))))
	if out, err := io.ReadAll(r); err != nil || !bytes.Equal(out, in) {
		t.Fatalf("ReadAll: %v", err)
	}
	waitGoroutines(t, before) // no Close: they ended at the end
}

// A part shorter than its size is io.ErrUnexpectedEOF through a Reader,
// read by one goroutine or two, not a quiet end.
func TestReaderShortPart(t *testing.T) {
	for _, size := range []int{StartSize + 3*BufferSize, StartSize + ParallelSize + BufferSize} {
		whole := data(size)
		short := io.NewSectionReader(bytes.NewReader(whole[:size-10]), 0, int64(size))
		r := NewReader(Concat(bytes.NewReader([]byte("head")), short))
		out, err := io.ReadAll(r)
		r.Close()
		if !errors.Is(err, io.ErrUnexpectedEOF) || len(out) > size-10+4 {
			t.Fatalf("%d bytes: %d bytes out, %v", size, len(out), err)
		}
	}
}

// Concat of parts that were read from already reads what io.MultiReader
// reads: the rest of each.
func TestConcatPartsReadBefore(t *testing.T) {
	mk := func() []io.Reader {
		a, b := bytes.NewReader([]byte("HEADER|")), io.NewSectionReader(strings.NewReader("..body"), 0, 6)
		a.Read(make([]byte, 3))
		b.Read(make([]byte, 2))
		return []io.Reader{a, b}
	}
	want, _ := io.ReadAll(io.MultiReader(mk()...))
	got, err := io.ReadAll(Concat(mk()...))
	if err != nil || !bytes.Equal(got, want) {
		t.Fatalf("Concat %q, io.MultiReader %q (%v)", got, want, err)
	}
}

// waitGoroutines fails unless the goroutines left over from before (the
// count then) end within five seconds.
func waitGoroutines(t *testing.T, before int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > before+2 {
		if time.Now().After(deadline) {
			t.Fatalf("%d goroutines left running", runtime.NumGoroutine()-before)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// ctrAt is a ReaderAt that costs what reading back a spool costs: a copy
// and an AES-CTR key stream per read.
type ctrAt struct {
	data  []byte
	block cipher.Block
}

func (c *ctrAt) ReadAt(p []byte, off int64) (int, error) {
	n := copy(p, c.data[min(off, int64(len(c.data))):])
	var iv [16]byte
	binary.BigEndian.PutUint64(iv[8:], uint64(off/16))
	s := cipher.NewCTR(c.block, iv[:])
	s.XORKeyStream(make([]byte, off%16), make([]byte, off%16))
	s.XORKeyStream(p[:n], p[:n])
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

// BenchmarkReaderSection: 64 MiB read back through a Reader and written on
// (to io.Discard), from a section (read by two goroutines) and from the
// same bytes as a plain reader (one goroutine).
func BenchmarkReaderSection(b *testing.B) {
	block, _ := aes.NewCipher(make([]byte, 16))
	src := &ctrAt{data: data(64 << 20), block: block}
	for _, c := range []struct {
		name string
		r    func() io.Reader
	}{
		{"two-goroutines", func() io.Reader { return io.NewSectionReader(src, 0, int64(len(src.data))) }},
		{"one-goroutine", func() io.Reader {
			return struct{ io.Reader }{io.NewSectionReader(src, 0, int64(len(src.data)))}
		}},
	} {
		b.Run(c.name, func(b *testing.B) {
			b.SetBytes(int64(len(src.data)))
			for b.Loop() {
				r := NewReader(c.r())
				if _, err := io.Copy(io.Discard, r); err != nil {
					b.Fatal(err)
				}
				r.Close()
			}
		})
	}
}
