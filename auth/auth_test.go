package auth

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"net"
	"runtime"
	"runtime/debug"
	"strings"
	"testing"
	"time"

	"github.com/mailseal/mailseal/core"
	"github.com/mailseal/mailseal/internal/dnstest"
	"github.com/mailseal/mailseal/mime"
)

// testDNS starts a loopback DNS server and a resolver asking it.
func testDNS(t testing.TB) (*dnstest.Server, Resolver) {
	t.Helper()
	srv, err := dnstest.Start()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	res, err := NewDNSResolver(srv.Addr, 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	return srv, res
}

func parse(t testing.TB, msg string) *mime.Message {
	t.Helper()
	m, err := mime.Parse(strings.NewReader(msg), mime.DefaultLimits(), 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	return m
}

// publish serves key's DKIM record at sel._domainkey.domain.
func publish(t testing.TB, srv *dnstest.Server, sel, domain string, key crypto.Signer) {
	t.Helper()
	rec, err := DKIMRecord(key.Public())
	if err != nil {
		t.Fatal(err)
	}
	srv.TXT(sel+"._domainkey."+domain, rec)
}

func sign(t testing.TB, msg string, o SignOptions) string {
	t.Helper()
	var b bytes.Buffer
	if err := SignDKIM(&b, parse(t, msg), o); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

func verifyOne(t testing.TB, res Resolver, msg string) core.DKIMResult {
	t.Helper()
	rs, err := VerifyDKIM(context.Background(), parse(t, msg), res)
	if err != nil {
		t.Fatal(err)
	}
	if len(rs) != 1 {
		t.Fatalf("%d results, want 1", len(rs))
	}
	return rs[0]
}

const plainMsg = "From: Alice <alice@example.org>\r\nTo: bob@example.net\r\nSubject: lunch\r\n" +
	"Date: Sat, 05 Dec 2026 08:00:00 +0000\r\nMessage-ID: <1@example.org>\r\n\r\n" +
	"Shall we meet at noon?\r\n\r\nAlice\r\n"

var testKeys = func() map[string]crypto.Signer {
	_, ed, _ := ed25519.GenerateKey(rand.Reader)
	r, _ := rsa.GenerateKey(rand.Reader, 2048)
	return map[string]crypto.Signer{"ed25519-sha256": ed, "rsa-sha256": r}
}()

func TestResolver(t *testing.T) {
	srv, res := testDNS(t)
	long := strings.Repeat("k", 1500) // more than a 512-byte UDP answer holds, and several strings
	srv.TXT("long.example.org", long)
	srv.TXT("two.example.org", "a")
	srv.TXT("two.example.org", "b")
	if err := srv.Add("mail.example.org. A 192.0.2.1", "mail.example.org. AAAA 2001:db8::1",
		"example.org. MX 10 mail.example.org.", "1.2.0.192.in-addr.arpa. PTR mail.example.org."); err != nil {
		t.Fatal(err)
	}
	srv.ServFail("broken.example.org")
	srv.Silent("slow.example.org")
	ctx := context.Background()

	if got, err := res.LookupTXT(ctx, "long.example.org"); err != nil || len(got) != 1 || got[0] != long {
		t.Errorf("long TXT: %d records, %v", len(got), err)
	}
	if got, err := res.LookupTXT(ctx, "two.example.org"); err != nil || len(got) != 2 {
		t.Errorf("two TXT: %q, %v", got, err)
	}
	if got, err := res.LookupIPAddr(ctx, "mail.example.org"); err != nil || len(got) != 2 {
		t.Errorf("addresses: %v, %v", got, err)
	}
	if got, err := res.LookupMX(ctx, "example.org"); err != nil || len(got) != 1 || got[0].Host != "mail.example.org." {
		t.Errorf("MX: %v, %v", got, err)
	}
	if got, err := res.LookupAddr(ctx, "192.0.2.1"); err != nil || len(got) != 1 || got[0] != "mail.example.org." {
		t.Errorf("PTR: %v, %v", got, err)
	}
	var de *net.DNSError
	_, err := res.LookupTXT(ctx, "nowhere.example.org")
	if !errors.As(err, &de) || !de.IsNotFound || de.Temporary() {
		t.Errorf("NXDOMAIN: %v, want not found, permanent", err)
	}
	_, err = res.LookupTXT(ctx, "mail.example.org") // the name exists, with no TXT record
	if !errors.As(err, &de) || !de.IsNotFound {
		t.Errorf("no TXT record: %v, want not found", err)
	}
	_, err = res.LookupTXT(ctx, "broken.example.org")
	if !errors.As(err, &de) || !de.Temporary() {
		t.Errorf("SERVFAIL: %v, want temporary", err)
	}
	start := time.Now()
	short, _ := NewDNSResolver(srv.Addr, 300*time.Millisecond)
	_, err = short.LookupTXT(ctx, "slow.example.org")
	if !errors.As(err, &de) || !de.Timeout() || !de.Temporary() {
		t.Errorf("no answer: %v, want a temporary timeout", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("the timeout took %v", d)
	}
	_, err = Offline().LookupTXT(ctx, "example.org")
	if !errors.As(err, &de) || !de.Temporary() {
		t.Errorf("offline: %v, want temporary", err)
	}
	if _, err := NewDNSResolver("::1", 0); err != nil {
		t.Errorf("a host without a port: %v", err)
	}
}

func TestDKIMSignVerify(t *testing.T) {
	srv, res := testDNS(t)
	for algo, key := range testKeys {
		sel := strings.Split(algo, "-")[0]
		publish(t, srv, sel, "example.org", key)
		for _, canon := range []string{"relaxed", "simple"} {
			t.Run(algo+"/"+canon, func(t *testing.T) {
				signed := sign(t, plainMsg, SignOptions{Domain: "example.org", Selector: sel, Key: key,
					HeaderCanonicalization: canon, BodyCanonicalization: canon})
				r := verifyOne(t, res, signed)
				if r.Result != core.AuthPass || r.Domain != "example.org" || r.Selector != sel || r.Algorithm != algo ||
					r.Canonicalization != canon+"/"+canon {
					t.Fatalf("%+v", r)
				}
				if !strings.Contains(strings.Join(r.SignedHeaders, ":"), "From:From") {
					t.Errorf("From is not oversigned: %v", r.SignedHeaders)
				}

				// One byte of the body changed.
				i := strings.Index(signed, "noon")
				r = verifyOne(t, res, signed[:i]+"N"+signed[i+1:])
				if r.Result != core.AuthFail || !strings.Contains(r.Reason, "body hash") {
					t.Errorf("body changed: %+v", r)
				}
				// A header field added: a second Subject, or a Reply-To.
				for _, add := range []string{"Subject: cancelled\r\n", "Reply-To: mallory@example.com\r\n"} {
					r = verifyOne(t, res, add+signed)
					if r.Result != core.AuthFail || !strings.Contains(r.Reason, "signature did not verify") {
						t.Errorf("%q added: %+v", add, r)
					}
				}
				// A message whose header ends at a line that is no field
				// (no blank line): signed and verified by one reading.
				end0 := strings.Index(plainMsg, "\r\n\r\n")
				odd := plainMsg[:end0+2] + "not a field\r\n" + plainMsg[end0+4:]
				if r := verifyOne(t, res, sign(t, odd, SignOptions{Domain: "example.org", Selector: sel, Key: key,
					HeaderCanonicalization: canon, BodyCanonicalization: canon})); r.Result != core.AuthPass {
					t.Errorf("own signature of a header without its blank line: %+v", r)
				}
				// Lines that are no header field put in before the blank
				// line: mailseal shows them as the body's start, so the
				// signature must not pass over them (review finding: the
				// verifier read them as unsigned fields).
				end := strings.Index(signed, "\r\n\r\n")
				injected := signed[:end+2] + "URGENT wire 10000 EUR to IBAN XX00 EVIL today\r\n" + signed[end+2:]
				if r = verifyOne(t, res, injected); r.Result == core.AuthPass {
					t.Errorf("text injected before the blank line passed: %+v", r)
				}
				// Folding white space added in the header and at the body's line ends:
				// relaxed still verifies, simple does not.
				changed := strings.Replace(signed, "Subject: lunch", "Subject:  lunch", 1)
				changed = strings.Replace(changed, "at noon?\r\n", "at noon?  \r\n", 1)
				r = verifyOne(t, res, changed)
				if want := map[string]string{"relaxed": core.AuthPass, "simple": core.AuthFail}[canon]; r.Result != want {
					t.Errorf("white space changed: %s (%s), want %s", r.Result, r.Reason, want)
				}
			})
		}
	}
}

// rfc6376Example is the header and body of RFC 6376 section 3.4.5's
// canonicalization example, under a From field (which DKIM signs).
const rfc6376Example = "From: joe@football.example.com\r\nA: X\r\nB : Y\t\r\n\tZ  \r\n\r\n C \r\nD \t E\r\n\r\n\r\n"

// TestRFC6376Canonicalization checks RFC 6376 section 3.4.5's examples:
// the body hash of each canonicalization is the SHA-256 of the canonical
// body the RFC gives, and a header written as the RFC's relaxed form
// still verifies under relaxed, not under simple.
func TestRFC6376Canonicalization(t *testing.T) {
	srv, res := testDNS(t)
	key := testKeys["ed25519-sha256"]
	publish(t, srv, "ex", "football.example.com", key)
	canonicalBody := map[string]string{
		"relaxed": " C\r\nD E\r\n",     // RFC 6376 section 3.4.5, relaxed
		"simple":  " C \r\nD \t E\r\n", // and simple (trailing empty lines removed)
	}
	for canon, body := range canonicalBody {
		signed := sign(t, rfc6376Example, SignOptions{Domain: "football.example.com", Selector: "ex", Key: key,
			HeaderCanonicalization: canon, BodyCanonicalization: canon, Headers: []string{"From", "A", "B"}})
		sum := sha256.Sum256([]byte(body))
		if bh := "bh=" + base64.StdEncoding.EncodeToString(sum[:]); !strings.Contains(stripFWS(signed), bh) {
			t.Errorf("%s: the body hash is not %s:\n%s", canon, bh, signed)
		}
		if r := verifyOne(t, res, signed); r.Result != core.AuthPass {
			t.Errorf("%s: %+v", canon, r)
		}
		// The RFC's relaxed header form: "a:X", "b:Y Z".
		relaxedForm := strings.Replace(signed, "A: X\r\nB : Y\t\r\n\tZ  \r\n", "a:X\r\nb:Y Z\r\n", 1)
		want := map[string]string{"relaxed": core.AuthPass, "simple": core.AuthFail}[canon]
		if r := verifyOne(t, res, relaxedForm); r.Result != want {
			t.Errorf("%s, header in the RFC's relaxed form: %s (%s), want %s", canon, r.Result, r.Reason, want)
		}
	}
}

// RFC 8463 Appendix A: the example message signed with Ed25519 and RSA
// (A.3), and the two public keys (A.2), served from the test DNS server.
// Copied from the RFC text as test vectors.
const rfc8463Message = "DKIM-Signature: v=1; a=ed25519-sha256; c=relaxed/relaxed;\r\n" +
	" d=football.example.com; i=@football.example.com;\r\n" +
	" q=dns/txt; s=brisbane; t=1528637909; h=from : to :\r\n" +
	" subject : date : message-id : from : subject : date;\r\n" +
	" bh=2jUSOH9NhtVGCQWNr9BrIAPreKQjO6Sn7XIkfJVOzv8=;\r\n" +
	" b=/gCrinpcQOoIfuHNQIbq4pgh9kyIK3AQUdt9OdqQehSwhEIug4D11Bus\r\n" +
	" Fa3bT3FY5OsU7ZbnKELq+eXdp1Q1Dw==\r\n" +
	"DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/relaxed;\r\n" +
	" d=football.example.com; i=@football.example.com;\r\n" +
	" q=dns/txt; s=test; t=1528637909; h=from : to : subject :\r\n" +
	" date : message-id : from : subject : date;\r\n" +
	" bh=2jUSOH9NhtVGCQWNr9BrIAPreKQjO6Sn7XIkfJVOzv8=;\r\n" +
	" b=F45dVWDfMbQDGHJFlXUNB2HKfbCeLRyhDXgFpEL8GwpsRe0IeIixNTe3\r\n" +
	" DhCVlUrSjV4BwcVcOF6+FF3Zo9Rpo1tFOeS9mPYQTnGdaSGsgeefOsk2Jz\r\n" +
	" dA+L10TeYt9BgDfQNZtKdN1WO//KgIqXP7OdEFE4LjFYNcUxZQ4FADY+8=\r\n" +
	"From: Joe SixPack <joe@football.example.com>\r\n" +
	"To: Suzie Q <suzie@shopping.example.net>\r\n" +
	"Subject: Is dinner ready?\r\n" +
	"Date: Fri, 11 Jul 2003 21:00:37 -0700 (PDT)\r\n" +
	"Message-ID: <20030712040037.46341.5F8J@football.example.com>\r\n" +
	"\r\n" +
	"Hi.\r\n\r\nWe lost the game.  Are you hungry yet?\r\n\r\nJoe.\r\n"

func serveRFC8463(srv *dnstest.Server) {
	srv.TXT("brisbane._domainkey.football.example.com", "v=DKIM1; k=ed25519; p=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=")
	srv.TXT("test._domainkey.football.example.com", "v=DKIM1; k=rsa; p=MIGfMA0GCSqGSIb3DQEBAQUAA4GNADCBiQKBgQDkHlOQoBTzWR"+
		"iGs5V6NpP3idY6Wk08a5qhdR6wy5bdOKb2jLQiY/J16JYi0Qvx/byYzCNb3W91y3FutAC"+
		"DfzwQ/BC/e/8uBsCR+yz1Lxj+PL6lHvqMKrM3rG4hstT5QjvHO9PzoxZyVYLzBfO2EeC3"+
		"Ip3G+2kryOTIKT+l/K4w3QIDAQAB")
}

func TestRFC8463Example(t *testing.T) {
	srv, res := testDNS(t)
	serveRFC8463(srv)
	rs, err := VerifyDKIM(context.Background(), parse(t, rfc8463Message), res)
	if err != nil {
		t.Fatal(err)
	}
	if len(rs) != 2 {
		t.Fatalf("%d results", len(rs))
	}
	for i, want := range []struct{ sel, algo string }{{"brisbane", "ed25519-sha256"}, {"test", "rsa-sha256"}} {
		r := rs[i]
		if r.Result != core.AuthPass || r.Selector != want.sel || r.Algorithm != want.algo || r.Domain != "football.example.com" ||
			r.Identifier != "@football.example.com" || len(r.SignedHeaders) != 8 {
			t.Errorf("signature %d: %+v", i, r)
		}
	}
	// The same message with "Joe" changed to "Jon": both fail.
	rs, _ = VerifyDKIM(context.Background(), parse(t, strings.Replace(rfc8463Message, "Joe.\r\n", "Jon.\r\n", 1)), res)
	if len(rs) != 2 || rs[0].Result != core.AuthFail || rs[1].Result != core.AuthFail {
		t.Errorf("altered: %+v", rs)
	}
}

func TestDKIMErrors(t *testing.T) {
	srv, res := testDNS(t)
	key := testKeys["ed25519-sha256"]
	publish(t, srv, "good", "example.org", key)
	srv.TXT("revoked._domainkey.example.org", "v=DKIM1; k=ed25519; p=")
	srv.ServFail("down._domainkey.example.org")
	signed := sign(t, plainMsg, SignOptions{Domain: "example.org", Selector: "good", Key: key})
	withSelector := func(s string) string { return strings.Replace(signed, "s=good", "s="+s, 1) }

	cases := []struct {
		name, msg, result, reason string
		res                       Resolver
	}{
		{"no key record", withSelector("gone"), core.AuthPermError, "no key for signature", res},
		{"revoked key", withSelector("revoked"), core.AuthPermError, "key revoked", res},
		{"SERVFAIL", withSelector("down"), core.AuthTempError, "key unavailable", res},
		{"offline", signed, core.AuthTempError, "offline", Offline()},
		{"tag twice", strings.Replace(signed, "v=1;", "v=1; v=1;", 1), core.AuthPermError, `tag "v" appears twice`, res},
		{"no body hash", strings.Replace(signed, "bh=", "xh=", 1), core.AuthPermError, "required tag bh= is missing", res},
		{"bad version", strings.Replace(signed, "v=1;", "v=2;", 1), core.AuthPermError, "version", res},
		{"garbage", "DKIM-Signature: ;;==;\r\n" + plainMsg, core.AuthPermError, "malformed DKIM-Signature", res},
		{"bad l=", strings.Replace(signed, "v=1;", "v=1; l=ten;", 1), core.AuthPermError, "not a length", res},
		{"bad base64", strings.Replace(signed, "bh=", "bh=!!", 1), core.AuthPermError, "malformed body hash", res},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := verifyOne(t, c.res, c.msg)
			if r.Result != c.result || !strings.Contains(r.Reason, c.reason) {
				t.Errorf("%s (%s), want %s (%s)", r.Result, r.Reason, c.result, c.reason)
			}
		})
	}
}

// TestDKIMBodyLength: a signature with l= covers only part of the body;
// it is reported (body_length, a warning) and not accepted (policy), so
// text appended after the signed length cannot pass as signed.
func TestDKIMBodyLength(t *testing.T) {
	srv, res := testDNS(t)
	key := testKeys["rsa-sha256"]
	publish(t, srv, "sel", "example.org", key)
	signed := sign(t, plainMsg, SignOptions{Domain: "example.org", Selector: "sel", Key: key})
	withL := strings.Replace(signed, "v=1;", "v=1; l=10;", 1)
	for _, msg := range []string{withL, withL + "Appended by someone else.\r\n"} {
		rep, err := Check(context.Background(), parse(t, msg), Options{Resolver: res, DKIMOnly: true})
		if err != nil {
			t.Fatal(err)
		}
		r := rep.DKIM[0]
		if r.Result != core.AuthPolicy || r.BodyLength == nil || *r.BodyLength != 10 || !strings.Contains(r.Reason, "l=10") {
			t.Errorf("%+v", r)
		}
		if len(rep.Warnings) != 1 || !strings.Contains(rep.Warnings[0], "first 10 bytes") || rep.Verdict == core.AuthPass {
			t.Errorf("report: %+v", rep)
		}
	}
}

func TestDKIMStreamsTheBody(t *testing.T) {
	// A 24 MiB body is verified without holding it: the heap stays far
	// below its size while the body is hashed.
	if testing.Short() {
		t.Skip("large message")
	}
	srv, res := testDNS(t)
	key := testKeys["ed25519-sha256"]
	publish(t, srv, "big", "example.org", key)
	var b strings.Builder
	b.WriteString("From: alice@example.org\r\nSubject: big\r\n\r\n")
	line := strings.Repeat("x", 76) + "\r\n"
	for b.Len() < 24<<20 {
		b.WriteString(line)
	}
	m := parse(t, b.String())
	var signed bytes.Buffer
	if err := SignDKIM(&signed, m, SignOptions{Domain: "example.org", Selector: "big", Key: key}); err != nil {
		t.Fatal(err)
	}
	b.Reset()
	m2, err := mime.Parse(&signed, mime.DefaultLimits(), 1<<20) // spooled to a file past 1 MiB
	if err != nil {
		t.Fatal(err)
	}
	defer m2.Close()
	signed = bytes.Buffer{}
	// Garbage is collected early, so that the heap shows what is held.
	defer debug.SetGCPercent(debug.SetGCPercent(10))
	runtime.GC()
	base := heapAlloc()
	peak := base
	stop, done := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		for {
			select {
			case <-stop:
				return
			case <-time.After(5 * time.Millisecond):
				peak = max(peak, heapAlloc())
			}
		}
	}()
	rs, err := VerifyDKIM(context.Background(), m2, res)
	close(stop)
	<-done
	if err != nil || len(rs) != 1 || rs[0].Result != core.AuthPass {
		t.Fatalf("%+v, %v", rs, err)
	}
	if grew := int64(peak) - int64(base); grew > 12<<20 {
		t.Errorf("verifying a 24 MiB message grew the heap by %d MiB", grew>>20)
	}
}

// heapAlloc is the heap in use now, after a collection.
func heapAlloc() uint64 {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

// A DKIM-Signature whose h= names thousands of fields, over a header of
// thousands of fields, is refused before verification (the verifier's
// work is names times fields), with the reason.
func TestDKIMManySignedNames(t *testing.T) {
	_, res := testDNS(t)
	var b strings.Builder
	for range 4000 {
		b.WriteString("X-Filler: x\r\n")
	}
	sig := "DKIM-Signature: v=1; a=rsa-sha256; d=example.org; s=x; bh=AAAA; b=AAAA; h=" + strings.Repeat("x-filler:", 4000) + "from\r\n"
	r := verifyOne(t, res, sig+b.String()+plainMsg)
	if r.Result != core.AuthPermError || !strings.Contains(r.Reason, "more than 512") {
		t.Fatalf("%+v", r)
	}
}
