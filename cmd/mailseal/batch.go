package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"runtime/debug"
	"strings"
	"time"

	"github.com/urfave/cli/v2"
	"golang.org/x/term"

	"github.com/mailseal/mailseal"
	"github.com/mailseal/mailseal/internal/batch"
	"github.com/mailseal/mailseal/mime"
)

// Batch mode: one process works through a whole mailbox (an mbox file or a
// Maildir) on every core, with the keys loaded once per worker
// (internal/batch). This file turns the flags into batch.Options and the
// results into JSON lines and an exit code.

var (
	batchFlag = &cli.StringFlag{Name: "batch", Usage: "work through every message of the mbox file or Maildir `PATH`; " +
		"-o names the mbox or Maildir to write (verify: the file for the JSON lines)"}
	toFormatFlag = &cli.StringFlag{Name: "to-format", Usage: "with --batch: write -o as an `mbox` or a maildir (default: the input's format)"}
	quietFlag    = &cli.BoolFlag{Name: "quiet", Usage: "with --batch: no progress line and no summary on stderr"}
)

// authWorkers is how many messages a batch with --auth works on at once
// (when there are fewer cores), and how many DNS lookups may be in flight.
const authWorkers = 8

// runBatch processes every message of --batch with work, writes outputs in
// order, prints one JSON report line per message (for decrypt and encrypt:
// with --json, or when the message has no output or failed; verify writes
// them to -o if given), a progress line while it works when stderr is a
// terminal, and a summary ("300 ok, 1 failed"); it exits with the worst
// code.
func runBatch(s *session, newWorker func() (batch.Work, error), writesMessages bool) error {
	if os.Getenv("GOGC") == "" {
		defer debug.SetGCPercent(debug.SetGCPercent(batch.GCPercent))
	}
	if os.Getenv("GOMEMLIMIT") == "" {
		defer debug.SetMemoryLimit(debug.SetMemoryLimit(batch.MemoryLimit))
	}
	opts := batch.Options{Input: s.c.String("batch"), MemLimit: s.policy.MaxMemorySpool, Limits: s.limits,
		InputLabel: "--batch", OutputLabel: "-o", OutputFormat: strings.ToLower(s.c.String("to-format"))}
	switch opts.OutputFormat {
	case "", batch.FormatMbox, batch.FormatMaildir:
	default:
		return usageErr("--to-format %q: write mbox or maildir", s.c.String("to-format"))
	}
	if s.authOpts != nil {
		// With --auth a message mostly waits for DNS: more workers than
		// cores keep lookups of several messages in flight.
		opts.Workers = max(runtime.GOMAXPROCS(0), authWorkers)
	}
	if writesMessages {
		opts.Private = s.privateOutput()
		if opts.Output = s.c.String("output"); opts.Output == "" {
			return usageErr("--batch needs -o: the mbox file or Maildir to write")
		}
	} else if opts.OutputFormat != "" {
		return usageErr("--to-format is the format of the messages decrypt or encrypt --batch write; verify writes JSON lines")
	}
	s.warned = &warnedSet{} // the workers are copies of s: they share it
	quiet := s.c.Bool("quiet")
	var p *progressLine
	if f, ok := s.c.App.ErrWriter.(*os.File); ok && !quiet && term.IsTerminal(int(f.Fd())) {
		p = newProgressLine(f, time.Now)
		opts.Progress = p.update
	}
	if writesMessages {
		return s.batchReports(opts, newWorker, p, quiet, s.c.App.Writer)
	}
	// verify: the JSON lines are the output, to -o or stdout.
	var runErr error
	err := s.writeOutput(func(w io.Writer) error {
		runErr = s.batchReports(opts, newWorker, p, quiet, w)
		var ee exitError
		if errors.As(runErr, &ee) {
			return nil // a verdict, not a failure to write
		}
		return runErr
	})
	if runErr != nil {
		return runErr
	}
	return err
}

// batchReports runs the batch, with the JSON lines going to out; p, if
// not nil, is the progress line to clear at the end.
func (s *session) batchReports(opts batch.Options, newWorker func() (batch.Work, error), p *progressLine, quiet bool, out io.Writer) error {
	writesMessages := opts.Output != ""
	bw := bufio.NewWriter(out)
	enc := json.NewEncoder(bw)
	enc.SetEscapeHTML(false)
	worst, ok, failed := 0, 0, 0
	_, err := batch.Run(opts, newWorker, func(id string, r batch.Result) {
		code := 0
		if r.Reported {
			code = r.Code
		}
		if r.Err != nil {
			code = mailseal.ExitCode(r.Err)
			r.Report = mailseal.ErrorReport(r.Err)
			r.Report.Error = oneLine(r.Report.Error)
		}
		if s.c.Bool("json") || !writesMessages || r.Err != nil || (r.Reported && !r.Wrote) {
			enc.Encode(struct {
				Message string `json:"message"`
				mailseal.Report
			}{id, r.Report})
			if bw.Buffered() > 32<<10 {
				bw.Flush()
			}
		}
		if code == 0 {
			ok++
		} else {
			failed++
		}
		worst = max(worst, code)
	})
	p.clear()
	if ferr := bw.Flush(); err == nil && ferr != nil {
		err = fmt.Errorf("output: %w: %w", ferr, mailseal.ErrUsage)
	}
	if err != nil {
		return err
	}
	if !quiet {
		fmt.Fprintf(s.c.App.ErrWriter, "%d ok, %d failed\n", ok, failed)
	}
	if worst != 0 {
		return exitError{worst}
	}
	return nil
}

// openWorker is a decrypt or verify worker.
func (s *session) openWorker(decrypt bool) batch.Work {
	keys := s.openKeys()
	return func(m *mime.Message, output func(func(io.Writer) error) error) batch.Result {
		opened, err := s.open(m, keys, decrypt, output)
		if err != nil {
			return batch.Result{Err: err}
		}
		return batch.Result{Report: opened.Report, Code: opened.ExitCode(), Reported: true}
	}
}

// encryptWorker encrypts (and with --sign signs) each message as the
// encrypt command would. Each worker has a keystore session of its own
// (with the passphrases the command asked for once): an unlocked OpenPGP
// key is not safe to share between workers (pgp.Signer).
func (s *session) encryptWorker() batch.Work {
	w := *s
	signOpts, _ := s.smimeSignOptions() // read without error by newSession
	w.keys = s.newKeySession(signOpts)
	if order, err := s.protocolOrder(); err == nil {
		w.order = order // else each message says why
	}
	return func(m *mime.Message, output func(func(io.Writer) error) error) batch.Result {
		if err := w.encryptMessage(m, output); err != nil {
			return batch.Result{Err: err}
		}
		return batch.Result{}
	}
}

// progressLine shows on a terminal how far a batch is: messages done (of
// the Maildir's total, or of an estimate from the mbox's bytes), the rate
// and the time left, rewritten in place at most every 200 ms.
type progressLine struct {
	w     io.Writer
	now   func() time.Time
	start time.Time
	last  time.Time
	shown bool
}

func newProgressLine(w io.Writer, now func() time.Time) *progressLine {
	return &progressLine{w: w, now: now, start: now()}
}

func (p *progressLine) update(pr batch.Progress) {
	t := p.now()
	if t.Sub(p.last) < 200*time.Millisecond {
		return
	}
	p.last, p.shown = t, true
	fmt.Fprintf(p.w, "\r%s\x1b[K", progressText(pr, t.Sub(p.start)))
}

// clear removes the line, for the summary; a nil line is none.
func (p *progressLine) clear() {
	if p != nil && p.shown {
		fmt.Fprint(p.w, "\r\x1b[K")
	}
}

// progressText is the progress line's text after elapsed.
func progressText(pr batch.Progress, elapsed time.Duration) string {
	secs := elapsed.Seconds()
	if secs <= 0 {
		secs = 1e-3
	}
	rate := float64(pr.Done) / secs
	total, left := "", -1.0
	switch {
	case pr.Total > 0:
		total = fmt.Sprintf("/%d", pr.Total)
		if rate > 0 {
			left = float64(pr.Total-pr.Done) / rate
		}
	case pr.TotalBytes > 0 && pr.Bytes > 0:
		total = fmt.Sprintf("/~%d", int64(float64(pr.Done)*float64(pr.TotalBytes)/float64(pr.Bytes)+0.5))
		left = float64(pr.TotalBytes-pr.Bytes) / (float64(pr.Bytes) / secs)
	}
	eta := "?"
	if left >= 0 {
		d := time.Duration(left * float64(time.Second)).Round(time.Second)
		eta = fmt.Sprintf("%d:%02d", int(d.Minutes()), int(d.Seconds())%60)
	}
	return fmt.Sprintf("%d%s messages, %.0f/s, ETA %s", pr.Done, total, rate, eta)
}
