package main

import (
	"bytes"
	"testing"
	"time"

	"github.com/mailseal/mailseal/internal/batch"
)

// The progress line: done of the Maildir's total or of the mbox's estimated
// one, the rate and the time left.
func TestProgressText(t *testing.T) {
	for _, c := range []struct {
		p       batch.Progress
		elapsed time.Duration
		want    string
	}{
		{batch.Progress{Done: 300, Total: 1000}, 2 * time.Second, "300/1000 messages, 150/s, ETA 0:05"},
		{batch.Progress{Done: 50, Bytes: 25 << 20, TotalBytes: 100 << 20}, 10 * time.Second, "50/~200 messages, 5/s, ETA 0:30"},
		{batch.Progress{Done: 6000, Total: 100000}, 100 * time.Second, "6000/100000 messages, 60/s, ETA 26:07"},
		{batch.Progress{Done: 0, Total: 10}, 0, "0/10 messages, 0/s, ETA ?"},
	} {
		if got := progressText(c.p, c.elapsed); got != c.want {
			t.Errorf("%+v after %v: %q, want %q", c.p, c.elapsed, got, c.want)
		}
	}
}

// The line is rewritten in place at most every 200 ms and cleared at the
// end, before the summary.
func TestProgressLine(t *testing.T) {
	var b bytes.Buffer
	now := time.Unix(1000, 0)
	p := newProgressLine(&b, func() time.Time { return now })
	for i := 1; i <= 10; i++ {
		now = now.Add(50 * time.Millisecond)
		p.update(batch.Progress{Done: i, Total: 10})
	}
	p.clear()
	want := "\r1/10 messages, 20/s, ETA 0:00\x1b[K" + "\r5/10 messages, 20/s, ETA 0:00\x1b[K" + "\r9/10 messages, 20/s, ETA 0:00\x1b[K" + "\r\x1b[K"
	if b.String() != want {
		t.Fatalf("%q\nwant %q", b.String(), want)
	}
	var none *progressLine
	none.clear() // no line: nothing to clear
}
