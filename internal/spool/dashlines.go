package spool

import "bytes"

// maxDashLines is how many line starts a spool records for DashLines
// (256 KiB of offsets); content with more is searched instead.
const maxDashLines = 1 << 15

// dashLines records, from what is written, the offsets of the lines that
// begin with "--": the only places a MIME multipart delimiter can be.
type dashLines struct {
	at       []int64
	overflow bool
	size     int64   // bytes seen
	last     [2]byte // the last two bytes seen (when size allows)
}

// write takes the next piece of the content. A line start is offset 0 or
// the offset after a LF; each is recorded in the write that holds the
// second '-' of its "--", so that no match is lost or counted twice where
// writes divide the content.
func (d *dashLines) write(p []byte) {
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
		return
	}
	// A line start at off-1: its first '-' ended the last write.
	if off >= 1 && d.last[1] == '-' && p[0] == '-' && (off == 1 || d.last[0] == '\n') {
		d.add(off - 1)
	}
	// A line start at off.
	if len(p) >= 2 && p[0] == '-' && p[1] == '-' && (off == 0 || d.last[1] == '\n') {
		d.add(off)
	}
	// Line starts after a LF inside p: found by their first '-', which
	// the bodies that make most of a large message (base64, armor) never
	// hold, so that the search runs at memchr's speed rather than
	// stopping at every LF.
	for i := 1; i+1 < len(p); {
		j := bytes.IndexByte(p[i:len(p)-1], '-')
		if j < 0 || d.overflow {
			return
		}
		k := i + j
		if p[k-1] == '\n' && p[k+1] == '-' {
			d.add(off + int64(k))
			i = k + 2
			continue
		}
		i = k + 1
	}
}

func (d *dashLines) add(at int64) {
	if len(d.at) == maxDashLines {
		d.overflow, d.at = true, nil
		return
	}
	d.at = append(d.at, at)
}

// DashLines returns, in order, the offsets of the lines of what was
// written that begin with "--" (a line starts the content or follows a
// LF), learnt while it was written, so that a MIME parser can find the
// delimiters of a multipart without reading the content again; false when
// there were more than the spool keeps (then the content must be searched).
func (s *Spool) DashLines() ([]int64, bool) {
	if s.dashes.overflow {
		return nil, false
	}
	return s.dashes.at, true
}
