package auth

import (
	"context"
	"fmt"
	"net"
	"os/exec"
	"strings"
	"testing"

	"github.com/mailseal/mailseal/core"
	"github.com/mailseal/mailseal/internal/dnstest"
)

// spfZone is the SPF policies the SPF tests and the python3-spf
// comparison share.
func spfZone(t testing.TB, srv *dnstest.Server) {
	t.Helper()
	srv.TXT("ip4.example.com", "v=spf1 ip4:192.0.2.0/24 -all")
	srv.TXT("ip6.example.com", "v=spf1 ip6:2001:db8::/32 -all")
	srv.TXT("soft.example.com", "v=spf1 ip4:192.0.2.1 ~all")
	srv.TXT("neutral.example.com", "v=spf1 ?all")
	srv.TXT("include.example.com", "v=spf1 include:ip4.example.com -all")
	srv.TXT("redirect.example.com", "v=spf1 redirect=ip4.example.com")
	srv.TXT("amx.example.com", "v=spf1 a mx -all")
	srv.TXT("loop.example.com", "v=spf1 include:loop.example.com -all")
	var many []string
	for i := range 11 {
		name := fmt.Sprintf("n%d.example.com", i)
		srv.TXT(name, "v=spf1 ip4:203.0.113.1 -all")
		many = append(many, "include:"+name)
	}
	srv.TXT("many.example.com", "v=spf1 "+strings.Join(many, " ")+" -all")
	srv.TXT("bad.example.com", "v=spf1 ip4:192.0.2.300 -all")
	srv.ServFail("down.example.com")
	if err := srv.Add("amx.example.com. A 198.51.100.7", "amx.example.com. MX 10 mx.amx.example.com.",
		"mx.amx.example.com. A 198.51.100.25", "nospf.example.com. A 198.51.100.9"); err != nil {
		t.Fatal(err)
	}
}

var spfCases = []struct {
	ip, domain, want string
}{
	{"192.0.2.10", "ip4.example.com", core.AuthPass},
	{"198.51.100.1", "ip4.example.com", core.AuthFail},
	{"2001:db8::5", "ip6.example.com", core.AuthPass},
	{"2001:db9::5", "ip6.example.com", core.AuthFail},
	{"192.0.2.1", "soft.example.com", core.AuthPass},
	{"198.51.100.1", "soft.example.com", core.AuthSoftFail},
	{"198.51.100.1", "neutral.example.com", core.AuthNeutral},
	{"192.0.2.10", "include.example.com", core.AuthPass},
	{"198.51.100.1", "include.example.com", core.AuthFail},
	{"192.0.2.10", "redirect.example.com", core.AuthPass},
	{"198.51.100.1", "redirect.example.com", core.AuthFail},
	{"198.51.100.7", "amx.example.com", core.AuthPass},
	{"198.51.100.25", "amx.example.com", core.AuthPass},
	{"198.51.100.8", "amx.example.com", core.AuthFail},
	{"198.51.100.1", "loop.example.com", core.AuthPermError},
	{"198.51.100.1", "many.example.com", core.AuthPermError},
	{"192.0.2.1", "bad.example.com", core.AuthPermError},
	{"198.51.100.1", "nospf.example.com", core.AuthNone},
	{"198.51.100.1", "down.example.com", core.AuthTempError},
}

func TestSPF(t *testing.T) {
	srv, res := testDNS(t)
	spfZone(t, srv)
	for _, c := range spfCases {
		r, err := checkSPF(context.Background(), nil, SPFOptions{ClientIP: net.ParseIP(c.ip), HELO: "mta.example.net", MailFrom: "bounce@" + c.domain}, res)
		if err != nil {
			t.Fatal(err)
		}
		if r.Result != c.want || r.Domain != c.domain || r.ClientIP != c.ip {
			t.Errorf("%s from %s: %+v, want %s", c.domain, c.ip, r, c.want)
		}
	}
}

// TestSPFPython: python3-spf (pyspf, Debian) gives the same results for
// the same table, asking the same test DNS server.
func TestSPFPython(t *testing.T) {
	if err := exec.Command("/usr/bin/python3", "-c", "import spf, dns.resolver").Run(); err != nil {
		t.Fatal("python3-spf is needed: install python3-spf (scripts/test.sh does)")
	}
	srv, _ := testDNS(t)
	spfZone(t, srv)
	host, port, _ := net.SplitHostPort(srv.Addr)
	script := `import sys, spf, dns.resolver
r = dns.resolver.Resolver(configure=False)
r.nameservers = [sys.argv[1]]
r.port = int(sys.argv[2])
dns.resolver.default_resolver = r
for line in sys.stdin:
    ip, sender = line.split()
    print(spf.check2(i=ip, s=sender, h="mta.example.net")[0])
`
	var in strings.Builder
	for _, c := range spfCases {
		fmt.Fprintf(&in, "%s bounce@%s\n", c.ip, c.domain)
	}
	cmd := exec.Command("/usr/bin/python3", "-c", script, host, port)
	cmd.Stdin = strings.NewReader(in.String())
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	got := strings.Fields(string(out))
	if len(got) != len(spfCases) {
		t.Fatalf("pyspf answered %d lines: %s", len(got), out)
	}
	for i, c := range spfCases {
		if got[i] != c.want {
			t.Errorf("%s from %s: pyspf says %s, mailseal %s", c.domain, c.ip, got[i], c.want)
		}
	}
}

func TestReceivedHop(t *testing.T) {
	srv, res := testDNS(t)
	spfZone(t, srv)
	msg := "Received: from mx.example.net (mx.example.net [198.51.100.1]) by mail.example.org with ESMTPS id 1; Sat, 5 Dec 2026 08:00:00 +0000\r\n" +
		"Received: from relay.ip4.example.com (relay [192.0.2.10])\r\n by mx.example.net (Postfix) with ESMTP; Sat, 5 Dec 2026 07:59:59 +0000\r\n" +
		"Received: from laptop ([IPv6:2001:db8::5]) by relay.ip4.example.com; Sat, 5 Dec 2026 07:59:58 +0000\r\n" +
		"Received: by localhost; Sat, 5 Dec 2026 07:59:57 +0000\r\n" +
		"Return-Path: <bounce@ip4.example.com>\r\n" + plainMsg
	h := parse(t, msg).Root.Header
	for _, c := range []struct {
		hop             int
		ip, helo, want  string
		override, error string
	}{
		{hop: 1, ip: "198.51.100.1", helo: "mx.example.net", want: core.AuthFail},
		{hop: 2, ip: "192.0.2.10", helo: "relay.ip4.example.com", want: core.AuthPass},
		{hop: 3, ip: "2001:db8::5", helo: "laptop", want: core.AuthFail},
		{hop: 4, error: "names no client IP address"},
		{hop: 5, error: "has 4 Received fields"},
	} {
		r, err := checkSPF(context.Background(), h, SPFOptions{ReceivedHop: c.hop}, res)
		if c.error != "" {
			if err == nil || !strings.Contains(err.Error(), c.error) {
				t.Errorf("hop %d: %v, want %q", c.hop, err, c.error)
			}
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		if r.ClientIP != c.ip || r.HELO != c.helo || r.MailFrom != "bounce@ip4.example.com" || r.Result != c.want ||
			r.Source != fmt.Sprintf("received:%d", c.hop) {
			t.Errorf("hop %d: %+v", c.hop, r)
		}
	}
	// A client that says EHLO [192.0.2.10] (an address the SPF record
	// lists) from 203.0.113.9: Postfix records both; the client's address
	// is the one the server saw (review finding: the HELO literal was
	// taken, and SPF passed).
	forged := parse(t, "Received: from [192.0.2.10] (unknown [203.0.113.9]) by mx.example.net (Postfix) with ESMTP; Sat, 5 Dec 2026 08:00:00 +0000\r\n"+
		"Return-Path: <bounce@ip4.example.com>\r\n"+plainMsg).Root.Header
	if r, err := checkSPF(context.Background(), forged, SPFOptions{ReceivedHop: 1}, res); err != nil || r.ClientIP != "203.0.113.9" || r.Result == core.AuthPass {
		t.Errorf("HELO literal: %+v, %v", r, err)
	}
	if _, err := checkSPF(context.Background(), h, SPFOptions{HELO: "x"}, res); err == nil || !strings.Contains(err.Error(), "--client-ip") {
		t.Errorf("no client: %v", err)
	}
}
