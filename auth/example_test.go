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

// Validate a message's ARC chain (RFC 8617): testdata/arc-two-hops.eml was
// sealed by two hops with python3-dkim's arc_sign; their key record is
// served here from a test DNS server on loopback.
func ExampleValidateARC() {
	msg, _ := os.ReadFile("testdata/arc-two-hops.eml")
	record, _ := os.ReadFile("testdata/arc-key.txt")
	dns, err := dnstest.Start()
	if err != nil {
		fmt.Println(err)
		return
	}
	defer dns.Close()
	dns.TXT("arc._domainkey.hop1.example", strings.TrimSpace(string(record)))
	dns.TXT("arc._domainkey.hop2.example", strings.TrimSpace(string(record)))
	resolver, _ := auth.NewDNSResolver(dns.Addr, 2*time.Second)

	for _, text := range []string{string(msg), strings.Replace(string(msg), "noon", "nine", 1)} {
		m, _ := mime.Parse(strings.NewReader(text), mime.DefaultLimits(), 1<<20)
		r := auth.ValidateARC(context.Background(), m, resolver)
		m.Close()
		if r.Reason != "" {
			fmt.Printf("arc: %s (%s)\n", r.Result, r.Reason)
		} else {
			fmt.Println("arc:", r.Result)
		}
		for _, s := range r.Sealers {
			if r.Result == "pass" { // what each hop found, verified
				fmt.Printf("  i=%d d=%s s=%s cv=%s seal=%s: %s\n", s.Instance, s.Domain, s.Selector, s.ChainValidation, s.Seal, s.AuthenticationResults)
			} else { // claims only: a failed chain's findings are not reported
				fmt.Printf("  claimed: i=%d d=%s s=%s cv=%s\n", s.Instance, s.Domain, s.Selector, s.ChainValidation)
			}
		}
	}
	// Output:
	// arc: pass
	//   i=1 d=hop1.example s=arc cv=none seal=pass: hop1.example; dkim=none
	//   i=2 d=hop2.example s=arc cv=pass seal=pass: hop2.example; arc=pass
	// arc: fail (the ARC-Message-Signature of instance 2 does not verify: body hash did not verify)
	//   claimed: i=1 d=hop1.example s=arc cv=none
	//   claimed: i=2 d=hop2.example s=arc cv=pass
}

// Keep DNS answers across many checks: the second lookup of a key is
// answered from the cache, not by the server.
func ExampleCache() {
	dns, err := dnstest.Start()
	if err != nil {
		fmt.Println(err)
		return
	}
	defer dns.Close()
	dns.TXT("_dmarc.example.org", "v=DMARC1; p=reject")
	upstream, _ := auth.NewDNSResolver(dns.Addr, 2*time.Second)
	cache := auth.NewCache(upstream, auth.CacheOptions{})
	for i := 0; i < 3; i++ {
		txt, _ := cache.LookupTXT(context.Background(), "_dmarc.example.org")
		fmt.Println(txt)
	}
	fmt.Println("queries:", dns.Queries())
	// Output:
	// [v=DMARC1; p=reject]
	// [v=DMARC1; p=reject]
	// [v=DMARC1; p=reject]
	// queries: 1
}

// Domains with U-labels are looked up and compared as A-labels.
func ExampleASCIIDomain() {
	for _, d := range []string{"Bücher.example.", "_dmarc.bücher.example", "ab--ü.example"} {
		a, err := auth.ASCIIDomain(d)
		fmt.Println(a, err != nil)
	}
	// Output:
	// xn--bcher-kva.example false
	// _dmarc.xn--bcher-kva.example false
	//  true
}
