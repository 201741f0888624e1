// Package batch works through a whole mailbox — an mbox file or a Maildir —
// with one worker per core, for the --batch mode of mailseal's verify,
// decrypt and encrypt. It knows nothing of keys or protocols: the caller
// hands it a Work function (for mailseal, one that calls mailseal.Open or
// mailseal.Encrypt) and gets each message's Result back.
//
// # What Run does
//
// Run reads the messages in order (an mbox from start to end; a Maildir's
// cur/, then its new/, each in name order), hands each parsed message to a
// worker's Work, and calls done with each Result in the mailbox's order. A
// Work that makes an output (a decrypted or encrypted message) writes it
// through the output function it is given; Run writes the outputs to the
// mbox file or Maildir of Options.Output, in the mailbox's order too.
//
// # Concurrency
//
// One goroutine reads the mailbox, Options.Workers goroutines (one per
// core by default) work on messages, and the goroutine that called Run
// writes the outputs and calls done, so done needs no locking. newWorker
// is called once per worker before anything is read: what a Work keeps
// (unlocked keys, engines) is its own, and a Work is never called for two
// messages at once. Workers may finish out of order; the writer waits for
// each message in turn, so the order of done and of the outputs is the
// mailbox's whatever the number of workers.
//
// # Memory
//
// Memory does not grow with the mailbox: messages are read a few at a
// time ahead of the workers (a Maildir file is opened and parsed where it
// lies, an mbox message is found and read again from the file), each
// output waits for its turn in a spool
// (in memory up to a share of 8 MiB, then in an encrypted temporary file)
// or, for a Maildir, in its own file in tmp/, and the workers run at most
// Ahead messages each in front of the writer. A message's working memory
// is estimated from its size (processingCost) and taken from a budget the
// workers share (24 MiB), first come first served, so that large messages
// do not all run at once on many cores. The one thing that grows is a
// Maildir's list of file names (about 30 bytes a message), which has to
// be sorted to give the order. Run leaves the garbage collector alone; a
// program should set it to GCPercent and MemoryLimit for a batch.
//
// # Errors and exit codes
//
// A message that cannot be parsed, or whose Work fails, is that message's
// Result (Err), its output is dropped, and the run goes on. Run decides
// no exit code: a Work that judges its message puts the code in
// Result.Code (mailseal exits with the worst code of all messages, or of
// their errors). Run returns an error only when the mailbox cannot be
// read, a worker cannot be made or the output cannot be written; it then
// stops reading, and removes an unfinished output mbox (outputs already
// renamed into a Maildir are whole and stay). On Linux an output mbox has
// no name until it is whole (O_TMPFILE), so a stopped run leaves nothing.
//
// # What the workers buy
//
// TestRunOpenMatchesSequential holds Run to a plain loop over the
// mailbox (real messages opened by mailseal.Open): the same reports and
// outputs, in the same order, at 1, 4 and 8 workers. What the workers buy
// is time, and only with cores to spare: BenchmarkRun (2,000 small
// messages, each worked on for what checking a signature over 256 KiB
// costs) ran 1.7 times as fast with a worker per core as with one on an
// idle 2-core machine (0.20 s against 0.34 s). BenchmarkRunOpen
// (decrypt --batch -o on 200 real messages, a quarter with a 96 KiB
// attachment) has so far been measured only on a 2-core machine busy with
// other work (load 3 to 6): the best runs 85 ms with 2 workers against
// 92 ms with one, the medians 130 ms against 97 ms: with no core to
// spare the workers buy nothing.
package batch

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/mailseal/mailseal/core"
	"github.com/mailseal/mailseal/internal/atomicfile"
	"github.com/mailseal/mailseal/internal/mbox"
	"github.com/mailseal/mailseal/internal/spool"
	"github.com/mailseal/mailseal/mime"
)

const (
	// Ahead is how many messages per worker may be read and waiting for
	// a worker, worked on, or done and waiting for the writer. A Maildir
	// message is open from when it is read, and on Linux a Maildir
	// output from when it is made until its turn: up to Ahead files per
	// worker and two more of each are open at once.
	Ahead = 4
	// outputMemory is how much of the outputs waiting for the writer is
	// kept in memory, shared out among the messages in flight (the rest
	// of a large output waits in an encrypted temporary file).
	outputMemory = 8 << 20
	// processingMemory is the budget for the working memory of the
	// messages being worked on (see processingCost).
	processingMemory = 24 << 20
	// GCPercent and MemoryLimit are what the program that runs a batch
	// should set its garbage collector to (unless GOGC or GOMEMLIMIT say
	// otherwise): Run leaves process-wide settings alone. A batch
	// allocates much and keeps little (a few MiB), so with Go's default
	// the heap is collected every few MiB of allocation: 2.5 times as
	// many collections as at 200, which cost small messages a quarter of
	// their rate. 400 gains another eighth (encrypt --batch --sign of
	// 2,000 small S/MIME messages, whole process, median of 9 pairs: 0.473
	// s at 200, 0.411 at 400, peak RSS 26 and 33 MiB; 800 meets the limit
	// and gains nothing more). The limit keeps the heap, and with it the
	// RSS, under 64 MiB whatever the messages.
	GCPercent   = 400
	MemoryLimit = 48 << 20
)

// processingCost estimates the working memory of opening or encrypting a
// message of size bytes: its spools keep up to memLimit bytes each in
// memory (the input, the withheld plaintext and the output), and a large
// message runs through pipeline stages with buffers of their own.
func processingCost(size, memLimit int64) int64 {
	cost := 256<<10 + 3*min(size, memLimit)
	switch {
	case size > 4<<20:
		cost += 6 << 20
	case size > 64<<10:
		cost += 1 << 20
	}
	return min(cost, processingMemory)
}

// mailbox is the --batch input: an mbox file or a Maildir (cur/ and new/).
type mailbox struct {
	dir   string   // the Maildir, or ""
	names []string // Maildir: the names in cur/, then in new/, each sorted
	inCur int      // how many of names are in cur/
	file  *os.File // the mbox
	size  int64    // of the mbox
	scan  *mbox.Scanner
	first mbox.Message // the mbox's first message, read to see that it is an mbox
	empty bool         // the mbox holds no message
	label string       // names the mbox in errors
}

// mailboxMessage is one message of a mailbox.
type mailboxMessage struct {
	id   string // Maildir file name, or "#N" in an mbox
	size int64
	file *os.File     // a Maildir message, open
	err  error        // why a Maildir message could not be opened
	loc  mbox.Message // an mbox message
}

// close releases a message that is not parsed.
func (msg mailboxMessage) close() {
	if msg.file != nil {
		msg.file.Close()
	}
}

// openMailbox opens an mbox file or lists a Maildir.
func openMailbox(path, label string) (*mailbox, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("%s: %w: %w", label, err, core.ErrInput)
	}
	if st.IsDir() {
		mb := &mailbox{dir: path}
		for _, sub := range []string{"cur", "new"} {
			names, err := listMaildir(filepath.Join(path, sub), mb.names)
			if err != nil {
				return nil, fmt.Errorf("%s: %w: %w", label, err, core.ErrInput)
			}
			if sub == "cur" {
				mb.inCur = len(names)
			}
			mb.names = names
		}
		return mb, nil
	}
	// An mbox is read where it lies (each message again after the scan
	// found it): a pipe cannot be read twice, and a device is not waited
	// on or read.
	f, err := atomicfile.OpenRegular(path)
	if errors.Is(err, atomicfile.ErrNotRegular) {
		return nil, fmt.Errorf("%s: %w: give an mbox file or a Maildir (save piped mail to a file first): %w", label, err, core.ErrInput)
	}
	if err == nil {
		st, err = f.Stat()
		if err != nil {
			f.Close()
		}
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w: %w", label, err, core.ErrInput)
	}
	mb := &mailbox{file: f, size: st.Size(), scan: mbox.NewScanner(f), label: label}
	mb.first, err = mb.scan.Next()
	if err == io.EOF {
		mb.empty = true
	} else if err != nil {
		f.Close()
		return nil, fmt.Errorf("%s: %w: %w", label, err, core.ErrInput)
	}
	return mb, nil
}

// listMaildir appends to names the message files of a Maildir's cur/ or
// new/ (none if it does not exist), sorted.
func listMaildir(dir string, names []string) ([]string, error) {
	d, err := atomicfile.OpenDir(dir) // a named pipe there is an error, not a wait
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return names, nil
		}
		return nil, err
	}
	defer d.Close()
	from := len(names)
	for {
		entries, err := d.ReadDir(1024)
		for _, e := range entries {
			if !e.IsDir() && !strings.HasPrefix(e.Name(), ".") {
				names = append(names, e.Name())
			}
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
	}
	slices.Sort(names[from:])
	return names, nil
}

func (mb *mailbox) close() {
	if mb.file != nil {
		mb.file.Close()
	}
}

// each hands out the messages in order while yield returns true. An error
// from reading an mbox ends it.
func (mb *mailbox) each(yield func(mailboxMessage) bool) error {
	if mb.dir != "" {
		for i, name := range mb.names {
			id := "cur/" + name
			if i >= mb.inCur {
				id = "new/" + name
			}
			msg := mailboxMessage{id: id}
			// A named pipe or a device among the messages is that
			// message's error, not a wait or an endless read.
			f, err := atomicfile.OpenRegular(filepath.Join(mb.dir, id))
			if err == nil {
				var st os.FileInfo
				if st, err = f.Stat(); err == nil {
					msg.file, msg.size = f, st.Size()
				} else {
					f.Close()
				}
			}
			if err != nil {
				msg.err = fmt.Errorf("%w: %w", err, core.ErrInput)
			}
			if !yield(msg) {
				return nil
			}
		}
		return nil
	}
	if mb.empty {
		return nil
	}
	loc := mb.first
	for n := 1; ; n++ {
		if !yield(mailboxMessage{id: fmt.Sprintf("#%d", n), size: loc.End - loc.Start, loc: loc}) {
			return nil
		}
		var err error
		if loc, err = mb.scan.Next(); err == io.EOF {
			return nil
		} else if err != nil {
			return fmt.Errorf("%s: %w: %w", mb.label, err, core.ErrInput)
		}
	}
}

// parse parses one message, where it lies when it can.
func (mb *mailbox) parse(msg mailboxMessage, lim mime.Limits, memLimit int64) (*mime.Message, error) {
	switch {
	case msg.err != nil:
		return nil, msg.err
	case msg.file != nil:
		return mime.ParseFile(msg.file, lim, memLimit)
	case msg.loc.CRLF && !msg.loc.Quoted:
		return mime.ParseAt(io.NewSectionReader(mb.file, msg.loc.Start, msg.size), msg.size, lim, memLimit)
	}
	return mime.Parse(msg.loc.Reader(mb.file), lim, memLimit)
}

// mailboxWriter writes results in input order: an mbox file or a Maildir.
type mailboxWriter struct {
	maildir  string
	unique   string // Maildir: the middle of the names made for messages from an mbox
	mbox     *mbox.Writer
	file     *os.File    // the mbox being written
	path     string      // its name
	unnamed  bool        // file has no name until close links it to path
	perm     os.FileMode // a Maildir message file's mode, less the umask
	memLimit int64       // of each output's spool
}

func newMailboxWriter(path, label string, maildir, private bool, memLimit int64) (*mailboxWriter, error) {
	filePerm, dirPerm := os.FileMode(0o666), os.FileMode(0o777)
	if private {
		filePerm, dirPerm = 0o600, 0o700
	}
	if maildir {
		for _, sub := range []string{"tmp", "new", "cur"} {
			if err := os.MkdirAll(filepath.Join(path, sub), dirPerm); err != nil {
				return nil, fmt.Errorf("%s: %w: %w", label, err, core.ErrUsage)
			}
		}
		host, _ := os.Hostname()
		host = strings.NewReplacer("/", `\057`, ":", `\072`).Replace(host)
		if host == "" {
			host = "localhost"
		}
		now := time.Now()
		return &mailboxWriter{maildir: path, perm: filePerm, unique: fmt.Sprintf("%d.M%06dP%d", now.Unix(), now.Nanosecond()/1000, os.Getpid()) + "Q%09d." + host}, nil
	}
	if _, err := os.Lstat(path); err == nil {
		return nil, fmt.Errorf("%s: %s exists (an existing mbox is never overwritten): %w", label, path, core.ErrUsage)
	}
	// Where the system can (Linux), the mbox is a file without a name
	// until it is whole, so that a run that is stopped (Ctrl-C, kill)
	// leaves nothing, and the same command can be run again; elsewhere it
	// is written under its name, and a stopped run leaves that part.
	if f, err := atomicfile.CreateUnnamed(path, filePerm); err == nil {
		return &mailboxWriter{file: f, path: path, unnamed: true, mbox: mbox.NewWriter(f), memLimit: memLimit}, nil
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, filePerm)
	if err != nil {
		return nil, fmt.Errorf("%s: %w (an existing mbox is never overwritten): %w", label, err, core.ErrUsage)
	}
	return &mailboxWriter{file: f, path: path, mbox: mbox.NewWriter(f), memLimit: memLimit}, nil
}

// output is one message's output, made by a worker, waiting for the
// writer.
type output struct {
	spool *spool.Spool // for the mbox
	tmp   string       // a file in the Maildir's tmp/
	file  *os.File     // or, for the Maildir, a file without a name yet
}

// prepare makes a message's output with write: in a spool for an mbox; for
// a Maildir in a file without a name (Linux) or a new file in tmp/.
func (w *mailboxWriter) prepare(write func(io.Writer) error) (*output, error) {
	if w.maildir == "" {
		sp := spool.New(w.memLimit)
		if err := write(sp); err != nil {
			sp.Close()
			return nil, err
		}
		return &output{spool: sp}, nil
	}
	// Where the system can (Linux), the output has no name until its
	// turn comes (commit), so that a run that is stopped leaves nothing
	// in tmp/; elsewhere a named file in tmp/, as Maildir deliveries are.
	tmp := filepath.Join(w.maildir, "tmp")
	if f, err := atomicfile.CreateUnnamed(filepath.Join(tmp, "mailseal-unnamed"), w.perm); err == nil {
		if err := write(f); err != nil {
			f.Close()
			return nil, err
		}
		return &output{file: f}, nil
	}
	f, err := atomicfile.CreateTemp(tmp, "mailseal-", w.perm)
	if err != nil {
		return nil, err
	}
	err = write(f)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(f.Name())
		return nil, err
	}
	return &output{tmp: f.Name()}, nil
}

// commit writes the output of the seq-th message (from 1), in input order.
func (w *mailboxWriter) commit(id string, seq int, o *output) error {
	if w.maildir != "" {
		if o.file != nil { // named in tmp/ now, renamed into place below
			name, err := atomicfile.LinkTemp(o.file, filepath.Join(w.maildir, "tmp"), "mailseal-")
			o.file = nil // closed by LinkTemp
			if err != nil {
				return err
			}
			o.tmp = name
		}
		if err := os.Rename(o.tmp, filepath.Join(w.maildir, w.maildirName(id, seq))); err != nil {
			os.Remove(o.tmp)
			return err
		}
		return nil
	}
	defer o.spool.Close()
	return w.mbox.WriteMessage(o.spool.Reader(), time.Now())
}

// maildirName is where the output of message id goes in the output
// Maildir: a Maildir message keeps its subdirectory and name, with its
// flags (on Windows, where a name cannot hold ":", the info separator is
// "!", as other Windows Maildir programs write it); a message from an mbox
// gets a unique name in cur/ with no flags.
func (w *mailboxWriter) maildirName(id string, seq int) string {
	sub, name, ok := strings.Cut(id, "/")
	if !ok {
		sub, name = "cur", fmt.Sprintf(w.unique, seq)+":2,"
	}
	if runtime.GOOS == "windows" {
		name = strings.ReplaceAll(name, ":", "!")
	}
	return filepath.Join(sub, name)
}

// discard drops an output that is not written.
func (o *output) discard() {
	switch {
	case o == nil:
	case o.spool != nil:
		o.spool.Close()
	case o.file != nil:
		o.file.Close()
	default:
		os.Remove(o.tmp)
	}
}

// close finishes the mbox, giving it its name if it has none yet (which
// must still be free: nothing is replaced).
func (w *mailboxWriter) close() error {
	if w.file == nil {
		return nil
	}
	if err := w.mbox.Flush(); err != nil {
		return err
	}
	if w.unnamed {
		if err := atomicfile.LinkUnnamed(w.file, w.path); err != nil {
			if errors.Is(err, fs.ErrExist) {
				return fmt.Errorf("%s was made while the batch ran, and an existing mbox is never overwritten: the output was discarded; run again with another -o: %w", w.path, err)
			}
			return err
		}
		w.unnamed = false
	}
	err := w.file.Close()
	w.file = nil
	if err != nil {
		os.Remove(w.path)
	}
	return err
}

// abort removes an mbox that was not finished (the messages already in a
// Maildir are whole, and stay); one without a name is gone once closed.
func (w *mailboxWriter) abort() {
	if w.file != nil {
		w.file.Close()
		if !w.unnamed {
			os.Remove(w.path)
		}
	}
}

// memoryBudget hands out bytes of working memory in the order they are
// asked for.
type memoryBudget struct {
	mu    sync.Mutex
	free  int64
	queue []budgetWaiter
}

type budgetWaiter struct {
	n     int64
	ready chan struct{}
}

func newMemoryBudget(n int64) *memoryBudget { return &memoryBudget{free: n} }

// take waits until n bytes are free (and no one asked before) and takes them.
func (b *memoryBudget) take(n int64) {
	b.mu.Lock()
	if len(b.queue) == 0 && b.free >= n {
		b.free -= n
		b.mu.Unlock()
		return
	}
	w := budgetWaiter{n, make(chan struct{})}
	b.queue = append(b.queue, w)
	b.mu.Unlock()
	<-w.ready
}

// give returns n bytes taken.
func (b *memoryBudget) give(n int64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.free += n
	for len(b.queue) > 0 && b.free >= b.queue[0].n {
		b.free -= b.queue[0].n
		close(b.queue[0].ready)
		b.queue = b.queue[1:]
	}
}
