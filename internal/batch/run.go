package batch

import (
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"sync"
	"sync/atomic"

	"github.com/mailseal/mailseal/core"
	"github.com/mailseal/mailseal/mime"
)

// Options steer Run.
type Options struct {
	// Input is the mailbox: an mbox file, or a Maildir (its cur/, then
	// its new/, each in name order).
	Input string
	// Output is the mbox file (created; an existing one is never
	// overwritten) or the Maildir (created if needed) that the messages'
	// outputs are written to; empty: the work writes nothing. A message
	// from a Maildir keeps its name, flags (":2,S") included, and its
	// subdirectory (cur/ or new/); one from an mbox gets a new unique name
	// in cur/, with no flags (":2,"), the names sorting in the mbox's order.
	Output string
	// OutputFormat is FormatMbox or FormatMaildir; empty: the input's.
	OutputFormat string
	// Private makes the output readable by its owner alone (mbox and
	// message files 0600, Maildir directories 0700), as for decrypted
	// mail; otherwise they are made as the umask allows (0666 and 0777
	// less the umask), as other tools make their output.
	Private bool
	// Progress, if set, is called after each message is done (from the
	// goroutine that calls done).
	Progress func(Progress)
	// MemLimit is how much of a message, and of its output, is held in
	// memory before it spills to an encrypted temporary file
	// (core.Policy.MaxMemorySpool).
	MemLimit int64
	// Limits bound the parse of each message; zero fields are defaults.
	Limits mime.Limits
	// Workers is how many messages are worked on at once; 0 is
	// runtime.GOMAXPROCS(0).
	Workers int
	// InputLabel and OutputLabel name the input and the output in errors
	// as the user knows them (a flag, a path); empty: "input", "output".
	InputLabel, OutputLabel string
}

// Work handles one parsed message. What it makes it writes through output
// (at most once), which gets it to Options.Output in the mailbox's order.
type Work func(m *mime.Message, output func(write func(io.Writer) error) error) Result

// The output formats.
const (
	FormatMbox    = "mbox"
	FormatMaildir = "maildir"
)

// Progress is how far a run is.
type Progress struct {
	Done  int // messages done
	Total int // messages in a Maildir; 0 for an mbox (not known before the end)
	// Bytes of the mailbox done, of TotalBytes (for an mbox, its size; for
	// a Maildir, 0: not known).
	Bytes, TotalBytes int64
}

// Result is what one message produced.
type Result struct {
	// Report is the message's report, when Reported.
	Report   core.Report
	Code     int  // the report's exit code, when Reported
	Reported bool // decrypt and verify judge each message; encrypt does not
	// Err is why the message could not be handled (unreadable, no key...).
	Err error
	// Wrote is set by Run: an output of the message was written.
	Wrote bool
}

// job is one message on its way from the mailbox to the writer.
type job struct {
	msg    mailboxMessage
	result Result
	output *output
	done   chan struct{}
}

// Run works through every message of opts.Input: newWorker is called once
// per worker (each may keep state of its own, such as unlocked keys), and
// each message goes to one worker's Work. done is called for every
// message in the mailbox's order, after its output (if any) is written,
// with the message's ID (a Maildir file name as "cur/NAME", or "#N" in an
// mbox). Run returns how many messages there were; its error is for the
// mailbox that cannot be read or the output that cannot be written, and
// then an unfinished mbox output is removed.
func Run(opts Options, newWorker func() (Work, error), done func(id string, r Result)) (int, error) {
	workers := opts.Workers
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	works := make([]Work, workers)
	for i := range works {
		var err error
		if works[i], err = newWorker(); err != nil {
			return 0, err
		}
	}
	inLabel, outLabel := opts.InputLabel, opts.OutputLabel
	if inLabel == "" {
		inLabel = "input"
	}
	if outLabel == "" {
		outLabel = "output"
	}
	mb, err := openMailbox(opts.Input, inLabel)
	if err != nil {
		return 0, err
	}
	defer mb.close()
	ahead := inFlight(workers)
	var out *mailboxWriter
	if opts.Output != "" {
		toMaildir := mb.dir != ""
		switch opts.OutputFormat {
		case "":
		case FormatMbox:
			toMaildir = false
		case FormatMaildir:
			toMaildir = true
		default:
			return 0, fmt.Errorf("unknown output format %q (mbox or maildir): %w", opts.OutputFormat, core.ErrUsage)
		}
		if toMaildir && mb.dir != "" {
			// Renaming each output over its input would replace the
			// mailbox read (its encrypted messages, say) as it goes.
			if in, err := os.Stat(mb.dir); err == nil {
				if o, err := os.Stat(opts.Output); err == nil && os.SameFile(in, o) {
					return 0, fmt.Errorf("%s: %s is the Maildir %s reads, whose messages would be replaced: write to another directory: %w", outLabel, opts.Output, inLabel, core.ErrUsage)
				}
			}
		}
		outLimit := min(opts.MemLimit, max(outputMemory/int64(ahead), 16<<10))
		if out, err = newMailboxWriter(opts.Output, outLabel, toMaildir, opts.Private, outLimit); err != nil {
			return 0, err
		}
	}

	// The reader hands out the messages in order; order holds them for
	// the writer, so that workers start at most ahead messages in front of
	// the one it waits for (ahead+2 exist at once: those, the writer's and
	// the one the reader holds). jobs holds as many,
	// so that the reader finds the next messages while every worker is
	// busy rather than waiting for one to be free: with one waiting each
	// time, a worker that finished a small message waited in turn for the
	// reader to be scheduled and find the next (encrypt --batch --sign of
	// 2,000 small messages took 0.88-0.89 of the time with it buffered).
	order := make(chan *job, ahead)
	jobs := make(chan *job, ahead)
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
			j := &job{msg: msg, done: make(chan struct{})}
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
				if stop.Load() { // the writer failed: the messages waiting are not worked on
					j.msg.close()
					close(j.done)
					continue
				}
				cost := processingCost(j.msg.size, opts.MemLimit)
				budget.take(cost)
				j.result, j.output = one(mb, j.msg, work, out, opts)
				budget.give(cost)
				close(j.done)
			}
		}()
	}

	count := 0
	var writeErr error
	progress := Progress{Total: len(mb.names), TotalBytes: mb.size}
	for j := range order {
		<-j.done
		if writeErr != nil {
			j.output.discard()
			continue
		}
		count++
		if out != nil && j.output != nil {
			if err := out.commit(j.msg.id, count, j.output); err != nil {
				writeErr = fmt.Errorf("writing %s: %w", j.msg.id, err)
				stop.Store(true)
				continue
			}
			j.result.Wrote = true
		}
		done(j.msg.id, j.result)
		if opts.Progress != nil {
			progress.Done = count
			if mb.dir != "" {
				progress.Bytes += j.msg.size
			} else {
				progress.Bytes = j.msg.loc.End
			}
			opts.Progress(progress)
		}
	}
	wg.Wait()
	if writeErr == nil {
		writeErr = readErr
	}
	if out != nil {
		if writeErr == nil {
			writeErr = out.close()
		}
		if writeErr != nil {
			out.abort()
		}
	}
	return count, writeErr
}

// one parses one message and hands it to work, with its output going to
// out.
func one(mb *mailbox, msg mailboxMessage, work Work, out *mailboxWriter, opts Options) (Result, *output) {
	m, err := mb.parse(msg, opts.Limits, opts.MemLimit)
	if err != nil {
		return Result{Err: err}, nil
	}
	defer m.Close()
	var made *output
	r := work(m, func(write func(io.Writer) error) error {
		if out == nil {
			return errors.New("batch: there is no output to write to")
		}
		var err error
		made, err = out.prepare(write)
		return err
	})
	if r.Err != nil {
		made.discard()
		made = nil
	}
	return r, made
}

// inFlight is how many messages may wait ahead of the writer: Ahead per
// worker, and fewer where the limit on open files would not hold them.
// A message waiting may hold two files, its input (a Maildir's file) and
// its output (a Maildir output waits in an unnamed file, a large one in a
// spool's); besides them a run keeps some for itself and each worker some
// for its message and the keystore (a review: eight workers under a limit
// of 40 open files failed a quarter of a batch with "too many open
// files", reported as missing keys).
func inFlight(workers int) int {
	n := workers * Ahead
	if limit, ok := openFileLimit(); ok {
		n = min(n, max((limit-filesReserved-filesPerWorker*workers)/2, 1))
	}
	return n
}

// filesReserved and filesPerWorker are the open files inFlight leaves to
// the run (standard streams, mailboxes, the keystore's locks and index,
// the Go runtime) and to each worker (its message, spools, the keys it
// reads).
const (
	filesReserved  = 32
	filesPerWorker = 4
)
