package main

import (
	"bytes"
	"crypto/rand"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/BurntSushi/toml"
	openpgp "github.com/ProtonMail/go-crypto/openpgp/v2"
	"github.com/urfave/cli/v2"

	"github.com/mailseal/mailseal"
	"github.com/mailseal/mailseal/internal/flow"
	"github.com/mailseal/mailseal/internal/submit"
	"github.com/mailseal/mailseal/internal/userdir"
	"github.com/mailseal/mailseal/mime"
	"github.com/mailseal/mailseal/pgp"
	"github.com/mailseal/mailseal/smime"
)

// ExitTempFail is sendmail's EX_TEMPFAIL: the message is kept in the
// outbox and will be sent by `send --flush`.
const ExitTempFail = 75

// configurable are the send flags the config file may set (its keys are
// the long flag names).
var configurable = []string{"smtp", "smtp-tls", "smtp-ca", "smtp-user", "smtp-password-file",
	"smtp-password-command", "smtp-insecure-plaintext", "via-sendmail", "protocol", "sign", "allow-plaintext"}

// configKeys maps each configurable flag to whether it is a boolean.
func configKeys() map[string]bool {
	isBool := map[string]bool{}
	for _, f := range sendFlags() {
		_, b := f.(*cli.BoolFlag)
		isBool[f.Names()[0]] = b
	}
	keys := map[string]bool{}
	for _, name := range configurable {
		keys[name] = isBool[name]
	}
	return keys
}

// sendFlags are the flags of send; those in configurable can also come
// from the config file.
func sendFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "config", Usage: "settings `FILE` (default config.toml in $XDG_CONFIG_HOME/mailseal, ~/.config/mailseal or on Windows %AppData%\\mailseal)"},
		&cli.StringFlag{Name: "smtp", Usage: "submission server `HOST[:PORT]`"},
		&cli.StringFlag{Name: "smtp-tls", Usage: "`starttls` (port 587, default) or implicit (port 465)"},
		&cli.StringFlag{Name: "smtp-ca", Usage: "verify the server against the CA certificates in `FILE` instead of the system roots"},
		&cli.StringFlag{Name: "smtp-user", Usage: "authenticate as `USER` (AUTH PLAIN or LOGIN)"},
		&cli.StringFlag{Name: "smtp-password-file", Usage: "read the SMTP password from the first line of `FILE`"},
		&cli.StringFlag{Name: "smtp-password-command", Usage: "run `COMMAND` (sh -c; cmd /c on Windows) and use the first line of its output as the SMTP password"},
		&cli.BoolFlag{Name: "smtp-insecure-plaintext", Usage: "send without TLS (only for a relay on loopback)"},
		&cli.StringFlag{Name: "via-sendmail", Usage: "hand the encrypted messages to the local MTA's sendmail `PATH` instead of SMTP"},
		&cli.StringFlag{Name: "protocol", Usage: "preferred protocol where a recipient has keys for both: `openpgp` (default) or smime"},
		&cli.BoolFlag{Name: "sign", Value: true, Usage: "sign with the sender's key (--sign=false to only encrypt)"},
		&cli.BoolFlag{Name: "allow-plaintext", Usage: "recipients without a key get a signed, unencrypted copy instead of stopping the send"},
		&cli.BoolFlag{Name: "pgp", Usage: "OpenPGP for every recipient"},
		&cli.BoolFlag{Name: "smime", Usage: "S/MIME for every recipient"},
		&cli.StringFlag{Name: "input", Aliases: []string{"i"}, Usage: "read the message from `FILE` instead of stdin"},
		&cli.BoolFlag{Name: "flush", Usage: "send what waits in the outbox, then exit"},
		// Set by `mailseal sendmail`:
		&cli.StringFlag{Name: "envelope-from", Hidden: true},
		&cli.StringSliceFlag{Name: "rcpt", Hidden: true},
		&cli.BoolFlag{Name: "no-header-recipients", Hidden: true},
	}
}

func sendCommand() *cli.Command {
	flags := sendFlags()
	return &cli.Command{
		Name:  "send",
		Usage: "sign, encrypt and submit a message: each recipient gets the protocol they have a key for",
		Description: "Recipients are To, Cc and Bcc. Recipients of different protocols get separately encrypted\n" +
			"copies; each Bcc recipient gets a copy of their own. Messages that cannot be submitted now stay\n" +
			"in the outbox (exit 75); send --flush retries them.",
		Flags:  flags,
		Before: loadConfig,
		Action: sendAction,
	}
}

// loadConfig applies --config, or the default config file if it exists:
// each setting that the command line does not give. An unknown key or a
// value of the wrong type is a usage error that names it.
func loadConfig(c *cli.Context) error {
	path := c.String("config")
	if path == "" {
		dir, err := userdir.Config()
		if err != nil {
			return nil
		}
		path = filepath.Join(dir, "config.toml")
		if _, err := os.Stat(path); err != nil {
			return nil
		}
	}
	var settings map[string]any
	if _, err := toml.DecodeFile(path, &settings); err != nil {
		return fmt.Errorf("config %s: %v: %w", path, err, mailseal.ErrUsage)
	}
	keys := make([]string, 0, len(settings))
	for k := range settings {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	allowed := configKeys()
	for _, key := range keys {
		isBool, ok := allowed[key]
		if !ok {
			return fmt.Errorf("config %s: unknown setting %q (the settings are the long names of send's flags, e.g. smtp, smtp-tls, sign): %w", path, key, mailseal.ErrUsage)
		}
		var value string
		switch v := settings[key].(type) {
		case string:
			if isBool {
				return fmt.Errorf("config %s: %s must be true or false, not a string: %w", path, key, mailseal.ErrUsage)
			}
			value = v
		case bool:
			if !isBool {
				return fmt.Errorf("config %s: %s must be a string: %w", path, key, mailseal.ErrUsage)
			}
			value = strconv.FormatBool(v)
		default:
			return fmt.Errorf("config %s: %s must be a %s: %w", path, key, map[bool]string{true: "boolean", false: "string"}[isBool], mailseal.ErrUsage)
		}
		if c.IsSet(key) {
			continue // the command line wins
		}
		if err := c.Set(key, value); err != nil {
			return fmt.Errorf("config %s: %s: %v: %w", path, key, err, mailseal.ErrUsage)
		}
	}
	return nil
}

// transport is SMTP or the local sendmail program, from the settings.
func (s *session) transport() (submit.Transport, error) {
	if p := s.c.String("via-sendmail"); p != "" {
		if s.c.String("smtp") != "" {
			return nil, usageErr("--smtp and --via-sendmail exclude each other")
		}
		return submit.Sendmail{Path: p}, nil
	}
	cfg := submit.SMTP{Addr: s.c.String("smtp"), TLS: strings.ToLower(s.c.String("smtp-tls")),
		InsecurePlaintext: s.c.Bool("smtp-insecure-plaintext"), User: s.c.String("smtp-user")}
	if cfg.Addr == "" {
		return nil, usageErr("no way to send: give --smtp HOST[:PORT] or --via-sendmail PATH (or set smtp in the config file)")
	}
	if cfg.TLS == "" {
		cfg.TLS = submit.TLSStartTLS
	}
	if cfg.TLS != submit.TLSStartTLS && cfg.TLS != submit.TLSImplicit {
		return nil, usageErr("--smtp-tls %q: starttls or implicit", cfg.TLS)
	}
	if ca := s.c.String("smtp-ca"); ca != "" {
		data, err := os.ReadFile(ca)
		if err != nil {
			return nil, fmt.Errorf("--smtp-ca: %w: %w", err, mailseal.ErrUsage)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(data) {
			return nil, usageErr("--smtp-ca %s holds no PEM certificate", ca)
		}
		cfg.RootCAs = pool
	}
	if cfg.User != "" {
		cfg.Password = s.smtpPassword
	}
	return cfg, nil
}

// smtpPassword comes from --smtp-password-file, MAILSEAL_SMTP_PASSWORD, or
// --smtp-password-command, in that order.
func (s *session) smtpPassword() (string, error) {
	if f := s.c.String("smtp-password-file"); f != "" {
		data, err := os.ReadFile(f)
		if err != nil {
			return "", fmt.Errorf("--smtp-password-file: %w", err)
		}
		return firstLine(data), nil
	}
	if pw, ok := os.LookupEnv("MAILSEAL_SMTP_PASSWORD"); ok {
		return pw, nil
	}
	if cmdline := s.c.String("smtp-password-command"); cmdline != "" {
		out, err := shellCommand(cmdline).Output()
		if err != nil {
			return "", fmt.Errorf("smtp-password-command: %v", err)
		}
		return firstLine(out), nil
	}
	return "", errors.New("no SMTP password: give --smtp-password-file, MAILSEAL_SMTP_PASSWORD or smtp-password-command")
}

func firstLine(b []byte) string {
	line, _, _ := strings.Cut(string(b), "\n")
	return strings.TrimRight(line, "\r")
}

func (s *session) outbox() submit.Outbox {
	return submit.Outbox{Dir: filepath.Join(s.store.Dir(), "outbox")}
}

// submitError maps a submission failure to the exit code: temporary ones
// are EX_TEMPFAIL (the messages wait in the outbox), permanent ones (a 5xx
// answer, a damaged entry) exit 1 and say so in their own words, pointing
// to send --flush only where sending again can help. Other errors (an
// unreadable outbox) are returned as they are.
func (s *session) submitError(err error) error {
	var se *submit.Error
	if !errors.As(err, &se) {
		return err
	}
	if !se.Temporary {
		if !se.ByHand {
			err = fmt.Errorf("%w; once the cause is fixed, mailseal send --flush sends it", err)
		}
		return mailseal.WithKind(err, mailseal.ErrVerification)
	}
	fmt.Fprintf(s.c.App.ErrWriter, "mailseal: %s\nmailseal: kept in the outbox; mailseal send --flush sends it later\n", oneLine(err.Error()))
	return exitError{ExitTempFail}
}

func sendAction(c *cli.Context) error {
	s, err := newSession(c)
	if err != nil {
		return err
	}
	t, err := s.transport()
	if err != nil {
		return err
	}
	if c.Bool("flush") {
		res, err := s.outbox().Flush(t)
		fmt.Fprintf(c.App.ErrWriter, "%d message(s) sent from the outbox\n", res.Sent)
		if res.Busy > 0 {
			fmt.Fprintf(c.App.ErrWriter, "%d message(s) already being delivered by another process, left to it\n", res.Busy)
		}
		if err != nil {
			return s.submitError(err)
		}
		return nil
	}
	m, err := s.readMessage()
	if err != nil {
		return err
	}
	defer m.Close()
	plan, err := s.planSend(m)
	if err != nil {
		return err
	}
	defer plan.msg.Close()
	// Every copy goes into the outbox before the first byte is sent, and
	// stays claimed by this process until it is delivered, so a flush
	// running meanwhile (cron) leaves it alone.
	box := s.outbox()
	var claims []*submit.Claim
	defer func() {
		for _, cl := range claims {
			cl.Release()
		}
	}()
	for _, cp := range plan.copies {
		var buf bytes.Buffer
		err := s.buildCopy(&buf, plan, cp)
		var cl *submit.Claim
		if err == nil {
			cl, err = box.Put(submit.Envelope{From: plan.envelopeFrom, To: cp.rcpts}, buf.Bytes())
		}
		if err != nil {
			// Nothing was sent: no copy is left for a later flush.
			for _, cl := range claims {
				if derr := cl.Discard(); derr != nil {
					err = fmt.Errorf("%w; a copy queued already could not be removed (%v): remove %s.json from %s, or a later flush sends it", err, derr, cl.ID, box.Dir)
				}
			}
			return err
		}
		claims = append(claims, cl)
	}
	err = submit.DeliverAll(t, claims, func(i int) {
		cp := plan.copies[i]
		how := cp.protocol
		if cp.plaintext {
			how += ", signed only"
		}
		fmt.Fprintf(c.App.ErrWriter, "sent to %s (%s)\n", strings.Join(cp.rcpts, ", "), how)
	})
	if err != nil {
		return s.submitError(err)
	}
	return nil
}

// sendCopy is one message to submit.
type sendCopy struct {
	protocol  string   // mailseal.ProtocolOpenPGP or ProtocolSMIME
	rcpts     []string // SMTP recipients
	plaintext bool     // signed only (--allow-plaintext)
}

type sendPlan struct {
	msg          *mime.Message // the message to send: Bcc removed, Message-ID and Date present
	from         string        // the single From address
	envelopeFrom string
	copies       []sendCopy
	sign         bool
}

// planSend decides who gets which copy.
func (s *session) planSend(m *mime.Message) (*sendPlan, error) {
	from, err := senderAddress(m)
	if err != nil {
		return nil, err
	}
	visible, hidden, err := sendRecipients(m, s.c.StringSlice("rcpt"), !s.c.Bool("no-header-recipients"))
	if err != nil {
		return nil, err
	}
	if len(visible)+len(hidden) == 0 {
		return nil, usageErr("no recipients: the message has no To, Cc or Bcc")
	}
	prepared, err := prepareForSend(m, from)
	if err != nil {
		return nil, err
	}
	plan := &sendPlan{msg: prepared, from: from, envelopeFrom: from, sign: s.c.Bool("sign")}
	if ef := s.c.String("envelope-from"); ef != "" {
		plan.envelopeFrom = ef
	}
	protocols, err := s.protocolOrder()
	if err != nil {
		prepared.Close()
		return nil, err
	}
	choose := func(addr string) (string, error) {
		for _, p := range protocols {
			ok, err := s.hasRecipientKey(p, addr)
			if err != nil {
				return "", err
			}
			if ok {
				return p, nil
			}
		}
		return "", nil
	}
	groups := map[string][]string{}
	var missing []string
	var order []string
	for _, addr := range visible {
		p, err := choose(addr)
		if err != nil {
			prepared.Close()
			return nil, err
		}
		if p == "" {
			missing = append(missing, addr)
			continue
		}
		if _, ok := groups[p]; !ok {
			order = append(order, p)
		}
		groups[p] = append(groups[p], addr)
	}
	for _, p := range order {
		plan.copies = append(plan.copies, sendCopy{protocol: p, rcpts: groups[p]})
	}
	for _, addr := range hidden {
		p, err := choose(addr)
		if err != nil {
			prepared.Close()
			return nil, err
		}
		if p == "" {
			missing = append(missing, addr)
			continue
		}
		plan.copies = append(plan.copies, sendCopy{protocol: p, rcpts: []string{addr}})
	}
	if len(missing) > 0 {
		if !s.c.Bool("allow-plaintext") {
			prepared.Close()
			return nil, fmt.Errorf("no valid %s key for %s; nothing was sent (import their key or certificate, or give --allow-plaintext to send them a signed, unencrypted copy): %w",
				protocolNames(protocols), strings.Join(missing, ", "), mailseal.ErrNoKey)
		}
		p, err := s.senderProtocol(protocols, from)
		if err != nil {
			prepared.Close()
			return nil, err
		}
		// Each gets their own copy, so no hidden recipient shows.
		for _, addr := range missing {
			plan.copies = append(plan.copies, sendCopy{protocol: p, rcpts: []string{addr}, plaintext: true})
		}
	}
	return plan, nil
}

func protocolNames(ps []string) string {
	if len(ps) == 1 {
		return ps[0]
	}
	return strings.Join(ps, " or ")
}

// senderProtocol is the first protocol the sender can sign with.
func (s *session) senderProtocol(protocols []string, from string) (string, error) {
	for _, p := range protocols {
		switch p {
		case mailseal.ProtocolOpenPGP:
			if keys, err := s.store.SecretPGPForEmail(from); err == nil && len(keys) > 0 {
				return p, nil
			}
		case mailseal.ProtocolSMIME:
			if certs, err := s.store.X509SecretsForEmail(from); err == nil && len(certs) > 0 {
				return p, nil
			}
		}
	}
	return "", fmt.Errorf("the sender %s has no key to sign the unencrypted copies with: %w", from, mailseal.ErrNoKey)
}

// hasRecipientKey reports whether addr has a valid encryption key of protocol p.
func (s *session) hasRecipientKey(p, addr string) (bool, error) {
	switch p {
	case mailseal.ProtocolOpenPGP:
		certs, err := s.pgpRecipientCerts(pgp.New(s.policy), addr)
		return len(certs) > 0, err
	case mailseal.ProtocolSMIME:
		e, err := s.smimeEngine()
		if err != nil {
			return false, err
		}
		c, _, _, err := s.smimeRecipientCert(e, addr)
		return c != nil, err
	}
	return false, nil
}

// sendRecipients returns the visible (To, Cc) and hidden (Bcc, and
// envelope recipients not in To/Cc) addresses, each once.
func sendRecipients(m *mime.Message, extra []string, fromHeaders bool) (visible, hidden []string, err error) {
	seen := map[string]bool{}
	key := func(a string) string { return strings.ToLower(a) }
	var shown []string
	for _, field := range []string{"To", "Cc"} {
		if m.Root.Header.Get(field) == "" {
			continue
		}
		list, err := m.Root.Header.Addresses(field)
		if err != nil {
			return nil, nil, fmt.Errorf("%s: %w", field, err)
		}
		shown = append(shown, list...)
	}
	if fromHeaders {
		for _, a := range shown {
			if !seen[key(a)] {
				seen[key(a)] = true
				visible = append(visible, a)
			}
		}
		if m.Root.Header.Get("Bcc") != "" {
			list, err := m.Root.Header.Addresses("Bcc")
			if err != nil {
				return nil, nil, fmt.Errorf("Bcc: %w", err)
			}
			for _, a := range list {
				if !seen[key(a)] {
					seen[key(a)] = true
					hidden = append(hidden, a)
				}
			}
		}
	}
	shownSet := map[string]bool{}
	for _, a := range shown {
		shownSet[key(a)] = true
	}
	for _, a := range extra {
		a = strings.TrimSpace(a)
		if a == "" || seen[key(a)] {
			continue
		}
		seen[key(a)] = true
		if shownSet[key(a)] {
			visible = append(visible, a)
		} else {
			hidden = append(hidden, a)
		}
	}
	return visible, hidden, nil
}

// prepareForSend returns the message without Bcc, with a Message-ID and a
// Date if it had none, so that every copy carries identical headers.
func prepareForSend(m *mime.Message, from string) (*mime.Message, error) {
	var head bytes.Buffer
	for _, f := range m.Root.Header.NonContentFields() {
		if strings.EqualFold(f.Key, "Bcc") {
			continue
		}
		head.Write(f.Raw)
	}
	if m.Root.Header.Get("Message-ID") == "" {
		var rnd [12]byte
		rand.Read(rnd[:])
		domain := "localhost"
		if i := strings.LastIndexByte(from, '@'); i >= 0 {
			domain = from[i+1:]
		}
		fmt.Fprintf(&head, "Message-ID: <%s@%s>\r\n", hex.EncodeToString(rnd[:]), domain)
	}
	if m.Root.Header.Get("Date") == "" {
		fmt.Fprintf(&head, "Date: %s\r\n", time.Now().Format(time.RFC1123Z))
	}
	return mime.Parse(io.MultiReader(&head, m.Content(false)), mime.DefaultLimits(), 8<<20)
}

// buildCopy writes one copy: encrypted to its recipients and the sender
// (when the sender has a key in that protocol), signed if asked.
func (s *session) buildCopy(w io.Writer, plan *sendPlan, cp sendCopy) error {
	switch cp.protocol {
	case mailseal.ProtocolOpenPGP:
		var signer *openpgp.Entity
		if plan.sign || cp.plaintext {
			var err error
			if signer, err = s.signer(plan.msg, ""); err != nil {
				return err
			}
		}
		op := s.openpgp()
		if cp.plaintext {
			return op.Sign(w, plan.msg, signer)
		}
		engine := pgp.New(s.policy)
		var to []*openpgp.Entity
		seen := map[string]bool{}
		for _, addr := range append(append([]string(nil), cp.rcpts...), plan.from) {
			certs, err := s.pgpRecipientCerts(engine, addr)
			if err != nil {
				return err
			}
			if len(certs) == 0 && addr == plan.from {
				fmt.Fprintf(s.c.App.ErrWriter, "warning: the sender %s has no OpenPGP encryption key; the copy to %s is not encrypted to the sender\n", addr, strings.Join(cp.rcpts, ", "))
			}
			for _, c := range certs {
				if fpr := fingerprint(c); !seen[fpr] {
					seen[fpr] = true
					to = append(to, c)
				}
			}
		}
		return op.Encrypt(w, plan.msg, to, signer)
	case mailseal.ProtocolSMIME:
		e, err := s.smimeEngine()
		if err != nil {
			return err
		}
		var ids []smime.Identity
		if plan.sign || cp.plaintext {
			if ids, err = s.smimeSigner(e, plan.msg, ""); err != nil {
				return err
			}
		}
		sm := &flow.SMIME{Engine: e}
		if cp.plaintext {
			return sm.Sign(w, plan.msg, ids, smime.SignOptions{})
		}
		var to []*x509.Certificate
		for _, addr := range append(append([]string(nil), cp.rcpts...), plan.from) {
			c, _, _, err := s.smimeRecipientCert(e, addr)
			if err != nil {
				return err
			}
			if c == nil {
				if addr == plan.from {
					fmt.Fprintf(s.c.App.ErrWriter, "warning: the sender %s has no valid S/MIME certificate; the copy to %s is not encrypted to the sender\n", addr, strings.Join(cp.rcpts, ", "))
					continue
				}
				return fmt.Errorf("no valid S/MIME certificate for %s: %w", addr, mailseal.ErrNoKey)
			}
			to = append(to, c)
		}
		return sm.Encrypt(w, plan.msg, dedupeCerts(to), smime.EncryptOptions{}, ids, smime.SignOptions{})
	}
	return fmt.Errorf("unknown protocol %q", cp.protocol)
}

func dedupeCerts(cs []*x509.Certificate) []*x509.Certificate {
	seen := map[string]bool{}
	var out []*x509.Certificate
	for _, c := range cs {
		if f := smime.Fingerprint(c); !seen[f] {
			seen[f] = true
			out = append(out, c)
		}
	}
	return out
}
