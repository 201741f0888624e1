package auth_test

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/mailseal/mailseal/auth"
	"github.com/mailseal/mailseal/internal/dnstest"
	"github.com/mailseal/mailseal/mime"
)

// Sign a message with DKIM, publish the key (here in a test DNS server on
// loopback), and check what the domain says about the signed message.
func Example() {
	_, key, _ := ed25519.GenerateKey(rand.Reader)
	record, _ := auth.DKIMRecord(key.Public())
	dns, err := dnstest.Start()
	if err != nil {
		fmt.Println(err)
		return
	}
	defer dns.Close()
	dns.TXT("mail2026._domainkey.example.org", record)
	dns.TXT("_dmarc.example.org", "v=DMARC1; p=reject")
	resolver, _ := auth.NewDNSResolver(dns.Addr, 2*time.Second)

	msg := "From: alice@example.org\r\nTo: bob@example.net\r\nSubject: lunch\r\n\r\nAt noon?\r\n"
	m, _ := mime.Parse(strings.NewReader(msg), mime.DefaultLimits(), 1<<20)
	var signed strings.Builder
	if err := auth.SignDKIM(&signed, m, auth.SignOptions{Domain: "example.org", Selector: "mail2026", Key: key}); err != nil {
		fmt.Println(err)
		return
	}
	m.Close()

	m, _ = mime.Parse(strings.NewReader(signed.String()), mime.DefaultLimits(), 1<<20)
	defer m.Close()
	rep, err := auth.Check(context.Background(), m, auth.Options{Resolver: resolver, AuthServID: "mx.example.net"})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return
	}
	fmt.Println("verdict:", rep.Verdict)
	for _, d := range rep.DKIM {
		fmt.Println("dkim:", d.Result, d.Domain, d.Selector, d.Algorithm)
	}
	fmt.Println("dmarc:", rep.DMARC.Result, "aligned through", rep.DMARC.AlignedDKIM)
	fmt.Println(rep.AuthenticationResults)
	// Output:
	// verdict: pass
	// dkim: pass example.org mail2026 ed25519-sha256
	// dmarc: pass aligned through example.org
	// mx.example.net; dkim=pass header.d=example.org; dmarc=pass header.from=example.org
}
