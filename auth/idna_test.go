package auth

import (
	"context"
	"net"
	"strings"
	"testing"

	"github.com/mailseal/mailseal/core"
)

func TestASCIIDomain(t *testing.T) {
	for in, want := range map[string]string{
		"bücher.example":              "xn--bcher-kva.example",
		"BÜCHER.Example.":             "xn--bcher-kva.example",
		"xn--bcher-kva.example":       "xn--bcher-kva.example",
		"s._domainkey.bücher.example": "s._domainkey.xn--bcher-kva.example",
		"_dmarc.Example.ORG":          "_dmarc.example.org",
		// Other full stops are dots; a final one goes, as "." does
		// (review finding: "paypal.com。" became "paypal.com.").
		"bücher.example。": "xn--bcher-kva.example",
		"bank.com。":       "bank.com",
		"bank。com":        "bank.com",
	} {
		if got, err := ASCIIDomain(in); err != nil || got != want {
			t.Errorf("ASCIIDomain(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, bad := range []string{"x\u2028.example", "ab--ü.example", "\u0663a.example", "bank.com..", "bank..com", "bank.com。。", "."} {
		if got, err := ASCIIDomain(bad); err == nil {
			t.Errorf("ASCIIDomain(%q) = %q, want an error", bad, got)
		}
	}
}

// TestIDN: a From, a DKIM d= and a MAIL FROM with U-labels are looked up
// in DNS as A-labels (the test server knows only those) and compared in
// that form for DMARC's alignment, strict too, whichever way each of them
// is written; an Authentication-Results value names them as A-labels.
// Before, the U-labels went to DNS as UTF-8: DKIM found no key, SPF and
// DMARC no record.
func TestIDN(t *testing.T) {
	srv, res := testDNS(t)
	key := testKeys["ed25519-sha256"]
	publish(t, srv, "s", "xn--bcher-kva.example", key)
	srv.TXT("_dmarc.xn--bcher-kva.example", "v=DMARC1; p=reject; adkim=s; aspf=s")
	srv.TXT("xn--bcher-kva.example", "v=spf1 ip4:192.0.2.0/24 -all")
	const a = "xn--bcher-kva.example"
	for _, c := range []struct{ from, d, mailFrom string }{
		{"bücher.example", "bücher.example", "bounce@bücher.example"},
		{"BÜCHER.example", a, "bounce@" + a},
		{a, "Bücher.example", "bounce@bücher.example"},
	} {
		msg := strings.Replace(plainMsg, "alice@example.org", "alice@"+c.from, 1)
		signed := sign(t, msg, SignOptions{Domain: c.d, Selector: "s", Key: key})
		spfOpts := &SPFOptions{ClientIP: net.ParseIP("192.0.2.10"), HELO: "mta.bücher.example", MailFrom: c.mailFrom}
		rep, err := Check(context.Background(), parse(t, signed), Options{Resolver: res, SPF: spfOpts, AuthServID: "mx.example.net"})
		if err != nil {
			t.Fatal(err)
		}
		if len(rep.DKIM) != 1 || rep.DKIM[0].Result != core.AuthPass || rep.DKIM[0].Domain != a {
			t.Errorf("%+v: DKIM %+v", c, rep.DKIM)
		}
		if rep.SPF == nil || rep.SPF.Result != core.AuthPass || rep.SPF.Domain != a {
			t.Errorf("%+v: SPF %+v", c, rep.SPF)
		}
		if d := rep.DMARC; rep.Domain != a || d.Result != core.AuthPass || d.AlignedDKIM != a || d.AlignedSPF != a || d.Policy != "reject" {
			t.Errorf("%+v: DMARC %+v (domain %q)", c, d, rep.Domain)
		}
		if !strings.Contains(rep.AuthenticationResults, "header.d="+a) || !strings.Contains(rep.AuthenticationResults, "header.from="+a) {
			t.Errorf("%+v: %s", c, rep.AuthenticationResults)
		}
	}
	// A From domain that is no valid internationalized name is not judged.
	rep, err := Check(context.Background(), parse(t, strings.Replace(plainMsg, "alice@example.org", "alice@ab--ü.example", 1)), Options{Resolver: res})
	if err != nil || rep.DMARC.Result != core.AuthPermError || !strings.Contains(rep.DMARC.Reason, "no valid internationalized domain name") {
		t.Errorf("invalid IDN From: %+v, %v", rep.DMARC, err)
	}
}
