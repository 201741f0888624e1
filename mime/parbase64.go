package mime

import (
	"bytes"
	"fmt"
	"io"
	"sync"

	"github.com/mailseal/mailseal/core"
	"github.com/mailseal/mailseal/internal/b64lines"
	"github.com/mailseal/mailseal/internal/stage"
)

// BodyStaged is Body decoded on goroutines of its own, beside the caller's
// work; Close releases them (also before the end). A large base64 body is
// decoded by two workers, a chunk of whole lines each, for as long as the
// chunks are clean (b64lines.DecodeLines takes them); from the first chunk
// that is not, the rest is decoded in order by Body's lenient decoder, so
// the result is always exactly Body's (TestBodyStagedMatchesBody). What it
// buys: BenchmarkBodyStaged decodes a 64 MiB attachment for a SHA-256
// consumer in 53 ms against Body's 85 ms on 2 cores (best of six runs on a
// machine other work shared); below 16 MiB it is Body, or Body on one
// goroutine.
func (e *Entity) BodyStaged() io.ReadCloser {
	if len(e.Children) == 0 && e.transferEncoding() == "base64" && e.BodySize() > parallelMin {
		return newParallelBase64(e.encodedBody(), parallelChunk)
	}
	if e.BodySize() < stagedMin {
		return io.NopCloser(e.Body())
	}
	return stage.NewReader(e.Body())
}

const (
	// parallelMin is the body size from which two workers decode base64.
	parallelMin = 16 << 20
	// stagedMin is the body size from which it is decoded on a goroutine
	// at all: below, the buffers that would hand it over cost more (in
	// fresh memory) than the goroutine saves.
	stagedMin = 16 << 20
	// parallelChunk is how much raw base64 one job holds (whole lines).
	parallelChunk = 256 << 10
	// parallelJobs is how many jobs are in flight.
	parallelJobs = 6
)

type b64Job struct {
	raw  []byte
	out  []byte
	ok   bool
	done chan struct{}
}

// parallelBase64 reads chunks of whole lines from src on one goroutine and
// decodes them on two; Read returns them in order.
type parallelBase64 struct {
	jobs    chan *b64Job // to the workers
	order   chan *b64Job // to Read, in order
	quit    chan struct{}
	wg      sync.WaitGroup
	readErr error // set by the reader goroutine before it closes order

	cur    []byte         // decoded bytes not yet returned
	curBuf []byte         // the buffer cur is in, recycled once returned
	lax    *base64Decoder // once a chunk was not clean: the lenient decoder for the rest
	once   sync.Once
	// Buffers are recycled (fresh memory is expensive): raw chunks and
	// decoded output.
	freeRaw, freeOut chan []byte
}

func take(free chan []byte, size int) []byte {
	select {
	case b := <-free:
		if cap(b) >= size {
			return b[:0]
		}
	default:
	}
	return make([]byte, 0, size)
}

func give(free chan []byte, b []byte) {
	select {
	case free <- b:
	default:
	}
}

func newParallelBase64(src io.Reader, chunk int) *parallelBase64 {
	d := &parallelBase64{
		jobs:    make(chan *b64Job, parallelJobs),
		order:   make(chan *b64Job, parallelJobs),
		quit:    make(chan struct{}),
		freeRaw: make(chan []byte, 2*parallelJobs+2),
		freeOut: make(chan []byte, 2*parallelJobs+2),
	}
	d.wg.Add(3)
	go d.read(src, chunk)
	for range 2 {
		go d.work()
	}
	return d
}

// read cuts src into chunks ending at a line break and hands them out.
func (d *parallelBase64) read(src io.Reader, chunk int) {
	defer d.wg.Done()
	defer close(d.jobs)
	defer close(d.order)
	var carry []byte
	for {
		buf := append(take(d.freeRaw, chunk+len(carry)), carry...)
		n, err := io.ReadFull(src, buf[len(carry):cap(buf)])
		buf = buf[:len(carry)+n]
		end := len(buf)
		last := err != nil
		if !last {
			if i := bytes.LastIndexByte(buf, '\n'); i >= 0 {
				end = i + 1
			}
		}
		carry = append(carry[:0], buf[end:]...)
		if end > 0 {
			j := &b64Job{raw: buf[:end], done: make(chan struct{})}
			select {
			case d.order <- j:
			case <-d.quit:
				return
			}
			select {
			case d.jobs <- j:
			case <-d.quit:
				return
			}
		}
		if last {
			if err != io.EOF && err != io.ErrUnexpectedEOF {
				d.readErr = err
			}
			return
		}
	}
}

func (d *parallelBase64) work() {
	defer d.wg.Done()
	for j := range d.jobs {
		j.out, j.ok = b64lines.DecodeLines(take(d.freeOut, len(j.raw)/4*3+1), j.raw)
		close(j.done)
	}
}

func (d *parallelBase64) Read(p []byte) (int, error) {
	for len(d.cur) == 0 {
		if d.curBuf != nil {
			give(d.freeOut, d.curBuf)
			d.curBuf = nil
		}
		j, more := <-d.order
		if !more {
			if d.readErr != nil {
				return 0, fmt.Errorf("mime: reading a base64 body: %v: %w", d.readErr, core.ErrInput)
			}
			if d.lax != nil {
				// The lenient decoder's last, incomplete group.
				d.cur = d.lax.flush(nil)
				d.lax = nil
				if len(d.cur) > 0 {
					break
				}
			}
			return 0, io.EOF
		}
		<-j.done
		if d.lax == nil && j.ok {
			d.cur, d.curBuf = j.out, j.out
			give(d.freeRaw, j.raw)
			continue
		}
		if j.ok {
			give(d.freeOut, j.out)
		}
		// Not clean (or after such a chunk): in order, leniently, with the
		// state the chunks before left (whole groups until the first one
		// that was not clean).
		if d.lax == nil {
			d.lax = &base64Decoder{}
		}
		d.cur = d.lax.decode(nil, j.raw)
		give(d.freeRaw, j.raw)
	}
	n := copy(p, d.cur)
	d.cur = d.cur[n:]
	return n, nil
}

// Close stops the goroutines.
func (d *parallelBase64) Close() error {
	d.once.Do(func() {
		close(d.quit)
		for range d.order { // what the reader handed out before it saw quit
		}
		d.wg.Wait()
	})
	return nil
}
