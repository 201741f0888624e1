package auth

import (
	"context"
	"net"
	"strings"
	"testing"

	"github.com/emersion/go-msgauth/authres"

	"github.com/mailseal/mailseal/core"
)

func TestOrgDomain(t *testing.T) {
	for in, want := range map[string]string{
		"example.org": "example.org", "mail.example.org": "example.org", "a.b.example.co.uk": "example.co.uk",
		"Example.ORG.": "example.org", "co.uk": "co.uk",
	} {
		if got := OrgDomain(in); got != want {
			t.Errorf("OrgDomain(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestDMARC(t *testing.T) {
	srv, res := testDNS(t)
	key := testKeys["ed25519-sha256"]
	for _, d := range []string{"example.org", "mail.example.org", "example.net", "example.co.uk", "other.co.uk", "strict.example"} {
		publish(t, srv, "s", d, key)
	}
	srv.TXT("_dmarc.example.org", "v=DMARC1; p=reject; rua=mailto:d@example.org")
	srv.TXT("_dmarc.quarantine.example", "v=DMARC1; p=quarantine; pct=50")
	srv.TXT("_dmarc.monitor.example", "v=DMARC1; p=none")
	srv.TXT("_dmarc.example.co.uk", "v=DMARC1; p=reject; sp=quarantine")
	srv.TXT("_dmarc.strict.example", "v=DMARC1; p=reject; adkim=s; aspf=s")
	srv.TXT("_dmarc.broken.example", "v=DMARC1; p=sometimes")
	srv.ServFail("_dmarc.down.example")
	srv.TXT("bounce.example.org", "v=spf1 ip4:192.0.2.0/24 -all")
	srv.TXT("bounce.strict.example", "v=spf1 ip4:192.0.2.0/24 -all")
	srv.TXT("example.net", "v=spf1 ip4:192.0.2.0/24 -all")

	msgFrom := func(from string) string {
		return strings.Replace(plainMsg, "alice@example.org", from, 1)
	}
	signedBy := func(msg, d string) string {
		return sign(t, msg, SignOptions{Domain: d, Selector: "s", Key: key})
	}
	spfFrom := func(mailFrom string) *SPFOptions {
		return &SPFOptions{ClientIP: net.ParseIP("192.0.2.10"), HELO: "mta.example.net", MailFrom: mailFrom}
	}
	cases := []struct {
		name, msg                           string
		spf                                 *SPFOptions
		result, policy, disposition, reason string
		alignedDKIM, alignedSPF             string
	}{
		{name: "aligned through DKIM only", msg: signedBy(plainMsg, "example.org"),
			result: core.AuthPass, policy: "reject", disposition: "none", alignedDKIM: "example.org"},
		{name: "relaxed DKIM alignment: a subdomain signs", msg: signedBy(plainMsg, "mail.example.org"),
			result: core.AuthPass, policy: "reject", disposition: "none", alignedDKIM: "mail.example.org"},
		{name: "aligned through SPF only", msg: plainMsg, spf: spfFrom("bounce@bounce.example.org"),
			result: core.AuthPass, policy: "reject", disposition: "none", alignedSPF: "bounce.example.org"},
		{name: "neither aligned: p=reject", msg: signedBy(plainMsg, "example.net"), spf: spfFrom("bounce@example.net"),
			result: core.AuthFail, policy: "reject", disposition: "reject", reason: "dkim pass for example.net, spf pass for example.net"},
		{name: "unsigned, no SPF: p=reject", msg: plainMsg,
			result: core.AuthFail, policy: "reject", disposition: "reject", reason: "no DKIM signature, SPF not checked"},
		{name: "a DKIM signature that fails does not align", msg: strings.Replace(signedBy(plainMsg, "example.org"), "noon", "nine", 1),
			result: core.AuthFail, policy: "reject", disposition: "reject", reason: "dkim fail for example.org"},
		{name: "p=quarantine", msg: msgFrom("bob@quarantine.example"),
			result: core.AuthFail, policy: "quarantine", disposition: "quarantine"},
		{name: "p=none", msg: msgFrom("bob@monitor.example"),
			result: core.AuthFail, policy: "none", disposition: "none"},
		{name: "subdomain policy sp= from the organizational domain", msg: signedBy(msgFrom("bob@news.example.co.uk"), "other.co.uk"),
			result: core.AuthFail, policy: "quarantine", disposition: "quarantine"},
		{name: "the organizational domain signs a subdomain's mail", msg: signedBy(msgFrom("bob@news.example.co.uk"), "example.co.uk"),
			result: core.AuthPass, policy: "quarantine", disposition: "none", alignedDKIM: "example.co.uk"},
		{name: "strict DKIM alignment: a subdomain is not aligned", msg: signedBy(msgFrom("bob@strict.example"), "mail.example.org"),
			result: core.AuthFail, policy: "reject", disposition: "reject"},
		{name: "strict SPF alignment", msg: msgFrom("bob@strict.example"), spf: spfFrom("x@bounce.strict.example"),
			result: core.AuthFail, policy: "reject", disposition: "reject"},
		{name: "strict, exact domain", msg: signedBy(msgFrom("bob@strict.example"), "strict.example"),
			result: core.AuthPass, policy: "reject", disposition: "none", alignedDKIM: "strict.example"},
		{name: "no policy", msg: msgFrom("bob@nodmarc.example"), result: core.AuthNone, reason: "no DMARC policy for nodmarc.example"},
		{name: "SERVFAIL", msg: msgFrom("bob@down.example"), result: core.AuthTempError},
		{name: "a record that is not DMARC", msg: msgFrom("bob@broken.example"), result: core.AuthPermError},
		{name: "two From addresses", msg: msgFrom("bob@example.org, eve@example.net"), result: core.AuthPermError, reason: "2 From mailboxes"},
		{name: "a name beside the address", msg: msgFrom(`"ceo@bank.example", bob@example.org`), result: core.AuthPermError, reason: "2 From mailboxes"},
		{name: "a name alone", msg: msgFrom(`The Manager`), result: core.AuthPermError, reason: "a name without an address"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			rep, err := Check(context.Background(), parse(t, c.msg), Options{Resolver: res, SPF: c.spf, AuthServID: "mx.example.com"})
			if err != nil {
				t.Fatal(err)
			}
			d := rep.DMARC
			if d.Result != c.result || d.Policy != c.policy || d.Disposition != c.disposition || !strings.Contains(d.Reason, c.reason) ||
				d.AlignedDKIM != c.alignedDKIM || d.AlignedSPF != c.alignedSPF {
				t.Errorf("%+v", d)
			}
			if rep.Verdict != c.result {
				t.Errorf("verdict %s, want %s", rep.Verdict, c.result)
			}
			if rep.AuthenticationResults == "" || !strings.HasPrefix(rep.AuthenticationResults, "mx.example.com; ") {
				t.Errorf("Authentication-Results: %q", rep.AuthenticationResults)
			}
		})
	}
	rep, _ := Check(context.Background(), parse(t, signedBy(plainMsg, "example.org")), Options{Resolver: res, AuthServID: "mx.example.com",
		SPF: spfFrom("bounce@bounce.example.org")})
	want := "mx.example.com; dkim=pass header.d=example.org; spf=pass smtp.helo=mta.example.net smtp.mailfrom=bounce@bounce.example.org; dmarc=pass header.from=example.org"
	if got := strings.Join(strings.Fields(rep.AuthenticationResults), " "); got != want {
		t.Errorf("Authentication-Results:\n%s\nwant\n%s", got, want)
	}
}

// A From whose quoted local part holds '@', quotes and backslashes cannot
// add a result to our Authentication-Results (review finding: the
// formatter does not escape '\', so it closed its quotes): the domain is
// what follows the last '@', and values that are not plain tokens are
// left out.
func TestAuthenticationResultsInjection(t *testing.T) {
	rep := &core.AuthReport{DMARC: &core.DMARCResult{Result: core.AuthTempError, Domain: `y\"; dmarc=pass header.from=bank.example; z=\"`},
		DKIM: []core.DKIMResult{{Result: core.AuthNone, Domain: `a\"; dkim=pass`}}}
	v := AuthenticationResults("mx.local", rep)
	_, results, err := authres.Parse(v)
	if err != nil {
		t.Fatalf("%q: %v", v, err)
	}
	for _, r := range results {
		if d, ok := r.(*authres.DMARCResult); ok && d.Value == authres.ResultPass {
			t.Fatalf("%q reads as a DMARC pass", v)
		}
		if d, ok := r.(*authres.DKIMResult); ok && d.Value == authres.ResultPass {
			t.Fatalf("%q reads as a DKIM pass", v)
		}
	}
	if strings.Contains(v, "bank.example") {
		t.Fatalf("%q", v)
	}
	m := parse(t, "From: \"x@y\\\"; dmarc=pass header.from=bank.example; z=\\\"\"@evil.example\r\nSubject: s\r\n\r\nhi\r\n")
	if d, why := fromDomain(m.Root.Header); d != "evil.example" {
		t.Fatalf("From domain %q (%s)", d, why)
	}
}

// claims reads the authserv-id past comments and quotes.
func TestClaims(t *testing.T) {
	for v, want := range map[string]bool{
		"mx.local; dkim=pass":                     true,
		"MX.LOCAL 1; dkim=pass":                   true,
		"(x) mx.local; dkim=pass":                 true,
		"(a (nested) comment) mx.local; spf=pass": true,
		`"mx.local"; dkim=pass`:                   true,
		"mx.local(c); dkim=pass":                  true,
		"(unclosed mx.local; dkim=pass":           true,
		"other.example; dkim=pass":                false,
		"(mx.local) other.example; dkim=pass":     false,
		`"other\"x"; dkim=pass`:                   false,
	} {
		if got := claims(v, "mx.local"); got != want {
			t.Errorf("claims(%q) = %v, want %v", v, got, want)
		}
	}
}
