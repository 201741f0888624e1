package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/mailseal/mailseal/internal/smtptest"
	"github.com/mailseal/mailseal/internal/submit"
)

// sendWorld is a keystore where Alice has an OpenPGP key and an S/MIME
// certificate, Greg (gpg) has OpenPGP only, Bob and Carol (openssl) have
// S/MIME only, and nobody@example.org has nothing.
type sendWorld struct {
	*smimePeers
	gpgPeer *peers
}

func newSendWorld(t *testing.T) *sendWorld {
	t.Helper()
	sp := newSMIMEPeers(t)
	gp := &peers{t: t, home: sp.home, gnupg: filepath.Join(sp.dir, "gnupg"), passFile: sp.passFile}
	os.MkdirAll(gp.gnupg, 0o700)
	out, _ := sp.ms(nil, 0, "keys", "generate", "--pgp", "--uid", "Alice <alice@example.org>")
	gp.alice = strings.TrimSpace(string(out))
	gp.greg = gp.gpgGenKey("Greg <greg@example.org>", "ed25519", "cv25519")
	pub, _ := sp.ms(nil, 0, "keys", "export", "--pgp", "alice@example.org")
	gp.gpg(pub, "--import")
	sp.ms(gp.gpg(nil, "--armor", "--export", "greg@example.org"), 0, "keys", "import")
	return &sendWorld{smimePeers: sp, gpgPeer: gp}
}

func (w *sendWorld) smtpArgs(srv *smtptest.Server) []string {
	return []string{"--smtp", srv.Addr, "--smtp-ca", srv.CAFile}
}

const sendBody = "Subject: quarterly\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nThe numbers are in.\r\n"

func TestSendSplitsByProtocolAndBcc(t *testing.T) {
	w := newSendWorld(t)
	srv := smtptest.Start(t, smtptest.Options{Auth: "alice:smtp-pw"})
	// Alice's own address after Bob's: an OpenPGP recipient after an
	// S/MIME one still joins the OpenPGP copy.
	msg := []byte("From: Alice <alice@example.org>\r\nTo: greg@example.org, Bob <bob@example.org>, alice@example.org\r\nBcc: carol@example.org\r\n" + sendBody)
	// The password from a command, as msmtp's passwordeval.
	_, stderr := w.ms(msg, 0, append([]string{"send", "--smtp-user", "alice", "--smtp-password-command", "printf 'smtp-pw\\n'"}, w.smtpArgs(srv)...)...)
	got := srv.Messages(t)
	if len(got) != 3 {
		t.Fatalf("%d messages submitted, want 3 (OpenPGP to Greg, S/MIME to Bob, S/MIME to Carol alone)\n%s", len(got), stderr)
	}
	var msgID string
	for i, m := range got {
		if m.From != "alice@example.org" || !m.TLS {
			t.Fatalf("message %d: envelope %+v", i, m)
		}
		head, _ := splitHeader(m.Data)
		if headerValue(head, "Bcc") != "" || bytes.Contains(m.Data, []byte("carol@")) && m.To[0] != "carol@example.org" {
			t.Fatalf("message %d leaks the Bcc recipient", i)
		}
		id := headerValue(head, "Message-ID")
		if id == "" || msgID != "" && id != msgID {
			t.Fatalf("message %d: Message-ID %q, want one shared ID", i, id)
		}
		msgID = id
		if bytes.Contains(m.Data, []byte("The numbers are in")) {
			t.Fatalf("message %d is not encrypted", i)
		}
	}
	// Greg reads the OpenPGP copy with gpg.
	pgpCopy := got[0]
	if strings.Join(pgpCopy.To, ",") != "greg@example.org,alice@example.org" {
		t.Fatalf("OpenPGP copy to %v", pgpCopy.To)
	}
	block := armorBlock.Find(pgpCopy.Data)
	out, status, err := w.gpgPeer.gpgStatus(block, "--decrypt")
	if err != nil || !bytes.Contains(out, []byte("The numbers are in")) || !strings.Contains(status, "GOODSIG") {
		t.Fatalf("gpg: %v\n%s\n%s", err, out, status)
	}
	// Bob and Carol read theirs with openssl; Carol's copy is hers alone.
	for i, who := range map[int]string{1: "bob", 2: "carol"} {
		if strings.Join(got[i].To, ",") != who+"@example.org" {
			t.Fatalf("S/MIME copy %d to %v", i, got[i].To)
		}
		out, err := w.opensslErr(got[i].Data, "cms", "-decrypt", "-recip", w.path(who+".pem"), "-inkey", w.path(who+".key"))
		if err != nil || !bytes.Contains(out, []byte("The numbers are in")) {
			t.Fatalf("%s: openssl: %v\n%s", who, err, out)
		}
		other := map[string]string{"bob": "carol", "carol": "bob"}[who]
		if _, err := w.opensslErr(got[i].Data, "cms", "-decrypt", "-recip", w.path(other+".pem"), "-inkey", w.path(other+".key")); err == nil {
			t.Fatalf("%s can decrypt %s's copy", other, who)
		}
	}
	// The sender can read every copy.
	for i, m := range got {
		if code, _, errOut := w.msCode(m.Data, "decrypt"); code != 0 {
			t.Fatalf("the sender cannot decrypt copy %d: %s", i, errOut)
		}
	}
}

func TestSendFailures(t *testing.T) {
	w := newSendWorld(t)
	msg := []byte("From: alice@example.org\r\nTo: greg@example.org, nobody@example.org\r\n" + sendBody)
	t.Run("recipient without key", func(t *testing.T) {
		srv := smtptest.Start(t, smtptest.Options{})
		code, _, stderr := w.msCode(msg, append([]string{"send"}, w.smtpArgs(srv)...)...)
		if code != 3 || !bytes.Contains(stderr, []byte("nobody@example.org")) || len(srv.Messages(t)) != 0 {
			t.Fatalf("exit %d, %d sent: %s", code, len(srv.Messages(t)), stderr)
		}
		// --allow-plaintext: nobody gets a signed copy of their own.
		w.ms(msg, 0, append([]string{"send", "--allow-plaintext"}, w.smtpArgs(srv)...)...)
		got := srv.Messages(t)
		if len(got) != 2 || strings.Join(got[1].To, ",") != "nobody@example.org" || !bytes.Contains(got[1].Data, []byte("multipart/signed")) {
			t.Fatalf("%+v", got)
		}
		if rep := w.verifyJSON(got[1].Data, 0); rep.Status != "good" {
			t.Fatalf("the plaintext copy is not signed: %+v", rep)
		}
	})
	good := []byte("From: alice@example.org\r\nTo: greg@example.org\r\n" + sendBody)
	t.Run("451 then flush", func(t *testing.T) {
		srv := smtptest.Start(t, smtptest.Options{FailFirst: 1})
		home := w.home
		code, _, stderr := w.msCode(good, append([]string{"send"}, w.smtpArgs(srv)...)...)
		if code != 75 || !bytes.Contains(stderr, []byte("outbox")) {
			t.Fatalf("451: exit %d %s", code, stderr)
		}
		queued, _ := filepath.Glob(filepath.Join(home, "outbox", "*.eml"))
		if len(queued) != 1 {
			t.Fatalf("%d in the outbox", len(queued))
		}
		w.ms(nil, 0, append([]string{"send", "--flush"}, w.smtpArgs(srv)...)...)
		w.ms(nil, 0, append([]string{"send", "--flush"}, w.smtpArgs(srv)...)...)
		if n := len(srv.Messages(t)); n != 1 {
			t.Fatalf("delivered %d times, want once", n)
		}
		if queued, _ := filepath.Glob(filepath.Join(home, "outbox", "*.eml")); len(queued) != 0 {
			t.Fatal("the outbox was not emptied")
		}
	})
	t.Run("550 and a refused AUTH queue nothing", func(t *testing.T) {
		// A definite refusal of the message just sent: exit 1 with the
		// server's reply, nothing kept (a flush would be refused the same).
		srv := smtptest.Start(t, smtptest.Options{Reject: true})
		code, _, stderr := w.msCode(good, append([]string{"send"}, w.smtpArgs(srv)...)...)
		if code != 1 || !bytes.Contains(stderr, []byte("the server answered 550 5.7.1 Message rejected by policy")) ||
			!bytes.Contains(stderr, []byte("1 message(s) refused and not kept in the outbox")) || bytes.Contains(stderr, []byte("verification")) ||
			bytes.Contains(stderr, []byte("send --flush sends it")) {
			t.Fatalf("550: exit %d %s", code, stderr)
		}
		if queued, _ := filepath.Glob(filepath.Join(w.home, "outbox", "*.eml")); len(queued) != 0 {
			t.Fatalf("%d in the outbox after 550", len(queued))
		}
		authSrv := smtptest.Start(t, smtptest.Options{Auth: "alice:right"})
		pw := filepath.Join(t.TempDir(), "pw")
		os.WriteFile(pw, []byte("wrong\n"), 0o600)
		code, _, stderr = w.msCode(good, append([]string{"send", "--smtp-user", "alice", "--smtp-password-file", pw}, w.smtpArgs(authSrv)...)...)
		if code != 1 || !bytes.Contains(stderr, []byte("AUTH: the server answered 535")) || !bytes.Contains(stderr, []byte("--smtp-password-file")) ||
			!bytes.Contains(stderr, []byte("not kept in the outbox")) {
			t.Fatalf("refused AUTH: exit %d %s", code, stderr)
		}
		if queued, _ := filepath.Glob(filepath.Join(w.home, "outbox", "*.eml")); len(queued) != 0 {
			t.Fatalf("%d in the outbox after a refused AUTH", len(queued))
		}
		// A message that waited (451 first) and is refused at the flush
		// stays, with the error, for a person to see.
		tmp := smtptest.Start(t, smtptest.Options{FailFirst: 1})
		if code, _, stderr := w.msCode(good, append([]string{"send"}, w.smtpArgs(tmp)...)...); code != 75 {
			t.Fatalf("451: exit %d %s", code, stderr)
		}
		code, _, stderr = w.msCode(nil, append([]string{"send", "--flush"}, w.smtpArgs(srv)...)...)
		if code != 1 || !bytes.Contains(stderr, []byte("0 message(s) sent from the outbox")) ||
			!bytes.Contains(stderr, []byte("1 message(s) still in the outbox")) ||
			!bytes.Contains(stderr, []byte("the server answered 550")) || bytes.Contains(stderr, []byte("verification")) ||
			!bytes.Contains(stderr, []byte("once the cause is fixed, mailseal send --flush sends it")) {
			t.Fatalf("550 on flush: exit %d %s", code, stderr)
		}
		queued, _ := filepath.Glob(filepath.Join(w.home, "outbox", "*.eml"))
		if len(queued) != 1 {
			t.Fatalf("%d in the outbox after a refused flush", len(queued))
		}
		for _, q := range queued {
			os.Remove(q)
			os.Remove(strings.TrimSuffix(q, ".eml") + ".json")
		}
	})
	t.Run("damaged entry", func(t *testing.T) {
		// A damaged entry is never sent: the error says to look at it and
		// remove it, and does not promise that a flush sends it.
		srv := smtptest.Start(t, smtptest.Options{})
		dir := filepath.Join(w.home, "outbox")
		base := filepath.Join(dir, "20260102T030405-bad")
		if err := os.MkdirAll(dir, 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(base+".eml", good, 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(base+".json", []byte(`{"envelope":`), 0o600); err != nil {
			t.Fatal(err)
		}
		defer os.Remove(base + ".eml")
		defer os.Remove(base + ".json")
		code, _, stderr := w.msCode(nil, append([]string{"send", "--flush"}, w.smtpArgs(srv)...)...)
		if code != 1 || !bytes.Contains(stderr, []byte("is damaged")) || !bytes.Contains(stderr, []byte("then remove them")) ||
			bytes.Contains(stderr, []byte("send --flush sends it")) || len(srv.Messages(t)) != 0 {
			t.Fatalf("flush of a damaged entry: exit %d %s", code, stderr)
		}
	})
	t.Run("flush while another process delivers", func(t *testing.T) {
		srv := smtptest.Start(t, smtptest.Options{FailFirst: 1})
		if code, _, stderr := w.msCode(good, append([]string{"send"}, w.smtpArgs(srv)...)...); code != 75 {
			t.Fatalf("451: exit %d %s", code, stderr)
		}
		box := submit.Outbox{Dir: filepath.Join(w.home, "outbox")}
		items, err := box.List()
		if err != nil || len(items) != 1 {
			t.Fatalf("%+v %v", items, err)
		}
		// Another deliverer holds the message: the flush leaves it and says
		// so, and claims nothing about keeping it.
		held, err := box.Claim(items[0].ID)
		if err != nil {
			t.Fatal(err)
		}
		code, _, stderr := w.msCode(nil, append([]string{"send", "--flush"}, w.smtpArgs(srv)...)...)
		if code != 0 || !bytes.Contains(stderr, []byte("1 message(s) already being delivered by another process")) ||
			bytes.Contains(stderr, []byte("kept")) || len(srv.Messages(t)) != 0 {
			t.Fatalf("flush during another delivery: exit %d %s", code, stderr)
		}
		held.Release()
		w.ms(nil, 0, append([]string{"send", "--flush"}, w.smtpArgs(srv)...)...)
		if n := len(srv.Messages(t)); n != 1 {
			t.Fatalf("delivered %d times", n)
		}
	})
	t.Run("unverified server", func(t *testing.T) {
		// A setup error (issue 15): sending again cannot cure it, so it
		// fails (exit 1) with the fix named, and nothing waits in the
		// outbox to be sent later.
		srv := smtptest.Start(t, smtptest.Options{CertHost: "mail.other.example"})
		code, _, stderr := w.msCode(good, append([]string{"send"}, w.smtpArgs(srv)...)...)
		if code != 1 || len(srv.Messages(t)) != 0 || !strings.Contains(string(stderr), "--smtp-ca") {
			t.Fatalf("exit %d: %s", code, stderr)
		}
		if queued, _ := filepath.Glob(filepath.Join(w.home, "outbox", "*.json")); len(queued) != 0 {
			t.Fatalf("queued: %v", queued)
		}
	})
	t.Run("server down", func(t *testing.T) {
		code, _, _ := w.msCode(good, "send", "--smtp", "127.0.0.1:1")
		if code != 75 {
			t.Fatalf("exit %d", code)
		}
	})
}

func TestSendmailMode(t *testing.T) {
	w := newSendWorld(t)
	srv := smtptest.Start(t, smtptest.Options{Mode: "implicit"})
	cfg := w.write("config.toml", []byte("smtp = \""+srv.Addr+"\"\nsmtp-tls = \"implicit\"\nsmtp-ca = \""+srv.CAFile+"\"\n"))
	t.Setenv("XDG_CONFIG_HOME", filepath.Dir(filepath.Dir(cfg)))
	os.MkdirAll(filepath.Join(w.dir, "mailseal"), 0o700)
	os.Rename(cfg, filepath.Join(w.dir, "mailseal", "config.toml"))
	t.Setenv("XDG_CONFIG_HOME", w.dir)
	t.Setenv("MAILSEAL_HOME", w.home)
	t.Setenv("MAILSEAL_PASSPHRASE", "alice-pass")
	run1 := func(args []string, stdin []byte) (int, string) {
		var out, errb bytes.Buffer
		code := run(args, bytes.NewReader(stdin), &out, &errb)
		return code, errb.String()
	}
	// cron: sendmail -t -i (or a symlink named sendmail).
	cron := []byte("From: alice@example.org\nTo: bob@example.org\nSubject: cron\n\nnightly output\n")
	if code, errOut := run1([]string{"/usr/sbin/sendmail", "-FCronDaemon", "-i", "-B8BITMIME", "-oem", "-t"}, cron); code != 0 {
		t.Fatalf("sendmail -t: %d %s", code, errOut)
	}
	// git send-email --sendmail-cmd: recipients as arguments, -f sender.
	patch := []byte("From: alice@example.org\nTo: greg@example.org\nCc: bob@example.org\nSubject: [PATCH] fix\n\ndiff\n")
	if code, errOut := run1([]string{"mailseal", "sendmail", "-i", "-f", "alice@example.org", "greg@example.org", "bob@example.org"}, patch); code != 0 {
		t.Fatalf("git send-email style: %d %s", code, errOut)
	}
	got := srv.Messages(t)
	if len(got) != 3 || strings.Join(got[0].To, ",") != "bob@example.org" ||
		strings.Join(got[1].To, ",") != "greg@example.org" || strings.Join(got[2].To, ",") != "bob@example.org" {
		t.Fatalf("%+v", got)
	}
	for i, m := range got {
		if bytes.Contains(m.Data, []byte("nightly output")) || bytes.Contains(m.Data, []byte("\ndiff")) {
			t.Fatalf("message %d went out in clear", i)
		}
	}
	if code, _ := run1([]string{"sendmail", "-bs"}, nil); code != 2 {
		t.Fatalf("unsupported option: exit %d", code)
	}
	if code, _ := run1([]string{"sendmail", "-i"}, cron); code != 2 {
		t.Fatalf("no recipients: exit %d", code)
	}
}

func TestEncryptAndSignChooseTheProtocol(t *testing.T) {
	w := newSendWorld(t)
	mk := func(to string) []byte { return []byte("From: alice@example.org\r\nTo: " + to + "\r\n" + sendBody) }
	out, _ := w.ms(mk("greg@example.org"), 0, "encrypt")
	if !bytes.Contains(out, []byte("application/pgp-encrypted")) {
		t.Fatal("Greg has only an OpenPGP key: the message should be PGP/MIME")
	}
	out, _ = w.ms(mk("bob@example.org"), 0, "encrypt", "--sign")
	if !bytes.Contains(out, []byte("application/pkcs7-mime")) {
		t.Fatal("Bob has only a certificate: the message should be S/MIME")
	}
	if rep := w.verifyJSON(out, 0); rep.Protocol != "smime" || rep.Status != "good" {
		t.Fatalf("%+v", rep)
	}
	code, out, stderr := w.msCode(mk("greg@example.org, bob@example.org"), "encrypt")
	if code != 3 || len(out) != 0 || !bytes.Contains(stderr, []byte("no OpenPGP key for bob@example.org")) ||
		!bytes.Contains(stderr, []byte("no S/MIME certificate for greg@example.org")) || !bytes.Contains(stderr, []byte("mailseal send")) {
		t.Fatalf("mixed recipients: exit %d: %s", code, stderr)
	}
	// Alice has both: OpenPGP first, unless preferred otherwise.
	out, _ = w.ms(mk("bob@example.org"), 0, "sign")
	if !bytes.Contains(out, []byte("application/pgp-signature")) {
		t.Fatal("sign should prefer OpenPGP")
	}
	out, _ = w.ms(mk("bob@example.org"), 0, "sign", "--protocol", "smime")
	if !bytes.Contains(out, []byte("application/pkcs7-signature")) {
		t.Fatal("--protocol smime")
	}
	out, _ = w.ms(mk("bob@example.org"), 0, "sign", "--opaque")
	if !bytes.Contains(out, []byte("smime-type=signed-data")) {
		t.Fatal("--opaque implies S/MIME")
	}
	if code, _, _ := w.msCode(mk("bob@example.org"), "sign", "--pgp", "--opaque"); code != 2 {
		t.Fatalf("--pgp --opaque: exit %d", code)
	}
}

// The config file supplies settings the command line does not give; the
// command line wins; unknown keys and wrongly typed values are usage errors
// that name the key.
func TestSendConfigFile(t *testing.T) {
	flags := map[string]bool{}
	for _, f := range sendFlags() {
		flags[f.Names()[0]] = true
	}
	for _, name := range configurable {
		if !flags[name] {
			t.Fatalf("configurable %q is not a flag of send", name)
		}
	}
	w := newSendWorld(t)
	srv := smtptest.Start(t, smtptest.Options{})
	msg := []byte("From: Alice <alice@example.org>\r\nTo: greg@example.org\r\n" + sendBody)
	cfg := w.write("cfg.toml", []byte("smtp = \"127.0.0.1:1\"\nsmtp-ca = \""+srv.CAFile+"\"\nsign = false\n"))
	// smtp from the command line, smtp-ca and sign=false from the file.
	w.ms(msg, 0, "send", "--config", cfg, "--smtp", srv.Addr)
	got := srv.Messages(t)
	if len(got) != 1 {
		t.Fatalf("%d messages", len(got))
	}
	out, status, err := w.gpgPeer.gpgStatus(armorBlock.Find(got[0].Data), "--decrypt")
	if err != nil || !bytes.Contains(out, []byte("The numbers are in")) || strings.Contains(status, "SIG_ID") {
		t.Fatalf("gpg (expecting an unsigned message): %v\n%s", err, status)
	}
	for _, tc := range []struct{ config, want string }{
		{"smpt = \"x\"\n", `unknown setting "smpt"`},
		{"sign = \"yes\"\n", "sign must be true or false"},
		{"smtp = 25\n", "smtp must be a string"},
		{"smtp = \n", "config"},
	} {
		bad := w.write("bad.toml", []byte(tc.config))
		code, _, stderr := w.msCode(msg, "send", "--config", bad, "--smtp", srv.Addr)
		if code != 2 || !strings.Contains(string(stderr), tc.want) {
			t.Errorf("config %q: exit %d, %s", tc.config, code, stderr)
		}
	}
}

// The outbox from the command line (issue 15): send --queue lists it (also
// as JSON), two flushes at once deliver each message once even when it was
// queued twice, --drop removes entries, and a message whose server
// answer was lost is held in flight, never sent again by a flush, until
// --resend.
func TestSendOutboxCommands(t *testing.T) {
	w := newSendWorld(t)
	srv := smtptest.Start(t, smtptest.Options{FailFirst: 3})
	msgA := []byte("From: alice@example.org\r\nTo: greg@example.org\r\nMessage-ID: <twice@example.org>\r\n" + sendBody)
	msgB := []byte("From: alice@example.org\r\nTo: greg@example.org\r\nMessage-ID: <once@example.org>\r\n" + sendBody)
	for i, m := range [][]byte{msgA, msgA, msgB} {
		if code, _, stderr := w.msCode(m, append([]string{"send"}, w.smtpArgs(srv)...)...); code != 75 {
			t.Fatalf("send %d: exit %d %s", i, code, stderr)
		}
	}
	out, _ := w.ms(nil, 0, "send", "--queue", "--json")
	var entries []struct {
		ID         string   `json:"id"`
		Queued     string   `json:"queued"`
		AgeSeconds *int64   `json:"age_seconds"`
		State      string   `json:"state"`
		From       string   `json:"from"`
		To         []string `json:"to"`
		MessageID  string   `json:"message_id"`
		LastError  string   `json:"last_error"`
	}
	if err := json.Unmarshal(out, &entries); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	if len(entries) != 3 {
		t.Fatalf("%d entries: %s", len(entries), out)
	}
	for _, e := range entries {
		if e.ID == "" || e.Queued == "" || e.AgeSeconds == nil || e.State != "queued" || e.From != "alice@example.org" ||
			strings.Join(e.To, ",") != "greg@example.org" || !strings.Contains(e.LastError, "451") {
			t.Fatalf("entry %+v", e)
		}
	}
	if entries[0].MessageID != "<twice@example.org>" || entries[2].MessageID != "<once@example.org>" {
		t.Fatalf("%s", out)
	}
	out, _ = w.ms(nil, 0, "send", "--queue")
	if lines := strings.Split(strings.TrimSpace(string(out)), "\n"); len(lines) != 3 || !strings.HasPrefix(lines[0], entries[0].ID+"  ") ||
		!strings.Contains(lines[0], "queued") || !strings.Contains(lines[0], "to greg@example.org") || !strings.Contains(lines[0], "451") {
		t.Fatalf("send --queue:\n%s", out)
	}
	// Two flushes at once.
	var wg sync.WaitGroup
	codes := make([]int, 2)
	for i := range codes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			codes[i], _, _ = w.msCode(nil, append([]string{"send", "--flush"}, w.smtpArgs(srv)...)...)
		}()
	}
	wg.Wait()
	if codes[0] != 0 || codes[1] != 0 {
		t.Fatalf("flush exits %v", codes)
	}
	ids := map[string]int{}
	for _, m := range srv.Messages(t) {
		head, _ := splitHeader(m.Data)
		ids[headerValue(head, "Message-ID")]++
	}
	if len(ids) != 2 || ids["<twice@example.org>"] != 1 || ids["<once@example.org>"] != 1 {
		t.Fatalf("delivered: %v", ids)
	}
	if out, _ := w.ms(nil, 0, "send", "--queue"); string(out) != "the outbox is empty\n" {
		t.Fatalf("%q", out)
	}
	if out, _ := w.ms(nil, 0, "send", "--queue", "--json"); strings.TrimSpace(string(out)) != "[]" {
		t.Fatalf("%q", out)
	}
	// Sent again after delivery: not sent a second time.
	_, stderr := w.ms(msgA, 0, append([]string{"send"}, w.smtpArgs(srv)...)...)
	if !strings.Contains(string(stderr), "not sent to greg@example.org: a message with this Message-ID was delivered to them before") || len(srv.Messages(t)) != 2 {
		t.Fatalf("%s", stderr)
	}

	// --drop.
	msgD := []byte("From: alice@example.org\r\nTo: greg@example.org\r\n" + sendBody) // a new Message-ID each time
	for range 2 {
		if code, _, _ := w.msCode(msgD, "send", "--smtp", "127.0.0.1:1"); code != 75 {
			t.Fatalf("exit %d", code)
		}
	}
	box := submit.Outbox{Dir: filepath.Join(w.home, "outbox")}
	items, _ := box.List()
	if len(items) != 2 {
		t.Fatalf("%+v", items)
	}
	_, stderr = w.ms(nil, 0, "send", "--drop", items[0].ID)
	if string(stderr) != "dropped "+items[0].ID+"\n" {
		t.Fatalf("%q", stderr)
	}
	if code, _, stderr := w.msCode(nil, "send", "--drop", items[0].ID); code != 2 || !strings.Contains(string(stderr), "no entry \""+items[0].ID+"\" in the outbox") {
		t.Fatalf("drop of a missing entry: exit %d %s", code, stderr)
	}
	for _, bad := range [][]string{{"send", "--drop"}, {"send", "--all"}, {"send", "--queue", "--flush"}, {"send", "--json"}, {"send", "--resend", "--all"}} {
		if code, _, _ := w.msCode(nil, bad...); code != 2 {
			t.Fatalf("%v: exit %d", bad, code)
		}
	}
	w.ms(nil, 0, "send", "--drop", "--all")
	if items, _ := box.List(); len(items) != 0 {
		t.Fatalf("%+v", items)
	}

	// The answer to the end of the data is lost: exit 1, held in flight.
	lost := smtptest.Start(t, smtptest.Options{DropAnswer: 1})
	msgC := []byte("From: alice@example.org\r\nTo: greg@example.org\r\nMessage-ID: <lost@example.org>\r\n" + sendBody)
	code, _, stderr := w.msCode(msgC, append([]string{"send"}, w.smtpArgs(lost)...)...)
	if code != 1 || !strings.Contains(string(stderr), "may have been delivered") || !strings.Contains(string(stderr), "mailseal send --resend ") ||
		strings.Contains(string(stderr), "send --flush sends it") {
		t.Fatalf("lost answer: exit %d %s", code, stderr)
	}
	out, _ = w.ms(nil, 0, "send", "--queue")
	if !strings.Contains(string(out), "in-flight") {
		t.Fatalf("%s", out)
	}
	code, _, stderr = w.msCode(nil, append([]string{"send", "--flush"}, w.smtpArgs(lost)...)...)
	if code != 1 || !strings.Contains(string(stderr), "1 message(s) held") || len(lost.Messages(t)) != 1 {
		t.Fatalf("flush of a held entry: exit %d, %d delivered: %s", code, len(lost.Messages(t)), stderr)
	}
	items, _ = box.List()
	if len(items) != 1 {
		t.Fatalf("%+v", items)
	}
	// The person decides it did not arrive.
	w.ms(nil, 0, append(append([]string{"send", "--resend"}, w.smtpArgs(lost)...), items[0].ID)...)
	if n := len(lost.Messages(t)); n != 2 {
		t.Fatalf("after --resend the server has %d", n)
	}
	if items, _ := box.List(); len(items) != 0 {
		t.Fatalf("%+v", items)
	}
}

// debianCron is a message exactly as Debian's cron writes it to
// "/usr/sbin/sendmail -i -FCronDaemon -B8BITMIME -oem MAILTO" (cron
// 3.0pl1, do_command.c): LF line ends, From and To without a domain, no
// Date, no Message-ID, no MIME-Version, 8-bit UTF-8 text, one X-Cron-Env
// field per variable.
func debianCron(mailto string) []byte {
	return []byte("From: root (Cron Daemon)\n" +
		"To: " + mailto + "\n" +
		"Subject: Cron <root@host1> /usr/local/bin/backup (failed)\n" +
		"Content-Type: text/plain; charset=UTF-8\n" +
		"X-Cron-Env: <SHELL=/bin/sh>\n" +
		"X-Cron-Env: <HOME=/root>\n" +
		"X-Cron-Env: <PATH=/usr/bin:/bin>\n" +
		"X-Cron-Env: <LOGNAME=root>\n" +
		"\n" +
		"backup: 3 files copied — disk 91 % full ✗\n")
}

// The README's cron recipe (issue 15): stock Debian cron calls mailseal as
// sendmail with a message whose From and To are "root"; with domain and
// from in the config it arrives signed by the system's key, encrypted to
// root's key; a recipient without a key gets it signed only where the
// config allows plaintext; without domain the error names the setting.
func TestSendmailDebianCron(t *testing.T) {
	w := newSendWorld(t)
	srv := smtptest.Start(t, smtptest.Options{})
	w.ms(nil, 0, "keys", "generate", "--pgp", "--uid", "host1 <host1@example.org>")
	w.gpgPeer.gpgGenKey("root <root@example.org>", "ed25519", "cv25519")
	w.ms(w.gpgPeer.gpg(nil, "--armor", "--export", "root@example.org"), 0, "keys", "import")
	pub, _ := w.ms(nil, 0, "keys", "export", "--pgp", "host1@example.org")
	w.gpgPeer.gpg(pub, "--import")

	os.MkdirAll(filepath.Join(w.dir, "mailseal"), 0o700)
	config := func(extra string) {
		data := "smtp = \"" + srv.Addr + "\"\nsmtp-ca = \"" + srv.CAFile + "\"\n" + extra
		if err := os.WriteFile(filepath.Join(w.dir, "mailseal", "config.toml"), []byte(data), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	t.Setenv("XDG_CONFIG_HOME", w.dir)
	t.Setenv("MAILSEAL_HOME", w.home)
	t.Setenv("MAILSEAL_PASSPHRASE", "alice-pass")
	cron := func(mailto string) (int, string) {
		var out, errb bytes.Buffer
		code := run([]string{"/usr/sbin/sendmail", "-i", "-FCronDaemon", "-B8BITMIME", "-oem", mailto}, bytes.NewReader(debianCron(mailto)), &out, &errb)
		return code, errb.String()
	}

	// Without domain: a usage error naming it, nothing sent or queued.
	config("")
	if code, errOut := cron("root"); code != 2 || !strings.Contains(errOut, `From "root (Cron Daemon)" has no domain: set domain`) {
		t.Fatalf("without domain: exit %d %s", code, errOut)
	}

	config("domain = \"example.org\"\nfrom = \"host1@example.org\"\n")
	if code, errOut := cron("root"); code != 0 {
		t.Fatalf("cron mail: exit %d %s", code, errOut)
	}
	got := srv.Messages(t)
	if len(got) != 1 || got[0].From != "host1@example.org" || strings.Join(got[0].To, ",") != "root@example.org" {
		t.Fatalf("%+v", got)
	}
	head, _ := splitHeader(got[0].Data)
	if from := headerValue(head, "From"); from != `"Cron Daemon" <host1@example.org>` {
		t.Fatalf("From %q", from)
	}
	if to := headerValue(head, "To"); to != "root@example.org" {
		t.Fatalf("To %q", to)
	}
	if bytes.Contains(got[0].Data, []byte("backup: 3 files")) || !bytes.Contains(got[0].Data, []byte("application/pgp-encrypted")) {
		t.Fatal("cron mail went out unencrypted")
	}
	out, status, err := w.gpgPeer.gpgStatus(armorBlock.Find(got[0].Data), "--decrypt")
	if err != nil || !bytes.Contains(out, []byte("backup: 3 files copied — disk 91 % full ✗")) || !strings.Contains(status, "GOODSIG") ||
		!strings.Contains(status, "host1@example.org") || !bytes.Contains(out, []byte("X-Cron-Env: <LOGNAME=root>")) {
		t.Fatalf("root's gpg: %v\n%s\n%s", err, out, status)
	}

	// MAILTO=greg@example.org (the README's recipe): encrypted to Greg.
	if code, errOut := cron("greg@example.org"); code != 0 {
		t.Fatalf("MAILTO with a domain: exit %d %s", code, errOut)
	}
	got = srv.Messages(t)
	if len(got) != 2 || strings.Join(got[1].To, ",") != "greg@example.org" || got[1].From != "host1@example.org" {
		t.Fatalf("%+v", got)
	}
	if out, status, err := w.gpgPeer.gpgStatus(armorBlock.Find(got[1].Data), "--decrypt"); err != nil || !bytes.Contains(out, []byte("backup: 3 files")) || !strings.Contains(status, "GOODSIG") {
		t.Fatalf("Greg's gpg: %v\n%s", err, status)
	}

	// MAILTO=ops: no key for ops@example.org. Refused (exit 3) unless the
	// config allows plaintext; then it goes signed only.
	if code, errOut := cron("ops"); code != 3 || !strings.Contains(errOut, "ops@example.org") {
		t.Fatalf("recipient without key: exit %d %s", code, errOut)
	}
	config("domain = \"example.org\"\nfrom = \"host1@example.org\"\nallow-plaintext = true\n")
	if code, errOut := cron("ops"); code != 0 {
		t.Fatalf("signed only: exit %d %s", code, errOut)
	}
	got = srv.Messages(t)
	if len(got) != 3 || strings.Join(got[2].To, ",") != "ops@example.org" {
		t.Fatalf("%+v", got)
	}
	if rep := w.verifyJSON(got[2].Data, 0); rep.Status != "good" || rep.From != "host1@example.org" ||
		len(rep.Warnings) != 1 || !strings.Contains(rep.Warnings[0], `From display name "Cron Daemon" is not a name on the signer's key`) {
		t.Fatalf("signed-only cron mail: %+v", rep)
	}

	// domain alone: root signs as root@example.org, which has no secret
	// key here; --signer (signer in the config) names the key to use.
	config("domain = \"example.org\"\n")
	if code, errOut := cron("root"); code != 3 {
		t.Fatalf("no key for root@example.org to sign with: exit %d %s", code, errOut)
	}
	config("domain = \"example.org\"\nsigner = \"host1@example.org\"\n")
	if code, errOut := cron("root"); code != 0 {
		t.Fatalf("signer from the config: exit %d %s", code, errOut)
	}
	got = srv.Messages(t)
	if len(got) != 4 || got[3].From != "root@example.org" {
		t.Fatalf("%+v", got)
	}
	out, status, err = w.gpgPeer.gpgStatus(armorBlock.Find(got[3].Data), "--decrypt")
	if err != nil || !strings.Contains(status, "GOODSIG") || !strings.Contains(status, "host1@example.org") {
		t.Fatalf("signed by the signer: %v\n%s", err, status)
	}
}

// send --resend of an entry another process is delivering is no usage
// error: it says so and exits 75, as a flush leaves such an entry (review
// finding: exit 2).
func TestResendBusyEntry(t *testing.T) {
	home := t.TempDir()
	box := submit.Outbox{Dir: filepath.Join(home, "outbox")}
	c, err := box.Put(submit.Envelope{From: "a@example.org", To: []string{"b@example.org"}}, []byte("Subject: x\r\n\r\nx\r\n"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Release() // held, as by another send or flush
	var out, errb bytes.Buffer
	code := run([]string{"mailseal", "--home", home, "send", "--resend", "--smtp", "127.0.0.1:1", c.ID}, nil, &out, &errb)
	if code != 75 || !strings.Contains(errb.String(), c.ID+": already being delivered by another process") {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
}
