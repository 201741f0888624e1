package crlf

import "bytes"

// MaxDashes is how many line starts a Dashes records (256 KiB of offsets);
// content with more must be searched instead.
const MaxDashes = 1 << 15

// Dashes records, from content written to it in order, the offsets of the
// lines that begin with "--": the only places a MIME multipart delimiter
// can be. A line starts the content or follows a LF. The spool keeps one
// for what is written to it, the MIME parser's line-ending check of a
// large message read where it lies keeps one, and so does the index of a
// message read through the LF view (in its canonical offsets), so that the
// parser finds the delimiters of a multipart without searching its body.
// The zero value is ready for content that starts at offset 0.
type Dashes struct {
	at       []int64
	overflow bool
	size     int64   // offset of the next byte written
	last     [2]byte // the last two bytes seen (when there were two)
}

// DashesFrom returns a Dashes for content that starts at offset off, at
// the start of a line (right after a LF).
func DashesFrom(off int64) Dashes {
	return Dashes{size: off, last: [2]byte{'\n', '\n'}}
}

// Write takes the next piece of the content; it never fails. A line start
// is recorded in the write that holds the second '-' of its "--", so that
// no match is lost or counted twice where writes divide the content.
func (d *Dashes) Write(p []byte) (int, error) {
	off := d.size
	defer func() {
		d.size += int64(len(p))
		switch {
		case len(p) >= 2:
			d.last = [2]byte{p[len(p)-2], p[len(p)-1]}
		case len(p) == 1:
			d.last = [2]byte{d.last[1], p[0]}
		}
	}()
	if d.overflow || len(p) == 0 {
		return len(p), nil
	}
	atLineStart := off == 0 || d.last[1] == '\n'
	// A line start at off-1: its first '-' ended the last write.
	if off >= 1 && d.last[1] == '-' && p[0] == '-' && (off == 1 || d.last[0] == '\n') {
		d.add(off - 1)
	}
	// A line start at off.
	if len(p) >= 2 && p[0] == '-' && p[1] == '-' && atLineStart {
		d.add(off)
	}
	// Line starts after a LF inside p: found by their first '-', which
	// the bodies that make most of a large message (base64 lines, armor's
	// radix-64 lines) never hold, so that the search runs at memchr's
	// speed rather than stopping at every LF (BenchmarkDashes: about 60
	// GB/s on base64 lines, against 7 for a search of "\n--"). Content where '-' is
	// common but seldom starts a line (rules of dashes, an attacker's
	// "-a-a-a") would cost a call per '-': past a few such misses, the
	// rest of p is searched for "\n--" instead (BenchmarkDashesDense).
	i, misses := 1, 0
	for i+1 < len(p) {
		j := bytes.IndexByte(p[i:len(p)-1], '-')
		if j < 0 || d.overflow {
			return len(p), nil
		}
		k := i + j
		if p[k-1] == '\n' && p[k+1] == '-' {
			d.add(off + int64(k))
			i = k + 2
			continue
		}
		i = k + 1
		if misses++; misses > 16+i/64 {
			break
		}
	}
	// Every line start before i is recorded; the search starts at the
	// byte before i, which may be the LF of a line start at i.
	for i+1 < len(p) && !d.overflow {
		j := bytes.Index(p[i-1:], newlineDashes)
		if j < 0 {
			break
		}
		k := i + j // the first '-': i-1+j is the LF
		d.add(off + int64(k))
		i = k + 2
	}
	return len(p), nil
}

var newlineDashes = []byte("\n--")

func (d *Dashes) add(at int64) {
	if len(d.at) == MaxDashes {
		d.overflow, d.at = true, nil
		return
	}
	d.at = append(d.at, at)
}

// Lines returns, in order, the offsets of the lines written that begin
// with "--", or false when there were more than MaxDashes (then the
// content must be searched).
func (d *Dashes) Lines() ([]int64, bool) {
	if d.overflow {
		return nil, false
	}
	return d.at, true
}

// JoinDashes returns the line starts of two pieces of content, a then b
// (b made by DashesFrom at the end of a's), as Lines would for the whole.
func JoinDashes(a, b *Dashes) ([]int64, bool) {
	la, oka := a.Lines()
	lb, okb := b.Lines()
	return JoinLines(la, oka, lb, okb)
}

// JoinLines is JoinDashes for what two Lines calls gave (or line starts
// kept in other offsets, as the LF view keeps them): la then lb, or false
// when either was not known or they are more than MaxDashes together.
func JoinLines(la []int64, oka bool, lb []int64, okb bool) ([]int64, bool) {
	if !oka || !okb || len(la)+len(lb) > MaxDashes {
		return nil, false
	}
	return append(la[:len(la):len(la)], lb...), true
}
