package batch_test

// Run with real work: messages signed and encrypted with the public API
// (the root package mailseal), opened by mailseal.Open as decrypt --batch
// opens them. TestRunOpenMatchesSequential holds Run to a plain loop over
// the mailbox; BenchmarkRunOpen says what the workers buy on such a
// mailbox.

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"runtime/debug"
	"strings"
	"testing"
	"time"

	openpgp "github.com/ProtonMail/go-crypto/openpgp/v2"

	"github.com/mailseal/mailseal"
	"github.com/mailseal/mailseal/internal/batch"
	"github.com/mailseal/mailseal/internal/mbox"
	"github.com/mailseal/mailseal/mime"
	"github.com/mailseal/mailseal/pgp"
)

// world is a sender (alice) and a recipient (bob) with OpenPGP keys.
type world struct {
	alice, bob *openpgp.Entity
}

func newWorld(t testing.TB) world {
	t.Helper()
	var w world
	for _, k := range []struct {
		e   **openpgp.Entity
		uid string
	}{{&w.alice, "Alice <alice@example.org>"}, {&w.bob, "Bob <bob@example.org>"}} {
		e, err := pgp.NewKey(pgp.KeyOptions{UserIDs: []string{k.uid}})
		if err != nil {
			t.Fatal(err)
		}
		*k.e = e
	}
	return w
}

// keys are bob's: his secret key and alice's certificate.
func (w world) keys() mailseal.Keys {
	return mailseal.Keys{OpenPGP: pgp.Keyring{Certs: openpgp.EntityList{w.alice}, Secrets: openpgp.EntityList{w.bob}}}
}

// mailMessage is the n-th message of bob's mailbox, as an inbox holds
// them: signed and encrypted; the same with a 96 KiB attachment; signed
// only (decrypt refuses it: an error of its own); encrypted only
// (unsigned); and every seventh encrypted one altered in transit.
func (w world) mailMessage(t testing.TB, n int) []byte {
	t.Helper()
	text := fmt.Sprintf("From: Alice <alice@example.org>\r\nTo: Bob <bob@example.org>\r\nSubject: message %d\r\n"+
		"Content-Type: text/plain; charset=utf-8\r\n\r\n%s", n, strings.Repeat(fmt.Sprintf("Line of message %d.\r\n", n), 40))
	if n%4 == 1 {
		att := make([]byte, 96<<10)
		for i := range att {
			att[i] = byte(i * n)
		}
		b64 := base64.StdEncoding.EncodeToString(att)
		var lines strings.Builder
		for len(b64) > 76 {
			lines.WriteString(b64[:76] + "\r\n")
			b64 = b64[76:]
		}
		lines.WriteString(b64 + "\r\n")
		text = fmt.Sprintf("From: Alice <alice@example.org>\r\nTo: Bob <bob@example.org>\r\nSubject: message %d\r\n"+
			"MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nSee the file.\r\n"+
			"--b\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\r\n%s--b--\r\n", n, lines.String())
	}
	m, err := mime.Parse(strings.NewReader(text), mime.DefaultLimits(), 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	var out bytes.Buffer
	signer := pgp.Signer{Entity: w.alice}
	to := []mailseal.Recipient{pgp.Recipient{Entity: w.bob}}
	switch n % 4 {
	case 0, 1:
		err = mailseal.Encrypt(&out, m, to, mailseal.SignWith(signer))
	case 2:
		err = mailseal.Sign(&out, m, signer)
	case 3:
		err = mailseal.Encrypt(&out, m, to)
	}
	if err != nil {
		t.Fatal(err)
	}
	msg := out.Bytes()
	if n%7 == 3 && n%4 != 2 {
		// Change a letter of the ciphertext, a few lines into the armor.
		i := bytes.Index(msg, []byte("-----BEGIN PGP MESSAGE-----"))
		if i < 0 {
			t.Fatalf("message %d: no armored ciphertext", n)
		}
		for i += 200; !isLetter(msg[i]); i++ {
		}
		msg[i] ^= 0x20 // its other case
	}
	return msg
}

func isLetter(c byte) bool { return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' }

// newMailbox makes a world and an mbox of n of bob's messages in a new
// directory.
func newMailbox(t testing.TB, n int) (world, string) {
	t.Helper()
	w := newWorld(t)
	path := filepath.Join(t.TempDir(), "in.mbox")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	mw := mbox.NewWriter(f)
	for i := 0; i < n; i++ {
		if err := mw.WriteMessage(bytes.NewReader(w.mailMessage(t, i)), time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)); err != nil {
			t.Fatal(err)
		}
	}
	if err := mw.Flush(); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	return w, path
}

// errNothingReleased stops an output when the message was not decrypted.
var errNothingReleased = errors.New("nothing released")

// openWork opens a message as decrypt does: the report, and the decrypted
// message through output when there is one.
func openWork(keys mailseal.Keys) batch.Work {
	return func(m *mime.Message, output func(func(io.Writer) error) error) batch.Result {
		var opened *mailseal.Opened
		var openErr error
		err := output(func(w io.Writer) error {
			opened, openErr = mailseal.Open(m, keys, mailseal.OpenOptions{Decrypt: true, Output: w})
			if openErr != nil {
				return openErr
			}
			if !opened.Decrypted {
				return errNothingReleased
			}
			return nil
		})
		switch {
		case openErr != nil:
			return batch.Result{Err: openErr}
		case err != nil && err != errNothingReleased:
			return batch.Result{Err: err}
		}
		return batch.Result{Report: opened.Report, Code: opened.ExitCode(), Reported: true}
	}
}

// outcome is what a message came to: its report (times left out: the
// signature times are the same, the check times are not) and its output.
type outcome struct {
	Status, Protocol, Error string
	Encrypted               bool
	Signers                 []string
	Code                    int
	Output                  string
}

func outcomeOf(r batch.Result, output []byte) outcome {
	o := outcome{Status: string(r.Report.Status), Protocol: r.Report.Protocol, Error: r.Report.Error,
		Encrypted: r.Report.Encrypted, Code: r.Code, Output: string(output)}
	if r.Err != nil {
		o.Error = "error: " + r.Err.Error()
	}
	for _, s := range r.Report.Signers {
		o.Signers = append(o.Signers, s.Fingerprint+" "+string(s.Status))
	}
	return o
}

// eachMessage calls fn with each message of the mbox at path, in order.
func eachMessage(t *testing.T, path string, fn func(r io.Reader)) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := mbox.NewScanner(f)
	for {
		loc, err := sc.Next()
		if err == io.EOF {
			return
		}
		if err != nil {
			t.Fatal(err)
		}
		fn(loc.Reader(f))
	}
}

// sequential opens every message of the mbox at path one after the other,
// with no workers and no spools: what Run must give.
func sequential(t *testing.T, path string, work batch.Work) []outcome {
	t.Helper()
	var got []outcome
	eachMessage(t, path, func(r io.Reader) {
		m, err := mime.Parse(r, mime.DefaultLimits(), 1<<20)
		if err != nil {
			t.Fatal(err)
		}
		defer m.Close()
		var out bytes.Buffer
		res := work(m, func(write func(io.Writer) error) error {
			out.Reset()
			if err := write(&out); err != nil {
				out.Reset()
				return err
			}
			return nil
		})
		if res.Err != nil {
			out.Reset()
		}
		got = append(got, outcomeOf(res, bytes.ReplaceAll(out.Bytes(), []byte("\r\n"), []byte("\n"))))
	})
	return got
}

// readOutputs reads the messages of an mbox Run wrote.
func readOutputs(t *testing.T, path string) [][]byte {
	t.Helper()
	var msgs [][]byte
	eachMessage(t, path, func(r io.Reader) {
		data, err := io.ReadAll(r)
		if err != nil {
			t.Fatal(err)
		}
		msgs = append(msgs, data)
	})
	return msgs
}

// Run with a worker per message in flight gives what a plain loop over the
// mailbox gives: the same reports, in the mailbox's order, and the same
// decrypted messages in the output mbox, in that order too.
func TestRunOpenMatchesSequential(t *testing.T) {
	const n = 28
	w, in := newMailbox(t, n)
	dir := filepath.Dir(in)
	want := sequential(t, in, openWork(w.keys()))
	if len(want) != n {
		t.Fatalf("the plain loop read %d messages of %d", len(want), n)
	}
	statuses := map[string]int{}
	for _, o := range want {
		if o.Status == "" {
			o.Status = "error"
		}
		statuses[o.Status]++
	}
	if statuses["good"] == 0 || statuses["unsigned"] == 0 || statuses["error"] < n/4+1 {
		for i, o := range want {
			t.Logf("%d: %+v", i, o.withoutOutput())
		}
		t.Fatalf("the mailbox does not hold good, unsigned and failing messages: %v", statuses)
	}

	for _, workers := range []int{1, 4, 8} {
		out := filepath.Join(dir, fmt.Sprintf("out%d.mbox", workers))
		var got []outcome
		var wrote []int
		count, err := batch.Run(batch.Options{Input: in, Output: out, Workers: workers, MemLimit: 1 << 20},
			func() (batch.Work, error) { return openWork(w.keys()), nil },
			func(id string, r batch.Result) {
				if id != fmt.Sprintf("#%d", len(got)+1) {
					t.Errorf("%d workers: message %d reported as %s", workers, len(got)+1, id)
				}
				if r.Wrote {
					wrote = append(wrote, len(got))
				}
				got = append(got, outcomeOf(r, nil))
			})
		if err != nil || count != n {
			t.Fatalf("%d workers: %d messages, %v", workers, count, err)
		}
		outputs := readOutputs(t, out)
		if len(outputs) != len(wrote) {
			t.Fatalf("%d workers: %d outputs in the mbox, %d said written", workers, len(outputs), len(wrote))
		}
		for k, i := range wrote {
			got[i].Output = string(outputs[k])
		}
		for i := range want {
			if !reflect.DeepEqual(got[i], want[i]) {
				t.Fatalf("%d workers, message %d:\n got  %+v\n want %+v", workers, i+1, got[i].withoutOutput(), want[i].withoutOutput())
			}
		}
	}
}

// withoutOutput is o for printing: the output's size, not its text.
func (o outcome) withoutOutput() outcome {
	o.Output = fmt.Sprintf("(%d bytes)", len(o.Output))
	return o
}

// BenchmarkRunOpen is decrypt --batch -o on a mailbox of 200 of bob's
// messages (mailMessage: a quarter each signed and encrypted, the same
// with a 96 KiB attachment, signed only, encrypted only), with one worker
// and with one per core, the garbage collector set as mailseal sets it.
func BenchmarkRunOpen(b *testing.B) {
	const n = 200
	w, in := newMailbox(b, n)
	dir := filepath.Dir(in)
	// The garbage collector as mailseal sets it for a batch.
	defer debug.SetGCPercent(debug.SetGCPercent(batch.GCPercent))
	defer debug.SetMemoryLimit(debug.SetMemoryLimit(batch.MemoryLimit))
	for _, workers := range []int{1, runtime.GOMAXPROCS(0)} {
		b.Run(fmt.Sprintf("workers=%d", workers), func(b *testing.B) {
			out := filepath.Join(dir, "out.mbox")
			for b.Loop() {
				os.Remove(out)
				count, err := batch.Run(batch.Options{Input: in, Output: out, Workers: workers, MemLimit: 1 << 20},
					func() (batch.Work, error) { return openWork(w.keys()), nil }, func(string, batch.Result) {})
				if err != nil || count != n {
					b.Fatalf("%d messages, %v", count, err)
				}
			}
			b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "msgs/s")
		})
	}
}
