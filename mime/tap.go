package mime

import (
	"bytes"
	"crypto"
	"encoding"
	"hash"
	"sync/atomic"

	"github.com/mailseal/mailseal/internal/stage"
)

// SignedPartTap hashes the signed part of a message while the message is
// still being written somewhere else (decrypted into a spool), so that
// the parse that follows has the signature's digests without reading the
// part again: for a large S/MIME message, signed then encrypted, the
// SHA-256 of the signed part was the longest step after the decryption,
// and now runs beside it. Give it every byte of the message, in order,
// with Write; Close it after the last; then pass ParseWithTap to the
// ParseAt of what was written (with HashSignedPart).
//
// The tap reads the root's header from the first bytes (at most
// maxTapPrefix), and if the root is a multipart/signed whose hashes the
// HashSignedPart function names, hashes from the end of its first
// delimiter line on. It cannot know yet where the part ends, so it keeps
// the hashes' state at each of the first few places where a line begins
// with "--" and the boundary after a CRLF (every delimiter does). The
// parse uses a digest only for the very byte range it found for the part:
// the same start, and an end where the tap kept the state. The source
// must be the bytes written, parsed as they are (ParseAt's canonical
// path; a message it must convert, with other line endings, does not use
// the tap), so a digest is always that of exactly the part's bytes;
// anything the tap did not foresee (a long preamble, many lines that look
// like delimiters, another boundary) leaves the digest to the parse.
//
// The parse cannot check that its source holds the bytes the tap saw (it
// checks their number): that is the caller's promise, which mailseal
// keeps by writing the tap and the spool from one stream
// (cms.DecryptTapped). A caller that parses other bytes gets the digests
// of the bytes the tap saw.
//
// It hashes on a goroutine of its own (a stage, for a long message),
// each line looked at once in search of a possible end
// (BenchmarkSignedPartTap has base64 and a hostile run of '-' at the
// speed of SHA-256). What it holds is the hashes' states, never the
// content: it does not release plaintext, so it may see decrypted
// content before its integrity is known. TestSignedPartTap compares its
// digests with hashing the parsed part afterwards, for messages the tap
// can and cannot follow, TestSignedPartTapOnlyInPlace checks that nothing
// but an in-place parse of the same bytes uses it, and FuzzSignedPartTap
// that any digest the parse gives is that of the part's bytes.
type SignedPartTap struct {
	w      *stage.Writer
	t      tapState
	closed bool
	done   atomic.Bool // the hashing finished: the states may be read
}

// maxTapPrefix is how many bytes of the message the tap reads to find the
// signed part's start; maxTapEnds how many possible ends it keeps.
const (
	maxTapPrefix = 64 << 10
	maxTapEnds   = 8
)

// tapState is the tap's work, done on the stage's goroutine.
type tapState struct {
	hashesFor func(params map[string]string) []crypto.Hash
	off       int64  // bytes seen
	prefix    []byte // the first bytes, until the start is known
	following bool   // hashing from start
	stopped   bool   // nothing more to do
	gaveUp    bool   // it stopped following: too many possible ends
	// Finding the start, each byte looked at once: the header's end
	// searched for from scanned, then the lines from line (the current
	// one searched for its end from lineScanned).
	scanned, line, lineScanned int
	dash                       []byte // "--" + boundary, once the header is read
	hs                         []crypto.Hash
	start                      int64
	hashes                     map[crypto.Hash]hash.Hash
	cand                       []byte // "\r\n--" + boundary
	carry                      []byte // the last len(cand)-1 bytes seen, not hashed yet
	buf                        []byte
	ends                       map[int64]map[crypto.Hash][]byte // possible ends: the hashes' states there
}

// NewSignedPartTap returns a tap that hashes the signed part with the
// hashes hashes names for the root's Content-Type parameters (the
// function HashSignedPart takes).
func NewSignedPartTap(hashes func(params map[string]string) []crypto.Hash) *SignedPartTap {
	t := &SignedPartTap{t: tapState{hashesFor: hashes}}
	t.w = stage.NewWriter(&t.t)
	return t
}

// Write takes the next bytes of the message; it never fails.
func (t *SignedPartTap) Write(p []byte) (int, error) {
	if !t.closed {
		t.w.Write(p)
	}
	return len(p), nil
}

// Close waits for the hashing of what was written.
func (t *SignedPartTap) Close() error {
	if !t.closed {
		t.closed = true
		t.w.Close()
		t.done.Store(true)
	}
	return nil
}

// ParseWithTap makes ParseAt take the signed part's digests from t (see
// SignedPartTap) when they are for the part it finds.
func ParseWithTap(t *SignedPartTap) ParseOption {
	return func(p *parser) { p.tap = t }
}

// covers reports whether the tap, closed, hashed a signed part starting
// at start in a message of size bytes, with every hash of hs.
func (t *SignedPartTap) covers(start, size int64, hs []crypto.Hash) bool {
	if t == nil || !t.done.Load() || t.t.off != size || t.t.hashes == nil || t.t.gaveUp || t.t.start != start {
		return false
	}
	for _, h := range hs {
		if _, ok := t.t.hashes[h]; !ok {
			return false
		}
	}
	return true
}

// digest is the digest under h of the message's bytes [start, end), if
// the tap kept the state there.
func (t *SignedPartTap) digest(h crypto.Hash, start, end int64) ([]byte, bool) {
	if !t.done.Load() || start != t.t.start {
		return nil, false
	}
	state, ok := t.t.ends[end][h]
	if !ok {
		return nil, false
	}
	hh := h.New()
	u, ok := hh.(encoding.BinaryUnmarshaler)
	if !ok || u.UnmarshalBinary(state) != nil {
		return nil, false
	}
	return hh.Sum(nil), true
}

// Write is the tap's work on the stage's goroutine.
func (s *tapState) Write(p []byte) (int, error) {
	n := len(p)
	if !s.stopped && !s.following {
		k := min(len(p), maxTapPrefix-len(s.prefix))
		s.prefix = append(s.prefix, p[:k]...)
		s.off += int64(k)
		p = p[k:]
		s.findStart()
		if !s.following && len(s.prefix) == maxTapPrefix {
			s.stop() // no start in the first bytes
		}
	}
	if s.following {
		s.follow(p, s.off)
	}
	s.off += int64(len(p))
	return n, nil
}

func (s *tapState) stop() {
	s.stopped, s.following = true, false
	s.prefix, s.buf, s.carry = nil, nil, nil
}

// findStart looks in the prefix for the end of the root's header and of
// the first delimiter line, and starts hashing there. It goes on where
// it stopped the time before.
func (s *tapState) findStart() {
	crlf := []byte("\r\n")
	if s.dash == nil {
		from := max(0, s.scanned-3)
		s.scanned = len(s.prefix)
		i := bytes.Index(s.prefix[from:], []byte("\r\n\r\n"))
		if i < 0 {
			return
		}
		end := from + i + 4
		// The root's header, read as the parse reads it.
		hp := &parser{src: bytes.NewReader(s.prefix[:end]), lim: DefaultLimits().withDefaults()}
		hdr, bodyStart, err := hp.readHeader(&Entity{start: 0, end: int64(end)})
		if err != nil || bodyStart != int64(end) {
			s.stop()
			return
		}
		mt, params := mediaType(hdr, "")
		boundary := params["boundary"]
		if mt != "multipart/signed" || boundary == "" || unusableBoundary(boundary) != "" || s.hashesFor == nil {
			s.stop()
			return
		}
		s.hs = s.hashesFor(params)
		s.dash = []byte("--" + boundary)
		s.line = end
	}
	// The first delimiter line: at the body's start or after a CRLF.
	for {
		from := max(s.line, s.lineScanned-1)
		eol := bytes.Index(s.prefix[from:], crlf)
		if eol < 0 {
			s.lineScanned = len(s.prefix)
			return // more to come
		}
		lineEnd := from + eol + 2
		switch delimiterKind(s.prefix[s.line:lineEnd], s.dash, crlf) {
		case delimOpen:
			s.begin(lineEnd)
			return
		case delimClose:
			s.stop()
			return
		}
		s.line = lineEnd
	}
}

// begin starts hashing at start, an offset in the prefix.
func (s *tapState) begin(start int) {
	s.hashes = map[crypto.Hash]hash.Hash{}
	for _, h := range s.hs {
		if !h.Available() {
			continue
		}
		if _, ok := h.New().(encoding.BinaryMarshaler); ok {
			s.hashes[h] = h.New()
		}
	}
	if len(s.hashes) == 0 {
		s.stop()
		return
	}
	s.following, s.start = true, int64(start)
	s.cand = append(append([]byte(nil), "\r\n"...), s.dash...)
	s.ends = map[int64]map[crypto.Hash][]byte{}
	rest := s.prefix[start:]
	s.prefix = nil
	s.follow(rest, int64(start))
}

// follow hashes p, the bytes at off, keeping the state at each possible
// end (a CRLF followed by "--" and the boundary). The last len(cand)-1
// bytes wait for the next write, as they may begin one.
func (s *tapState) follow(p []byte, off int64) {
	base := off - int64(len(s.carry))
	s.buf = append(append(s.buf[:0], s.carry...), p...)
	b := s.buf
	hashed := 0
	// "--" and the boundary, then the CRLF before it: '-' is rare in
	// base64 and in text, where every line begins after a CRLF. A match
	// that does not begin a line moves the search to the next line, so
	// each line costs one match at most (a long run of '-' against a
	// boundary of '-' would otherwise cost the boundary's length a byte).
	for from := 0; ; {
		j := bytes.Index(b[from:], s.dash)
		if j < 0 {
			break
		}
		j += from
		i := j - 2
		if i < hashed || b[i] != '\r' || b[i+1] != '\n' {
			k := bytes.IndexByte(b[j:], '\n')
			if k < 0 {
				break
			}
			from = j + k + 1
			continue
		}
		from = j + 1
		s.write(b[hashed:i])
		hashed = i
		if !s.keep(base + int64(i)) {
			return
		}
	}
	cut := max(hashed, len(b)-(len(s.cand)-1))
	s.write(b[hashed:cut])
	s.carry = append(s.carry[:0], b[cut:]...)
}

func (s *tapState) write(p []byte) {
	for _, h := range s.hashes {
		h.Write(p)
	}
}

// keep records the hashes' states at off; false when it kept as many as
// it may (then it stops: the part ends later than the tap follows).
func (s *tapState) keep(off int64) bool {
	if len(s.ends) == maxTapEnds {
		s.stop()
		s.gaveUp = true
		return false
	}
	states := map[crypto.Hash][]byte{}
	for c, h := range s.hashes {
		st, err := h.(encoding.BinaryMarshaler).MarshalBinary()
		if err != nil {
			continue
		}
		states[c] = st
	}
	s.ends[off] = states
	return true
}
