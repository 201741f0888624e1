package mailseal

import (
	"strconv"
	"strings"
	"testing"

	"github.com/mailseal/mailseal/core"
	"github.com/mailseal/mailseal/internal/lineartest"
)

// TestContrast: the warnings that set the person's verdict against the
// domain's name the domain DMARC judged (the outer From's) and, when
// Header Protection's protected From is at another domain, say so; the
// same domain written as a U-label or in other case is not another.
func TestContrast(t *testing.T) {
	report := func(status Status, verdict, domain string) *Report {
		return &Report{Status: status, Protocol: ProtocolOpenPGP, HeaderProtection: "clear",
			Auth: &core.AuthReport{Verdict: verdict, Domain: domain, DMARC: &core.DMARCResult{Result: verdict, Domain: domain}}}
	}
	for _, c := range []struct {
		name      string
		r         *Report
		protected []string
		want      []string
	}{
		{"protected From elsewhere", report(StatusSenderMismatch, core.AuthPass, "example.org"), []string{"carol@example.net"}, []string{
			"DMARC judged the outer From's domain example.org, but the protected From (Header Protection), the one the signature covers, is at example.net",
			"the domain check passes (DMARC pass for example.org, the outer From's domain), but the OpenPGP signature is sender-mismatch"}},
		{"protected From with no valid domain", report(StatusSenderMismatch, core.AuthPass, "example.org"), []string{"carol@ab--ü.example"}, []string{
			`DMARC judged the outer From's domain example.org, but the protected From (Header Protection), the one the signature covers, is at "carol@ab--ü.example", which is no valid domain`,
			"the domain check passes (DMARC pass for example.org, the outer From's domain)"}},
		{"same domain, other case", report(StatusUnknownSigner, core.AuthPass, "example.org"), []string{"alice@Example.ORG"}, []string{
			"the domain check passes (DMARC pass for example.org), but the OpenPGP signature is unknown-signer"}},
		{"same domain as a U-label", report(StatusGood, core.AuthFail, "xn--bcher-kva.example"), []string{"a@bücher.example"}, []string{
			"the OpenPGP signature is good, but the domain check fails (DMARC fail for xn--bcher-kva.example)"}},
		{"no Header Protection", report(StatusGood, core.AuthFail, "example.org"), nil, []string{
			"the OpenPGP signature is good, but the domain check fails (DMARC fail for example.org)"}},
		{"both agree", report(StatusGood, core.AuthPass, "example.org"), []string{"alice@example.org"}, nil},
		// Review finding: with several protected From mailboxes, or one
		// without an address, the warning was left out.
		{"several protected From, one elsewhere", report(StatusSenderMismatch, core.AuthPass, "bigmail.example"), []string{"ceo@bank.example", "mallory@bigmail.example"}, []string{
			"DMARC judged the outer From's domain bigmail.example, but the protected From (Header Protection), the one the signature covers, is at bank.example:",
			"the domain check passes (DMARC pass for bigmail.example, the outer From's domain), but the OpenPGP signature is sender-mismatch"}},
		{"protected From without an address", report(StatusSenderMismatch, core.AuthPass, "bigmail.example"), []string{"The CEO"}, []string{
			`DMARC judged the outer From's domain bigmail.example, but the protected From (Header Protection), the one the signature covers, is at "The CEO", which is no valid domain`,
			"the domain check passes (DMARC pass for bigmail.example, the outer From's domain), but the OpenPGP signature is sender-mismatch"}},
	} {
		got := contrast(c.r, c.protected)
		if len(got) != len(c.want) {
			t.Errorf("%s: %q, want %d warnings", c.name, got, len(c.want))
			continue
		}
		for i := range got {
			if !strings.HasPrefix(got[i], c.want[i]) {
				t.Errorf("%s: %q, want %q...", c.name, got[i], c.want[i])
			}
		}
	}
}

// The protected From's other domains are each named once, found through a
// set: a From of thousands of mailboxes is not each against every one
// (lineartest.Linear).
func TestContrastManyDomainsLinear(t *testing.T) {
	r := &Report{Status: StatusSenderMismatch, Protocol: ProtocolOpenPGP, HeaderProtection: "clear",
		Auth: &core.AuthReport{Verdict: core.AuthPass, Domain: "example.org", DMARC: &core.DMARCResult{Result: core.AuthPass, Domain: "example.org"}}}
	lineartest.Linear(t, "protected From domains", 2000, func(n int) func() {
		from := make([]string, n)
		for i := range from {
			from[i] = "a@d" + strconv.Itoa(i) + ".example"
		}
		from = append(from, from[0]) // again: named once
		return func() {
			if got := contrast(r, from); len(got) == 0 || strings.Count(got[0], ".example") != n {
				t.Fatalf("%d domains: %.200q", n, got)
			}
		}
	})
}
