// Package stage runs one step of a streaming pipeline on a goroutine of its
// own, so that the steps of signing, encrypting and encoding a large message
// (or of decoding and decrypting one) keep every core busy instead of taking
// turns on one. Data moves in a few fixed buffers that are reused, so memory
// does not grow with the message.
//
// A Reader of a large *io.SectionReader reads it with ReadAt on two
// goroutines, alternate chunks, handed over in order (ParallelSize).
//
// What it buys, measured by BenchmarkPipeline (two steps that each cost
// CPU, base64 decoding then SHA-256 over 32 MiB, on 2 cores, best of six
// runs on a machine other work shared): with a Writer between them the two
// take 0.69 times the time of the plain version (44 ms against 64 ms); with
// a Reader, where the step ahead is this cheap, as much as without (65 ms).
// So a stage goes between steps that are both costly (encryption and
// armoring; decryption and the signature hashes; the signed part and its
// hash), and below StartSize bytes no goroutine starts at all. Its tests
// check that what comes out is exactly what went in, in order, with every
// error.
package stage

import (
	"errors"
	"io"
	"sort"
	"sync"
)

// BufferSize is the size of each buffer handed between goroutines once a
// stream is long; it starts with buffers of StartSize, which is also how
// much goes through before the goroutine starts at all. (Fresh memory is
// expensive on some machines: a message of a few MiB should not pay for
// buffers sized for one of a hundred.)
const (
	BufferSize = 256 << 10
	StartSize  = 64 << 10
	// growAfter is how much a stage passes on in small buffers before
	// it replaces them with large ones.
	growAfter = 4 << 20
)

// buffers is how many buffers a stage has in flight.
const buffers = 4

// bufferSize is the size of new buffers after passed bytes.
func bufferSize(passed int64) int {
	if passed >= growAfter {
		return BufferSize
	}
	return StartSize
}

var errClosed = errors.New("stage: write after close")

// ReadBufferSize is max, or less for a reader that tells its (smaller)
// size, exactly (Len, Size) or about (SizeHint: mime's content readers),
// so that many small messages do not each allocate (and clear) large
// buffers.
func ReadBufferSize(r any, max int) int {
	var n int64 = -1
	switch r := r.(type) {
	case interface{ Len() int }:
		n = int64(r.Len())
	case interface{ Size() int64 }:
		n = r.Size()
	case interface{ SizeHint() int64 }:
		n = r.SizeHint()
	}
	if n >= 0 && n < int64(max) {
		return int(n) + 16
	}
	return max
}

// Writer passes what is written to it to an underlying writer that runs on
// its own goroutine. Errors of the underlying writer show on a later Write
// or on Close (before the goroutine starts, on that Write). Close must be
// called (it waits for the goroutine); it does not close the underlying
// writer.
//
// The goroutine and the buffers are only set up once more than StartSize
// bytes were written: until then writes go straight to the underlying
// writer, so a small message costs neither a goroutine nor a copy of its
// bulk; only writes shorter than smallWrite (packet headers, a line) are
// gathered first, so that an unbuffered underlying writer is not written
// a few bytes at a time.
type Writer struct {
	w       io.Writer
	started bool
	direct  int64  // bytes passed on before the start (written or gathered)
	small   []byte // short writes gathered before the start
	full    chan []byte
	free    chan []byte
	done    chan struct{}
	buf     []byte
	made    int   // buffers allocated (lazily: a small message needs one)
	passed  int64 // bytes handed to the goroutine
	mu      sync.Mutex
	err     error // the underlying writer's first error
	closed  bool
}

// NewWriter returns a writer to w.
func NewWriter(w io.Writer) *Writer {
	return &Writer{w: w}
}

// start sets up the goroutine, handing it what was written so far.
func (sw *Writer) start() {
	sw.started = true
	sw.full = make(chan []byte, buffers)
	sw.free = make(chan []byte, buffers)
	sw.done = make(chan struct{})
	sw.buf = append(make([]byte, 0, StartSize), sw.small...)
	sw.small = nil
	sw.made = 1
	go sw.run(sw.w)
}

// smallWrite is the length below which a write before the start is
// gathered (up to smallGather bytes) rather than passed on at once.
const (
	smallWrite  = 512
	smallGather = 4 << 10
)

// flushSmall writes what short writes gathered.
func (sw *Writer) flushSmall() error {
	if len(sw.small) == 0 {
		return nil
	}
	_, err := sw.w.Write(sw.small)
	sw.small = sw.small[:0]
	if err != nil {
		sw.err = err
	}
	return err
}

func (sw *Writer) run(w io.Writer) {
	defer close(sw.done)
	for b := range sw.full {
		if sw.failed() == nil {
			if _, err := w.Write(b); err != nil {
				sw.mu.Lock()
				sw.err = err
				sw.mu.Unlock()
			}
		}
		sw.free <- b[:0]
	}
}

func (sw *Writer) failed() error {
	sw.mu.Lock()
	defer sw.mu.Unlock()
	return sw.err
}

// Write copies p into the current buffer, handing full buffers on.
func (sw *Writer) Write(p []byte) (int, error) {
	if sw.closed {
		return 0, errClosed
	}
	if !sw.started {
		if sw.err != nil {
			return 0, sw.err
		}
		if sw.direct+int64(len(p)) < StartSize {
			if len(p) < smallWrite && len(sw.small)+len(p) <= smallGather {
				sw.small = append(sw.small, p...)
				sw.direct += int64(len(p))
				return len(p), nil
			}
			if err := sw.flushSmall(); err != nil {
				return 0, err
			}
			n, err := sw.w.Write(p)
			sw.direct += int64(n)
			if err != nil {
				sw.err = err
			}
			return n, err
		}
		sw.start()
	}
	if err := sw.failed(); err != nil {
		return 0, err
	}
	n := 0
	for len(p) > 0 {
		k := copy(sw.buf[len(sw.buf):cap(sw.buf)], p)
		sw.buf = sw.buf[:len(sw.buf)+k]
		p = p[k:]
		n += k
		if len(sw.buf) == cap(sw.buf) {
			sw.full <- sw.buf
			sw.passed += int64(len(sw.buf))
			sw.buf = sw.next()
		}
	}
	return n, nil
}

// next returns a free buffer, or a new one while fewer than buffers exist
// or when the free one is smaller than the stream now deserves.
func (sw *Writer) next() []byte {
	size := bufferSize(sw.passed)
	var b []byte
	select {
	case b = <-sw.free:
	default:
		if sw.made < buffers {
			sw.made++
			return make([]byte, 0, size)
		}
		b = <-sw.free
	}
	if cap(b) < size {
		return make([]byte, 0, size) // the small one is left to the collector
	}
	return b
}

// Close hands on the last buffer, waits until everything was written and
// returns the underlying writer's first error.
func (sw *Writer) Close() error {
	if sw.closed {
		return sw.failed()
	}
	sw.closed = true
	if !sw.started {
		if sw.err == nil {
			sw.flushSmall()
		}
		return sw.err
	}
	if len(sw.buf) > 0 {
		sw.full <- sw.buf
	}
	sw.buf = nil
	close(sw.full)
	<-sw.done
	return sw.failed()
}

// Reader reads ahead from an underlying reader on its own goroutine. Close
// stops the goroutine and waits for it (for at most the one read of the
// underlying reader in flight), so that the caller may release what the
// underlying reader reads from; it does not close the underlying reader.
//
// The first StartSize bytes are read directly; the goroutine starts only
// for longer input.
type Reader struct {
	r       io.Reader
	direct  int // bytes read directly, before the start
	started bool
	full    chan chunk
	// at: the chunks of a large section read by two goroutines (runAt),
	// chunk i from at[i%2]; seq counts the chunks taken.
	at     [2]chan chunk
	atFree [2]chan []byte // the buffers of each of runAt's goroutines
	seq    int
	free   chan []byte
	stop   chan struct{}
	exited chan struct{} // closed when the goroutine returns
	cur    chunk
	off    int
	once   sync.Once
	done   bool
}

type chunk struct {
	b   []byte
	err error
}

// NewReader returns a reader of r.
func NewReader(r io.Reader) *Reader {
	return &Reader{r: r, stop: make(chan struct{})}
}

// begin reads directly while the input is short; it reports whether the
// goroutine runs (or was stopped).
func (sr *Reader) begin(p []byte) (n int, direct bool, err error) {
	if sr.started {
		return 0, false, nil
	}
	select {
	case <-sr.stop:
		return 0, true, io.ErrClosedPipe
	default:
	}
	if sr.direct < StartSize {
		n, err = sr.r.Read(p)
		sr.direct += n
		return n, true, err
	}
	sr.started = true
	sr.exited = make(chan struct{})
	if sec, ok := sr.r.(*io.SectionReader); ok {
		if pos, err := sec.Seek(0, io.SeekCurrent); err == nil && sec.Size()-pos >= ParallelSize {
			sr.atFree = [2]chan []byte{make(chan []byte, atBuffers), make(chan []byte, atBuffers)}
			sr.at = [2]chan chunk{make(chan chunk, atBuffers-1), make(chan chunk, atBuffers-1)}
			var wg sync.WaitGroup
			for w := range 2 {
				wg.Go(func() { sr.runAt(sec, pos, w) })
			}
			go func() {
				wg.Wait()
				close(sr.exited)
			}()
			return 0, false, nil
		}
	}
	sr.full = make(chan chunk, buffers)
	sr.free = make(chan []byte, buffers)
	go sr.run(sr.r)
	return 0, false, nil
}

// ParallelSize is the size from which the rest of an *io.SectionReader is
// read by two goroutines instead of one (Concat makes one of several
// parts). Reading back a spool is a pread and a key stream per chunk, and
// decrypted output waited on it: the output of a 100 MiB S/MIME
// decrypt+verify took 25-30 ms with one reader busy all the time (an
// execution trace), 20-25 with two; whole processes took 0.95 of the
// time, and 0.93 for OpenPGP v4 (12 interleaved pairs each).
// BenchmarkReaderSection (64 MiB from a ReaderAt that costs a copy and an
// AES-CTR key stream per read, as the spool does): 6.4-6.9 GB/s on two
// goroutines against 3.7-4.1 on one. Below ParallelSize the second
// goroutine is not worth starting.
const ParallelSize = 4 << 20

// atBuffers is how many buffers each of runAt's goroutines has, its own:
// one being read and atBuffers-1 waiting in its channel at most. The
// reader hands each buffer back to the goroutine that read it (release):
// with one pool for both, one goroutine could come to hold every buffer
// while the reader waited for the other's next chunk (a review staged it:
// TestReaderSectionBuffersOwn).
const atBuffers = 3

// testHookRunAt, when a test sets it, runs in runAt's goroutine w when it
// starts (k -1) and after it handed over chunk k: points where the
// scheduler may stop a goroutine for any time. nil otherwise.
var testHookRunAt func(w int, k int64)

// runAt reads chunks w, w+2, w+4 ... of BufferSize bytes of sec from pos,
// with ReadAt (which io.ReaderAt allows in parallel), into sr.at[w].
func (sr *Reader) runAt(sec *io.SectionReader, pos int64, w int) {
	out, free := sr.at[w], sr.atFree[w]
	defer close(out)
	if testHookRunAt != nil {
		testHookRunAt(w, -1)
	}
	made := 0
	for k := int64(w); ; k += 2 {
		b, ok := sr.buffer(free, &made, atBuffers, BufferSize)
		if !ok {
			return
		}
		n, err := sec.ReadAt(b[:BufferSize], pos+k*BufferSize)
		switch {
		case n == BufferSize && err == io.EOF:
			err = nil // a full chunk at the end: the end shows in the next
		case n < BufferSize && err == nil:
			err = io.ErrUnexpectedEOF // ReadAt broke its contract
		}
		select {
		case out <- chunk{b[:n], err}:
		case <-sr.stop:
			return
		}
		if err != nil {
			return
		}
		if testHookRunAt != nil {
			testHookRunAt(w, k)
		}
	}
}

// buffer is a buffer for a reading goroutine: one handed back on free,
// else a new one of size while it has made fewer than most, else the next
// one handed back; ok is false when the reader was closed meanwhile.
func (sr *Reader) buffer(free chan []byte, made *int, most, size int) (b []byte, ok bool) {
	select {
	case b = <-free:
		return b, true
	case <-sr.stop:
		return nil, false
	default:
	}
	if *made < most {
		*made++
		return make([]byte, size), true
	}
	select {
	case b = <-free:
		return b, true
	case <-sr.stop:
		return nil, false
	}
}

// release hands the buffer of the chunk taken last back to the goroutine
// that read it.
func (sr *Reader) release(b []byte) {
	if sr.at[0] != nil {
		sr.atFree[(sr.seq-1)%2] <- b
		return
	}
	sr.free <- b
}

// next returns the next chunk read ahead; ok is false when the goroutine
// stopped without one.
func (sr *Reader) next() (chunk, bool) {
	if sr.at[0] != nil {
		c, ok := <-sr.at[sr.seq%2]
		sr.seq++
		return c, ok
	}
	c, ok := <-sr.full
	return c, ok
}

func (sr *Reader) run(r io.Reader) {
	defer close(sr.exited)
	defer close(sr.full)
	made := 0
	var passed int64
	for {
		size := bufferSize(passed)
		b, ok := sr.buffer(sr.free, &made, buffers, size)
		if !ok {
			return
		}
		if cap(b) < size {
			b = make([]byte, size) // the small one is left to the collector
		}
		n, err := fill(r, b[:cap(b)])
		passed += int64(n)
		select {
		case sr.full <- chunk{b[:n], err}:
		case <-sr.stop:
			return
		}
		if err != nil {
			return
		}
	}
}

// fill reads into b until it is full or r fails: io.ReadFull, except
// that an io.EOF after some bytes stays io.EOF, and an
// io.ErrUnexpectedEOF of r's own (a part shorter than it said, a file
// that changed) stays that.
func fill(r io.Reader, b []byte) (int, error) {
	n, empty := 0, 0
	for n < len(b) {
		k, err := r.Read(b[n:])
		n += k
		if err != nil {
			return n, err
		}
		if k > 0 {
			empty = 0
		} else if empty++; empty == 100 { // as bufio gives up on a reader
			return n, io.ErrNoProgress
		}
	}
	return n, nil
}

// Read returns the data read ahead, and the underlying reader's error
// (io.EOF at the end) once the data before it was read.
func (sr *Reader) Read(p []byte) (int, error) {
	if n, direct, err := sr.begin(p); direct {
		return n, err
	}
	for sr.off == len(sr.cur.b) {
		if sr.cur.err != nil {
			return 0, sr.cur.err
		}
		if sr.done {
			return 0, io.ErrClosedPipe
		}
		if sr.cur.b != nil {
			sr.release(sr.cur.b[:0])
		}
		c, ok := sr.next()
		if !ok {
			sr.done = true
			return 0, io.ErrClosedPipe
		}
		sr.cur, sr.off = c, 0
	}
	n := copy(p, sr.cur.b[sr.off:])
	sr.off += n
	return n, nil
}

// WriteTo hands the read-ahead buffers to w without another copy.
func (sr *Reader) WriteTo(w io.Writer) (int64, error) {
	var total int64
	if !sr.started {
		buf := make([]byte, ReadBufferSize(sr.r, 32<<10))
		for !sr.started {
			n, direct, err := sr.begin(buf)
			if !direct {
				break
			}
			if n > 0 {
				m, werr := w.Write(buf[:n])
				total += int64(m)
				if werr != nil {
					return total, werr
				}
			}
			if err == io.EOF {
				return total, nil
			}
			if err != nil {
				return total, err
			}
		}
	}
	for {
		if sr.off < len(sr.cur.b) {
			n, err := w.Write(sr.cur.b[sr.off:])
			total += int64(n)
			sr.off += n
			if err != nil {
				return total, err
			}
		}
		if sr.cur.err != nil {
			if sr.cur.err == io.EOF {
				return total, nil
			}
			return total, sr.cur.err
		}
		if sr.done {
			return total, io.ErrClosedPipe
		}
		if sr.cur.b != nil {
			sr.release(sr.cur.b[:0])
		}
		c, ok := sr.next()
		if !ok {
			sr.done = true
			return total, io.ErrClosedPipe
		}
		sr.cur, sr.off = c, 0
	}
}

// Close stops reading ahead.
func (sr *Reader) Close() error {
	sr.once.Do(func() {
		close(sr.stop)
		if sr.started {
			<-sr.exited
		}
	})
	return nil
}

// sizedReaderAt is what Concat joins: *io.SectionReader, *bytes.Reader and
// *strings.Reader have it.
type sizedReaderAt interface {
	io.ReaderAt
	Size() int64
}

// Concat is io.MultiReader(parts...), as an *io.SectionReader when every
// part is a reader at offsets with a size (*io.SectionReader,
// *bytes.Reader, *strings.Reader) that was not read from yet, so that a
// Reader of it reads a large one on two goroutines. Decrypted output with
// its protected header fields put back is such a concatenation: the
// rewritten header, then sections of the spool. The parts' sizes are
// taken once, here.
func Concat(parts ...io.Reader) io.Reader {
	c := &concatAt{starts: make([]int64, len(parts)+1)}
	for i, p := range parts {
		s, ok := p.(sizedReaderAt)
		if !ok || !atStart(p) {
			return io.MultiReader(parts...)
		}
		c.parts = append(c.parts, s)
		c.starts[i+1] = c.starts[i] + s.Size()
	}
	return io.NewSectionReader(c, 0, c.starts[len(parts)])
}

// atStart reports whether r has not been read from (a reader that cannot
// tell is taken as read).
func atStart(r io.Reader) bool {
	switch r := r.(type) {
	case interface{ Len() int }: // *bytes.Reader, *strings.Reader
		s, ok := r.(sizedReaderAt)
		return ok && int64(r.Len()) == s.Size()
	case io.Seeker: // *io.SectionReader
		pos, err := r.Seek(0, io.SeekCurrent)
		return err == nil && pos == 0
	}
	return false
}

// concatAt reads its parts one after another; part i is at
// [starts[i], starts[i+1]).
type concatAt struct {
	parts  []sizedReaderAt
	starts []int64
}

func (c *concatAt) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, errors.New("stage: negative offset")
	}
	i := sort.Search(len(c.parts), func(i int) bool { return c.starts[i+1] > off })
	n := 0
	for ; n < len(p) && i < len(c.parts); i++ {
		want := p[n:min(int64(len(p)), c.starts[i+1]-off)]
		k, err := c.parts[i].ReadAt(want, off+int64(n)-c.starts[i])
		n += k
		if k < len(want) {
			if err == nil || err == io.EOF {
				err = io.ErrUnexpectedEOF // a part shorter than its size
			}
			return n, err
		}
	}
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}
