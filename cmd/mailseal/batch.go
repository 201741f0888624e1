package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"runtime/debug"

	"github.com/urfave/cli/v2"

	"github.com/mailseal/mailseal"
	"github.com/mailseal/mailseal/internal/batch"
	"github.com/mailseal/mailseal/mime"
)

// Batch mode: one process works through a whole mailbox (an mbox file or a
// Maildir) on every core, with the keys loaded once per worker
// (internal/batch). This file turns the flags into batch.Options and the
// results into JSON lines and an exit code.

var batchFlag = &cli.StringFlag{Name: "batch", Usage: "work through every message of the mbox file or Maildir `PATH`; -o names the mbox or Maildir to write"}

// runBatch processes every message of --batch with work, writes outputs in
// order, prints one JSON report line per message (for decrypt and encrypt:
// with --json, or when the message has no output or failed), and exits
// with the worst code.
func runBatch(s *session, newWorker func() (batch.Work, error), writesMessages bool) error {
	if os.Getenv("GOGC") == "" {
		defer debug.SetGCPercent(debug.SetGCPercent(batch.GCPercent))
	}
	if os.Getenv("GOMEMLIMIT") == "" {
		defer debug.SetMemoryLimit(debug.SetMemoryLimit(batch.MemoryLimit))
	}
	opts := batch.Options{Input: s.c.String("batch"), MemLimit: s.policy.MaxMemorySpool, Limits: s.limits,
		InputLabel: "--batch", OutputLabel: "-o"}
	if writesMessages {
		if opts.Output = s.c.String("output"); opts.Output == "" {
			return usageErr("--batch needs -o: the mbox file or Maildir to write")
		}
	}
	enc := json.NewEncoder(s.c.App.Writer)
	enc.SetEscapeHTML(false)
	worst := 0
	count, err := batch.Run(opts, newWorker, func(id string, r batch.Result) {
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
		}
		worst = max(worst, code)
	})
	if err != nil {
		return err
	}
	fmt.Fprintf(s.c.App.ErrWriter, "%d message(s)\n", count)
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
	return func(m *mime.Message, output func(func(io.Writer) error) error) batch.Result {
		if err := w.encryptMessage(m, output); err != nil {
			return batch.Result{Err: err}
		}
		return batch.Result{}
	}
}
