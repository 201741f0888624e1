package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/mailseal/mailseal"
	"github.com/mailseal/mailseal/auth"
	"github.com/mailseal/mailseal/mime"
)

// dnsFlags choose the DNS of the domain checks.
var dnsFlags = []cli.Flag{
	&cli.StringFlag{Name: "resolver", Usage: "ask the DNS server at `HOST:PORT` instead of the system's resolver"},
	&cli.BoolFlag{Name: "offline", Usage: "look nothing up in DNS: checks that need it are temperror"},
}

// authFlags are verify's domain-check flags.
var authFlags = append([]cli.Flag{
	&cli.BoolFlag{Name: "auth", Usage: "also check whether the domain sent it: DKIM, SPF (with the client), DMARC, ARC (the exit code stays the signature's)"},
	&cli.StringFlag{Name: "client-ip", Usage: "--auth: SPF-check the client at `IP` that handed the message over"},
	&cli.StringFlag{Name: "helo", Usage: "--auth: the client's HELO/EHLO `NAME`"},
	&cli.StringFlag{Name: "mail-from", Usage: "--auth: the envelope sender `ADDR` (MAIL FROM)"},
	&cli.IntFlag{Name: "received-hop", Usage: "--auth: take the client IP and HELO from the `N`th Received field from the top (one your server wrote) and the sender from Return-Path"},
	&cli.StringFlag{Name: "authserv-id", Usage: "--auth: write the results as an Authentication-Results field of the server `NAME` (in the report)"},
	&cli.BoolFlag{Name: "add-auth-results", Usage: "--auth with --authserv-id: write the message with that field in front to stdout (or -o); the report goes to stderr"},
}, dnsFlags...)

// resolver is the DNS the flags choose.
func (s *session) resolver() (auth.Resolver, error) {
	name := s.c.String("resolver")
	switch {
	case s.c.Bool("offline") && name != "":
		return nil, usageErr("--offline and --resolver: give one")
	case s.c.Bool("offline"):
		return auth.Offline(), nil
	case name != "":
		r, err := auth.NewDNSResolver(name, 0)
		if err != nil {
			return nil, usageErr("--resolver: %v", err)
		}
		return r, nil
	}
	return auth.System(), nil
}

// authOptions reads verify's domain-check flags (nil without --auth).
func (s *session) authOptions() (*auth.Options, error) {
	if !s.c.Bool("auth") {
		for _, f := range []string{"client-ip", "helo", "mail-from", "received-hop", "authserv-id", "add-auth-results", "resolver", "offline"} {
			if s.c.IsSet(f) {
				return nil, usageErr("--%s belongs to the domain checks: add --auth", f)
			}
		}
		return nil, nil
	}
	res, err := s.resolver()
	if err != nil {
		return nil, err
	}
	o := &auth.Options{Resolver: res, AuthServID: s.c.String("authserv-id")}
	if s.c.Bool("add-auth-results") && o.AuthServID == "" {
		return nil, usageErr("--add-auth-results needs --authserv-id NAME (the name of your mail server)")
	}
	hop := s.c.Int("received-hop")
	ipText := s.c.String("client-ip")
	switch {
	case hop < 0:
		return nil, usageErr("--received-hop %d: want 1 or more", hop)
	case hop > 0 && ipText != "":
		return nil, usageErr("--received-hop and --client-ip: give one")
	case hop > 0 || ipText != "":
		o.SPF = &auth.SPFOptions{ReceivedHop: hop, HELO: s.c.String("helo"), MailFrom: s.c.String("mail-from")}
		if ipText != "" {
			if o.SPF.ClientIP = net.ParseIP(ipText); o.SPF.ClientIP == nil {
				return nil, usageErr("--client-ip %q: not an IP address", ipText)
			}
		}
	case s.c.IsSet("helo") || s.c.IsSet("mail-from"):
		return nil, usageErr("--helo and --mail-from need the client: add --client-ip IP or --received-hop N")
	}
	return o, nil
}

// authLines are the domain verdict's lines of the text report: the
// verdict with DMARC's reading, then one line per DKIM signature and SPF.
func authLines(a *mailseal.AuthReport) []string {
	line := "domain: " + a.Verdict
	if d := a.DMARC; d != nil {
		line += " (dmarc " + d.Result
		if d.Domain != "" {
			line += " for " + d.Domain
		}
		if d.Policy != "" {
			line += ", policy " + d.Policy
		}
		if d.Result == "fail" {
			line += ", disposition " + d.Disposition
		}
		if d.Reason != "" {
			line += ": " + d.Reason
		}
		line += ")"
	}
	for _, w := range a.Warnings {
		line += "; warning: " + oneLine(w)
	}
	lines := []string{line}
	for _, d := range a.DKIM {
		l := fmt.Sprintf("dkim: %s d=%s s=%s %s", d.Result, d.Domain, d.Selector, d.Algorithm)
		if d.Reason != "" {
			l += " (" + oneLine(d.Reason) + ")"
		}
		lines = append(lines, l)
	}
	if len(a.DKIM) == 0 {
		lines = append(lines, "dkim: none (no DKIM-Signature)")
	}
	if p := a.SPF; p != nil {
		l := fmt.Sprintf("spf: %s for %s from %s", p.Result, p.Domain, p.ClientIP)
		if p.Reason != "" {
			l += " (" + oneLine(p.Reason) + ")"
		}
		lines = append(lines, l)
	}
	if r := a.ARC; r != nil && r.Result != "none" {
		l := "arc: " + r.Result
		if r.OldestPass != nil {
			l += fmt.Sprintf(", oldest-pass %d", *r.OldestPass)
		}
		if r.Reason != "" {
			l += " (" + oneLine(r.Reason) + ")"
		}
		if len(r.Sealers) > 0 {
			sealers := make([]string, len(r.Sealers))
			for i, sl := range r.Sealers {
				sealers[i] = fmt.Sprintf("i=%d d=%s s=%s", sl.Instance, sl.Domain, sl.Selector)
			}
			if r.Result == "pass" {
				l += "; sealers: " + strings.Join(sealers, ", ")
			} else { // what a failed chain's sets say is anyone's claim
				l += "; claimed sealers, not verified: " + strings.Join(sealers, ", ")
			}
		}
		lines = append(lines, l)
	}
	if a.AuthenticationResults != "" {
		lines = append(lines, "Authentication-Results: "+a.AuthenticationResults)
	}
	return lines
}

func dkimCommand() *cli.Command {
	ioOnly := []cli.Flag{
		&cli.StringFlag{Name: "input", Aliases: []string{"i"}, Usage: "read the message from `FILE` instead of stdin"},
		&cli.StringFlag{Name: "output", Aliases: []string{"o"}, Usage: "write to `FILE` instead of stdout (replaced atomically)"},
	}
	return &cli.Command{
		Name:  "dkim",
		Usage: "DKIM keys, signing and verification (RFC 6376; Ed25519 RFC 8463)",
		Subcommands: []*cli.Command{
			{
				Name:  "keygen",
				Usage: "make a DKIM key, store it in the keystore and print its DNS TXT record",
				Flags: []cli.Flag{
					&cli.StringFlag{Name: "domain", Usage: "the signing `DOMAIN` (d=)"},
					&cli.StringFlag{Name: "selector", Usage: "the `SELECTOR` (s=): the record goes at SELECTOR._domainkey.DOMAIN"},
					&cli.StringFlag{Name: "algo", Value: auth.AlgoRSA2048, Usage: "`rsa2048` or ed25519 (RFC 8463; not every receiver checks Ed25519 yet, so rsa2048 is the default)"},
				},
				Action: needs([]string{"domain", "selector"}, dkimKeygen),
			},
			{
				Name:  "sign",
				Usage: "DKIM-sign the message on stdin with a stored key",
				Flags: flags(ioOnly, []cli.Flag{
					&cli.StringFlag{Name: "domain", Usage: "the signing `DOMAIN` (d=)"},
					&cli.StringFlag{Name: "selector", Usage: "the `SELECTOR` (s=) of the stored key"},
					&cli.StringFlag{Name: "canonicalization", Value: "relaxed/relaxed", Usage: "`HEADER/BODY`: relaxed or simple each"},
				}, limitFlags),
				Action: needs([]string{"domain", "selector"}, withMessage(func(s *session, m *mime.Message) error {
					o, err := s.dkimSignOptions(s.c.String("domain"), s.c.String("selector"), s.c.String("canonicalization"))
					if err != nil {
						return err
					}
					return s.writeOutput(func(w io.Writer) error { return auth.SignDKIM(w, m, o) })
				})),
			},
			{
				Name:  "verify",
				Usage: "check the message's DKIM signatures (verify --auth restricted to DKIM); exit 0 when one passes",
				Flags: flags(ioOnly[:1], []cli.Flag{
					&cli.BoolFlag{Name: "json", Usage: "print the results as one JSON object"},
				}, dnsFlags, limitFlags),
				Action: withMessage(func(s *session, m *mime.Message) error {
					res, err := s.resolver()
					if err != nil {
						return err
					}
					rep, err := auth.Check(context.Background(), m, auth.Options{Resolver: res, DKIMOnly: true})
					if err != nil {
						return err
					}
					if s.c.Bool("json") {
						enc := json.NewEncoder(s.c.App.Writer)
						enc.SetEscapeHTML(false)
						enc.Encode(rep)
					} else {
						fmt.Fprintln(visible{s.c.App.ErrWriter}, strings.Join(authLines(rep), "\n"))
					}
					if rep.Verdict != "pass" {
						return exitError{mailseal.ExitVerification}
					}
					return nil
				}),
			},
		},
	}
}

// dkimSignOptions are the options that sign with the stored key of
// selector at domain; canon is HEADER/BODY.
func (s *session) dkimSignOptions(domain, selector, canon string) (auth.SignOptions, error) {
	key, err := s.store.DKIMKey(domain, selector)
	if err != nil {
		return auth.SignOptions{}, err
	}
	h, b, _ := strings.Cut(canon, "/")
	return auth.SignOptions{Domain: domain, Selector: selector, Key: key, HeaderCanonicalization: h, BodyCanonicalization: b}, nil
}

func dkimKeygen(c *cli.Context) error {
	s, err := newSession(c)
	if err != nil {
		return err
	}
	domain, selector := c.String("domain"), c.String("selector")
	key, err := s.store.GenerateDKIM(domain, selector, c.String("algo"))
	if err != nil {
		return err
	}
	rec, err := auth.DKIMRecord(key.Public())
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(c.App.Writer, "%s._domainkey.%s. IN TXT %s\n", strings.ToLower(selector), strings.ToLower(strings.TrimSuffix(domain, ".")), quoteTXT(rec))
	return err
}

// quoteTXT writes a TXT value as zone-file strings of at most 255 bytes.
func quoteTXT(v string) string {
	var parts []string
	for len(v) > 255 {
		parts = append(parts, `"`+v[:255]+`"`)
		v = v[255:]
	}
	parts = append(parts, `"`+v+`"`)
	if len(parts) == 1 {
		return parts[0]
	}
	return "( " + strings.Join(parts, " ") + " )"
}

// dkimSigner is send's DKIM step for each outgoing copy: with
// dkim-domain and dkim-selector (flags or config), the copy with a
// DKIM-Signature in front; without them, the copy as it is.
func (s *session) dkimSigner() (func([]byte) ([]byte, error), error) {
	domain, selector := s.c.String("dkim-domain"), s.c.String("dkim-selector")
	switch {
	case domain == "" && selector == "":
		return func(msg []byte) ([]byte, error) { return msg, nil }, nil
	case domain == "" || selector == "":
		return nil, usageErr("DKIM signing on send needs both dkim-domain and dkim-selector")
	}
	o, err := s.dkimSignOptions(domain, selector, "relaxed/relaxed")
	if err != nil {
		return nil, err
	}
	return func(msg []byte) ([]byte, error) {
		m, err := mime.Parse(bytes.NewReader(msg), s.limits, s.policy.MaxMemorySpool)
		if err != nil {
			return nil, err
		}
		defer m.Close()
		sig, err := auth.DKIMSignature(m, o)
		if err != nil {
			return nil, err
		}
		return append([]byte(sig), msg...), nil
	}, nil
}
