package main

import (
	"bytes"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/BurntSushi/toml"
	"github.com/urfave/cli/v2"

	"github.com/mailseal/mailseal"
	"github.com/mailseal/mailseal/internal/submit"
	"github.com/mailseal/mailseal/internal/userdir"
)

// ExitTempFail is sendmail's EX_TEMPFAIL: the message is kept in the
// outbox and will be sent by `send --flush`.
const ExitTempFail = 75

// configurable are the send flags the config file may set (its keys are
// the long flag names).
var configurable = []string{"smtp", "smtp-tls", "smtp-ca", "smtp-user", "smtp-password-file",
	"smtp-password-command", "smtp-insecure-plaintext", "via-sendmail", "protocol", "sign", "allow-plaintext", "dkim-domain", "dkim-selector"}

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
		&cli.StringFlag{Name: "dkim-domain", Usage: "DKIM-sign each copy as it travels (after encryption) for `DOMAIN` (with --dkim-selector; the key from mailseal dkim keygen)"},
		&cli.StringFlag{Name: "dkim-selector", Usage: "the DKIM `SELECTOR` of --dkim-domain's stored key"},
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
	order, err := s.protocolOrder()
	if err != nil {
		return err
	}
	plan, err := mailseal.PlanSend(m, s.keys, mailseal.SendOptions{Order: order, Sign: c.Bool("sign"),
		AllowPlaintext: c.Bool("allow-plaintext"), EnvelopeFrom: c.String("envelope-from"), Rcpt: c.StringSlice("rcpt"),
		NoHeaderRecipients: c.Bool("no-header-recipients"), Policy: &s.policy})
	if err != nil {
		return err
	}
	defer plan.Close()
	for _, w := range plan.Warnings {
		fmt.Fprintf(c.App.ErrWriter, "warning: %s\n", w)
	}
	// Every copy goes into the outbox before the first byte is sent, and
	// stays claimed by this process until it is delivered, so a flush
	// running meanwhile (cron) leaves it alone.
	dkimSign, err := s.dkimSigner()
	if err != nil {
		return err
	}
	claims, err := s.outbox().PutAll(len(plan.Copies), func(i int) (submit.Envelope, []byte, error) {
		var buf bytes.Buffer
		err := plan.Write(&buf, plan.Copies[i])
		data := buf.Bytes()
		if err == nil {
			data, err = dkimSign(data) // the copy as it travels: encrypted
		}
		return submit.Envelope{From: plan.EnvelopeFrom, To: plan.Copies[i].Rcpt}, data, err
	})
	if err != nil {
		return err // nothing was sent, and no copy is left for a later flush
	}
	defer func() {
		for _, cl := range claims {
			cl.Release()
		}
	}()
	err = submit.DeliverAll(t, claims, func(i int) {
		cp := plan.Copies[i]
		how := cp.Protocol
		if cp.Plaintext {
			how += ", signed only"
		}
		fmt.Fprintf(c.App.ErrWriter, "sent to %s (%s)\n", strings.Join(cp.Rcpt, ", "), how)
	})
	if err != nil {
		return s.submitError(err)
	}
	return nil
}
