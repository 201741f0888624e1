package main

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"testing"
)

// batchMessages are messages of every kind a batch meets, Alice's: signed,
// encrypted, tampered, S/MIME, unsigned; their bodies have lines starting
// with "From " and ">From ", which an mbox quotes.
func batchMessages(t *testing.T, w *sendWorld) (names []string, msgs [][]byte) {
	t.Helper()
	body := "From the start of a line.\r\n>From a quoted line.\r\n>>From twice.\r\n"
	plain := func(to, subject string) []byte {
		return []byte("From: alice@example.org\r\nTo: " + to + "\r\nSubject: " + subject + "\r\n\r\n" + body + subject + "\r\n")
	}
	add := func(name string, msg []byte) {
		names = append(names, name)
		msgs = append(msgs, msg)
	}
	signed, _ := w.ms(plain("greg@example.org", "signed"), 0, "sign", "--pgp")
	add("signed", signed)
	enc, _ := w.ms(plain("greg@example.org", "encrypted and signed"), 0, "encrypt", "--pgp", "--sign")
	add("encrypted", enc)
	tampered, _ := w.ms(plain("greg@example.org", "tampered"), 0, "encrypt", "--pgp", "--sign")
	add("tampered", flipArmored(t, tampered))
	sm, _ := w.ms(plain("alice@example.org", "smime"), 0, "encrypt", "--smime", "--sign", "--to", "bob@example.org", "--no-self")
	add("smime", sm)
	unsigned, _ := w.ms(plain("greg@example.org", "encrypted, unsigned"), 0, "encrypt", "--pgp")
	add("unsigned", unsigned)
	add("plain", plain("greg@example.org", "plain"))
	last, _ := w.ms(plain("greg@example.org", "last"), 0, "encrypt", "--pgp", "--sign")
	add("last", last)
	return names, msgs
}

// writeTestMbox writes msgs as an mbox with LF line endings, quoting
// "From " lines (mboxrd), the last message without its final line break,
// and returns what each message reads as from it.
func writeTestMbox(t *testing.T, path string, msgs [][]byte) [][]byte {
	t.Helper()
	quoted := regexp.MustCompile(`(?m)^(>*From )`)
	var b bytes.Buffer
	var contents [][]byte
	for i, m := range msgs {
		lf := bytes.ReplaceAll(m, []byte("\r\n"), []byte("\n"))
		if i == len(msgs)-1 {
			lf = bytes.TrimSuffix(lf, []byte("\n"))
		}
		b.WriteString("From alice@example.org Sun Nov 22 10:00:00 2026\n")
		b.Write(quoted.ReplaceAll(lf, []byte(">$1")))
		if i < len(msgs)-1 {
			b.WriteString("\n")
		}
		contents = append(contents, lf)
	}
	if err := os.WriteFile(path, b.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	return contents
}

// single is what the one-message command says about a message.
type single struct {
	code   int
	report map[string]any
	output []byte
}

func (w *sendWorld) single(t *testing.T, msg []byte, cmd string) single {
	t.Helper()
	out := filepath.Join(t.TempDir(), "out.eml")
	code, stdout, stderr := w.msCode(msg, cmd, "--json", "--no-system-roots", "-o", out)
	rep := stdout
	if cmd == "decrypt" {
		rep = stderr[bytes.LastIndex(bytes.TrimSuffix(stderr, []byte("\n")), []byte("\n"))+1:]
	}
	s := single{code: code}
	if err := json.Unmarshal(rep, &s.report); err != nil {
		t.Fatalf("%s --json: %q: %v", cmd, rep, err)
	}
	s.output, _ = os.ReadFile(out)
	if code != 0 {
		s.output = nil // what a batch leaves out
	}
	return s
}

// batchLines decodes the JSON lines of a batch, by message.
func batchLines(t *testing.T, out []byte) (ids []string, reports []map[string]any) {
	t.Helper()
	for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		if l == "" {
			continue
		}
		var r map[string]any
		if err := json.Unmarshal([]byte(l), &r); err != nil {
			t.Fatalf("%q: %v", l, err)
		}
		ids = append(ids, r["message"].(string))
		delete(r, "message")
		reports = append(reports, r)
	}
	return ids, reports
}

// sameReport compares a batch report with the single command's: equal, or
// for a message that failed, the same error.
func sameReport(t *testing.T, what string, got, want map[string]any) {
	t.Helper()
	g, _ := json.Marshal(got)
	wj, _ := json.Marshal(want)
	if got["status"] == "error" {
		if got["error"] != want["error"] || got["error"] == nil {
			t.Fatalf("%s: batch error %v, single command %s", what, got["error"], wj)
		}
		return
	}
	if !bytes.Equal(g, wj) {
		t.Fatalf("%s: batch report\n%s\nsingle command\n%s", what, g, wj)
	}
}

// A batch says and writes for each message, in order, what the
// one-message command says and writes, for an mbox and a Maildir.
func TestBatchMatchesSingleMessages(t *testing.T) {
	w := newSendWorld(t)
	names, msgs := batchMessages(t, w)
	in := filepath.Join(w.dir, "in.mbox")
	contents := writeTestMbox(t, in, msgs)

	md := filepath.Join(w.dir, "Maildir")
	for _, sub := range []string{"cur", "new", "tmp"} {
		os.MkdirAll(filepath.Join(md, sub), 0o700)
	}
	var mdIDs []string
	for i, m := range msgs {
		// Out of order on disk and split between cur/ and new/: the
		// batch goes by name, cur/ first.
		sub := []string{"new", "cur"}[i%2]
		name := itoa(len(msgs)-i) + "-" + names[i] + ":2,S"
		os.WriteFile(filepath.Join(md, sub, name), m, 0o600)
		mdIDs = append(mdIDs, sub+"/"+name)
	}

	for _, box := range []struct {
		name, path string
		ids        []string
		contents   [][]byte
	}{
		{"mbox", in, nil, contents},
		{"Maildir", md, mdIDs, msgs},
	} {
		// The order of the reports: "#N" in an mbox, by name in a Maildir.
		order := make([]int, len(msgs))
		ids := make([]string, len(msgs))
		for i := range order {
			order[i] = i
			ids[i] = "#" + itoa(i+1)
		}
		if box.ids != nil {
			copy(ids, box.ids)
			sortedIdx := make([]int, len(ids))
			for i := range sortedIdx {
				sortedIdx[i] = i
			}
			sortByID(sortedIdx, ids)
			order = sortedIdx
		}
		for _, cmd := range []string{"verify", "decrypt"} {
			var want []single
			worst := 0
			for _, i := range order {
				s := w.single(t, box.contents[i], cmd)
				want = append(want, s)
				worst = max(worst, s.code)
			}
			args := []string{cmd, "--batch", box.path, "--no-system-roots", "--json"}
			out := filepath.Join(w.dir, box.name+"-"+cmd+"-out")
			if cmd == "decrypt" {
				args = append(args, "-o", out)
			}
			code, stdout, _ := w.msCode(nil, args...)
			if code != worst {
				t.Fatalf("%s %s --batch: exit %d, the worst single exit is %d", box.name, cmd, code, worst)
			}
			gotIDs, reports := batchLines(t, stdout)
			if len(reports) != len(msgs) {
				t.Fatalf("%s %s --batch: %d reports for %d messages", box.name, cmd, len(reports), len(msgs))
			}
			for k, i := range order {
				if gotIDs[k] != ids[i] {
					t.Fatalf("%s %s: report %d is for %s, want %s", box.name, cmd, k, gotIDs[k], ids[i])
				}
				sameReport(t, box.name+" "+cmd+" "+names[i], reports[k], want[k].report)
			}
			if cmd != "decrypt" {
				continue
			}
			// The decrypted messages: those the single command writes.
			if box.ids == nil {
				data, _ := os.ReadFile(out)
				back, err := readMbox(bytes.NewReader(data))
				if err != nil {
					t.Fatal(err)
				}
				var wantOut [][]byte
				for _, s := range want {
					if s.output != nil {
						wantOut = append(wantOut, bytes.ReplaceAll(s.output, []byte("\r\n"), []byte("\n")))
					}
				}
				if len(back) != len(wantOut) || len(wantOut) < 3 {
					t.Fatalf("mbox decrypt: %d messages written, want %d", len(back), len(wantOut))
				}
				for k := range back {
					if !bytes.Equal(back[k].raw, wantOut[k]) {
						t.Fatalf("mbox decrypt: message %d is\n%s\nwant\n%s", k, back[k].raw, wantOut[k])
					}
				}
				if !bytes.Contains(data, []byte("\n>From the start")) || !bytes.Contains(data, []byte("\n>>>From twice")) {
					t.Fatal("From lines not quoted in the output mbox")
				}
				continue
			}
			for k, i := range order {
				got, err := os.ReadFile(filepath.Join(out, ids[i])) // its name, flags and subdirectory kept
				if want[k].output == nil {
					if err == nil {
						t.Fatalf("Maildir decrypt: %s written", ids[i])
					}
					continue
				}
				if !bytes.Equal(got, want[k].output) {
					t.Fatalf("Maildir decrypt: %s is\n%s\nwant\n%s", ids[i], got, want[k].output)
				}
			}
			if left, _ := os.ReadDir(filepath.Join(out, "tmp")); len(left) != 0 {
				t.Fatalf("files left in tmp/: %v", left)
			}
		}
	}

	// encrypt --batch: each message comes back as the single command's
	// round trip gives it.
	var plainMsgs [][]byte
	for _, m := range msgs {
		if s := w.single(t, m, "decrypt"); s.output != nil {
			plainMsgs = append(plainMsgs, s.output)
		}
	}
	plainIn := filepath.Join(w.dir, "plain.mbox")
	plainContents := writeTestMbox(t, plainIn, plainMsgs)
	encOut := filepath.Join(w.dir, "enc.mbox")
	w.ms(nil, 0, "encrypt", "--batch", plainIn, "-o", encOut, "--sign")
	data, _ := os.ReadFile(encOut)
	encrypted, err := readMbox(bytes.NewReader(data))
	if err != nil || len(encrypted) != len(plainMsgs) {
		t.Fatalf("encrypt --batch: %v, %d messages", err, len(encrypted))
	}
	for i, e := range encrypted {
		one, _ := w.ms(plainContents[i], 0, "encrypt", "--sign")
		got, want := w.single(t, e.raw, "decrypt"), w.single(t, one, "decrypt")
		if got.code != 0 || !bytes.Equal(got.output, want.output) {
			t.Fatalf("encrypt --batch: message %d decrypts (exit %d) to\n%s\nwant\n%s", i, got.code, got.output, want.output)
		}
	}
}

// sortByID orders idx by ids[idx]: the order in which a batch reads a Maildir.
func sortByID(idx []int, ids []string) {
	for i := 1; i < len(idx); i++ {
		for j := i; j > 0 && ids[idx[j]] < ids[idx[j-1]]; j-- {
			idx[j], idx[j-1] = idx[j-1], idx[j]
		}
	}
}

func TestBatchEmptyAndNotMailboxes(t *testing.T) {
	w := newSendWorld(t)
	empty := w.write("empty.mbox", nil)
	emptyDir := filepath.Join(w.dir, "EmptyMaildir")
	os.Mkdir(emptyDir, 0o700)
	for _, in := range []string{empty, emptyDir} {
		code, out, stderr := w.msCode(nil, "verify", "--batch", in)
		if code != 0 || len(out) != 0 || string(stderr) != "0 ok, 0 failed\n" {
			t.Fatalf("verify --batch %s: exit %d %q %q", in, code, out, stderr)
		}
		dst := filepath.Join(w.dir, filepath.Base(in)+"-out")
		if code, _, _ := w.msCode(nil, "decrypt", "--batch", in, "-o", dst); code != 0 {
			t.Fatalf("decrypt --batch %s: exit %d", in, code)
		}
		if st, err := os.Stat(dst); err != nil || (st.Mode().IsRegular() && st.Size() != 0) {
			t.Fatalf("decrypt --batch %s: output %v", in, err)
		}
	}
	// Not an mbox: exit 2, and no output mbox is made.
	notMbox := w.write("not.mbox", []byte("Subject: x\n\nbody\n"))
	dst := filepath.Join(w.dir, "not-out.mbox")
	code, _, stderr := w.msCode(nil, "decrypt", "--batch", notMbox, "-o", dst)
	if code != 2 || !bytes.Contains(stderr, []byte("not an mbox")) {
		t.Fatalf("not an mbox: exit %d %s", code, stderr)
	}
	if _, err := os.Stat(dst); err == nil {
		t.Fatal("an output mbox was made for input that is not an mbox")
	}
}

// randomBase64 is n random bytes as base64 lines of 76 characters, CRLF.
func randomBase64(n int) []byte {
	raw := make([]byte, n)
	rand.Read(raw)
	enc := base64.StdEncoding.EncodeToString(raw)
	var b bytes.Buffer
	b.Grow(len(enc) * 78 / 76)
	for len(enc) > 76 {
		b.WriteString(enc[:76])
		b.WriteString("\r\n")
		enc = enc[76:]
	}
	b.WriteString(enc + "\r\n")
	return b.Bytes()
}

// msProcess runs the CLI in a process of its own (the test binary, which
// testscript puts on PATH) and returns its exit code, output and peak RSS
// in bytes. The process reports its own peak (VmHWM, which starts afresh
// at exec): the rusage of a child counts the parent's RSS at the time it
// was started (Linux keeps the larger across exec, and Go starts children
// with vfork), and this test's own RSS is large.
func (w *sendWorld) msProcess(t *testing.T, args ...string) (int, []byte, int64) {
	t.Helper()
	cmd := exec.Command("mailseal-peak-rss", append([]string{"--home", w.home, "--passphrase-file", w.passFile}, args...)...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	if cmd.ProcessState == nil {
		t.Fatalf("mailseal %s: %v", strings.Join(args, " "), err)
	}
	m := regexp.MustCompile(`peak RSS: (\d+) KiB\n$`).FindSubmatch(stderr.Bytes())
	if m == nil {
		t.Fatalf("mailseal %s: no peak RSS reported: %s", strings.Join(args, " "), stderr.Bytes())
	}
	kib, _ := strconv.ParseInt(string(m[1]), 10, 64)
	return cmd.ProcessState.ExitCode(), stdout.Bytes(), kib << 10
}

// A batch's memory does not grow with the mailbox: a mailbox of 130 MB
// holding two messages of 55 and 75 MB (one with quoted "From " lines, one
// with CRLF line endings, read where it lies) and small ones is verified
// and decrypted in under 64 MiB of RSS, and so is a Maildir holding the
// 75 MB one.
func TestBatchMemoryBounded(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("the peak RSS is read from /proc/self/status")
	}
	w := newSendWorld(t)
	big := func(subject string) []byte {
		var b bytes.Buffer
		b.WriteString("From: alice@example.org\r\nTo: greg@example.org\r\nSubject: " + subject + "\r\nMIME-Version: 1.0\r\n" +
			"Content-Type: multipart/mixed; boundary=\"b\"\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\n" +
			"From the start of a line.\r\n>From a quoted line.\r\n" +
			"--b\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\r\n")
		b.Write(randomBase64(40 << 20))
		b.WriteString("--b--\r\n")
		return b.Bytes()
	}
	signed, _ := w.ms(big("big signed"), 0, "sign", "--pgp")
	encrypted, _ := w.ms(big("big encrypted"), 0, "encrypt", "--pgp", "--sign")
	small, _ := w.ms([]byte("From: alice@example.org\r\nTo: greg@example.org\r\nSubject: small\r\n\r\nFrom here.\r\n"), 0, "sign", "--pgp")
	wantPlain := w.single(t, encrypted, "decrypt").output
	if wantPlain == nil {
		t.Fatal("the big message does not decrypt")
	}

	in := filepath.Join(w.dir, "big.mbox")
	f, err := os.Create(in)
	if err != nil {
		t.Fatal(err)
	}
	const envelope = "From alice@example.org Sun Nov 22 10:00:00 2026\n"
	smallLF := bytes.ReplaceAll(small, []byte("\r\n"), []byte("\n"))
	smallLF = bytes.ReplaceAll(smallLF, []byte("\nFrom here"), []byte("\n>From here"))
	for range 20 {
		f.WriteString(envelope)
		f.Write(smallLF)
		f.WriteString("\n")
	}
	f.WriteString(envelope)
	f.Write(regexp.MustCompile(`(?m)^(>*From )`).ReplaceAll(bytes.ReplaceAll(signed, []byte("\r\n"), []byte("\n")), []byte(">$1")))
	f.WriteString("\n" + envelope)
	f.Write(encrypted) // CRLF, no "From " lines
	f.WriteString("\r\n")
	for range 20 {
		f.WriteString(envelope)
		f.Write(smallLF)
		f.WriteString("\n")
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}

	const limit = 64 << 20
	code, out, rss := w.msProcess(t, "verify", "--batch", in)
	t.Logf("verify --batch of a %d MB mbox: peak RSS %.1f MiB", (len(signed)+len(encrypted))>>20, float64(rss)/(1<<20))
	if code != 0 || bytes.Count(out, []byte(`","status":"good","protocol"`)) != 42 {
		t.Fatalf("verify --batch: exit %d\n%s", code, out)
	}
	if rss >= limit {
		t.Fatalf("verify --batch: peak RSS %d MiB, want under 64 MiB", rss>>20)
	}

	outMbox := filepath.Join(w.dir, "out.mbox")
	code, _, rss = w.msProcess(t, "decrypt", "--batch", in, "-o", outMbox)
	t.Logf("decrypt --batch of the mbox: peak RSS %.1f MiB", float64(rss)/(1<<20))
	if code != 1 { // the signed messages are not encrypted
		t.Fatalf("decrypt --batch: exit %d", code)
	}
	data, _ := os.ReadFile(outMbox)
	back, err := readMbox(bytes.NewReader(data))
	if err != nil || len(back) != 1 || !bytes.Equal(back[0].raw, bytes.ReplaceAll(wantPlain, []byte("\r\n"), []byte("\n"))) {
		t.Fatalf("decrypt --batch: %v, %d messages, or not the decrypted one", err, len(back))
	}
	if rss >= limit {
		t.Fatalf("decrypt --batch: peak RSS %d MiB, want under 64 MiB", rss>>20)
	}

	md := filepath.Join(w.dir, "Maildir")
	os.MkdirAll(filepath.Join(md, "cur"), 0o700)
	os.WriteFile(filepath.Join(md, "cur", "1"), small, 0o600)
	os.WriteFile(filepath.Join(md, "cur", "2"), encrypted, 0o600)
	outMD := filepath.Join(w.dir, "OutMaildir")
	code, _, rss = w.msProcess(t, "decrypt", "--batch", md, "-o", outMD)
	t.Logf("decrypt --batch of the Maildir: peak RSS %.1f MiB", float64(rss)/(1<<20))
	if code != 1 {
		t.Fatalf("decrypt --batch of the Maildir: exit %d", code)
	}
	if got, err := os.ReadFile(filepath.Join(outMD, "cur", "2")); err != nil || !bytes.Equal(got, wantPlain) {
		t.Fatalf("decrypt --batch of the Maildir: %v", err)
	}
	if rss >= limit {
		t.Fatalf("decrypt --batch of the Maildir: peak RSS %d MiB, want under 64 MiB", rss>>20)
	}
}
