// Package auth answers whether a message's domain sent it: DKIM (RFC 6376,
// Ed25519 RFC 8463), SPF (RFC 7208), DMARC (RFC 7489) and the ARC chain
// (RFC 8617, read only), with the
// results as an RFC 8601 Authentication-Results value, and signs with DKIM.
// It is the domain's verdict, kept apart from the person's (the OpenPGP or
// S/MIME signature that mailseal.Open checks): Check returns a
// core.AuthReport, which mailseal.Open puts in Report.Auth when asked.
//
// DNS goes through a Resolver: the system's (System), one named server
// (NewDNSResolver, github.com/miekg/dns), or none (Offline). Lookups that
// time out or fail for now give temperror, never a hang.
//
// The protocols are those of well-kept libraries: DKIM signing and
// verification and the DMARC record and Authentication-Results syntax from
// github.com/emersion/go-msgauth, SPF from blitiri.com.ar/go/spf, the
// organizational domain from golang.org/x/net/publicsuffix. DMARC
// alignment, the reading of DKIM-Signature tags for the report and ARC
// validation (no maintained Go library has it) are this package's.
package auth

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"blitiri.com.ar/go/spf"
	"github.com/emersion/go-msgauth/authres"
	"github.com/emersion/go-msgauth/dmarc"
	"golang.org/x/net/publicsuffix"

	"github.com/mailseal/mailseal/core"
	"github.com/mailseal/mailseal/mime"
)

// Options steer Check.
type Options struct {
	// Resolver looks up keys and policies; nil means System().
	Resolver Resolver
	// Timeout bounds the whole check (0: DefaultCheckTimeout); lookups
	// still running then end as temperror.
	Timeout time.Duration
	// SPF, when set, checks the client that handed the message over.
	SPF *SPFOptions
	// AuthServID, when set, makes Check write the results as an
	// Authentication-Results value naming this server (AuthReport.AuthenticationResults).
	AuthServID string
	// DKIMOnly checks the DKIM signatures alone (mailseal dkim verify).
	DKIMOnly bool
}

// DefaultCheckTimeout bounds a Check without Options.Timeout.
const DefaultCheckTimeout = 30 * time.Second

// SPFOptions name the SMTP client to check: given directly, or read from
// the ReceivedHop'th Received field (1 is the topmost, written by the
// last server; only hops written by servers you trust tell the truth).
type SPFOptions struct {
	ClientIP    net.IP
	HELO        string
	MailFrom    string // the envelope sender; "" means the Return-Path field's with ReceivedHop
	ReceivedHop int
}

// Check runs the domain checks on m: every DKIM signature, SPF when
// opts.SPF names the client, and the From domain's DMARC policy over
// those results. Results that need DNS it could not get are temperror;
// the error return is for what is not a result (no message, a usage
// mistake in opts).
func Check(ctx context.Context, m *mime.Message, opts Options) (*core.AuthReport, error) {
	res := opts.Resolver
	if res == nil {
		res = System()
	}
	res = asciiNames(res)
	timeout := opts.Timeout
	if timeout <= 0 {
		timeout = DefaultCheckTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()

	rep := &core.AuthReport{Verdict: core.AuthNone}
	var err error
	rep.DKIM, err = VerifyDKIM(ctx, m, res)
	if err != nil {
		return nil, err
	}
	for _, d := range rep.DKIM {
		if d.BodyLength != nil {
			rep.Warnings = append(rep.Warnings, fmt.Sprintf("the DKIM signature of %s signs only the first %d bytes of the body (l=)", d.Domain, *d.BodyLength))
		}
	}
	if opts.DKIMOnly {
		rep.Verdict = dkimVerdict(rep.DKIM)
		return rep, nil
	}
	rep.ARC = ValidateARC(ctx, m, res)
	if opts.SPF != nil {
		rep.SPF, err = checkSPF(ctx, m.Root.Header, *opts.SPF, res)
		if err != nil {
			return nil, err
		}
	}
	from, why := fromDomain(m.Root.Header)
	rep.Domain = from
	if from == "" {
		rep.Warnings = append(rep.Warnings, "no DMARC check: "+why)
		rep.DMARC = &core.DMARCResult{Result: core.AuthPermError, Reason: why}
	} else {
		rep.DMARC = checkDMARC(ctx, from, rep.DKIM, rep.SPF, res)
	}
	rep.Verdict = rep.DMARC.Result
	if opts.AuthServID != "" {
		rep.AuthenticationResults = AuthenticationResults(opts.AuthServID, rep)
	}
	return rep, nil
}

// dkimVerdict is pass when a signature passes, else the first result
// (none without signatures).
func dkimVerdict(ds []core.DKIMResult) string {
	if len(ds) == 0 {
		return core.AuthNone
	}
	for _, d := range ds {
		if d.Result == core.AuthPass {
			return core.AuthPass
		}
	}
	return ds[0].Result
}

// fromDomain is the domain of the single From address in ASCII form
// (ASCIIDomain), or "" and why there is none.
func fromDomain(h mime.Header) (string, string) {
	// Every mailbox counts, a name without an address too, as for the
	// signer's binding (flow.Senders): a From that shows a second name
	// ("ceo@bank.example", x@evil.example) is not judged for one of them.
	var addrs []string
	for _, mb := range h.Mailboxes("From") {
		addrs = append(addrs, mb.Address)
	}
	if len(addrs) != 1 {
		return "", fmt.Sprintf("the message has %d From mailboxes; DMARC needs exactly one", len(addrs))
	}
	if addrs[0] == "" {
		return "", "the From field shows a name without an address; DMARC needs exactly one address"
	}
	d, err := AddressDomain(addrs[0])
	if err != nil {
		return "", "the From address: " + err.Error()
	}
	return d, ""
}

// OrgDomain is the organizational domain of d (RFC 7489 section 3.2): its
// public suffix and one label more, by the public suffix list; d itself
// when it is a suffix.
func OrgDomain(d string) string {
	d = normDomain(d)
	org, err := publicsuffix.EffectiveTLDPlusOne(d)
	if err != nil {
		return d
	}
	return org
}

// aligned says whether an authenticated domain is aligned with the From
// domain: equal (strict), or the same organizational domain (relaxed),
// both compared in ASCII form (from is already).
func aligned(authDomain, from string, strict bool) bool {
	authDomain = normDomain(authDomain)
	if authDomain == from {
		return true
	}
	return !strict && authDomain != "" && OrgDomain(authDomain) == OrgDomain(from)
}

// checkDMARC looks up the policy of the From domain, else of its
// organizational domain, and judges the DKIM and SPF results' alignment.
func checkDMARC(ctx context.Context, from string, ds []core.DKIMResult, sp *core.SPFResult, res Resolver) *core.DMARCResult {
	r := &core.DMARCResult{Domain: from, OrgDomain: OrgDomain(from)}
	lookup := &dmarc.LookupOptions{LookupTXT: func(name string) ([]string, error) { return res.LookupTXT(ctx, name) }}
	rec, err := dmarc.LookupWithOptions(from, lookup)
	r.PolicyDomain = from
	if errors.Is(err, dmarc.ErrNoPolicy) && r.OrgDomain != from {
		rec, err = dmarc.LookupWithOptions(r.OrgDomain, lookup)
		r.PolicyDomain = r.OrgDomain
	}
	switch {
	case errors.Is(err, dmarc.ErrNoPolicy):
		r.Result, r.PolicyDomain = core.AuthNone, ""
		r.Reason = fmt.Sprintf("no DMARC policy for %s", from)
		if r.OrgDomain != from {
			r.Reason += " or " + r.OrgDomain
		}
		return r
	case dmarc.IsTempFail(err):
		r.Result, r.Reason = core.AuthTempError, strings.TrimPrefix(err.Error(), "dmarc: ")
		return r
	case err != nil:
		r.Result, r.Reason = core.AuthPermError, "the DMARC record of "+r.PolicyDomain+": "+strings.TrimPrefix(err.Error(), "dmarc: ")
		return r
	}
	r.Policy = string(rec.Policy)
	if r.PolicyDomain != from && rec.SubdomainPolicy != "" {
		r.Policy = string(rec.SubdomainPolicy)
	}
	if rec.Percent != nil {
		r.Percent = *rec.Percent
	}
	strictDKIM, strictSPF := rec.DKIMAlignment == dmarc.AlignmentStrict, rec.SPFAlignment == dmarc.AlignmentStrict
	r.DKIMAlignment, r.SPFAlignment = alignmentName(strictDKIM), alignmentName(strictSPF)
	temp := false
	for _, d := range ds {
		if d.Result == core.AuthPass && aligned(d.Domain, from, strictDKIM) {
			r.AlignedDKIM = d.Domain
			break
		}
		temp = temp || d.Result == core.AuthTempError
	}
	if sp != nil && sp.Result == core.AuthPass && aligned(sp.Domain, from, strictSPF) {
		r.AlignedSPF = sp.Domain
	}
	temp = temp || sp != nil && sp.Result == core.AuthTempError
	switch {
	case r.AlignedDKIM != "" || r.AlignedSPF != "":
		r.Result, r.Disposition = core.AuthPass, "none"
	case temp:
		r.Result = core.AuthTempError
		r.Reason = "no aligned DKIM or SPF pass, and a check that could pass failed for now (temperror)"
	default:
		r.Result, r.Disposition = core.AuthFail, r.Policy
		r.Reason = fmt.Sprintf("no DKIM signature or SPF pass aligned with %s (%s)", from, notAligned(ds, sp))
	}
	return r
}

func alignmentName(strict bool) string {
	if strict {
		return "strict"
	}
	return "relaxed"
}

// notAligned says what the DKIM and SPF results were, for a DMARC fail.
func notAligned(ds []core.DKIMResult, sp *core.SPFResult) string {
	var parts []string
	for _, d := range ds {
		parts = append(parts, fmt.Sprintf("dkim %s for %s", d.Result, d.Domain))
	}
	if len(ds) == 0 {
		parts = append(parts, "no DKIM signature")
	}
	if sp == nil {
		parts = append(parts, "SPF not checked")
	} else {
		parts = append(parts, fmt.Sprintf("spf %s for %s", sp.Result, sp.Domain))
	}
	return strings.Join(parts, ", ")
}

// checkSPF checks the client (RFC 7208 check_host) against the SPF policy
// of the MAIL FROM domain, else of the HELO name.
func checkSPF(ctx context.Context, h mime.Header, o SPFOptions, res Resolver) (*core.SPFResult, error) {
	r := &core.SPFResult{Source: "options"}
	if o.ReceivedHop > 0 {
		hop, err := receivedHop(h, o.ReceivedHop)
		if err != nil {
			return nil, err
		}
		r.Source = "received:" + strconv.Itoa(o.ReceivedHop)
		if o.ClientIP == nil {
			o.ClientIP = hop.ip
		}
		if o.HELO == "" {
			o.HELO = hop.helo
		}
		if o.MailFrom == "" {
			o.MailFrom = returnPath(h)
		}
	}
	if o.ClientIP == nil {
		return nil, fmt.Errorf("SPF: no client IP address (give --client-ip or --received-hop): %w", core.ErrUsage)
	}
	r.ClientIP, r.HELO, r.MailFrom = o.ClientIP.String(), o.HELO, o.MailFrom
	sender := o.MailFrom
	if _, d, ok := strings.Cut(sender, "@"); !ok || d == "" {
		// A null sender (bounces) is checked as postmaster@HELO (RFC 7208 section 2.4).
		sender = "postmaster@" + o.HELO
	}
	local, domain, _ := strings.Cut(sender, "@")
	r.Domain = normDomain(domain)
	if r.Domain == "" {
		r.Result, r.Reason = core.AuthNone, "no MAIL FROM domain and no HELO name to check"
		return r, nil
	}
	// The checker gets the domains in ASCII form, as DNS has them and as
	// DMARC compares them with the From domain.
	helo := o.HELO
	if a, err := ASCIIDomain(helo); err == nil {
		helo = a
	}
	result, err := spf.CheckHostWithSender(o.ClientIP, helo, local+"@"+r.Domain, spf.WithResolver(res), spf.WithContext(ctx))
	r.Result = string(result)
	if err != nil {
		r.Reason = err.Error()
	}
	return r, nil
}

// hop is what a Received field says of the client it received from.
type hop struct {
	helo string
	ip   net.IP
}

// The parts of a Received field, compiled when first used (not at
// start-up: most runs never read one).
var (
	receivedFrom = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`(?i)^\s*from\s+([^\s()]+)`) })
	receivedIP   = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`\[(?:IPv6:)?([0-9A-Fa-f:.]{2,45})\]`) })
	receivedBy   = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`(?i)\sby\s`) })
)

// maxReceivedHop bounds --received-hop.
const maxReceivedHop = 100

// receivedHop reads the n'th Received field from the top: "from HELO
// (name [IP]) by ...".
func receivedHop(h mime.Header, n int) (hop, error) {
	if n > maxReceivedHop {
		return hop{}, fmt.Errorf("--received-hop %d: at most %d: %w", n, maxReceivedHop, core.ErrUsage)
	}
	fields := h.Values("Received")
	if n > len(fields) {
		return hop{}, fmt.Errorf("--received-hop %d: the message has %d Received fields: %w", n, len(fields), core.ErrInput)
	}
	v := fields[n-1]
	if loc := receivedBy().FindStringIndex(v); loc != nil {
		v = v[:loc[0]]
	}
	var out hop
	if m := receivedFrom().FindStringSubmatchIndex(v); m != nil {
		out.helo = v[m[2]:m[3]]
		// The client's IP is the receiving server's, after the HELO name
		// the client chose: Postfix writes "from [192.0.2.10] (unknown
		// [203.0.113.9])" for a client that said EHLO [192.0.2.10], and
		// that literal must not be taken for its address.
		v = v[m[1]:]
	}
	if m := receivedIP().FindStringSubmatch(v); m != nil {
		out.ip = net.ParseIP(m[1])
	}
	if out.ip == nil {
		return hop{}, fmt.Errorf("--received-hop %d: the Received field names no client IP address in its from clause (%q); give --client-ip: %w",
			n, shorten(fields[n-1]), core.ErrInput)
	}
	return out, nil
}

// returnPath is the address of the Return-Path field ("" for <> or none).
func returnPath(h mime.Header) string {
	v := strings.TrimSpace(h.Get("Return-Path"))
	return strings.TrimSpace(strings.TrimSuffix(strings.TrimPrefix(v, "<"), ">"))
}

// AuthenticationResults formats rep as the value of an RFC 8601
// Authentication-Results field for the server authservID.
func AuthenticationResults(authservID string, rep *core.AuthReport) string {
	var rs []authres.Result
	for _, d := range rep.DKIM {
		rs = append(rs, &authres.DKIMResult{Value: authres.ResultValue(d.Result), Domain: resultToken(d.Domain), Identifier: resultToken(d.Identifier)})
	}
	if len(rep.DKIM) == 0 {
		rs = append(rs, &authres.DKIMResult{Value: authres.ResultNone})
	}
	if s := rep.SPF; s != nil {
		from := s.MailFrom
		if from == "" {
			from = "postmaster@" + s.HELO
		}
		rs = append(rs, &authres.SPFResult{Value: authres.ResultValue(s.Result), From: resultToken(from), Helo: resultToken(s.HELO)})
	}
	if a := rep.ARC; a != nil && a.Result != core.AuthNone {
		// go-msgauth formats ARCResult without its method name (and
		// would leave out an oldest-pass of 0).
		params := map[string]string{}
		if a.OldestPass != nil {
			params["header.oldest-pass"] = strconv.Itoa(*a.OldestPass)
		}
		if s := rep.SPF; s != nil {
			// The client that handed the message over (RFC 8617 section
			// 10.1); ClientIP is net.IP's own spelling, safe to write.
			params["smtp.remote-ip"] = s.ClientIP
		}
		rs = append(rs, &authres.GenericResult{Method: "arc", Value: authres.ResultValue(a.Result), Params: params})
	}
	if d := rep.DMARC; d != nil && d.Domain != "" {
		rs = append(rs, &authres.DMARCResult{Value: authres.ResultValue(d.Result), From: resultToken(d.Domain)})
	}
	return authres.Format(authservID, rs)
}

// resultToken is v if it is safe to write as a property value of
// Authentication-Results (letters, digits and . _ - + = @ only), else "":
// the value is left out. The formatter escapes '"' but not '\', so a
// value from the message (a From domain, d=, i=, a Return-Path, a HELO
// name) could otherwise close its quotes and add a forged result.
func resultToken(v string) string {
	for _, r := range v {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', strings.ContainsRune("._-+=@", r):
		default:
			return ""
		}
	}
	return v
}

// WriteWithResults writes m with an Authentication-Results field in
// front (value as AuthenticationResults makes it, folded at its ';'s).
// Existing Authentication-Results fields that claim authservID are left
// out: only this server may write them, so those came from someone else
// (RFC 8601 section 5); fields of other servers stay.
func WriteWithResults(w io.Writer, m *mime.Message, authservID, value string) error {
	if authservID == "" || !strings.HasPrefix(value, authservID) {
		return fmt.Errorf("Authentication-Results: the value does not start with the authserv-id %q: %w", authservID, core.ErrUsage)
	}
	bw := bufio.NewWriter(w)
	bw.WriteString("Authentication-Results: " + strings.ReplaceAll(value, "; ", ";\r\n\t") + "\r\n")
	for _, f := range m.Root.Header {
		if strings.EqualFold(f.Key, "Authentication-Results") && claims(f.Value, authservID) {
			continue
		}
		bw.Write(f.Raw)
	}
	bw.WriteString("\r\n")
	if _, err := io.Copy(bw, m.Root.RawBody()); err != nil {
		return err
	}
	return bw.Flush()
}

// claims says whether an Authentication-Results value names authservID,
// as a reader of the field would take it: comments (RFC 5322 CFWS, also
// nested) are passed over and a quoted authserv-id is read unquoted (review
// finding: "(x) mx.local; ..." or "\"mx.local\"; ..." kept a forged field).
// A value whose start cannot be read (an unclosed comment or quote)
// counts as claiming it, so that it is dropped, not trusted.
func claims(value, authservID string) bool {
	var b strings.Builder
	depth, quoted, escaped := 0, false, false
	for _, r := range value {
		switch {
		case escaped:
			escaped = false
			if depth == 0 {
				b.WriteRune(r)
			}
			continue
		case r == '\\' && (quoted || depth > 0):
			escaped = true
			continue
		case quoted:
			if r == '"' {
				quoted = false
			} else {
				b.WriteRune(r)
			}
			continue
		case r == '(':
			depth++
			continue
		case r == ')' && depth > 0:
			depth--
			continue
		case depth > 0:
			continue
		case r == '"':
			quoted = true
			continue
		case r == ';':
		default:
			b.WriteRune(r)
			continue
		}
		break
	}
	if depth > 0 || quoted {
		return true
	}
	id := b.String()
	if f := strings.Fields(id); len(f) > 0 {
		id = f[0] // an authserv-id may be followed by a version
	}
	return strings.EqualFold(strings.TrimSpace(id), authservID)
}
