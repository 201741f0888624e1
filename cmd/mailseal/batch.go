package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/mailseal/mailseal"
	"github.com/mailseal/mailseal/internal/flow"
	"github.com/mailseal/mailseal/mime"
)

// Batch mode: one process works through a whole mailbox (an mbox file or a
// Maildir) on every core, with the keys loaded once per worker.

var batchFlag = &cli.StringFlag{Name: "batch", Usage: "work through every message of the mbox file or Maildir `PATH`; -o names the mbox or Maildir to write"}

// mailboxMessage is one message of a mailbox.
type mailboxMessage struct {
	id  string // Maildir file name, or "#N" in an mbox
	raw []byte
}

// readMailbox reads an mbox file or a Maildir (cur/ and new/).
func readMailbox(path string) ([]mailboxMessage, bool, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, false, fmt.Errorf("--batch: %w: %w", err, mailseal.ErrInput)
	}
	if st.IsDir() {
		var msgs []mailboxMessage
		for _, sub := range []string{"cur", "new"} {
			entries, _ := os.ReadDir(filepath.Join(path, sub))
			for _, e := range entries {
				if e.IsDir() || strings.HasPrefix(e.Name(), ".") {
					continue
				}
				data, err := os.ReadFile(filepath.Join(path, sub, e.Name()))
				if err != nil {
					return nil, true, fmt.Errorf("--batch: %w: %w", err, mailseal.ErrInput)
				}
				msgs = append(msgs, mailboxMessage{id: sub + "/" + e.Name(), raw: data})
			}
		}
		sort.Slice(msgs, func(i, j int) bool { return msgs[i].id < msgs[j].id })
		return msgs, true, nil
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, false, fmt.Errorf("--batch: %w: %w", err, mailseal.ErrInput)
	}
	defer f.Close()
	msgs, err := readMbox(f)
	return msgs, false, err
}

var mboxFromQuoted = regexp.MustCompile(`^>+From `)

// readMbox splits an mbox (mboxrd: ">From " lines are unquoted once).
func readMbox(r io.Reader) ([]mailboxMessage, error) {
	br := bufio.NewReaderSize(r, 1<<20)
	var msgs []mailboxMessage
	var cur *bytes.Buffer
	prevBlank := true
	for {
		line, err := br.ReadBytes('\n')
		if len(line) > 0 {
			switch {
			case prevBlank && bytes.HasPrefix(line, []byte("From ")):
				if cur != nil {
					msgs = append(msgs, mailboxMessage{id: fmt.Sprintf("#%d", len(msgs)+1), raw: trimMboxEnd(cur.Bytes())})
				}
				cur = &bytes.Buffer{}
			case cur == nil:
				return nil, fmt.Errorf("--batch: not an mbox file (it does not start with a \"From \" line): %w", mailseal.ErrInput)
			default:
				if mboxFromQuoted.Match(line) {
					line = line[1:]
				}
				cur.Write(line)
			}
			prevBlank = len(bytes.TrimRight(line, "\r\n")) == 0
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("--batch: %w: %w", err, mailseal.ErrInput)
		}
	}
	if cur != nil {
		msgs = append(msgs, mailboxMessage{id: fmt.Sprintf("#%d", len(msgs)+1), raw: trimMboxEnd(cur.Bytes())})
	}
	return msgs, nil
}

// trimMboxEnd drops the blank line that separates mbox messages.
func trimMboxEnd(b []byte) []byte {
	if bytes.HasSuffix(b, []byte("\r\n\r\n")) {
		return b[:len(b)-2]
	}
	if bytes.HasSuffix(b, []byte("\n\n")) {
		return b[:len(b)-1]
	}
	return b
}

// mailboxWriter writes results in input order: an mbox file or a Maildir.
type mailboxWriter struct {
	maildir string
	mbox    *bufio.Writer
	file    *os.File
}

func newMailboxWriter(path string, maildir bool) (*mailboxWriter, error) {
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
	return &mailboxWriter{file: f, mbox: bufio.NewWriterSize(f, 1<<20)}, nil
}

func (w *mailboxWriter) write(id string, msg []byte) error {
	if w.maildir != "" {
		name := strings.ReplaceAll(filepath.Base(id), ":", "_")
		tmp := filepath.Join(w.maildir, "tmp", name)
		if err := os.WriteFile(tmp, msg, 0o600); err != nil {
			return err
		}
		return os.Rename(tmp, filepath.Join(w.maildir, "cur", name))
	}
	fmt.Fprintf(w.mbox, "From MAILER-DAEMON %s\n", time.Now().UTC().Format(time.ANSIC))
	for _, line := range bytes.SplitAfter(bytes.ReplaceAll(msg, []byte("\r\n"), []byte("\n")), []byte("\n")) {
		if mboxFromQuoted.Match(line) || bytes.HasPrefix(line, []byte("From ")) {
			w.mbox.WriteByte('>')
		}
		w.mbox.Write(line)
	}
	if !bytes.HasSuffix(msg, []byte("\n")) {
		w.mbox.WriteByte('\n')
	}
	_, err := w.mbox.WriteString("\n")
	return err
}

func (w *mailboxWriter) close() error {
	if w.file == nil {
		return nil
	}
	if err := w.mbox.Flush(); err != nil {
		return err
	}
	return w.file.Close()
}

// batchResult is what one message produced.
type batchResult struct {
	output   []byte
	report   mailseal.Report
	reported bool // decrypt and verify judge each message; encrypt does not
	err      error
}

// runBatch processes every message of --batch with work (one worker per
// core, each with its own state from newWorker), writes outputs in order,
// prints one JSON report line per message, and exits with the worst code.
func runBatch(s *session, newWorker func() (func(raw []byte) batchResult, error), writesMessages bool) error {
	msgs, maildir, err := readMailbox(s.c.String("batch"))
	if err != nil {
		return err
	}
	var out *mailboxWriter
	if writesMessages {
		if out, err = newMailboxWriter(s.c.String("output"), maildir); err != nil {
			return err
		}
	}
	results := make([]batchResult, len(msgs))
	done := make([]chan struct{}, len(msgs))
	for i := range done {
		done[i] = make(chan struct{})
	}
	jobs := make(chan int)
	workers := runtime.GOMAXPROCS(0)
	var wg sync.WaitGroup
	var startErr error
	var startOnce sync.Once
	for w := 0; w < workers; w++ {
		work, err := newWorker()
		if err != nil {
			startOnce.Do(func() { startErr = err })
			break
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range jobs {
				results[i] = work(msgs[i].raw)
				close(done[i])
			}
		}()
	}
	if startErr != nil {
		close(jobs)
		wg.Wait()
		return startErr
	}
	go func() {
		for i := range msgs {
			jobs <- i
		}
		close(jobs)
	}()
	enc := json.NewEncoder(s.c.App.Writer)
	enc.SetEscapeHTML(false)
	worst := 0
	for i := range msgs {
		<-done[i]
		r := results[i]
		code := 0
		if r.reported {
			code = r.report.ExitCode()
		}
		if r.err != nil {
			code = mailseal.ExitCode(r.err)
			r.report = mailseal.Report{Status: mailseal.StatusError, Signers: []mailseal.Signer{}, Error: oneLine(r.err.Error())}
		}
		if writesMessages && r.output != nil {
			if err := out.write(msgs[i].id, r.output); err != nil {
				return fmt.Errorf("writing %s: %w", msgs[i].id, err)
			}
			if code == mailseal.ExitVerification && r.report.Status == mailseal.StatusUnsigned && r.report.Encrypted {
				code = 0 // decrypted and not signed: fine for decrypt
			}
		}
		if s.c.Bool("json") || !writesMessages || r.err != nil || (r.reported && r.output == nil) {
			enc.Encode(struct {
				Message string `json:"message"`
				mailseal.Report
			}{msgs[i].id, r.report})
		}
		worst = max(worst, code)
	}
	wg.Wait()
	if out != nil {
		if err := out.close(); err != nil {
			return err
		}
	}
	fmt.Fprintf(s.c.App.ErrWriter, "%d message(s)\n", len(msgs))
	if worst != 0 {
		return exitError{worst}
	}
	return nil
}

// openWorker is a decrypt or verify worker with its own engines and keys.
func (s *session) openWorker(decrypt bool) (func(raw []byte) batchResult, error) {
	op, err := s.openpgpWithKeys()
	if err != nil {
		return nil, err
	}
	sm, err := s.smimeFlow()
	if err != nil {
		return nil, err
	}
	return func(raw []byte) batchResult {
		m, err := mime.Parse(bytes.NewReader(raw), mime.DefaultLimits(), s.policy.MaxMemorySpool)
		if err != nil {
			return batchResult{err: err}
		}
		defer m.Close()
		res, err := flow.Open(m, []flow.Engine{op, sm}, flow.Options{Decrypt: decrypt, Limits: mime.DefaultLimits(), MemLimit: s.policy.MaxMemorySpool,
			AllowUnauthenticated: s.c.Bool("allow-unauthenticated")})
		if err != nil {
			return batchResult{err: err}
		}
		defer res.Close()
		r := batchResult{report: res.Report, reported: true}
		if decrypt && res.Inner != nil {
			var buf bytes.Buffer
			if err := mime.WriteMessage(&buf, res.Outer, res.Inner); err != nil {
				return batchResult{err: err}
			}
			r.output = buf.Bytes()
		}
		return r
	}, nil
}

// encryptWorker encrypts (and with --sign signs) each message as the
// encrypt command would; unlocked signing keys are shared through the session.
func (s *session) encryptWorker() func(raw []byte) batchResult {
	return func(raw []byte) batchResult {
		m, err := mime.Parse(bytes.NewReader(raw), mime.DefaultLimits(), s.policy.MaxMemorySpool)
		if err != nil {
			return batchResult{err: err}
		}
		defer m.Close()
		var buf bytes.Buffer
		err = s.encryptMessage(m, func(write func(io.Writer) error) error { return write(&buf) })
		if err != nil {
			return batchResult{err: err}
		}
		return batchResult{output: buf.Bytes()}
	}
}
