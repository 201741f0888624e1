package batch

import (
	"bufio"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"io"
	"math"
	"math/rand"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"sync"
	"testing"
	"time"

	"github.com/mailseal/mailseal/mime"
)

// The heap of a run does not grow with the mailbox (issue 16: under
// 64 MiB for a 1 GiB mbox and a 100,000-message Maildir): the peak live
// heap (what the last collection found reachable) over a mailbox four
// times as large stays within a few MiB of the peak over the smaller one,
// and the peak heap in use stays under 64 MiB. The garbage collector runs
// at Go's default, with no memory limit, so that what the run keeps shows
// in the heap (a memory limit would hide it until it is exceeded).
func TestRunMemoryFlat(t *testing.T) {
	if testing.Short() {
		t.Skip("writes about 200 MB of mailboxes: not with -short")
	}
	defer debug.SetGCPercent(debug.SetGCPercent(100))
	defer debug.SetMemoryLimit(debug.SetMemoryLimit(math.MaxInt64))
	dir := t.TempDir()
	// slack is what sampling, the GC's timing and the Maildir's names may
	// add: the peak is a maximum over the run, and four times as many
	// messages give four times the chances for the workers' largest
	// messages to be in memory at once (under the load of the whole test
	// suite, 6 MiB was once exceeded by 0.2 MiB: 10.7 against 16.9 MiB).
	// Keeping even 64 KiB of each message (the smallest is 128 KiB) would
	// pass it by 1 MiB.
	const slack = 10 << 20

	t.Run("mbox", func(t *testing.T) {
		// LF line endings: every message goes through Message.Reader and a
		// spool; each has a 128 KiB to 1 MiB attachment, read and hashed,
		// and is written back to the output mbox.
		peak := func(n int) (heapPeaks, int64) {
			in := filepath.Join(dir, fmt.Sprintf("in-%d.mbox", n))
			size := writeLargeMbox(t, in, n)
			out := filepath.Join(dir, fmt.Sprintf("out-%d.mbox", n))
			p := runPeak(t, Options{Input: in, Output: out, Workers: 4, MemLimit: 2 << 20}, n)
			os.Remove(in)
			os.Remove(out)
			return p, size
		}
		small, smallSize := peak(60)
		large, largeSize := peak(240)
		t.Logf("peak live heap %.1f MiB, in use %.1f MiB for a %d MB mbox; %.1f and %.1f MiB for %d MB",
			mib(small.live), mib(small.inuse), smallSize/1e6, mib(large.live), mib(large.inuse), largeSize/1e6)
		if large.live > small.live+slack || large.inuse > 64<<20 {
			t.Fatal("the heap grows with the mbox")
		}
	})
	t.Run("maildir", func(t *testing.T) {
		peak := func(n int) heapPeaks {
			in := filepath.Join(dir, fmt.Sprintf("md-%d", n))
			writeMaildir(t, in, n)
			out := filepath.Join(dir, fmt.Sprintf("md-out-%d", n))
			p := runPeak(t, Options{Input: in, Output: out, Workers: 4, MemLimit: 2 << 20}, n)
			os.RemoveAll(in)
			os.RemoveAll(out)
			return p
		}
		small := peak(500)
		large := peak(2000)
		t.Logf("peak live heap %.1f MiB, in use %.1f MiB for 500 messages; %.1f and %.1f MiB for 2,000",
			mib(small.live), mib(small.inuse), mib(large.live), mib(large.inuse))
		if large.live > small.live+slack || large.inuse > 64<<20 {
			t.Fatal("the heap grows with the Maildir")
		}
	})
}

func mib(n uint64) float64 { return float64(n) / (1 << 20) }

type heapPeaks struct{ live, inuse uint64 }

// runPeak runs a copying work over opts.Input and returns the peaks of the
// live heap and of the heap in use, sampled every few milliseconds and
// after every 16th message.
func runPeak(t *testing.T, opts Options, want int) heapPeaks {
	t.Helper()
	runtime.GC()
	var mu sync.Mutex
	var peak heapPeaks
	live := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
	sample := func() {
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		mu.Lock()
		defer mu.Unlock()
		metrics.Read(live)
		peak.live = max(peak.live, live[0].Value.Uint64())
		peak.inuse = max(peak.inuse, ms.HeapInuse)
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			sample()
			select {
			case <-stop:
				return
			case <-time.After(5 * time.Millisecond):
			}
		}
	}()
	n := 0
	count, err := Run(opts, func() (Work, error) { return copyWork, nil }, func(id string, r Result) {
		if r.Err != nil || !r.Wrote {
			t.Errorf("%s: %v (written: %v)", id, r.Err, r.Wrote)
		}
		if n++; n%16 == 0 {
			sample()
		}
	})
	close(stop)
	wg.Wait()
	if err != nil || count != want {
		t.Fatalf("%d messages of %d: %v", count, want, err)
	}
	return peak
}

// copyWork reads the message's decoded leaves (hashing them) and writes the
// message back with a header field giving the hash.
func copyWork(m *mime.Message, output func(func(io.Writer) error) error) Result {
	h := sha256.New()
	for _, e := range m.Entities() {
		if !e.IsMultipart() {
			if _, err := io.Copy(h, e.Body()); err != nil {
				return Result{Err: err}
			}
		}
	}
	err := output(func(w io.Writer) error {
		if _, err := fmt.Fprintf(w, "X-Body-SHA256: %x\r\n", h.Sum(nil)); err != nil {
			return err
		}
		_, err := io.Copy(w, m.Root.Raw())
		return err
	})
	return Result{Err: err}
}

// writeLargeMbox writes an mbox (LF line endings) of n messages with
// attachments of 128 KiB to 1 MiB, and returns its size.
func writeLargeMbox(t *testing.T, path string, n int) int64 {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	w := bufio.NewWriterSize(f, 1<<20)
	rng := rand.New(rand.NewSource(int64(n)))
	raw := make([]byte, 1<<20)
	for i := 0; i < n; i++ {
		att := raw[:128<<10+rng.Intn(896<<10)]
		rng.Read(att)
		fmt.Fprintf(w, "From sender@example.org Thu Jan  1 00:00:00 2026\nFrom: a%d@example.org\nSubject: message %d\n"+
			"MIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=b\n\n--b\nContent-Type: text/plain\n\nThe file follows.\n"+
			"--b\nContent-Type: application/octet-stream\nContent-Transfer-Encoding: base64\n\n", i, i)
		b64 := base64.StdEncoding.EncodeToString(att)
		for len(b64) > 76 {
			w.WriteString(b64[:76])
			w.WriteByte('\n')
			b64 = b64[76:]
		}
		w.WriteString(b64 + "\n--b--\n\n")
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	st, err := f.Stat()
	if err == nil {
		err = f.Close()
	}
	if err != nil {
		t.Fatal(err)
	}
	return st.Size()
}

// writeMaildir writes a Maildir of n small messages, in cur/ with a flags
// suffix.
func writeMaildir(t *testing.T, dir string, n int) {
	t.Helper()
	makeMaildir(t, dir)
	for i := 0; i < n; i++ {
		name := filepath.Join(dir, "cur", fmt.Sprintf("1700000000.M%dP1.host:2,S", i))
		body := fmt.Sprintf("From: a%d@example.org\r\nSubject: message %d\r\n\r\nbody %d\r\n", i, i, i)
		if err := os.WriteFile(name, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
}
