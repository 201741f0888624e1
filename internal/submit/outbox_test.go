package submit

import (
	"bufio"
	"bytes"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mailseal/mailseal/internal/smtptest"
)

// The test binary doubles as a second process that flushes the outbox
// (SUBMIT_TEST_HELPER=flush) or hangs in the middle of a delivery (hold).
func TestMain(m *testing.M) {
	switch os.Getenv("SUBMIT_TEST_HELPER") {
	case "flush":
		helperFlush()
	case "hold":
		helperHold()
	case "hold-committed":
		Outbox{Dir: os.Getenv("SUBMIT_TEST_OUTBOX")}.Flush(committedTransport{})
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// helperResult is what a helper flush reports on stdout.
type helperResult struct {
	Sent, Busy int
	Err        string
}

// helperFlush waits for a line on stdin (so that all helpers start
// together), flushes SUBMIT_TEST_OUTBOX to SUBMIT_TEST_SMTP and prints a
// helperResult.
func helperFlush() {
	fmt.Println("ready")
	bufio.NewReader(os.Stdin).ReadString('\n')
	pem, _ := os.ReadFile(os.Getenv("SUBMIT_TEST_CA"))
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pem)
	res, err := Outbox{Dir: os.Getenv("SUBMIT_TEST_OUTBOX")}.Flush(SMTP{Addr: os.Getenv("SUBMIT_TEST_SMTP"), RootCAs: pool})
	out := helperResult{Sent: res.Sent, Busy: res.Busy}
	if err != nil {
		out.Err = err.Error()
	}
	json.NewEncoder(os.Stdout).Encode(out)
	os.Exit(0)
}

// stuckTransport reads part of the message, says so on stdout and never
// returns: a deliverer to kill in the middle of a delivery.
type stuckTransport struct{}

func (stuckTransport) Send(env Envelope, msg io.Reader, commit func() error) error {
	io.ReadFull(msg, make([]byte, 8))
	fmt.Println("sending")
	select {}
}

// committedTransport reads the whole message, marks it in flight (the end
// of the data is about to go), says so on stdout and never returns: a
// deliverer to kill between the end of the data and the server's answer.
type committedTransport struct{}

func (committedTransport) Send(env Envelope, msg io.Reader, commit func() error) error {
	io.ReadAll(msg)
	if err := commit(); err != nil {
		fmt.Println(err)
		os.Exit(1)
	}
	fmt.Println("committed")
	select {}
}

func helperHold() {
	Outbox{Dir: os.Getenv("SUBMIT_TEST_OUTBOX")}.Flush(stuckTransport{})
	os.Exit(0)
}

func helper(t *testing.T, mode, dir string, srv *smtptest.Server) (*exec.Cmd, io.WriteCloser, *bufio.Reader) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "SUBMIT_TEST_HELPER="+mode, "SUBMIT_TEST_OUTBOX="+dir)
	if srv != nil {
		cmd.Env = append(cmd.Env, "SUBMIT_TEST_SMTP="+srv.Addr, "SUBMIT_TEST_CA="+srv.CAFile)
	}
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	return cmd, stdin, bufio.NewReader(stdout)
}

// queue puts n distinct messages in the outbox, unclaimed.
func queue(t *testing.T, box Outbox, n int) {
	t.Helper()
	for i := range n {
		c, err := box.Put(env, fmt.Appendf(nil, "Subject: %d\r\n\r\nmessage %d\r\n", i, i))
		if err != nil {
			t.Fatal(err)
		}
		c.Release()
	}
}

// flushAtOnce starts n helper processes that flush box to srv, lets them
// go together, and returns what each reports.
func flushAtOnce(t *testing.T, box Outbox, srv *smtptest.Server, n int) []helperResult {
	t.Helper()
	var stdins []io.WriteCloser
	var stdouts []*bufio.Reader
	for range n {
		_, in, out := helper(t, "flush", box.Dir, srv)
		if line, _ := out.ReadString('\n'); line != "ready\n" {
			t.Fatalf("helper: %q", line)
		}
		stdins, stdouts = append(stdins, in), append(stdouts, out)
	}
	for _, in := range stdins {
		in.Write([]byte("go\n"))
	}
	results := make([]helperResult, n)
	for i, out := range stdouts {
		if err := json.NewDecoder(out).Decode(&results[i]); err != nil {
			t.Fatalf("flusher %d: %v", i, err)
		}
	}
	return results
}

// Concurrent flushes in separate processes against one server deliver
// each message exactly once, and a flush that finds a message taken says
// nothing false about it.
func TestOutboxConcurrentFlushes(t *testing.T) {
	const messages, flushers = 24, 6
	srv := smtptest.Start(t, smtptest.Options{})
	box := Outbox{Dir: filepath.Join(t.TempDir(), "outbox")}
	queue(t, box, messages)
	sent, busy := 0, 0
	for i, res := range flushAtOnce(t, box, srv, flushers) {
		if res.Err != "" {
			t.Errorf("flusher %d: %s", i, res.Err)
		}
		sent += res.Sent
		busy += res.Busy
	}
	got := map[string]int{}
	for _, m := range srv.Messages(t) {
		got[string(m.Data)]++
	}
	for i := range messages {
		if n := got[fmt.Sprintf("Subject: %d\r\n\r\nmessage %d\r\n", i, i)]; n != 1 {
			t.Errorf("message %d delivered %d times", i, n)
		}
	}
	if sent != messages {
		t.Errorf("the flushes report %d sent, want %d", sent, messages)
	}
	if items, err := box.List(); len(items) != 0 || err != nil {
		t.Errorf("left in the outbox: %+v %v", items, err)
	}
	t.Logf("%d flushers: %d sent, %d found busy", flushers, sent, busy)
}

// A deliverer killed (SIGKILL) in the middle of a delivery leaves its
// entry to the next flush: while it runs, the entry is busy; once it is
// dead, the entry is delivered, once.
func TestOutboxKilledDelivererIsRecovered(t *testing.T) {
	srv := smtptest.Start(t, smtptest.Options{})
	s := SMTP{Addr: srv.Addr, RootCAs: srv.RootCAs}
	box := Outbox{Dir: filepath.Join(t.TempDir(), "outbox")}
	queue(t, box, 1)
	cmd, _, out := helper(t, "hold", box.Dir, nil)
	if line, _ := out.ReadString('\n'); line != "sending\n" {
		t.Fatalf("helper: %q", line)
	}
	res, err := box.Flush(s)
	if res != (FlushResult{Busy: 1}) || err != nil || len(srv.Messages(t)) != 0 {
		t.Fatalf("while another process delivers: %+v %v, %d delivered", res, err, len(srv.Messages(t)))
	}
	cmd.Process.Kill()
	cmd.Wait()
	res, err = box.Flush(s)
	if res != (FlushResult{Sent: 1}) || err != nil {
		t.Fatalf("after the deliverer was killed: %+v %v", res, err)
	}
	if msgs := srv.Messages(t); len(msgs) != 1 || string(msgs[0].Data) != "Subject: 0\r\n\r\nmessage 0\r\n" {
		t.Fatalf("delivered %d", len(msgs))
	}
}

// Put returns the entry claimed: a flush running before the sender
// delivers it leaves it alone, and the sender's delivery is the only one.
func TestOutboxPutIsClaimed(t *testing.T) {
	srv := smtptest.Start(t, smtptest.Options{})
	s := SMTP{Addr: srv.Addr, RootCAs: srv.RootCAs}
	box := Outbox{Dir: filepath.Join(t.TempDir(), "outbox")}
	c, err := box.Put(env, testMsg)
	if err != nil {
		t.Fatal(err)
	}
	if res, err := box.Flush(s); res != (FlushResult{Busy: 1}) || err != nil {
		t.Fatalf("flush during the sender's claim: %+v %v", res, err)
	}
	if _, err := box.Claim(c.ID); !errors.Is(err, ErrBusy) || !strings.Contains(err.Error(), "already being delivered by another process") {
		t.Fatalf("second claim: %v", err)
	}
	if err := c.Deliver(s); err != nil {
		t.Fatal(err)
	}
	if _, err := box.Claim(c.ID); !errors.Is(err, ErrGone) {
		t.Fatalf("claim after delivery: %v", err)
	}
	if res, err := box.Flush(s); res != (FlushResult{}) || err != nil {
		t.Fatalf("flush after delivery: %+v %v", res, err)
	}
	if n := len(srv.Messages(t)); n != 1 {
		t.Fatalf("delivered %d times", n)
	}
}

// PutAll stores every message or none: a message that cannot be made
// removes the entries stored before it; without an error all are stored,
// claimed, in order.
func TestOutboxPutAll(t *testing.T) {
	box := Outbox{Dir: filepath.Join(t.TempDir(), "outbox")}
	boom := errors.New("cannot make copy 3")
	_, err := box.PutAll(4, func(i int) (Envelope, []byte, error) {
		if i == 2 {
			return Envelope{}, nil, boom
		}
		return env, testMsg, nil
	})
	if err != boom {
		t.Fatalf("PutAll: %v, want the error of the third copy", err)
	}
	if items, err := box.List(); len(items) != 0 || err != nil {
		t.Fatalf("after a failed PutAll the outbox holds %d entries (%v)", len(items), err)
	}
	claims, err := box.PutAll(3, func(i int) (Envelope, []byte, error) {
		e := env
		e.To = []string{fmt.Sprintf("r%d@example.org", i)}
		return e, testMsg, nil
	})
	if err != nil || len(claims) != 3 {
		t.Fatalf("PutAll: %d claims, %v", len(claims), err)
	}
	for i, c := range claims {
		if c.Envelope.To[0] != fmt.Sprintf("r%d@example.org", i) {
			t.Fatalf("claim %d is for %v", i, c.Envelope.To)
		}
		if _, err := box.Claim(c.ID); !errors.Is(err, ErrBusy) {
			t.Fatalf("claim %d is not held: %v", i, err)
		}
		c.Release()
	}
	items, err := box.List()
	if len(items) != 3 || err != nil {
		t.Fatalf("the outbox holds %d entries (%v), want 3", len(items), err)
	}
	// Oldest first, also within the second that names them all.
	for i, it := range items {
		if it.ID != claims[i].ID {
			t.Fatalf("List gives entry %d as %s, queued as %s", i, it.ID, claims[i].ID)
		}
	}
}

// recorder is a Transport that keeps what it is given.
type recorder struct {
	mu   sync.Mutex
	sent []recorded
	err  error
}

type recorded struct {
	env Envelope
	msg []byte
}

func (r *recorder) Send(env Envelope, msg io.Reader, commit func() error) error {
	data, err := io.ReadAll(msg)
	if err != nil {
		return err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.err != nil {
		return r.err
	}
	if commit != nil {
		if err := commit(); err != nil {
			return err
		}
	}
	r.sent = append(r.sent, recorded{env, data})
	return nil
}

// writeEntry writes an entry's files as they are, bypassing Put.
func writeEntry(t testing.TB, dir, id string, meta, eml []byte) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if meta != nil {
		if err := os.WriteFile(filepath.Join(dir, id+".json"), meta, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if eml != nil {
		if err := os.WriteFile(filepath.Join(dir, id+".eml"), eml, 0o600); err != nil {
			t.Fatal(err)
		}
	}
}

const goodMeta = `{"envelope":{"from":"a@example.org","to":["b@example.org"]},"queued":"2026-01-02T03:04:05Z"}`

// A damaged entry is not delivered, is named in a clear error (a
// permanent failure), stays where it is, and does not keep the other
// entries from being delivered.
func TestOutboxDamagedEntries(t *testing.T) {
	huge := append([]byte(`{"envelope":{"from":"a@example.org","to":["b@example.org"]},"last_error":"`), bytes.Repeat([]byte("x"), maxMetaSize)...)
	huge = append(huge, `"}`...)
	many := `{"envelope":{"from":"a@example.org","to":[` + strings.Repeat(`"b@example.org",`, maxRecipients) + `"c@example.org"]}}`
	for _, c := range []struct {
		name      string
		meta, eml string
		want      string
	}{
		{"not JSON", "garbage", "m", "invalid character"},
		{"truncated", goodMeta[:40], "m", "unexpected end of JSON input"},
		{"trailing data", goodMeta + "{}", "m", "invalid character"},
		{"wrong type", `{"envelope":{"from":"a@example.org","to":"b@example.org"}}`, "m", "cannot unmarshal"},
		{"no recipient", `{"envelope":{"from":"a@example.org","to":[]}}`, "m", "no recipient"},
		{"empty recipient", `{"envelope":{"from":"a@example.org","to":[""]}}`, "m", "empty envelope recipient"},
		{"CRLF in a recipient", `{"envelope":{"from":"a@example.org","to":["b@example.org>\r\nRCPT TO:<c@example.org"]}}`, "m", "holds"},
		{"bracket in the sender", `{"envelope":{"from":"a@example.org> SIZE=1","to":["b@example.org"]}}`, "m", "holds"},
		{"long address", `{"envelope":{"from":"a@example.org","to":["` + strings.Repeat("b", 300) + `@example.org"]}}`, "m", "longer than 256"},
		{"too many recipients", many, "m", "more than 10000"},
		{"too large", string(huge), "m", "larger than"},
		{"no message file", goodMeta, "", "is missing"},
		{"empty message file", goodMeta, "\x00empty", "is empty"},
	} {
		t.Run(c.name, func(t *testing.T) {
			box := Outbox{Dir: filepath.Join(t.TempDir(), "outbox")}
			var eml []byte
			switch c.eml {
			case "":
			case "\x00empty":
				eml = []byte{}
			default:
				eml = []byte(c.eml)
			}
			writeEntry(t, box.Dir, "20260102T030405-bad", []byte(c.meta), eml)
			writeEntry(t, box.Dir, "20260102T030406-good", []byte(goodMeta), []byte("good message"))
			var r recorder
			res, err := box.Flush(&r)
			var se *Error
			if !errors.As(err, &se) || se.Temporary || !se.ByHand || res.Sent != 1 {
				t.Fatalf("%+v %v (ByHand %v: sending again cures no damaged entry)", res, err, se != nil && se.ByHand)
			}
			msg := err.Error()
			if !strings.Contains(msg, "1 message(s) still in the outbox: 20260102T030405-bad") || !strings.Contains(msg, "is damaged") ||
				!strings.Contains(msg, c.want) || !strings.Contains(msg, "is not sent") || strings.Count(msg, "\n") != 0 {
				t.Fatalf("error: %s", msg)
			}
			if len(r.sent) != 1 || string(r.sent[0].msg) != "good message" {
				t.Fatalf("sent %+v", r.sent)
			}
			if _, err := os.Stat(filepath.Join(box.Dir, "20260102T030405-bad.json")); err != nil {
				t.Fatalf("the damaged entry was removed: %v", err)
			}
			var de *DamagedError
			if _, err := box.Claim("20260102T030405-bad"); !errors.As(err, &de) || de.ID != "20260102T030405-bad" {
				t.Fatalf("claim: %v", err)
			}
		})
	}
}

// A flush says whether sending again can help: a server's rejection may
// be cured (ByHand false, also beside a damaged entry), a damaged entry
// alone cannot.
func TestOutboxFailureByHand(t *testing.T) {
	for _, c := range []struct {
		name          string
		damaged, good bool
		byHand        bool
	}{
		{"rejected", false, true, false},
		{"damaged", true, false, true},
		{"both", true, true, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			box := Outbox{Dir: t.TempDir()}
			if c.damaged {
				writeEntry(t, box.Dir, "20260102T030405-bad", []byte("garbage"), []byte("m"))
			}
			if c.good {
				writeEntry(t, box.Dir, "20260102T030406-good", []byte(goodMeta), []byte("good message"))
			}
			r := recorder{err: &Error{Err: errors.New("the server answered 550 5.7.1 no")}}
			_, err := box.Flush(&r)
			var se *Error
			if !errors.As(err, &se) || se.Temporary || se.ByHand != c.byHand {
				t.Fatalf("%v: ByHand %v, want %v", err, se != nil && se.ByHand, c.byHand)
			}
		})
	}
}

// Reading an ID.json reads at most maxMetaSize+1 bytes, however large the
// file: a 1 GiB (sparse) file is refused without reading it.
func TestOutboxMetaReadIsBounded(t *testing.T) {
	box := Outbox{Dir: t.TempDir()}
	f, err := os.Create(filepath.Join(box.Dir, "x.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Truncate(1 << 30); err != nil {
		t.Skip("no sparse files here:", err)
	}
	f.Close()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	_, err = box.readMeta("x")
	runtime.ReadMemStats(&after)
	var de *DamagedError
	if !errors.As(err, &de) || !strings.Contains(err.Error(), "larger than") {
		t.Fatalf("%v", err)
	}
	if n := after.TotalAlloc - before.TotalAlloc; n > 8<<20 {
		t.Fatalf("allocated %d bytes to refuse it", n)
	}
}

// FuzzOutboxEntry: whatever ID.json and ID.eml hold, a flush does not
// panic, and either delivers exactly the message file to a valid envelope
// that ID.json names (and removes the entry), or delivers nothing, keeps
// the entry and says which entry is damaged.
func FuzzOutboxEntry(f *testing.F) {
	f.Add([]byte(goodMeta), []byte("Subject: x\r\n\r\nbody\r\n"))
	f.Add([]byte(`{"envelope":{"from":"","to":["b@example.org","c@example.org"]},"last_error":"451"}`), []byte("m"))
	f.Add([]byte(`{"envelope":{"from":"a@example.org","to":["b@example.org\n"]}}`), []byte("m"))
	f.Add([]byte(`{"envelope":null}`), []byte("m"))
	f.Add([]byte(`[]`), []byte{})
	f.Add([]byte(goodMeta[:30]), []byte("m"))
	f.Fuzz(func(t *testing.T, meta, eml []byte) {
		box := Outbox{Dir: t.TempDir()}
		const id = "20260102T030405-fuzz"
		os.WriteFile(filepath.Join(box.Dir, id+".json"), meta, 0o600)
		os.WriteFile(filepath.Join(box.Dir, id+".eml"), eml, 0o600)
		var r recorder
		res, err := box.Flush(&r)
		switch {
		case err == nil:
			if res.Sent != 1 || len(r.sent) != 1 || !bytes.Equal(r.sent[0].msg, eml) {
				t.Fatalf("no error, yet %+v, %d sent", res, len(r.sent))
			}
			var want itemFile
			if json.Unmarshal(meta, &want) != nil || checkEnvelope(want.Envelope) != nil || len(eml) == 0 {
				t.Fatalf("delivered an entry that is not valid: %q", meta)
			}
			got := r.sent[0].env
			if got.From != want.Envelope.From || strings.Join(got.To, "\x00") != strings.Join(want.Envelope.To, "\x00") {
				t.Fatalf("envelope %+v, ID.json says %+v", got, want.Envelope)
			}
			if _, err := os.Stat(filepath.Join(box.Dir, id+".json")); err == nil {
				t.Fatal("delivered but not removed")
			}
		default:
			var se *Error
			var want itemFile
			if json.Unmarshal(meta, &want) == nil && checkEnvelope(want.Envelope) == nil && len(eml) > 0 && !want.InFlight.IsZero() {
				// A valid entry found in flight is held, not sent.
				if len(r.sent) != 0 || res.InFlight != 1 || !errors.As(err, &se) || !se.Uncertain || !strings.Contains(err.Error(), "mailseal send --resend "+id) {
					t.Fatalf("in flight: %+v, %d sent: %v", res, len(r.sent), err)
				}
				return
			}
			if len(r.sent) != 0 || res.Sent != 0 || !errors.As(err, &se) || se.Temporary ||
				!strings.Contains(err.Error(), "outbox entry "+id+" is damaged") {
				t.Fatalf("%+v, %d sent: %v", res, len(r.sent), err)
			}
			if got, _ := os.ReadFile(filepath.Join(box.Dir, id+".json")); !bytes.Equal(got, meta) {
				t.Fatal("a damaged entry was changed")
			}
		}
	})
}

// A deliverer killed after the end of the data went and before the
// server's answer was recorded leaves the entry in flight: it may have
// been delivered, so the next flush holds it (and says how to decide)
// instead of sending it again; Resend sends it, once; a deliverer killed
// before the end of the data leaves it to the next flush
// (TestOutboxKilledDelivererIsRecovered).
func TestOutboxInFlightAfterCrash(t *testing.T) {
	srv := smtptest.Start(t, smtptest.Options{})
	s := SMTP{Addr: srv.Addr, RootCAs: srv.RootCAs}
	box := Outbox{Dir: filepath.Join(t.TempDir(), "outbox")}
	queue(t, box, 1)
	cmd, _, out := helper(t, "hold-committed", box.Dir, nil)
	if line, _ := out.ReadString('\n'); line != "committed\n" {
		t.Fatalf("helper: %q", line)
	}
	cmd.Process.Kill()
	cmd.Wait()
	items, err := box.List()
	if err != nil || len(items) != 1 || items[0].InFlight.IsZero() {
		t.Fatalf("after the kill: %+v %v", items, err)
	}
	id := items[0].ID
	res, err := box.Flush(s)
	var se *Error
	if res != (FlushResult{InFlight: 1}) || !errors.As(err, &se) || !se.Uncertain || se.Temporary || !se.ByHand ||
		!strings.Contains(err.Error(), "may have been delivered") || !strings.Contains(err.Error(), "mailseal send --resend "+id) ||
		!strings.Contains(err.Error(), "mailseal send --drop "+id) {
		t.Fatalf("flush of an entry in flight: %+v %v", res, err)
	}
	if n := len(srv.Messages(t)); n != 0 {
		t.Fatalf("an entry in flight was sent again: %d", n)
	}
	var sent []string
	if err := box.Resend(s, []string{id}, func(id string, err error) {
		if err != nil {
			t.Errorf("resend %s: %v", id, err)
		}
		sent = append(sent, id)
	}); err != nil || len(sent) != 1 {
		t.Fatal(sent, err)
	}
	if res, err := box.Flush(s); res != (FlushResult{}) || err != nil {
		t.Fatalf("after the resend: %+v %v", res, err)
	}
	if n := len(srv.Messages(t)); n != 1 {
		t.Fatalf("delivered %d times, want once", n)
	}
}

// The server took the message and the connection broke before its answer
// (smtptest's DropAnswer): the send is uncertain, the entry stays in
// flight, and no flush sends it a second time.
func TestOutboxLostAnswerIsNotResent(t *testing.T) {
	srv := smtptest.Start(t, smtptest.Options{DropAnswer: 1})
	s := SMTP{Addr: srv.Addr, RootCAs: srv.RootCAs, Timeout: 10 * time.Second}
	box := Outbox{Dir: filepath.Join(t.TempDir(), "outbox")}
	c, err := box.Put(env, testMsg)
	if err != nil {
		t.Fatal(err)
	}
	err = c.Deliver(s)
	var se *Error
	if !errors.As(err, &se) || !se.Uncertain || se.Temporary || !strings.Contains(err.Error(), "may have been delivered") {
		t.Fatalf("lost answer: %v", err)
	}
	for range 2 {
		if res, err := box.Flush(s); res.InFlight != 1 || res.Sent != 0 || err == nil {
			t.Fatalf("flush: %+v %v", res, err)
		}
	}
	if n := len(srv.Messages(t)); n != 1 {
		t.Fatalf("the server holds %d copies, want the one it took", n)
	}
	if err := box.Drop(c.ID); err != nil {
		t.Fatal(err)
	}
	if items, err := box.List(); len(items) != 0 || err != nil {
		t.Fatalf("after drop: %+v %v", items, err)
	}
}

// A definite answer after the end of the data (451 here) clears the mark:
// the entry is retried by the next flush, as before.
func TestOutboxDefiniteAnswerClearsInFlight(t *testing.T) {
	srv := smtptest.Start(t, smtptest.Options{FailFirst: 1})
	s := SMTP{Addr: srv.Addr, RootCAs: srv.RootCAs}
	box := Outbox{Dir: filepath.Join(t.TempDir(), "outbox")}
	queue(t, box, 1)
	if res, err := box.Flush(s); res.Sent != 0 || res.InFlight != 0 || err == nil {
		t.Fatalf("451: %+v %v", res, err)
	}
	if items, _ := box.List(); len(items) != 1 || !items[0].InFlight.IsZero() || !strings.Contains(items[0].LastError, "451") {
		t.Fatalf("%+v", items)
	}
	if res, err := box.Flush(s); res.Sent != 1 || err != nil {
		t.Fatalf("retry: %+v %v", res, err)
	}
}

// A message queued twice (same Message-ID, same recipients in any order
// and case) is delivered once; the other copy is removed unsent. Another
// recipient set, or another Message-ID, is another message.
func TestOutboxDeduplicates(t *testing.T) {
	srv := smtptest.Start(t, smtptest.Options{})
	s := SMTP{Addr: srv.Addr, RootCAs: srv.RootCAs}
	box := Outbox{Dir: filepath.Join(t.TempDir(), "outbox")}
	put := func(e Envelope, body string) string {
		c, err := box.Put(e, []byte("Subject: x\r\n\r\n"+body+"\r\n"))
		if err != nil {
			t.Fatal(err)
		}
		c.Release()
		return c.ID
	}
	a := Envelope{From: "a@example.org", To: []string{"b@example.org", "c@example.org"}, MessageID: "<1@example.org>"}
	aAgain := Envelope{From: "a@example.org", To: []string{"C@example.org", "b@example.org"}, MessageID: "<1@example.org>"}
	other := Envelope{From: "a@example.org", To: []string{"d@example.org"}, MessageID: "<1@example.org>"}
	put(a, "first")
	put(aAgain, "second")
	put(other, "to d")
	res, err := box.Flush(s)
	if err != nil || res.Sent != 2 || res.Duplicates != 1 {
		t.Fatalf("%+v %v", res, err)
	}
	// Queued again after delivery: removed, not sent.
	c, err := box.Put(a, []byte("Subject: x\r\n\r\nthird\r\n"))
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Deliver(s); !errors.Is(err, ErrDuplicate) || !strings.Contains(err.Error(), "same Message-ID and recipients") {
		t.Fatalf("a third copy: %v", err)
	}
	if items, _ := box.List(); len(items) != 0 {
		t.Fatalf("left: %+v", items)
	}
	// One of the twins (entries queued in the same second sort by their
	// random part), and the message to d.
	bodies := map[string]int{}
	for _, m := range srv.Messages(t) {
		bodies[strings.TrimPrefix(string(m.Data), "Subject: x\r\n\r\n")]++
	}
	if len(bodies) != 2 || bodies["to d\r\n"] != 1 || bodies["first\r\n"]+bodies["second\r\n"] != 1 {
		t.Fatalf("delivered %v", bodies)
	}
	// Killed after the key was recorded and before the entry went: the
	// entry is found delivered, and removed.
	id := put(Envelope{From: "a@example.org", To: []string{"e@example.org"}, MessageID: "<2@example.org>"}, "e")
	k, err := box.lockKey(dedupeKey(Envelope{To: []string{"e@example.org"}, MessageID: "<2@example.org>"}))
	if err != nil {
		t.Fatal(err)
	}
	markDelivered(k, "20260101T000000-earlier")
	k.Close()
	if res, err := box.Flush(s); res != (FlushResult{Duplicates: 1}) || err != nil {
		t.Fatalf("recorded, not removed: %+v %v", res, err)
	}
	if _, err := box.Claim(id); !errors.Is(err, ErrGone) {
		t.Fatalf("%v", err)
	}
}

// Concurrent flushes in separate processes, over an outbox where every
// message was queued twice, deliver each message once.
func TestOutboxConcurrentFlushesOfTwins(t *testing.T) {
	const messages, flushers = 12, 4
	srv := smtptest.Start(t, smtptest.Options{})
	box := Outbox{Dir: filepath.Join(t.TempDir(), "outbox")}
	for range 2 {
		for i := range messages {
			e := env
			e.MessageID = fmt.Sprintf("<%d@example.org>", i)
			c, err := box.Put(e, fmt.Appendf(nil, "Message-ID: <%d@example.org>\r\n\r\nmessage %d\r\n", i, i))
			if err != nil {
				t.Fatal(err)
			}
			c.Release()
		}
	}
	for i, res := range flushAtOnce(t, box, srv, flushers) {
		if res.Err != "" {
			t.Errorf("flusher %d: %s", i, res.Err)
		}
	}
	got := map[string]int{}
	for _, m := range srv.Messages(t) {
		got[string(m.Data)]++
	}
	for i := range messages {
		if n := got[fmt.Sprintf("Message-ID: <%d@example.org>\r\n\r\nmessage %d\r\n", i, i)]; n != 1 {
			t.Errorf("message %d delivered %d times", i, n)
		}
	}
	if items, err := box.List(); len(items) != 0 || err != nil {
		t.Errorf("left in the outbox: %+v %v", items, err)
	}
}

// Drop removes an entry unless someone delivers it; a damaged one too.
func TestOutboxDrop(t *testing.T) {
	box := Outbox{Dir: filepath.Join(t.TempDir(), "outbox")}
	c, err := box.Put(env, testMsg)
	if err != nil {
		t.Fatal(err)
	}
	if err := box.Drop(c.ID); !errors.Is(err, ErrBusy) {
		t.Fatalf("drop of a claimed entry: %v", err)
	}
	c.Release()
	if err := box.Drop(c.ID); err != nil {
		t.Fatal(err)
	}
	if err := box.Drop(c.ID); !errors.Is(err, ErrGone) {
		t.Fatalf("drop twice: %v", err)
	}
	writeEntry(t, box.Dir, "20260102T030405-bad", []byte("garbage"), []byte("m"))
	if err := box.Drop("20260102T030405-bad"); err != nil {
		t.Fatal(err)
	}
	if entries, _ := os.ReadDir(box.Dir); len(entries) != 0 {
		t.Fatalf("left: %v", entries)
	}
}

// A flush forgets delivered Message-IDs after keyRetention, and keeps the
// younger ones.
func TestOutboxPrunesOldKeys(t *testing.T) {
	box := Outbox{Dir: filepath.Join(t.TempDir(), "outbox")}
	for _, k := range []string{"old", "young"} {
		f, err := box.lockKey(k)
		if err != nil {
			t.Fatal(err)
		}
		markDelivered(f, "20260101T000000-"+k)
		f.Close()
	}
	old := time.Now().Add(-keyRetention - time.Hour)
	if err := os.Chtimes(filepath.Join(box.keyDir(), "old"), old, old); err != nil {
		t.Fatal(err)
	}
	if _, err := box.Flush(&recorder{}); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(box.keyDir(), "old")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("the old record stays: %v", err)
	}
	f, err := box.lockKey("young")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, ok := deliveredRecord(f); !ok {
		t.Fatal("the young record was lost")
	}
}

// A sendmail program killed by a signal after it read the message (the
// OOM killer, a crash after queuing) may have queued it: the entry is held
// in flight, not sent again by the next flush.
func TestOutboxSendmailKilledIsNotResent(t *testing.T) {
	dir := t.TempDir()
	fake := filepath.Join(dir, "sendmail")
	os.WriteFile(fake, []byte("#!/bin/sh\ncat >> "+dir+"/runs\necho >> "+dir+"/runs\nkill -9 $$\n"), 0o755)
	box := Outbox{Dir: filepath.Join(dir, "outbox")}
	queue(t, box, 1)
	res, err := box.Flush(Sendmail{Path: fake})
	var se *Error
	if !errors.As(err, &se) || !se.Uncertain || res.InFlight != 1 {
		t.Fatalf("a sendmail killed after reading the message: %+v %v", res, err)
	}
	box.Flush(Sendmail{Path: fake})
	runs, _ := os.ReadFile(filepath.Join(dir, "runs"))
	if n := bytes.Count(runs, []byte("message 0")); n != 1 {
		t.Fatalf("the program ran %d times for one message, want 1", n)
	}
}

// A flush that leaves one entry held in flight and another waiting after a
// 4xx is not temporary: exit 75 would tell the caller that everything goes
// later, and the held one never goes by itself (review finding).
func TestFailuresHeldIsNotTemporary(t *testing.T) {
	var f failures
	f.add(Item{ID: "a", Envelope: env}, &Error{Temporary: true, Err: errors.New("451")})
	if err := f.err(); !err.(*Error).Temporary {
		t.Fatalf("a 4xx alone: %v", err)
	}
	f.add(Item{ID: "b", Envelope: env}, &Error{Uncertain: true, ByHand: true, Err: errors.New("answer lost")})
	if e := f.err().(*Error); e.Temporary || !e.Uncertain {
		t.Fatalf("a 4xx and one held in flight: %+v", e)
	}
}

// answers is a Transport that answers each message by its Subject line.
type answers map[string]error

func (a answers) Send(env Envelope, msg io.Reader, commit func() error) error {
	data, err := io.ReadAll(msg)
	if err != nil {
		return err
	}
	subject, _, _ := strings.Cut(strings.TrimPrefix(string(data), "Subject: "), "\r\n")
	if err := a[subject]; err != nil {
		return err
	}
	return commit()
}

// TestResendSeveral: send --resend A B C gives every entry its outcome and
// one verdict for all, as Flush does (temporary if any failure is); with
// one Resend call per ID the CLI took the first error's kind (a 5xx then a
// 4xx exited 1), and an unknown ID hid the others' failures.
func TestResendSeveral(t *testing.T) {
	box := Outbox{Dir: filepath.Join(t.TempDir(), "outbox")}
	queue(t, box, 3)
	items, err := box.List()
	if err != nil || len(items) != 3 {
		t.Fatal(items, err)
	}
	tr := answers{
		"0": &Error{Temporary: true, Err: errors.New("451 try later")},
		"1": &Error{Err: errors.New("550 no such user")},
	}
	outcomes := map[string]error{}
	ids := []string{items[0].ID, "20260101T000000-0000", items[1].ID, items[2].ID}
	err = box.Resend(tr, ids, func(id string, err error) { outcomes[id] = err })
	var se *Error
	if !errors.As(err, &se) || !se.Temporary || !strings.Contains(err.Error(), "2 message(s) still in the outbox") ||
		!strings.Contains(err.Error(), items[0].ID) || !strings.Contains(err.Error(), items[1].ID) ||
		!strings.Contains(err.Error(), "451 try later") || !strings.Contains(err.Error(), "550 no such user") {
		t.Fatalf("a 4xx and a 5xx: %v", err)
	}
	if len(outcomes) != 2 || outcomes[items[2].ID] != nil || !errors.Is(outcomes[ids[1]], ErrGone) {
		t.Fatalf("outcomes: %v", outcomes)
	}
	if left, _ := box.List(); len(left) != 2 {
		t.Fatalf("%d left in the outbox, want the 2 that failed", len(left))
	}
	// The 5xx first, then the 4xx: still temporary, as Flush says.
	err = box.Resend(tr, []string{items[1].ID, items[0].ID}, func(string, error) {})
	if !errors.As(err, &se) || !se.Temporary || !strings.Contains(err.Error(), "2 message(s) still in the outbox") {
		t.Fatalf("a 5xx, then a 4xx: %v", err)
	}
	// The 5xx alone: not temporary.
	err = box.Resend(tr, []string{items[1].ID}, func(string, error) {})
	if !errors.As(err, &se) || se.Temporary || !strings.Contains(err.Error(), "1 message(s) still in the outbox") {
		t.Fatalf("a 5xx alone: %v", err)
	}
}
