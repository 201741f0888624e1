package batch

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mailseal/mailseal/core"
	"github.com/mailseal/mailseal/internal/atomicfile"
	"github.com/mailseal/mailseal/mime"
)

// message is the n-th test message; every third is unreadable MIME
// (nesting deeper than the limit the tests use).
func message(n int) string {
	body := fmt.Sprintf("From: a%d@example.org\r\nSubject: message %d\r\n\r\nbody %d\r\n", n, n, n)
	if n%3 == 2 {
		body = fmt.Sprintf("From: a%d@example.org\r\nContent-Type: multipart/mixed; boundary=a\r\n\r\n--a\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n\r\nx\r\n--b--\r\n--a--\r\n", n)
	}
	return body
}

// writeMbox writes an mbox of n messages.
func writeMbox(t testing.TB, dir string, n int) string {
	t.Helper()
	var b strings.Builder
	for i := 0; i < n; i++ {
		b.WriteString("From sender@example.org Thu Jan  1 00:00:00 2026\n")
		b.WriteString(strings.ReplaceAll(message(i), "\r\n", "\n"))
		b.WriteString("\n")
	}
	path := filepath.Join(dir, "in.mbox")
	if err := os.WriteFile(path, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// needUnnamed skips a test of unnamed files (O_TMPFILE) where the kernel
// makes none in dir (and the batch writes under names, as elsewhere);
// where it does, the test runs, and fails if the batch writes named files.
func needUnnamed(t *testing.T, dir string) {
	t.Helper()
	if !atomicfile.UnnamedSupported(dir) {
		t.Skip("no unnamed file (O_TMPFILE) here")
	}
}

// makeMaildir makes an empty Maildir at dir (its cur/, new/ and tmp/).
func makeMaildir(t testing.TB, dir string) {
	t.Helper()
	for _, sub := range []string{"cur", "new", "tmp"} {
		if err := os.MkdirAll(filepath.Join(dir, sub), 0o700); err != nil {
			t.Fatal(err)
		}
	}
}

// subjectWork reports each message's Subject in Report.Error (its code is
// the message number mod 2) and, when out is set, writes the message back
// with a header field added; its delay makes later messages overtake
// earlier ones among the workers.
func subjectWork(out bool) Work {
	return func(m *mime.Message, output func(func(io.Writer) error) error) Result {
		subject := m.Root.Header.Get("Subject")
		var n int
		fmt.Sscanf(subject, "message %d", &n)
		time.Sleep(time.Duration(n%4) * time.Millisecond)
		if out {
			err := output(func(w io.Writer) error {
				_, err := io.WriteString(w, "X-Worked: yes\r\nSubject: "+subject+"\r\n\r\nbody\r\n")
				return err
			})
			if err != nil {
				return Result{Err: err}
			}
		}
		return Result{Report: core.Report{Error: subject}, Code: n % 2, Reported: true}
	}
}

type doneRecord struct {
	id    string
	what  string
	wrote bool
}

func run(t *testing.T, opts Options, work func() Work) ([]doneRecord, int, error) {
	t.Helper()
	var got []doneRecord
	count, err := Run(opts, func() (Work, error) { return work(), nil }, func(id string, r Result) {
		what := r.Report.Error
		if r.Err != nil {
			what = "error: " + r.Err.Error()
		}
		got = append(got, doneRecord{id, what, r.Wrote})
	})
	return got, count, err
}

// Many workers give the results of one, in the mailbox's order, and write
// the same output (TestBatchMatchesSingleMessages in cmd/mailseal checks
// the same against the commands on single messages).
func TestRunMatchesOneWorker(t *testing.T) {
	dir := t.TempDir()
	in := writeMbox(t, dir, 40)
	lim := mime.Limits{MaxDepth: 1}
	one, n1, err := run(t, Options{Input: in, Output: filepath.Join(dir, "one.mbox"), Limits: lim, Workers: 1, MemLimit: 1 << 20}, func() Work { return subjectWork(true) })
	if err != nil || n1 != 40 {
		t.Fatalf("one worker: %d messages, %v", n1, err)
	}
	many, n8, err := run(t, Options{Input: in, Output: filepath.Join(dir, "many.mbox"), Limits: lim, Workers: 8, MemLimit: 1 << 20}, func() Work { return subjectWork(true) })
	if err != nil || n8 != 40 {
		t.Fatalf("8 workers: %d messages, %v", n8, err)
	}
	for i := range one {
		if one[i] != many[i] || one[i].id != fmt.Sprintf("#%d", i+1) {
			t.Fatalf("message %d: %+v with one worker, %+v with 8", i, one[i], many[i])
		}
		if i%3 == 2 != strings.HasPrefix(one[i].what, "error: ") || (i%3 == 2) == one[i].wrote {
			t.Fatalf("message %d: %+v", i, one[i])
		}
	}
	// The same messages in the same order; the mbox "From " lines carry the
	// time each was written, which may differ by a second.
	undated := func(name string) []byte {
		data, _ := os.ReadFile(filepath.Join(dir, name))
		return regexp.MustCompile(`(?m)^From .*$`).ReplaceAll(data, []byte("From -"))
	}
	a, b := undated("one.mbox"), undated("many.mbox")
	if !bytes.Equal(a, b) || bytes.Count(a, []byte("X-Worked: yes")) != 27 {
		t.Fatalf("outputs differ or are missing: %d and %d bytes", len(a), len(b))
	}
	// In order: the subjects follow each other.
	last := -1
	for _, line := range strings.Split(string(a), "\n") {
		var n int
		if _, err := fmt.Sscanf(line, "Subject: message %d", &n); err == nil {
			if n <= last {
				t.Fatalf("message %d written after %d", n, last)
			}
			last = n
		}
	}
}

// A Maildir in, a Maildir out: cur/ before new/, each in name order; the
// outputs keep their names; an unreadable file is that message's error.
func TestRunMaildir(t *testing.T) {
	dir := t.TempDir()
	md := filepath.Join(dir, "in")
	makeMaildir(t, md)
	os.WriteFile(filepath.Join(md, "new", "a"), []byte(message(0)), 0o600)
	os.WriteFile(filepath.Join(md, "cur", "b:2,S"), []byte(message(1)), 0o600)
	os.WriteFile(filepath.Join(md, "cur", "a"), []byte(message(3)), 0o600)
	os.WriteFile(filepath.Join(md, "cur", ".hidden"), []byte(message(4)), 0o600)
	if runtime.GOOS != "windows" && os.Getuid() != 0 {
		os.WriteFile(filepath.Join(md, "new", "locked"), []byte(message(5)), 0o000)
	}
	out := filepath.Join(dir, "out")
	got, n, err := run(t, Options{Input: md, Output: out, Workers: 3, MemLimit: 1 << 20}, func() Work { return subjectWork(true) })
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"cur/a", "cur/b:2,S", "new/a"}
	if n < 3 || got[0].id != want[0] || got[1].id != want[1] || got[2].id != want[2] || got[0].what != "message 3" {
		t.Fatalf("%d messages: %+v", n, got)
	}
	if n == 4 && (!strings.HasPrefix(got[3].what, "error: ") || got[3].wrote) {
		t.Fatalf("unreadable file: %+v", got[3])
	}
	// Each keeps its name, flags included, and its subdirectory.
	for _, name := range []string{"cur/a", "cur/b:2,S", "new/a"} {
		if data, err := os.ReadFile(filepath.Join(out, name)); err != nil || !bytes.Contains(data, []byte("X-Worked: yes")) {
			t.Fatalf("output %s: %v", name, err)
		}
	}
}

// The reader finds the next messages while every worker is busy: with
// the only worker still on the first message, the reader has handed out
// Ahead more and opened the one after them (a Maildir file is opened when
// it is read). The reader used to wait for a free worker at each message,
// and a worker that finished a small message then waited for the reader
// (BenchmarkRunSmall).
func TestRunReadsAheadOfBusyWorkers(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("looks for the open file in /proc/self/fd")
	}
	md := filepath.Join(t.TempDir(), "in")
	makeMaildir(t, md)
	names := "abcdefg"
	for i, n := range []int{0, 1, 3, 4, 6, 7, 9} {
		os.WriteFile(filepath.Join(md, "cur", names[i:i+1]), []byte(message(n)), 0o600)
	}
	// The worker is on a; b to e wait for it (Ahead of them), f is read.
	sixth, err := os.Stat(filepath.Join(md, "cur", "f"))
	if err != nil {
		t.Fatal(err)
	}
	isOpen := func() bool {
		fds, _ := os.ReadDir("/proc/self/fd")
		for _, fd := range fds {
			if st, err := os.Stat(filepath.Join("/proc/self/fd", fd.Name())); err == nil && os.SameFile(st, sixth) {
				return true
			}
		}
		return false
	}
	var sawSixth atomic.Bool
	got, n, err := run(t, Options{Input: md, Workers: 1, MemLimit: 1 << 20}, func() Work {
		return func(m *mime.Message, _ func(func(io.Writer) error) error) Result {
			subject := m.Root.Header.Get("Subject")
			if subject == "message 0" {
				for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
					if isOpen() {
						sawSixth.Store(true)
						break
					}
				}
			}
			return Result{Report: core.Report{Error: subject}, Reported: true}
		}
	})
	if err != nil || n != 7 || got[0].what != "message 0" || got[6].what != "message 9" {
		t.Fatalf("%d messages, %v: %+v", n, err, got)
	}
	if !sawSixth.Load() {
		t.Fatal("the sixth message was not read while the only worker was busy with the first")
	}
}

// When an output cannot be written, the messages read but not yet
// started are not worked on: only those already started finish. Here the
// output Maildir's cur/ goes after the first message, so the second
// cannot be renamed into it.
func TestRunStopsWorkAfterWriteError(t *testing.T) {
	dir := t.TempDir()
	in := writeMbox(t, dir, 20)
	out := filepath.Join(dir, "out")
	var worked atomic.Int64
	_, err := Run(Options{Input: in, Output: out, OutputFormat: FormatMaildir, Workers: 1, MemLimit: 1 << 20}, func() (Work, error) {
		return func(m *mime.Message, output func(func(io.Writer) error) error) Result {
			worked.Add(1)
			switch m.Root.Header.Get("Subject") {
			case "message 0":
			case "message 1": // until the first message's output is in and cur/ is gone
				for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
					if _, err := os.Stat(filepath.Join(out, "cur")); errors.Is(err, os.ErrNotExist) {
						break
					}
				}
			default: // time for the writer to see the error
				time.Sleep(20 * time.Millisecond)
			}
			err := output(func(w io.Writer) error {
				_, err := io.WriteString(w, "Subject: done\r\n\r\nbody\r\n")
				return err
			})
			return Result{Err: err}
		}, nil
	}, func(id string, r Result) {
		if id == "#1" {
			os.RemoveAll(filepath.Join(out, "cur"))
		}
	})
	if err == nil || !strings.Contains(err.Error(), "writing #2") {
		t.Fatalf("Run: %v", err)
	}
	// The first two messages, and at most the third, which the worker may
	// start before the writer has seen the error; the reader had read as
	// far as the sixth by then.
	if w := worked.Load(); w > 3 {
		t.Fatalf("%d messages worked on after the output failed", w)
	}
}

// A Maildir is not written into itself: each output would be renamed
// over its input (decrypt --batch md -o md replaced the encrypted
// messages with their plaintext), so it is a usage error, through a link
// too, and nothing is touched.
func TestRunMaildirIntoItself(t *testing.T) {
	dir := t.TempDir()
	md := filepath.Join(dir, "in")
	makeMaildir(t, md)
	os.WriteFile(filepath.Join(md, "cur", "a"), []byte(message(0)), 0o600)
	link := filepath.Join(dir, "link")
	if err := os.Symlink(md, link); err != nil {
		t.Fatal(err)
	}
	for _, out := range []string{md, link} {
		_, _, err := run(t, Options{Input: md, Output: out, Workers: 1, MemLimit: 1 << 20}, func() Work { return subjectWork(true) })
		if !errors.Is(err, core.ErrUsage) || !strings.Contains(err.Error(), "is the Maildir input reads") {
			t.Fatalf("-o %s: %v", out, err)
		}
	}
	if data, err := os.ReadFile(filepath.Join(md, "cur", "a")); err != nil || string(data) != message(0) {
		t.Fatalf("the input was changed: %q, %v", data, err)
	}
}

// On Linux an output mbox has no name until it is whole: while the batch
// runs nothing but the input is in the directory, so a run that is
// stopped leaves nothing and can be run again (the mbox was written under
// its name, and the second run refused the part left by the first). A
// private output is the owner's alone.
func TestRunMboxOutputWhenWhole(t *testing.T) {
	dir := t.TempDir()
	needUnnamed(t, dir)
	in := writeMbox(t, dir, 6)
	out := filepath.Join(dir, "out.mbox")
	var during []string
	_, err := Run(Options{Input: in, Output: out, Private: true, Workers: 2, MemLimit: 1 << 20}, func() (Work, error) { return subjectWork(true), nil }, func(string, Result) {
		names, _ := os.ReadDir(dir)
		var list []string
		for _, n := range names {
			list = append(list, n.Name())
		}
		during = append(during, strings.Join(list, ","))
	})
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(during, " "); got != "in.mbox in.mbox in.mbox in.mbox in.mbox in.mbox" {
		t.Fatalf("the directory while running: %s", got)
	}
	data, err := os.ReadFile(out)
	if err != nil || bytes.Count(data, []byte("X-Worked: yes")) != 6 {
		t.Fatalf("%q, %v", data, err)
	}
	if st, err := os.Stat(out); err != nil || st.Mode().Perm()&0o077 != 0 {
		t.Fatalf("a private output: %v, %v", st.Mode(), err)
	}
}

// On Linux a Maildir output waits for its turn in a file without a name,
// not in tmp/: while the batch runs tmp/ stays empty, so a run that is
// stopped leaves no decrypted message there.
func TestRunMaildirOutputUnnamed(t *testing.T) {
	dir := t.TempDir()
	needUnnamed(t, dir)
	in := writeMbox(t, dir, 9)
	out := filepath.Join(dir, "out")
	var during []int
	n, err := Run(Options{Input: in, Output: out, OutputFormat: FormatMaildir, Workers: 2, MemLimit: 1 << 20}, func() (Work, error) { return subjectWork(true), nil }, func(string, Result) {
		names, _ := os.ReadDir(filepath.Join(out, "tmp"))
		during = append(during, len(names))
	})
	if err != nil || n != 9 {
		t.Fatalf("%d messages: %v", n, err)
	}
	if got := fmt.Sprint(during); got != "[0 0 0 0 0 0 0 0 0]" {
		t.Fatalf("files in tmp/ while running: %s", got)
	}
	if names, _ := os.ReadDir(filepath.Join(out, "cur")); len(names) != 9 {
		t.Fatalf("%d messages delivered", len(names))
	}
}

// --to-format: an mbox into a Maildir (new names in cur/, sorting in the
// mbox's order, no flags), and a Maildir into an mbox; an unknown format
// is a usage error.
func TestRunOutputFormat(t *testing.T) {
	dir := t.TempDir()
	in := writeMbox(t, dir, 12)
	lim := mime.Limits{MaxDepth: 1}
	md := filepath.Join(dir, "out")
	got, n, err := run(t, Options{Input: in, Output: md, OutputFormat: FormatMaildir, Limits: lim, Workers: 3, MemLimit: 1 << 20}, func() Work { return subjectWork(true) })
	if err != nil || n != 12 || len(got) != 12 {
		t.Fatalf("%d messages: %v", n, err)
	}
	entries, err := os.ReadDir(filepath.Join(md, "cur"))
	if err != nil || len(entries) != 8 { // every third is unreadable
		t.Fatalf("%d outputs in cur/: %v", len(entries), err)
	}
	var subjects []string
	for _, e := range entries {
		if !strings.HasSuffix(e.Name(), ":2,") && runtime.GOOS != "windows" {
			t.Fatalf("output name %q has no empty flags", e.Name())
		}
		data, _ := os.ReadFile(filepath.Join(md, "cur", e.Name()))
		m := regexp.MustCompile(`Subject: (message \d+)`).FindSubmatch(data)
		if m == nil {
			t.Fatalf("%s: %q", e.Name(), data)
		}
		subjects = append(subjects, string(m[1]))
	}
	if want := "message 0,message 1,message 3,message 4,message 6,message 7,message 9,message 10"; strings.Join(subjects, ",") != want {
		t.Fatalf("in name order: %s", strings.Join(subjects, ","))
	}

	// And back: the Maildir into an mbox.
	back := filepath.Join(dir, "back.mbox")
	got, n, err = run(t, Options{Input: md, Output: back, OutputFormat: FormatMbox, Workers: 2, MemLimit: 1 << 20}, func() Work { return subjectWork(true) })
	if err != nil || n != 8 {
		t.Fatalf("%d messages: %v", n, err)
	}
	data, err := os.ReadFile(back)
	if err != nil || bytes.Count(data, []byte("\nFrom ")) != 7 || !bytes.HasPrefix(data, []byte("From ")) {
		t.Fatalf("mbox output: %q, %v", data, err)
	}

	if _, _, err := run(t, Options{Input: in, Output: filepath.Join(dir, "x"), OutputFormat: "mh"}, func() Work { return subjectWork(true) }); !errors.Is(err, core.ErrUsage) {
		t.Fatalf("unknown format: %v", err)
	}
}

// Progress is called after each message: done and bytes grow to the
// mailbox's; a Maildir's total is known from the start.
func TestRunProgress(t *testing.T) {
	dir := t.TempDir()
	in := writeMbox(t, dir, 10)
	st, _ := os.Stat(in)
	var seen []Progress
	opts := Options{Input: in, Workers: 2, MemLimit: 1 << 20, Progress: func(p Progress) { seen = append(seen, p) }}
	if _, err := Run(opts, func() (Work, error) { return subjectWork(false), nil }, func(string, Result) {}); err != nil {
		t.Fatal(err)
	}
	if len(seen) != 10 {
		t.Fatalf("%d progress calls", len(seen))
	}
	for i, p := range seen {
		if p.Done != i+1 || p.Total != 0 || p.TotalBytes != st.Size() || (i > 0 && p.Bytes <= seen[i-1].Bytes) {
			t.Fatalf("call %d: %+v", i, p)
		}
	}
	if last := seen[9]; st.Size()-last.Bytes > 1 { // the blank line that ends the mbox
		t.Fatalf("last: %+v, mbox of %d bytes", last, st.Size())
	}

	md := filepath.Join(dir, "md")
	writeMaildir(t, md, 5)
	seen = nil
	opts.Input = md
	if _, err := Run(opts, func() (Work, error) { return subjectWork(false), nil }, func(string, Result) {}); err != nil {
		t.Fatal(err)
	}
	if len(seen) != 5 || seen[4] != (Progress{Done: 5, Total: 5, Bytes: seen[4].Bytes}) || seen[4].Bytes == 0 {
		t.Fatalf("maildir: %+v", seen)
	}
}

// The errors that end a run: a mailbox that cannot be read, an mbox output
// that exists (never overwritten), and a worker that cannot start.
func TestRunErrors(t *testing.T) {
	dir := t.TempDir()
	in := writeMbox(t, dir, 3)
	_, _, err := run(t, Options{Input: filepath.Join(dir, "missing"), InputLabel: "--batch"}, func() Work { return subjectWork(false) })
	if !errors.Is(err, core.ErrInput) || !strings.HasPrefix(err.Error(), "--batch: ") {
		t.Fatalf("missing mailbox: %v", err)
	}
	_, _, err = run(t, Options{Input: in, Output: in, OutputLabel: "-o"}, func() Work { return subjectWork(true) })
	if !errors.Is(err, core.ErrUsage) || !strings.Contains(err.Error(), "never overwritten") {
		t.Fatalf("existing output: %v", err)
	}
	boom := errors.New("no keys")
	if _, err := Run(Options{Input: in}, func() (Work, error) { return nil, boom }, func(string, Result) {}); err != boom {
		t.Fatalf("worker: %v", err)
	}
	// Without an output, a work that writes gets an error for that message.
	got, _, err := run(t, Options{Input: in, Workers: 2}, func() Work { return subjectWork(true) })
	if err != nil || !strings.Contains(got[0].what, "no output") {
		t.Fatalf("%+v, %v", got, err)
	}
}

// The workers stay at most Ahead messages each in front of the writer:
// the mailbox is read as it is worked through, not all at once.
func TestRunBoundedAhead(t *testing.T) {
	dir := t.TempDir()
	in := writeMbox(t, dir, 200)
	var started atomic.Int64
	var maxLead int64
	var doneCount int64
	_, err := Run(Options{Input: in, Workers: 2, MemLimit: 1 << 20}, func() (Work, error) {
		return func(m *mime.Message, _ func(func(io.Writer) error) error) Result {
			started.Add(1)
			return Result{}
		}, nil
	}, func(string, Result) {
		doneCount++
		if lead := started.Load() - doneCount; lead > maxLead {
			maxLead = lead
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	if maxLead > 2*Ahead {
		t.Fatalf("workers ran %d messages ahead of the writer, at most %d allowed", maxLead, 2*Ahead)
	}
}

// BenchmarkRun measures what the workers buy: a mailbox of 2,000 small
// messages, each worked on for what a signature check costs (a SHA-256 of
// 256 KiB), with one worker and with one per core.
func BenchmarkRun(b *testing.B) {
	dir := b.TempDir()
	in := writeMbox(b, dir, 2000)
	work := func() (Work, error) {
		buf := make([]byte, 64<<10)
		return func(m *mime.Message, _ func(func(io.Writer) error) error) Result {
			h := sha256.New()
			for i := 0; i < 4; i++ {
				h.Write(buf)
			}
			return Result{Code: int(h.Sum(nil)[0] & 1), Reported: true}
		}, nil
	}
	for _, workers := range []int{1, runtime.GOMAXPROCS(0)} {
		b.Run(fmt.Sprintf("workers=%d", workers), func(b *testing.B) {
			for b.Loop() {
				if _, err := Run(Options{Input: in, Workers: workers, MemLimit: 1 << 20}, work, func(string, Result) {}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkRunSmall is a batch of small messages whose work costs about
// what the reader's share of each message does (a SHA-256 of 16 KiB, on
// one worker per core): there the reader must keep ahead of the workers
// (TestRunReadsAheadOfBusyWorkers).
func BenchmarkRunSmall(b *testing.B) {
	in := writeMbox(b, b.TempDir(), 2000)
	work := func() (Work, error) {
		buf := make([]byte, 16<<10)
		return func(m *mime.Message, _ func(func(io.Writer) error) error) Result {
			sum := sha256.Sum256(buf)
			return Result{Code: int(sum[0] & 1), Reported: true}
		}, nil
	}
	for b.Loop() {
		if _, err := Run(Options{Input: in, MemLimit: 1 << 20}, work, func(string, Result) {}); err != nil {
			b.Fatal(err)
		}
	}
}

// The memory budget serves requests in order: a large message waiting for
// memory is not overtaken by small ones that would fit.
func TestMemoryBudgetInOrder(t *testing.T) {
	b := newMemoryBudget(10)
	b.take(8)
	// queued waits until n requests wait, or done is closed.
	queued := func(n int, done chan struct{}) {
		for {
			b.mu.Lock()
			q := len(b.queue)
			b.mu.Unlock()
			select {
			case <-done:
				return
			default:
			}
			if q == n {
				return
			}
			runtime.Gosched()
		}
	}
	large, small := make(chan struct{}), make(chan struct{})
	go func() { b.take(5); close(large) }()
	queued(1, large)
	go func() { b.take(1); close(small) }()
	queued(2, small)
	select {
	case <-large:
		t.Fatal("the large request was served without memory")
	case <-small:
		t.Fatal("the small request overtook the large one")
	default:
	}
	b.give(8)
	<-large
	<-small
	if b.free != 4 {
		t.Fatalf("%d bytes free, want 4", b.free)
	}
	// A cost is never more than the whole budget, so a request always
	// ends up served.
	if c := processingCost(1<<40, 2<<20); c > processingMemory {
		t.Fatalf("cost %d over the budget %d", c, processingMemory)
	}
}
