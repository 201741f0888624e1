package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/mailseal/mailseal"
	"github.com/mailseal/mailseal/internal/mbox"
	"github.com/mailseal/mailseal/internal/spool"
	"github.com/mailseal/mailseal/mime"
)

// Batch mode: one process works through a whole mailbox (an mbox file or a
// Maildir) on every core, with the keys loaded once per worker.
//
// Memory stays bounded whatever the mailbox holds: messages are read from
// the mailbox as they are worked on (a Maildir file is parsed where it
// lies, an mbox message is read again from the file), each output waits
// for its turn in a spool (or, in a Maildir, in its own file), and the
// workers run at most a few messages ahead of the writer. A message's
// working memory is estimated from its size (processingCost) and taken
// from a budget shared by the workers, so that large messages do not all
// run at once when there are many cores.

var batchFlag = &cli.StringFlag{Name: "batch", Usage: "work through every message of the mbox file or Maildir `PATH`; -o names the mbox or Maildir to write"}

const (
	// batchAhead is how many messages per worker may be worked on or
	// done and waiting for the writer.
	batchAhead = 4
	// outputMemory is how much of the outputs waiting for the writer is
	// kept in memory, shared out among the messages in flight (the rest
	// of a large output waits in an encrypted temporary file).
	outputMemory = 8 << 20
	// processingMemory is the budget for the working memory of the
	// messages being worked on (see processingCost).
	processingMemory = 24 << 20
	// batchGC and batchMemoryLimit set the garbage collector for a batch
	// (unless GOGC or GOMEMLIMIT say otherwise). A batch allocates much
	// and keeps little (a few MiB), so with Go's default the heap is
	// collected every few MiB of allocation: 2.5 times as many
	// collections as at 200, which cost small messages a quarter of
	// their rate. The
	// limit keeps the heap, and with it the RSS, under 64 MiB whatever
	// the messages.
	batchGC          = 200
	batchMemoryLimit = 48 << 20
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
	scan  *mbox.Scanner
	first mbox.Message // the mbox's first message, read to see that it is an mbox
	empty bool         // the mbox holds no message
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
func openMailbox(path string) (*mailbox, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("--batch: %w: %w", err, mailseal.ErrInput)
	}
	if st.IsDir() {
		mb := &mailbox{dir: path}
		for _, sub := range []string{"cur", "new"} {
			names, err := listMaildir(filepath.Join(path, sub), mb.names)
			if err != nil {
				return nil, fmt.Errorf("--batch: %w: %w", err, mailseal.ErrInput)
			}
			if sub == "cur" {
				mb.inCur = len(names)
			}
			mb.names = names
		}
		return mb, nil
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("--batch: %w: %w", err, mailseal.ErrInput)
	}
	mb := &mailbox{file: f, scan: mbox.NewScanner(f)}
	mb.first, err = mb.scan.Next()
	if err == io.EOF {
		mb.empty = true
	} else if err != nil {
		f.Close()
		return nil, fmt.Errorf("--batch: %w: %w", err, mailseal.ErrInput)
	}
	return mb, nil
}

// listMaildir appends to names the message files of a Maildir's cur/ or
// new/ (none if it does not exist), sorted.
func listMaildir(dir string, names []string) ([]string, error) {
	d, err := os.Open(dir)
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
			f, err := os.Open(filepath.Join(mb.dir, id))
			if err == nil {
				var st os.FileInfo
				if st, err = f.Stat(); err == nil {
					msg.file, msg.size = f, st.Size()
				} else {
					f.Close()
				}
			}
			if err != nil {
				msg.err = fmt.Errorf("%w: %w", err, mailseal.ErrInput)
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
			return fmt.Errorf("--batch: %w: %w", err, mailseal.ErrInput)
		}
	}
}

// parse parses one message, where it lies when it can.
func (mb *mailbox) parse(msg mailboxMessage, memLimit int64) (*mime.Message, error) {
	switch {
	case msg.err != nil:
		return nil, msg.err
	case msg.file != nil:
		return mime.ParseFile(msg.file, mime.DefaultLimits(), memLimit)
	case msg.loc.CRLF && !msg.loc.Quoted:
		return mime.ParseAt(io.NewSectionReader(mb.file, msg.loc.Start, msg.size), msg.size, mime.DefaultLimits(), memLimit)
	}
	return mime.Parse(msg.loc.Reader(mb.file), mime.DefaultLimits(), memLimit)
}

// mailboxWriter writes results in input order: an mbox file or a Maildir.
type mailboxWriter struct {
	maildir  string
	mbox     *mbox.Writer
	file     *os.File
	memLimit int64 // of each output's spool
}

func newMailboxWriter(path string, maildir bool, memLimit int64) (*mailboxWriter, error) {
	if path == "" {
		return nil, usageErr("--batch needs -o: the mbox file or Maildir to write")
	}
	if maildir {
		for _, sub := range []string{"tmp", "new", "cur"} {
			if err := os.MkdirAll(filepath.Join(path, sub), 0o700); err != nil {
				return nil, fmt.Errorf("-o: %w: %w", err, mailseal.ErrUsage)
			}
		}
		return &mailboxWriter{maildir: path}, nil
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return nil, fmt.Errorf("-o: %w (an existing mbox is never overwritten): %w", err, mailseal.ErrUsage)
	}
	return &mailboxWriter{file: f, mbox: mbox.NewWriter(f), memLimit: memLimit}, nil
}

// batchOutput is one message's output, made by a worker, waiting for the
// writer.
type batchOutput struct {
	spool *spool.Spool // for the mbox
	tmp   string       // a file in the Maildir's tmp/
}

// prepare makes a message's output with write: in a spool for an mbox, in a
// new file in tmp/ for a Maildir.
func (w *mailboxWriter) prepare(write func(io.Writer) error) (*batchOutput, error) {
	if w.maildir == "" {
		sp := spool.New(w.memLimit)
		if err := write(sp); err != nil {
			sp.Close()
			return nil, err
		}
		return &batchOutput{spool: sp}, nil
	}
	f, err := os.CreateTemp(filepath.Join(w.maildir, "tmp"), "mailseal-*")
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
	return &batchOutput{tmp: f.Name()}, nil
}

// commit writes a message's output, in input order.
func (w *mailboxWriter) commit(id string, o *batchOutput) error {
	if w.maildir != "" {
		name := strings.ReplaceAll(filepath.Base(id), ":", "_")
		if err := os.Rename(o.tmp, filepath.Join(w.maildir, "cur", name)); err != nil {
			os.Remove(o.tmp)
			return err
		}
		return nil
	}
	defer o.spool.Close()
	return w.mbox.WriteMessage(o.spool.Reader(), time.Now())
}

// discard drops an output that is not written.
func (o *batchOutput) discard() {
	switch {
	case o == nil:
	case o.spool != nil:
		o.spool.Close()
	default:
		os.Remove(o.tmp)
	}
}

func (w *mailboxWriter) close() error {
	if w.file == nil {
		return nil
	}
	if err := w.mbox.Flush(); err != nil {
		w.file.Close()
		return err
	}
	return w.file.Close()
}

// abort removes an mbox that was not finished (the messages already in a
// Maildir are whole, and stay).
func (w *mailboxWriter) abort() {
	if w.file != nil {
		w.file.Close()
		os.Remove(w.file.Name())
	}
}

// batchResult is what one message produced.
type batchResult struct {
	output   *batchOutput
	report   mailseal.Report
	code     int  // the exit code of the report
	reported bool // decrypt and verify judge each message; encrypt does not
	err      error
}

// batchWork handles one parsed message; it passes what it writes to
// output (decrypt and encrypt do, at most once).
type batchWork func(m *mime.Message, output func(write func(io.Writer) error) error) batchResult

// batchJob is one message on its way from the mailbox to the writer.
type batchJob struct {
	msg    mailboxMessage
	result batchResult
	done   chan struct{}
}

// runBatch processes every message of --batch with work (one worker per
// core, each with its own state from newWorker), writes outputs in order,
// prints one JSON report line per message, and exits with the worst code.
func runBatch(s *session, newWorker func() (batchWork, error), writesMessages bool) error {
	if os.Getenv("GOGC") == "" {
		defer debug.SetGCPercent(debug.SetGCPercent(batchGC))
	}
	if os.Getenv("GOMEMLIMIT") == "" {
		defer debug.SetMemoryLimit(debug.SetMemoryLimit(batchMemoryLimit))
	}
	workers := runtime.GOMAXPROCS(0)
	works := make([]batchWork, workers)
	for i := range works {
		var err error
		if works[i], err = newWorker(); err != nil {
			return err
		}
	}
	mb, err := openMailbox(s.c.String("batch"))
	if err != nil {
		return err
	}
	defer mb.close()
	ahead := workers * batchAhead
	var out *mailboxWriter
	if writesMessages {
		outLimit := min(s.policy.MaxMemorySpool, max(outputMemory/int64(ahead), 16<<10))
		if out, err = newMailboxWriter(s.c.String("output"), mb.dir != "", outLimit); err != nil {
			return err
		}
	}

	// The reader hands out the messages in order; order holds them for
	// the writer, so that at most ahead are in flight.
	order := make(chan *batchJob, ahead)
	jobs := make(chan *batchJob)
	var stop atomic.Bool // the writer failed: read no further
	var readErr error
	go func() {
		defer close(order)
		defer close(jobs)
		readErr = mb.each(func(msg mailboxMessage) bool {
			if stop.Load() {
				msg.close()
				return false
			}
			j := &batchJob{msg: msg, done: make(chan struct{})}
			order <- j
			jobs <- j
			return true
		})
	}()
	budget := newMemoryBudget(processingMemory)
	var wg sync.WaitGroup
	for _, work := range works {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range jobs {
				cost := processingCost(j.msg.size, s.policy.MaxMemorySpool)
				budget.take(cost)
				j.result = s.batchOne(mb, j.msg, work, out)
				budget.give(cost)
				close(j.done)
			}
		}()
	}

	enc := json.NewEncoder(s.c.App.Writer)
	enc.SetEscapeHTML(false)
	worst, count := 0, 0
	var writeErr error
	for j := range order {
		<-j.done
		if writeErr != nil {
			j.result.output.discard()
			continue
		}
		count++
		r := j.result
		code := 0
		if r.reported {
			code = r.code
		}
		if r.err != nil {
			code = mailseal.ExitCode(r.err)
			r.report = mailseal.Report{Status: mailseal.StatusError, Signers: []mailseal.Signature{}, Error: oneLine(r.err.Error())}
		}
		if writesMessages && r.output != nil {
			if err := out.commit(j.msg.id, r.output); err != nil {
				writeErr = fmt.Errorf("writing %s: %w", j.msg.id, err)
				stop.Store(true)
				continue
			}
		}
		if s.c.Bool("json") || !writesMessages || r.err != nil || (r.reported && r.output == nil) {
			enc.Encode(struct {
				Message string `json:"message"`
				mailseal.Report
			}{j.msg.id, r.report})
		}
		worst = max(worst, code)
	}
	wg.Wait()
	if writeErr == nil {
		writeErr = readErr
	}
	if out != nil {
		if writeErr != nil {
			out.abort()
			return writeErr
		}
		if err := out.close(); err != nil {
			out.abort()
			return err
		}
	}
	if writeErr != nil {
		return writeErr
	}
	fmt.Fprintf(s.c.App.ErrWriter, "%d message(s)\n", count)
	if worst != 0 {
		return exitError{worst}
	}
	return nil
}

// batchOne parses one message and hands it to work, with its output going
// to out.
func (s *session) batchOne(mb *mailbox, msg mailboxMessage, work batchWork, out *mailboxWriter) batchResult {
	m, err := mb.parse(msg, s.policy.MaxMemorySpool)
	if err != nil {
		return batchResult{err: err}
	}
	defer m.Close()
	var made *batchOutput
	r := work(m, func(write func(io.Writer) error) error {
		if out == nil {
			return errors.New("batch: this command writes no messages")
		}
		var err error
		made, err = out.prepare(write)
		return err
	})
	if r.err != nil {
		made.discard()
		made = nil
	}
	r.output = made
	return r
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

// openWorker is a decrypt or verify worker.
func (s *session) openWorker(decrypt bool) batchWork {
	keys := s.openKeys()
	return func(m *mime.Message, output func(func(io.Writer) error) error) batchResult {
		var opened *mailseal.Opened
		var err error
		if decrypt {
			var openErr error
			err = output(func(w io.Writer) error {
				opened, openErr = mailseal.Open(m, keys, s.openOptions(true, w))
				if openErr != nil || !opened.Decrypted {
					return errNothingReleased
				}
				return nil
			})
			if openErr != nil {
				err = openErr
			} else if err == errNothingReleased {
				err = nil
			}
		} else {
			opened, err = mailseal.Open(m, keys, s.openOptions(false, nil))
		}
		if err != nil {
			return batchResult{err: err}
		}
		return batchResult{report: opened.Report, code: opened.ExitCode(), reported: true}
	}
}

// encryptWorker encrypts (and with --sign signs) each message as the
// encrypt command would. Each worker has a keystore session of its own
// (with the passphrases the command asked for once): an unlocked OpenPGP
// key is not safe to share between workers (pgp.Signer).
func (s *session) encryptWorker() batchWork {
	w := *s
	signOpts, _ := s.smimeSignOptions() // read without error by newSession
	w.keys = s.newKeySession(signOpts)
	return func(m *mime.Message, output func(func(io.Writer) error) error) batchResult {
		if err := w.encryptMessage(m, output); err != nil {
			return batchResult{err: err}
		}
		return batchResult{}
	}
}
