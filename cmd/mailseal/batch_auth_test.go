package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mailseal/mailseal/internal/dnstest"
)

// TestBatchAuth: verify --batch --auth over a mailbox of 31 messages from
// two domains (DKIM-signed with Ed25519 or RSA, unsigned, a body changed
// after signing, an ARC chain; SPF for one client) asks the test DNS
// server once per name and type, however many messages need it, and
// reports for each message the same domain checks as verify --auth on
// that message alone.
func TestBatchAuth(t *testing.T) {
	dir := t.TempDir()
	p := &smimePeers{t: t, dir: dir, home: filepath.Join(dir, "ms"), passFile: filepath.Join(dir, "pass")}
	os.WriteFile(p.passFile, []byte("unused\n"), 0o600)
	srv, err := dnstest.Start()
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	for _, k := range [][]string{{"example.org", "ed", "ed25519"}, {"example.com", "rsa", "rsa2048"}} {
		rec, _ := p.ms(nil, 0, "dkim", "keygen", "--domain", k[0], "--selector", k[1], "--algo", k[2])
		if err := srv.Add(strings.TrimSpace(string(rec))); err != nil {
			t.Fatal(err)
		}
	}
	arcKey, err := os.ReadFile("../../auth/testdata/arc-key.txt")
	if err != nil {
		t.Fatal(err)
	}
	srv.TXT("arc._domainkey.hop1.example", strings.TrimSpace(string(arcKey)))
	srv.TXT("arc._domainkey.hop2.example", strings.TrimSpace(string(arcKey)))
	srv.TXT("_dmarc.example.org", "v=DMARC1; p=reject")
	srv.TXT("_dmarc.example.com", "v=DMARC1; p=none")
	srv.TXT("mx.example.org", "v=spf1 ip4:192.0.2.0/24 -all")

	var msgs [][]byte
	for i := 0; i < 30; i++ {
		domain, sel := "example.org", "ed"
		if i%3 == 1 {
			domain, sel = "example.com", "rsa"
		}
		msg := []byte(fmt.Sprintf("From: alice@%s\r\nTo: bob@example.net\r\nSubject: batch %d\r\nMessage-ID: <%d@%s>\r\n\r\nmessage %d at noon\r\n", domain, i, i, domain, i))
		if i%3 != 2 {
			msg, _ = p.ms(msg, 0, "dkim", "sign", "--domain", domain, "--selector", sel)
		}
		if i == 4 {
			msg = bytes.Replace(msg, []byte("noon"), []byte("nine"), 1)
		}
		msgs = append(msgs, bytes.ReplaceAll(msg, []byte("\r\n"), []byte("\n")))
	}
	arc, err := os.ReadFile("../../auth/testdata/arc-two-hops.eml")
	if err != nil {
		t.Fatal(err)
	}
	msgs = append(msgs, arc)
	var mbox bytes.Buffer
	for _, m := range msgs {
		mbox.WriteString("From alice@example.org Sat Dec  5 08:00:00 2026\n")
		mbox.Write(m)
		mbox.WriteString("\n")
	}
	in := p.write("in.mbox", mbox.Bytes())
	authArgs := []string{"--auth", "--resolver", srv.Addr, "--client-ip", "192.0.2.7", "--helo", "mx.example.org", "--authserv-id", "mx.example.net"}

	before := srv.QueryCounts()
	code, out, stderr := p.msCode(nil, append([]string{"verify", "--batch", in}, authArgs...)...)
	if code != 1 { // the messages are not OpenPGP or S/MIME signed
		t.Fatalf("verify --batch --auth: exit %d: %s", code, stderr)
	}
	after := srv.QueryCounts()
	for _, k := range []string{"ed._domainkey.example.org. TXT", "rsa._domainkey.example.com. TXT", "_dmarc.example.org. TXT",
		"_dmarc.example.com. TXT", "mx.example.org. TXT", "arc._domainkey.hop1.example. TXT", "arc._domainkey.hop2.example. TXT"} {
		if n := after[k] - before[k]; n != 1 {
			t.Errorf("%s: %d queries in the batch, want 1", k, n)
		}
	}
	for k, n := range after {
		if n-before[k] > 1 {
			t.Errorf("%s: %d queries in the batch", k, n-before[k])
		}
	}

	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	if len(lines) != len(msgs) {
		t.Fatalf("%d report lines for %d messages", len(lines), len(msgs))
	}
	verdicts := map[string]int{}
	for i, l := range lines {
		var batched struct{ Auth json.RawMessage }
		if err := json.Unmarshal([]byte(l), &batched); err != nil || batched.Auth == nil {
			t.Fatalf("line %d: %v: %s", i+1, err, l)
		}
		_, single, _ := p.msCode(msgs[i], append([]string{"verify", "--json"}, authArgs...)...)
		var alone struct{ Auth json.RawMessage }
		if err := json.Unmarshal(single, &alone); err != nil {
			t.Fatalf("message %d alone: %v: %s", i+1, err, single)
		}
		if !bytes.Equal(batched.Auth, alone.Auth) {
			t.Errorf("message %d: in the batch\n%s\nalone\n%s", i+1, batched.Auth, alone.Auth)
		}
		var a struct {
			Verdict string
			ARC     struct{ Result string }
		}
		json.Unmarshal(batched.Auth, &a)
		verdicts[a.Verdict+"/arc="+a.ARC.Result]++
	}
	// SPF passes for mx.example.org, aligned (relaxed) with example.org:
	// every example.org message passes DMARC, signed or not (the ARC one
	// too); example.com passes through DKIM but for the body changed
	// after signing (message 5: fail).
	if want := map[string]int{"pass/arc=none": 29, "fail/arc=none": 1, "pass/arc=pass": 1}; fmt.Sprint(verdicts) != fmt.Sprint(want) {
		t.Errorf("verdicts %v, want %v", verdicts, want)
	}
}
