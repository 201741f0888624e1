package mailseal_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/mailseal/mailseal/internal/smtptest"
	"github.com/mailseal/mailseal/keystore"
)

// externalProgram uses mailseal as a program outside the module would:
// public packages only. "send KEYSTORE SMTPADDR MSG" plans a send, writes
// each copy and submits it with net/smtp; "open KEYSTORE MSG" decrypts a
// received message and prints its verdict and Subject.
const externalProgram = `package main

import (
	"bytes"
	"fmt"
	"net/smtp"
	"os"
	"strings"

	"github.com/mailseal/mailseal"
	"github.com/mailseal/mailseal/keystore"
	"github.com/mailseal/mailseal/mime"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "error:", err)
		os.Exit(mailseal.ExitCode(err))
	}
}

func run(args []string) error {
	ks, err := keystore.Open(args[1])
	if err != nil {
		return err
	}
	keys := ks.Session(keystore.SessionOptions{})
	f, err := os.Open(args[len(args)-1])
	if err != nil {
		return err
	}
	msg, err := mime.ParseFile(f, mime.DefaultLimits(), 1<<20)
	if err != nil {
		return err
	}
	defer msg.Close()
	switch args[0] {
	case "send":
		plan, err := mailseal.PlanSend(msg, keys, mailseal.SendOptions{Sign: true})
		if err != nil {
			return err
		}
		defer plan.Close()
		for _, c := range plan.Copies {
			var out bytes.Buffer
			if err := plan.Write(&out, c); err != nil {
				return err
			}
			if err := smtp.SendMail(args[2], nil, plan.EnvelopeFrom, c.Rcpt, out.Bytes()); err != nil {
				return err
			}
			fmt.Println("sent", c.Protocol, strings.Join(c.Rcpt, ","))
		}
	case "open":
		var plain bytes.Buffer
		opened, err := mailseal.Open(msg, keys.Keys(), mailseal.OpenOptions{Decrypt: true, Output: &plain})
		if err != nil {
			return err
		}
		dec, err := mime.Parse(&plain, mime.DefaultLimits(), 1<<20)
		if err != nil {
			return err
		}
		defer dec.Close()
		fmt.Println(opened.Status, opened.Protocol, opened.Integrity, opened.From, dec.Root.Header.Get("Subject"))
	}
	return nil
}
`

// TestExternalModule builds a program in a module of its own that imports
// mailseal through a replace directive, so that it can use only what is
// public, and has it encrypt to a mixed OpenPGP/S/MIME recipient list,
// submit the copies to a real SMTP server, and open what arrived.
func TestExternalModule(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a program (-short)")
	}
	root, err := filepath.Abs(".")
	if err != nil {
		t.Fatal(err)
	}
	mod := t.TempDir()
	// The program's go.mod holds mailseal's requirements as they are, so
	// that its build loads the module graph that mailseal's own build
	// loads and nothing else: built with GOPROXY=off, it finds only what
	// that build put in the module cache. (With mailseal alone required,
	// the go command walks the whole graph below go-message, whose go.mod
	// predates graph pruning, and wants go.mod files no build here needs.)
	ownMod, err := os.ReadFile(filepath.Join(root, "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	_, requirements, ok := strings.Cut(string(ownMod), "\n")
	if !ok || !strings.HasPrefix(string(ownMod), "module github.com/mailseal/mailseal\n") {
		t.Fatalf("go.mod does not start with the module line:\n%s", ownMod)
	}
	gomod := "module example.com/sealmail\n" + requirements +
		"\nrequire github.com/mailseal/mailseal v0.0.0-00010101000000-000000000000\n\nreplace github.com/mailseal/mailseal => " + root + "\n"
	sum, err := os.ReadFile(filepath.Join(root, "go.sum"))
	if err != nil {
		t.Fatal(err)
	}
	for name, data := range map[string][]byte{"go.mod": []byte(gomod), "go.sum": sum, "main.go": []byte(externalProgram)} {
		if err := os.WriteFile(filepath.Join(mod, name), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	bin := filepath.Join(mod, "sealmail")
	if runtime.GOOS == "windows" {
		bin += ".exe"
	}
	build := exec.Command("go", "build", "-mod=mod", "-o", bin, ".")
	build.Dir = mod
	build.Env = append(os.Environ(), "GOPROXY=off", "GOFLAGS=", "GOWORK=off")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building the external program: %v\n%s", err, out)
	}

	// One keystore with every party's keys: Alice sends; Bob reads
	// OpenPGP, Carol S/MIME.
	dir := t.TempDir()
	ks, err := keystore.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, uid := range []string{"Alice <alice@example.org>", "Bob <bob@example.org>"} {
		if _, err := ks.GeneratePGP(keystore.GenerateOptions{UID: uid, NoPassphrase: true}); err != nil {
			t.Fatal(err)
		}
	}
	for _, addr := range []string{"alice@example.org", "carol@example.org"} {
		if _, err := ks.GenerateX509(keystore.X509Options{Email: addr, NoPassphrase: true}); err != nil {
			t.Fatal(err)
		}
		if _, err := ks.Trust(addr); err != nil {
			t.Fatal(err)
		}
	}
	msgFile := filepath.Join(t.TempDir(), "msg.eml")
	msg := "From: Alice <alice@example.org>\r\nTo: Bob <bob@example.org>, carol@example.org\r\nSubject: quarterly numbers\r\n\r\nsee attached\r\n"
	if err := os.WriteFile(msgFile, []byte(msg), 0o600); err != nil {
		t.Fatal(err)
	}

	srv := smtptest.Start(t, smtptest.Options{Mode: "plain"})
	out, err := exec.Command(bin, "send", dir, srv.Addr, msgFile).CombinedOutput()
	if err != nil {
		t.Fatalf("send: %v\n%s", err, out)
	}
	if got, want := string(out), "sent openpgp bob@example.org\nsent smime carol@example.org\n"; got != want {
		t.Errorf("send printed %q, want %q", got, want)
	}

	got := srv.Messages(t)
	if len(got) != 2 {
		t.Fatalf("the server got %d messages, want 2", len(got))
	}
	want := []string{
		"good openpgp mdc alice@example.org quarterly numbers",
		"good smime gcm alice@example.org quarterly numbers",
	}
	for i, m := range got {
		if strings.Contains(string(m.Data), "quarterly numbers") {
			t.Errorf("copy %d shows the Subject outside the encryption", i)
		}
		f := filepath.Join(t.TempDir(), "received.eml")
		if err := os.WriteFile(f, m.Data, 0o600); err != nil {
			t.Fatal(err)
		}
		out, err := exec.Command(bin, "open", dir, f).CombinedOutput()
		if err != nil {
			t.Fatalf("open copy %d: %v\n%s", i, err, out)
		}
		if got := strings.TrimSpace(string(out)); got != want[i] {
			t.Errorf("copy %d opened as %q, want %q", i, got, want[i])
		}
	}
}
