package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

func TestBatchMailboxes(t *testing.T) {
	w := newSendWorld(t)
	var mbox bytes.Buffer
	var want []string
	for i := 0; i < 12; i++ {
		body := "From the start of a line: this must survive mbox quoting.\r\nmessage " + string(rune('A'+i)) + "\r\n"
		msg := []byte("From: alice@example.org\r\nTo: greg@example.org\r\nSubject: batch\r\n\r\n" + body)
		args := []string{"encrypt", "--pgp", "--sign"}
		if i%4 == 3 {
			args = []string{"encrypt", "--smime", "--sign", "--to", "bob@example.org", "--no-self"}
			msg = []byte("From: alice@example.org\r\nTo: alice@example.org\r\nSubject: batch\r\n\r\n" + body)
		}
		out, _ := w.ms(msg, 0, args...)
		if i == 5 {
			out = flipArmored(t, out)
		}
		mbox.WriteString("From alice@example.org Sun Nov 22 10:00:00 2026\n")
		mbox.Write(bytes.ReplaceAll(out, []byte("\r\n"), []byte("\n")))
		mbox.WriteString("\n")
		want = append(want, "message "+string(rune('A'+i)))
	}
	in := w.write("in.mbox", mbox.Bytes())

	// verify: one JSON line per message, in order; exit 1 for the tampered one.
	code, out, _ := w.msCode(nil, "verify", "--batch", in, "--no-system-roots")
	if code != 1 {
		t.Fatalf("verify --batch: exit %d", code)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	if len(lines) != 12 {
		t.Fatalf("%d report lines", len(lines))
	}
	for i, l := range lines {
		var r struct {
			Message, Status, Protocol string
		}
		json.Unmarshal([]byte(l), &r)
		wantStatus := "good"
		if i == 5 {
			wantStatus = "bad" // tampered ciphertext, as for one message (integrity failed)
		}
		if r.Status != wantStatus || r.Message != "#"+itoa(i+1) {
			t.Fatalf("line %d: %s", i, l)
		}
	}

	// decrypt: an mbox of the decrypted messages (the tampered one left out).
	outMbox := filepath.Join(w.dir, "out.mbox")
	code, _, _ = w.msCode(nil, "decrypt", "--batch", in, "-o", outMbox)
	if code != 1 {
		t.Fatalf("decrypt --batch: exit %d", code)
	}
	data, _ := os.ReadFile(outMbox)
	if n := bytes.Count(data, []byte("\nFrom MAILER-DAEMON")) + 1; n != 11 {
		t.Fatalf("%d messages in the output mbox", n)
	}
	if bytes.Count(data, []byte("\n>From the start of a line")) != 11 {
		t.Fatal("a body line starting with From was not quoted in the mbox")
	}
	back, err := readMbox(bytes.NewReader(data))
	if err != nil || len(back) != 11 || !bytes.Contains(back[0].raw, []byte("\nFrom the start of a line")) {
		t.Fatalf("reading the output back: %v, %d", err, len(back))
	}
	if !bytes.Contains(data, []byte(want[0])) || bytes.Contains(data, []byte(want[5])) {
		t.Fatal("wrong messages in the output")
	}
	// An existing output mbox is never overwritten.
	if code, _, _ := w.msCode(nil, "decrypt", "--batch", in, "-o", outMbox); code != 2 {
		t.Fatalf("existing output: exit %d", code)
	}

	// encrypt --batch over plaintext messages, then decrypt --batch again.
	var plain bytes.Buffer
	for i := 0; i < 6; i++ {
		plain.WriteString("From alice@example.org Sun Nov 22 10:00:00 2026\n")
		plain.WriteString("From: alice@example.org\nTo: greg@example.org\nSubject: plain " + itoa(i) + "\n\nsecret number " + itoa(i) + "\n\n")
	}
	plainIn := w.write("plain.mbox", plain.Bytes())
	encOut := filepath.Join(w.dir, "enc.mbox")
	w.ms(nil, 0, "encrypt", "--batch", plainIn, "-o", encOut, "--sign")
	encData, _ := os.ReadFile(encOut)
	if bytes.Contains(encData, []byte("secret number")) || bytes.Count(encData, []byte("BEGIN PGP MESSAGE")) != 6 {
		t.Fatal("encrypt --batch did not encrypt every message")
	}
	decOut := filepath.Join(w.dir, "dec.mbox")
	w.ms(nil, 0, "decrypt", "--batch", encOut, "-o", decOut)
	decData, _ := os.ReadFile(decOut)
	for i := 0; i < 6; i++ {
		if !bytes.Contains(decData, []byte("secret number "+itoa(i))) {
			t.Fatalf("message %d lost in the round trip", i)
		}
	}
	// A message to someone without a key: reported, exit 3, the others still written.
	bad := append(plain.Bytes(), []byte("From x Sun Nov 22 10:00:00 2026\nFrom: alice@example.org\nTo: nobody@example.org\n\nx\n")...)
	code, out2, _ := w.msCode(nil, "encrypt", "--batch", w.write("bad.mbox", bad), "-o", filepath.Join(w.dir, "bad-out.mbox"))
	if code != 3 || !bytes.Contains(out2, []byte("nobody@example.org")) {
		t.Fatalf("missing key in batch: exit %d %s", code, out2)
	}

	// Maildir in, Maildir out: new messages stay in new/.
	md := filepath.Join(w.dir, "Maildir")
	for _, sub := range []string{"cur", "new", "tmp"} {
		os.MkdirAll(filepath.Join(md, sub), 0o700)
	}
	msgs, _ := readMbox(bytes.NewReader(mbox.Bytes()))
	for i, m := range msgs[:4] {
		os.WriteFile(filepath.Join(md, "new", "m"+itoa(i)), m.raw, 0o600)
	}
	outMD := filepath.Join(w.dir, "Out")
	w.ms(nil, 0, "decrypt", "--batch", md, "-o", outMD, "--no-system-roots")
	for i := 0; i < 4; i++ {
		got, err := os.ReadFile(filepath.Join(outMD, "new", "m"+itoa(i))) // still new

		if err != nil || !bytes.Contains(got, []byte(want[i])) {
			t.Fatalf("Maildir message %d: %v", i, err)
		}
	}
}

// flipArmored changes one character inside the armored OpenPGP message.
func flipArmored(t *testing.T, msg []byte) []byte {
	t.Helper()
	i := bytes.Index(msg, []byte("-----END PGP MESSAGE-----"))
	if i < 200 {
		t.Fatal("no armored message")
	}
	out := bytes.Clone(msg)
	j := i - 120
	if out[j] == 'A' {
		out[j] = 'B'
	} else {
		out[j] = 'A'
	}
	return out
}

func itoa(n int) string { return strconv.Itoa(n) }
