package submit

import (
	"bytes"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mailseal/mailseal/internal/smtptest"
)

var testMsg = []byte("From: a@example.org\r\nTo: b@example.org\r\nSubject: t\r\n\r\nbody\r\n.leading dot\r\n")

var env = Envelope{From: "a@example.org", To: []string{"b@example.org", "c@example.org"}}

func TestSMTPSubmission(t *testing.T) {
	for _, mode := range []string{"starttls", "implicit"} {
		t.Run(mode, func(t *testing.T) {
			srv := smtptest.Start(t, smtptest.Options{Mode: mode, Auth: "alice:s3cret"})
			s := SMTP{Addr: srv.Addr, TLS: mode, RootCAs: srv.RootCAs, User: "alice",
				Password: func() (string, error) { return "s3cret", nil }}
			if err := s.Send(env, bytes.NewReader(testMsg), nil); err != nil {
				t.Fatal(err)
			}
			msgs := srv.Messages(t)
			if len(msgs) != 1 || msgs[0].From != env.From || strings.Join(msgs[0].To, ",") != "b@example.org,c@example.org" ||
				!bytes.Equal(msgs[0].Data, testMsg) || !msgs[0].TLS {
				t.Fatalf("%+v %q", msgs, msgs[0].Data)
			}
			// A wrong password is a permanent failure (535).
			s.Password = func() (string, error) { return "wrong", nil }
			err := s.Send(env, bytes.NewReader(testMsg), nil)
			var se *Error
			if !errors.As(err, &se) || se.Temporary {
				t.Fatalf("wrong password: %v", err)
			}
		})
	}
}

func TestSMTPRefusesUnverifiedServer(t *testing.T) {
	srv := smtptest.Start(t, smtptest.Options{CertHost: "mail.other.example"})
	s := SMTP{Addr: srv.Addr, RootCAs: srv.RootCAs}
	err := s.Send(env, bytes.NewReader(testMsg), nil)
	var se *Error
	// Sending again cannot cure it: permanent, naming the setting that does.
	if !errors.As(err, &se) || se.Temporary || !strings.Contains(err.Error(), "certificate does not verify") || !strings.Contains(err.Error(), "--smtp-ca") {
		t.Fatalf("unverified certificate: %v", err)
	}
	// Unknown CA (the system roots): refused too.
	s.RootCAs = nil
	if err := s.Send(env, bytes.NewReader(testMsg), nil); err == nil {
		t.Fatal("a self-signed server certificate was accepted with the system roots")
	}
	if len(srv.Messages(t)) != 0 {
		t.Fatal("a message was delivered over an unverified connection")
	}
}

func TestSMTPFailures(t *testing.T) {
	// Nobody listening: temporary.
	dead := SMTP{Addr: "127.0.0.1:1", Timeout: 5 * time.Second}
	var se *Error
	if err := dead.Send(env, bytes.NewReader(testMsg), nil); !errors.As(err, &se) || !se.Temporary {
		t.Fatalf("server down: %v", err)
	}
	// 550: permanent, with the server's reply.
	srv := smtptest.Start(t, smtptest.Options{Reject: true})
	s := SMTP{Addr: srv.Addr, RootCAs: srv.RootCAs}
	err := s.Send(env, bytes.NewReader(testMsg), nil)
	if !errors.As(err, &se) || se.Temporary || !strings.Contains(err.Error(), "550") || !strings.Contains(err.Error(), "rejected by policy") {
		t.Fatalf("550: %v", err)
	}
	// A plaintext server without STARTTLS is not used unless allowed, and
	// that is a setup error (permanent, nothing to queue) that names the
	// setting to try; so is implicit TLS to a server that does not speak it.
	plain := smtptest.Start(t, smtptest.Options{Mode: "plain"})
	err = (SMTP{Addr: plain.Addr}).Send(env, bytes.NewReader(testMsg), nil)
	if !errors.As(err, &se) || se.Temporary || !strings.Contains(err.Error(), "does not offer STARTTLS") || !strings.Contains(err.Error(), "--smtp-tls implicit") {
		t.Fatalf("no STARTTLS: %v", err)
	}
	err = (SMTP{Addr: plain.Addr, TLS: TLSImplicit}).Send(env, bytes.NewReader(testMsg), nil)
	if !errors.As(err, &se) || se.Temporary || !strings.Contains(err.Error(), "--smtp-tls starttls") {
		t.Fatalf("implicit TLS to a plaintext server: %v", err)
	}
	if err := (SMTP{Addr: plain.Addr, InsecurePlaintext: true}).Send(env, bytes.NewReader(testMsg), nil); err != nil {
		t.Fatalf("--smtp-insecure-plaintext: %v", err)
	}
}

func TestOutboxFlush(t *testing.T) {
	srv := smtptest.Start(t, smtptest.Options{FailFirst: 1})
	s := SMTP{Addr: srv.Addr, RootCAs: srv.RootCAs}
	box := Outbox{Dir: filepath.Join(t.TempDir(), "outbox")}
	c, err := box.Put(env, testMsg)
	if err != nil {
		t.Fatal(err)
	}
	c.Release()
	for _, ext := range []string{".eml", ".json"} {
		st, err := os.Stat(filepath.Join(box.Dir, c.ID+ext))
		if err != nil || st.Mode().Perm() != 0o600 {
			t.Fatalf("%s: %v %v", ext, err, st)
		}
	}
	// The first attempt meets 451: kept, temporary.
	res, err := box.Flush(s)
	var se *Error
	if res.Sent != 0 || !errors.As(err, &se) || !se.Temporary || !strings.Contains(err.Error(), "451") {
		t.Fatalf("451: %+v, %v", res, err)
	}
	items, _ := box.List()
	if len(items) != 1 || !strings.Contains(items[0].LastError, "451") || !items[0].Queued.Equal(c.Queued) {
		t.Fatalf("%+v", items)
	}
	// The second is delivered once and leaves the outbox.
	if res, err := box.Flush(s); res.Sent != 1 || err != nil {
		t.Fatalf("flush: %+v %v", res, err)
	}
	if items, _ := box.List(); len(items) != 0 {
		t.Fatalf("still queued: %+v", items)
	}
	if res, err := box.Flush(s); res != (FlushResult{}) || err != nil {
		t.Fatalf("empty flush: %+v %v", res, err)
	}
	if msgs := srv.Messages(t); len(msgs) != 1 || !bytes.Equal(msgs[0].Data, testMsg) {
		t.Fatalf("delivered %d", len(msgs))
	}
}

func TestSendmailProgram(t *testing.T) {
	dir := t.TempDir()
	fake := filepath.Join(dir, "sendmail")
	os.WriteFile(fake, []byte("#!/bin/sh\necho \"$@\" > "+dir+"/args\ncat > "+dir+"/msg\nexit ${FAKE_EXIT:-0}\n"), 0o755)
	if err := (Sendmail{Path: fake}).Send(env, bytes.NewReader(testMsg), nil); err != nil {
		t.Fatal(err)
	}
	args, _ := os.ReadFile(filepath.Join(dir, "args"))
	msg, _ := os.ReadFile(filepath.Join(dir, "msg"))
	if strings.TrimSpace(string(args)) != "-i -f a@example.org -- b@example.org c@example.org" || !bytes.Equal(msg, testMsg) {
		t.Fatalf("%q %q", args, msg)
	}
	t.Setenv("FAKE_EXIT", "75")
	var se *Error
	if err := (Sendmail{Path: fake}).Send(env, bytes.NewReader(testMsg), nil); !errors.As(err, &se) || !se.Temporary {
		t.Fatalf("EX_TEMPFAIL: %v", err)
	}
	t.Setenv("FAKE_EXIT", "67")
	if err := (Sendmail{Path: fake}).Send(env, bytes.NewReader(testMsg), nil); !errors.As(err, &se) || se.Temporary {
		t.Fatalf("EX_NOUSER: %v", err)
	}
}

// Plaintext SMTP is for a relay on loopback only: the address a plaintext
// connection reached is checked before anything is sent (issue 15: it was
// sent in plaintext to any host).
func TestInsecurePlaintextLoopbackOnly(t *testing.T) {
	for _, c := range []struct {
		addr net.Addr
		ok   bool
	}{
		{&net.TCPAddr{IP: net.ParseIP("127.0.0.1"), Port: 25}, true},
		{&net.TCPAddr{IP: net.ParseIP("127.1.2.3"), Port: 25}, true},
		{&net.TCPAddr{IP: net.ParseIP("::1"), Port: 25}, true},
		{&net.TCPAddr{IP: net.ParseIP("192.0.2.1"), Port: 25}, false},
		{&net.TCPAddr{IP: net.ParseIP("2001:db8::1"), Port: 25}, false},
		{&net.UnixAddr{Name: "/tmp/x", Net: "unix"}, false},
	} {
		if loopback(c.addr) != c.ok {
			t.Errorf("%v: loopback %v", c.addr, !c.ok)
		}
	}
}
