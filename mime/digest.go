package mime

import (
	"crypto"
	"hash"
	"io"
	"sync"
	"sync/atomic"

	"github.com/mailseal/mailseal/internal/stage"
)

// ParseOption changes how Parse, ParseFile and ParseAt work.
type ParseOption func(*parser)

// HashSignedPart makes the parser hash the signed part (the first child)
// of a root multipart/signed entity while it goes on parsing: a signature
// over a large part is then checked without reading the part again after
// the parse. hashes gets the root's Content-Type parameters (micalg names
// the hash) and returns the hashes to compute; none, and nothing is done.
// Entity.Digest gives the results. When the body from the part's start on
// is smaller than 256 KiB (stage.BufferSize), nothing is hashed (reading the part
// again costs less than a goroutine).
//
// The hashing runs on a goroutine of its own that reads the source with
// ReadAt beside the parser, so the source must allow parallel reads (files,
// spools and byte slices do). Message.Close stops it. What it buys:
// BenchmarkHashSignedPart parses a 64 MiB multipart/signed and has the
// signed part's digest in 110 ms, against 192 ms to parse and then hash
// the part (best of six runs on 2 cores shared with other work); the
// tests check the digests against hashing Raw afterwards.
func HashSignedPart(hashes func(params map[string]string) []crypto.Hash) ParseOption {
	return func(p *parser) { p.signedHashes = hashes }
}

// Digest returns the digest under h of the bytes Raw returns, when they
// were hashed during the parse (HashSignedPart); it waits for that hashing
// to finish. It reports false when h was not computed, or the hashing could
// not finish (a read error, or the message was closed first).
func (e *Entity) Digest(h crypto.Hash) ([]byte, bool) {
	if e.hashed == nil || e.hashed.start != e.start || e.hashed.end.Load() != e.end {
		return nil, false
	}
	return e.hashed.sum(h)
}

// partHasher hashes the source from start on, as far as the parser has
// found no end of the part (so it never hashes past the end), and to the
// end once the parser has found it.
type partHasher struct {
	src     io.ReaderAt
	start   int64
	cleared atomic.Int64 // the part goes on at least to here
	end     atomic.Int64 // the end of the part, -1 while unknown
	stopped atomic.Bool
	wake    chan struct{} // signalled when cleared, end or stopped change
	done    chan struct{}
	hashes  map[crypto.Hash]hash.Hash
	pos     int64 // how far it hashed; read after done
	sumOnce sync.Once
	sums    map[crypto.Hash][]byte
	tap     *SignedPartTap // hashed while the source was written: no goroutine
}

// tappedHasher is a partHasher whose digests t computed (see
// SignedPartTap): they count only for the range the parse finds.
func tappedHasher(t *SignedPartTap, start int64) *partHasher {
	h := &partHasher{start: start, tap: t, wake: make(chan struct{}, 1), done: make(chan struct{})}
	h.cleared.Store(start)
	h.end.Store(-1)
	close(h.done)
	return h
}

// startHasher starts hashing at start.
func startHasher(src io.ReaderAt, start int64, hs []crypto.Hash) *partHasher {
	h := &partHasher{src: src, start: start, wake: make(chan struct{}, 1), done: make(chan struct{}), hashes: map[crypto.Hash]hash.Hash{}}
	h.cleared.Store(start)
	h.end.Store(-1)
	for _, c := range hs {
		if c.Available() {
			h.hashes[c] = c.New()
		}
	}
	go h.run()
	return h
}

func (h *partHasher) run() {
	defer close(h.done)
	ws := make([]io.Writer, 0, len(h.hashes))
	for _, hh := range h.hashes {
		ws = append(ws, hh)
	}
	// The hashes run on a goroutine of their own, beside the reads (which
	// decrypt, from a spool file).
	w := stage.NewWriter(io.MultiWriter(ws...))
	var buf []byte
	pos := h.start
	defer func() {
		w.Close()
		h.pos = pos
	}()
	for !h.stopped.Load() {
		end := h.end.Load()
		limit := end
		if end < 0 {
			limit = h.cleared.Load()
		}
		if pos >= limit {
			if end >= 0 {
				return
			}
			<-h.wake
			continue
		}
		if buf == nil {
			buf = make([]byte, stage.BufferSize)
		}
		n := int(min(int64(len(buf)), limit-pos))
		if k, _ := h.src.ReadAt(buf[:n], pos); k < n {
			return // no digests: whoever reads the part meets the error
		}
		w.Write(buf[:n])
		pos += int64(n)
	}
}

func (h *partHasher) signal() {
	select {
	case h.wake <- struct{}{}:
	default:
	}
}

// advance tells the hasher that the part goes on at least to off.
func (h *partHasher) advance(off int64) {
	h.cleared.Store(off)
	h.signal()
}

// setEnd tells the hasher where the part ends.
func (h *partHasher) setEnd(end int64) {
	h.end.Store(end)
	h.signal()
}

// stop ends the hashing early and waits for the goroutine.
func (h *partHasher) stop() {
	h.stopped.Store(true)
	h.signal()
	<-h.done
}

// sum waits for the hashing and returns the digest under c.
func (h *partHasher) sum(c crypto.Hash) ([]byte, bool) {
	if h.tap != nil {
		return h.tap.digest(c, h.start, h.end.Load())
	}
	<-h.done
	h.sumOnce.Do(func() {
		if h.pos != h.end.Load() {
			return
		}
		h.sums = map[crypto.Hash][]byte{}
		for c, hh := range h.hashes {
			h.sums[c] = hh.Sum(nil)
		}
	})
	s, ok := h.sums[c]
	return s, ok
}
