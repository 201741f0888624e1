package mailseal_test

import (
	"bytes"
	"fmt"
	"log"
	"net/smtp"
	"os"
	"strings"

	openpgp "github.com/ProtonMail/go-crypto/openpgp/v2"

	"github.com/mailseal/mailseal"
	"github.com/mailseal/mailseal/internal/smtptest"
	"github.com/mailseal/mailseal/keystore"
	"github.com/mailseal/mailseal/mime"
	"github.com/mailseal/mailseal/pgp"
)

const outgoing = "From: Alice <alice@example.org>\r\n" +
	"To: Bob <bob@example.org>\r\n" +
	"Subject: the plan\r\n" +
	"Content-Type: text/plain; charset=utf-8\r\n" +
	"\r\n" +
	"Meet at noon.\r\n"

// parse reads a message held in memory.
func parse(msg string) *mime.Message {
	m, err := mime.Parse(strings.NewReader(msg), mime.DefaultLimits(), 1<<20)
	if err != nil {
		log.Fatal(err)
	}
	return m
}

// newKey makes an OpenPGP key for the examples; a program would take it
// from a keystore (keystore.Session) or a file.
func newKey(uid string) *openpgp.Entity {
	k, err := pgp.NewKey(pgp.KeyOptions{UserIDs: []string{uid}})
	if err != nil {
		log.Fatal(err)
	}
	return k
}

// Encrypt outgoing mail from a Go program, signed by the sender, and read
// it as the recipient.
func ExampleEncrypt() {
	alice, bob := newKey("Alice <alice@example.org>"), newKey("Bob <bob@example.org>")

	msg := parse(outgoing)
	defer msg.Close()
	var encrypted bytes.Buffer
	to := []mailseal.Recipient{pgp.Recipient{Entity: bob}, pgp.Recipient{Entity: alice}}
	if err := mailseal.Encrypt(&encrypted, msg, to, mailseal.SignWith(pgp.Signer{Entity: alice})); err != nil {
		log.Fatal(err)
	}

	// Bob opens it with his secret key and Alice's certificate.
	received := parse(encrypted.String())
	defer received.Close()
	keys := mailseal.Keys{OpenPGP: pgp.Keyring{Certs: openpgp.EntityList{alice}, Secrets: openpgp.EntityList{bob}}}
	var plain bytes.Buffer
	opened, err := mailseal.Open(received, keys, mailseal.OpenOptions{Decrypt: true, Output: &plain})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(opened.Status, opened.Protocol, opened.Integrity)
	fmt.Println(strings.Contains(plain.String(), "Subject: the plan"), strings.Contains(plain.String(), "Meet at noon."))
	// Output:
	// good openpgp mdc
	// true true
}

// Encrypt, leaving the real Subject readable outside (it still travels
// protected inside, and the body gets no legacy display element).
func ExampleWithKeepSubject() {
	bob := newKey("Bob <bob@example.org>")
	msg := parse(outgoing)
	defer msg.Close()
	var encrypted bytes.Buffer
	to := []mailseal.Recipient{pgp.Recipient{Entity: bob}}
	if err := mailseal.Encrypt(&encrypted, msg, to, mailseal.WithKeepSubject(true)); err != nil {
		log.Fatal(err)
	}
	fmt.Println(strings.Contains(encrypted.String(), "Subject: the plan\r\n"), strings.Contains(encrypted.String(), "[...]"))
	// Output:
	// true false
}

// Verify a received message and print who signed it.
func ExampleOpen() {
	alice := newKey("Alice <alice@example.org>")
	var signed bytes.Buffer
	msg := parse(outgoing)
	defer msg.Close()
	if err := mailseal.Sign(&signed, msg, pgp.Signer{Entity: alice}); err != nil {
		log.Fatal(err)
	}

	received := parse(signed.String())
	defer received.Close()
	keys := mailseal.Keys{OpenPGP: pgp.Keyring{Certs: openpgp.EntityList{alice}}}
	opened, err := mailseal.Open(received, keys, mailseal.OpenOptions{})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("status:", opened.Status)
	for _, s := range opened.Signers {
		fmt.Println("signed by", s.Emails, s.Status)
	}
	// Output:
	// status: good
	// signed by [alice@example.org] good
}

// Plan and submit a send to recipients of both protocols, with the keys
// in a keystore: each protocol's recipients get a copy of their own, each
// Bcc recipient too. Each copy is written, then submitted to its
// recipients with net/smtp; here to a real SMTP server on loopback
// (Debian's aiosmtpd, started for the example), for a program its
// submission server.
func ExamplePlanSend() {
	dir, err := os.MkdirTemp("", "mailseal-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	ks, err := keystore.Open(dir)
	if err != nil {
		log.Fatal(err)
	}
	// Alice has an OpenPGP key and an S/MIME certificate, Bob an OpenPGP
	// key, Carol an S/MIME certificate; the keystore trusts both
	// certificates (they are self-signed).
	for _, uid := range []string{"Alice <alice@example.org>", "Bob <bob@example.org>"} {
		if _, err := ks.GeneratePGP(keystore.GenerateOptions{UID: uid, NoPassphrase: true}); err != nil {
			log.Fatal(err)
		}
	}
	for _, addr := range []string{"alice@example.org", "carol@example.org"} {
		if _, err := ks.GenerateX509(keystore.X509Options{Email: addr, NoPassphrase: true}); err != nil {
			log.Fatal(err)
		}
		if _, err := ks.Trust(addr); err != nil {
			log.Fatal(err)
		}
	}

	msg := parse("From: Alice <alice@example.org>\r\nTo: bob@example.org, carol@example.org\r\nBcc: alice@example.org\r\nSubject: hi\r\n\r\nhello\r\n")
	defer msg.Close()
	plan, err := mailseal.PlanSend(msg, ks.Session(keystore.SessionOptions{}), mailseal.SendOptions{Sign: true})
	if err != nil {
		log.Fatal(err)
	}
	defer plan.Close()

	srv, err := smtptest.Run(smtptest.Options{Mode: "plain"})
	if err != nil {
		log.Fatal(err)
	}
	defer srv.Stop()
	for _, c := range plan.Copies {
		var out bytes.Buffer
		if err := plan.Write(&out, c); err != nil {
			log.Fatal(err)
		}
		if err := smtp.SendMail(srv.Addr, nil, plan.EnvelopeFrom, c.Rcpt, out.Bytes()); err != nil {
			log.Fatal(err)
		}
		fmt.Println("sent", c.Protocol, c.Rcpt)
	}

	// What the server took: three copies, none showing the Bcc.
	received, err := srv.Received()
	if err != nil {
		log.Fatal(err)
	}
	for _, m := range received {
		fmt.Println("received from", m.From, "to", m.To, strings.Contains(string(m.Data), "Bcc:"))
	}
	// Output:
	// sent openpgp [bob@example.org]
	// sent smime [carol@example.org]
	// sent openpgp [alice@example.org]
	// received from alice@example.org to [bob@example.org] false
	// received from alice@example.org to [carol@example.org] false
	// received from alice@example.org to [alice@example.org] false
}

// Send system mail: cron's message names root without a domain. Domain
// qualifies the recipients, SystemFrom gives it the machine's address as
// sender (in From and the envelope), and SignerQuery would pick another
// key to sign with than the one of that address.
func ExamplePlanSend_systemMail() {
	dir, err := os.MkdirTemp("", "mailseal-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	ks, err := keystore.Open(dir)
	if err != nil {
		log.Fatal(err)
	}
	for _, uid := range []string{"host1 <host1@example.org>", "Root <root@example.org>"} {
		if _, err := ks.GeneratePGP(keystore.GenerateOptions{UID: uid, NoPassphrase: true}); err != nil {
			log.Fatal(err)
		}
	}
	msg := parse("From: root (Cron Daemon)\nTo: root\nSubject: Cron <root@host1> backup\n\ndone\n")
	defer msg.Close()
	plan, err := mailseal.PlanSend(msg, ks.Session(keystore.SessionOptions{}), mailseal.SendOptions{
		Sign: true, Domain: "example.org", SystemFrom: "host1@example.org"})
	if err != nil {
		log.Fatal(err)
	}
	defer plan.Close()
	fmt.Println(plan.Message.Root.Header.Get("From"))
	fmt.Println(plan.EnvelopeFrom, plan.Copies[0].Rcpt)
	// Output:
	// "Cron Daemon" <host1@example.org>
	// host1@example.org [root@example.org]
}

func openpgpList(e ...*openpgp.Entity) openpgp.EntityList { return e }
