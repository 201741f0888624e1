package main

import (
	"bytes"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/BurntSushi/toml"
	"github.com/urfave/cli/v2"

	"github.com/mailseal/mailseal"
	"github.com/mailseal/mailseal/internal/submit"
	"github.com/mailseal/mailseal/internal/userdir"
	"github.com/mailseal/mailseal/keystore"
)

// ExitTempFail is sendmail's EX_TEMPFAIL: the message is kept in the
// outbox and will be sent by `send --flush`.
const ExitTempFail = 75

// configurable are the send flags the config file may set (its keys are
// the long flag names).
var configurable = []string{"smtp", "smtp-tls", "smtp-ca", "smtp-user", "smtp-password-file",
	"smtp-password-command", "smtp-insecure-plaintext", "via-sendmail", "protocol", "sign", "allow-plaintext",
	"signer", "domain", "from", "hide-subject", "dkim-domain", "dkim-selector", "autocrypt", "autocrypt-mutual",
	"locate", "locate-methods", "resolver", "resolver-validates", "vks", "https-ca"}

// configKeys maps each configurable flag to whether it is a boolean.
func configKeys() map[string]bool {
	isBool := map[string]bool{}
	for _, f := range sendFlags() {
		tv, ok := f.(interface{ TakesValue() bool })
		isBool[f.Names()[0]] = ok && !tv.TakesValue()
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
	return slices.Concat([]cli.Flag{
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
		&cli.StringFlag{Name: "signer", Usage: "sign system mail (a From without a domain, such as cron's root) with the secret key matching `QUERY`; other mail is signed by its From address's key"},
		&cli.StringFlag{Name: "domain", Usage: "mail `DOMAIN` of system mail: bare names (root) in From, To, Cc, Bcc and the envelope become root@DOMAIN"},
		&cli.StringFlag{Name: "from", Usage: "sender `ADDRESS` of system mail: a From without a domain (cron's root) becomes it, and so does the envelope sender"},
		hideSubjectFlag,
		&cli.BoolFlag{Name: "autocrypt", Usage: "add an Autocrypt header with the sender's OpenPGP key (Autocrypt Level 1)"},
		&cli.BoolFlag{Name: "autocrypt-mutual", Usage: "say prefer-encrypt=mutual in that header"},
		&cli.BoolFlag{Name: "pgp", Usage: "OpenPGP for every recipient"},
		&cli.BoolFlag{Name: "smime", Usage: "S/MIME for every recipient"},
		&cli.StringFlag{Name: "input", Aliases: []string{"i"}, Usage: "read the message from `FILE` instead of stdin"},
		&cli.BoolFlag{Name: "flush", Usage: "send what waits in the outbox, then exit"},
		&cli.StringFlag{Name: "dkim-domain", Usage: "DKIM-sign each copy as it travels (after encryption) for `DOMAIN` (with --dkim-selector; the key from mailseal dkim keygen)"},
		&cli.StringFlag{Name: "dkim-selector", Usage: "the DKIM `SELECTOR` of --dkim-domain's stored key"},
		&cli.BoolFlag{Name: "queue", Usage: "list the outbox: ID, age, state, recipients, last error"},
		&cli.BoolFlag{Name: "json", Usage: "with --queue: as JSON"},
		&cli.BoolFlag{Name: "drop", Usage: "remove the outbox entries whose IDs follow, unsent (or --all)"},
		&cli.BoolFlag{Name: "all", Usage: "with --drop: every entry"},
		&cli.BoolFlag{Name: "resend", Usage: "send the outbox entries whose IDs follow now, also those held in flight"},
		// Set by `mailseal sendmail`:
		&cli.StringFlag{Name: "envelope-from", Hidden: true},
		&cli.StringSliceFlag{Name: "rcpt", Hidden: true},
		&cli.BoolFlag{Name: "no-header-recipients", Hidden: true},
	}, locateFlags, networkFlags)
}

func sendCommand() *cli.Command {
	flags := sendFlags()
	return &cli.Command{
		Name:  "send",
		Usage: "sign, encrypt and submit a message: each recipient gets the protocol they have a key for",
		Description: "Recipients are To, Cc and Bcc. Recipients of different protocols get separately encrypted\n" +
			"copies; each Bcc recipient gets a copy of their own. Messages that cannot be submitted now stay\n" +
			"in the outbox (exit 75); send --flush retries them, send --queue lists them, send --drop ID\n" +
			"removes one. A message whose server answer was lost may have been delivered: it is held until\n" +
			"send --resend ID or send --drop ID. For cron's mail (From: root) set domain and from.",
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
	// The look-up settings count only where locate is on (the command
	// line's --locate, or the file's locate), so a file may keep them
	// while locate is off.
	locateOn := c.Bool("locate")
	switch v := settings["locate"].(type) {
	case bool:
		locateOn = locateOn || v
	case []any:
		locateOn = true
	}
	// resolver-validates speaks of the config's resolver: a --resolver on
	// the command line is not the one the file said validates.
	cliResolver := c.IsSet("resolver")
	for _, key := range keys {
		isBool, ok := allowed[key]
		if !ok {
			return fmt.Errorf("config %s: unknown setting %q (the settings are the long names of send's flags, e.g. smtp, smtp-tls, sign): %w", path, key, mailseal.ErrUsage)
		}
		var value string
		if list, ok := settings[key].([]any); ok && key == "locate" {
			// locate = ["wkd", "dane"]: --locate with those methods.
			methods := make([]string, 0, len(list))
			for _, m := range list {
				name, ok := m.(string)
				if !ok {
					return fmt.Errorf("config %s: locate must be true, false or a list of method names (\"wkd\", \"dane\", \"vks\"): %w", path, mailseal.ErrUsage)
				}
				methods = append(methods, name)
			}
			if len(methods) == 0 {
				return fmt.Errorf("config %s: locate = [] names no method (locate = false turns it off): %w", path, mailseal.ErrUsage)
			}
			if !c.IsSet("locate-methods") {
				if err := c.Set("locate-methods", strings.Join(methods, ",")); err != nil {
					return fmt.Errorf("config %s: locate: %v: %w", path, err, mailseal.ErrUsage)
				}
			}
			settings[key] = true
		}
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
		if key == "resolver-validates" && cliResolver {
			continue
		}
		if !locateOn && (key == "locate-methods" || key == "resolver" || key == "resolver-validates" || key == "vks" || key == "https-ca") {
			continue
		}
		if err := c.Set(key, value); err != nil {
			return fmt.Errorf("config %s: %s: %v: %w", path, key, err, mailseal.ErrUsage)
		}
	}
	return nil
}

// transport is SMTP or the local sendmail program, from the settings.
func transport(c *cli.Context) (submit.Transport, error) {
	if p := c.String("via-sendmail"); p != "" {
		if c.String("smtp") != "" {
			return nil, usageErr("--smtp and --via-sendmail exclude each other")
		}
		return submit.Sendmail{Path: p}, nil
	}
	cfg := submit.SMTP{Addr: c.String("smtp"), TLS: strings.ToLower(c.String("smtp-tls")),
		InsecurePlaintext: c.Bool("smtp-insecure-plaintext"), User: c.String("smtp-user")}
	if cfg.Addr == "" {
		return nil, usageErr("no way to send: give --smtp HOST[:PORT] or --via-sendmail PATH (or set smtp in the config file)")
	}
	if cfg.TLS == "" {
		cfg.TLS = submit.TLSStartTLS
	}
	if cfg.TLS != submit.TLSStartTLS && cfg.TLS != submit.TLSImplicit {
		return nil, usageErr("--smtp-tls %q: starttls or implicit", cfg.TLS)
	}
	if ca := c.String("smtp-ca"); ca != "" {
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
		cfg.Password = func() (string, error) { return smtpPassword(c) }
	}
	return cfg, nil
}

// smtpPassword comes from --smtp-password-file, MAILSEAL_SMTP_PASSWORD, or
// --smtp-password-command, in that order.
func smtpPassword(c *cli.Context) (string, error) {
	if f := c.String("smtp-password-file"); f != "" {
		data, err := os.ReadFile(f)
		if err != nil {
			return "", fmt.Errorf("--smtp-password-file: %w", err)
		}
		return firstLine(data), nil
	}
	if pw, ok := os.LookupEnv("MAILSEAL_SMTP_PASSWORD"); ok {
		return pw, nil
	}
	if cmdline := c.String("smtp-password-command"); cmdline != "" {
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

// outbox is <home>/outbox, beside the keystore (--home, as newSession
// opens it).
func outbox(c *cli.Context) submit.Outbox {
	home := c.String("home")
	if home == "" {
		home = keystore.DefaultDir()
	}
	return submit.Outbox{Dir: filepath.Join(home, "outbox")}
}

// submitError maps a submission failure to the exit code: temporary ones
// are EX_TEMPFAIL (the messages wait in the outbox), permanent ones (a 5xx
// answer, a damaged entry) exit 1 and say so in their own words, pointing
// to send --flush only where sending again can help. Other errors (an
// unreadable outbox) are returned as they are.
func submitError(c *cli.Context, err error) error {
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
	fmt.Fprintf(visible{c.App.ErrWriter}, "mailseal: %s\nmailseal: kept in the outbox; mailseal send --flush sends it later\n", oneLine(err.Error()))
	return exitError{ExitTempFail}
}

func sendAction(c *cli.Context) error {
	if n := countTrue(c, "queue", "drop", "resend", "flush"); n > 1 {
		return usageErr("--queue, --drop, --resend and --flush exclude each other")
	}
	if c.Bool("all") && !c.Bool("drop") {
		return usageErr("--all goes with --drop (resending is decided message by message: send --resend ID)")
	}
	if c.Bool("json") && !c.Bool("queue") {
		return usageErr("--json goes with --queue")
	}
	switch {
	case c.Bool("queue"):
		return listOutbox(c)
	case c.Bool("drop"):
		return dropEntries(c)
	case c.Bool("resend"):
		return resendEntries(c)
	}
	s, err := newSession(c)
	if err != nil {
		return err
	}
	t, err := transport(c)
	if err != nil {
		return err
	}
	if c.Bool("flush") {
		res, err := outbox(c).Flush(t)
		fmt.Fprintf(c.App.ErrWriter, "%d message(s) sent from the outbox\n", res.Sent)
		if res.Busy > 0 {
			fmt.Fprintf(c.App.ErrWriter, "%d message(s) already being delivered by another process, left to it\n", res.Busy)
		}
		if res.Duplicates > 0 {
			fmt.Fprintf(c.App.ErrWriter, "%d message(s) removed unsent: the same Message-ID was delivered to the same recipients before\n", res.Duplicates)
		}
		if res.InFlight > 0 {
			fmt.Fprintf(c.App.ErrWriter, "%d message(s) held: they may have been delivered (see mailseal send --queue)\n", res.InFlight)
		}
		if err != nil {
			return submitError(c, err)
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
		NoHeaderRecipients: c.Bool("no-header-recipients"), Policy: &s.policy,
		Domain: c.String("domain"), SystemFrom: c.String("from"), SignerQuery: c.String("signer"),
		KeepSubject: !c.Bool("hide-subject"), Autocrypt: c.Bool("autocrypt"), AutocryptMutual: c.Bool("autocrypt-mutual")})
	s.printLocated(s.newlyLocated())
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
	claims, err := outbox(c).PutAll(len(plan.Copies), func(i int) (submit.Envelope, []byte, error) {
		var buf bytes.Buffer
		err := plan.Write(&buf, plan.Copies[i])
		data := buf.Bytes()
		if err == nil {
			data, err = dkimSign(data) // the copy as it travels: encrypted
		}
		return submit.Envelope{From: plan.EnvelopeFrom, To: plan.Copies[i].Rcpt, MessageID: plan.MessageID}, data, err
	})
	if err != nil {
		return err // nothing was sent, and no copy is left for a later flush
	}
	defer func() {
		for _, cl := range claims {
			cl.Release()
		}
	}()
	err = submit.DeliverAll(t, claims, func(i int, duplicate bool) {
		cp := plan.Copies[i]
		if duplicate {
			fmt.Fprintf(c.App.ErrWriter, "not sent to %s: a message with this Message-ID was delivered to them before\n", strings.Join(cp.Rcpt, ", "))
			return
		}
		how := cp.Protocol
		if cp.Plaintext {
			how += ", signed only"
		}
		fmt.Fprintf(c.App.ErrWriter, "sent to %s (%s)\n", strings.Join(cp.Rcpt, ", "), how)
	})
	if err != nil {
		return submitError(c, err)
	}
	return nil
}

// countTrue counts the boolean flags set.
func countTrue(c *cli.Context, names ...string) int {
	n := 0
	for _, name := range names {
		if c.Bool(name) {
			n++
		}
	}
	return n
}

// queueEntry is one line of send --queue --json.
type queueEntry struct {
	ID         string    `json:"id"`
	Queued     time.Time `json:"queued,omitzero"`
	AgeSeconds int64     `json:"age_seconds"`
	State      string    `json:"state"`
	From       string    `json:"from"`
	To         []string  `json:"to"`
	MessageID  string    `json:"message_id,omitempty"`
	InFlight   time.Time `json:"in_flight,omitzero"`
	LastError  string    `json:"last_error,omitempty"`
}

// listOutbox prints the outbox, oldest first.
func listOutbox(c *cli.Context) error {
	if c.NArg() > 0 {
		return usageErr("send --queue takes no arguments")
	}
	items, err := outbox(c).List()
	if err != nil {
		return err
	}
	now := time.Now()
	entries := make([]queueEntry, 0, len(items))
	for _, it := range items {
		e := queueEntry{ID: it.ID, Queued: it.Queued, State: "queued", From: it.Envelope.From, To: it.Envelope.To,
			MessageID: it.Envelope.MessageID, InFlight: it.InFlight, LastError: it.LastError}
		if !it.Queued.IsZero() {
			e.AgeSeconds = int64(now.Sub(it.Queued).Seconds())
		}
		switch {
		case it.Damaged != nil:
			e.State, e.LastError, e.From, e.To, e.MessageID = "damaged", oneLine(it.Damaged.Error()), "", []string{}, ""
		case !it.InFlight.IsZero():
			e.State = "in-flight"
		}
		entries = append(entries, e)
	}
	if c.Bool("json") {
		enc := json.NewEncoder(c.App.Writer)
		enc.SetIndent("", "  ")
		enc.SetEscapeHTML(false) // Message-IDs keep their <>
		return enc.Encode(entries)
	}
	if len(entries) == 0 {
		_, err := fmt.Fprintln(c.App.Writer, "the outbox is empty")
		return err
	}
	for _, e := range entries {
		line := fmt.Sprintf("%s  %-5s %-9s to %s", e.ID, shortAge(time.Duration(e.AgeSeconds)*time.Second), e.State, strings.Join(e.To, ", "))
		if e.State == "damaged" {
			line = fmt.Sprintf("%s  %-5s %-9s", e.ID, shortAge(time.Duration(e.AgeSeconds)*time.Second), e.State)
		}
		if e.LastError != "" {
			line += "  (" + oneLine(e.LastError) + ")"
		}
		if _, err := fmt.Fprintln(c.App.Writer, line); err != nil {
			return err
		}
	}
	return nil
}

// shortAge is an age as "45s", "12m", "3h" or "2d".
func shortAge(d time.Duration) string {
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%dm", int(d.Minutes()))
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh", int(d.Hours()))
	}
	return fmt.Sprintf("%dd", int(d.Hours()/24))
}

// entryIDs are the IDs given to --drop or --resend: the arguments, or
// with --all every entry.
func entryIDs(c *cli.Context, what string) ([]string, error) {
	if c.Bool("all") {
		if c.NArg() > 0 {
			return nil, usageErr("--all or IDs, not both")
		}
		items, err := outbox(c).List()
		if err != nil {
			return nil, err
		}
		ids := make([]string, len(items))
		for i, it := range items {
			ids[i] = it.ID
		}
		return ids, nil
	}
	if c.NArg() == 0 {
		return nil, usageErr("send %s needs the IDs of outbox entries (mailseal send --queue lists them)", what)
	}
	return c.Args().Slice(), nil
}

// dropEntries removes outbox entries unsent.
func dropEntries(c *cli.Context) error {
	ids, err := entryIDs(c, "--drop")
	if err != nil {
		return err
	}
	box := outbox(c)
	var failed []string
	for _, id := range ids {
		if err := box.Drop(id); err != nil {
			failed = append(failed, entryError(id, err))
			continue
		}
		fmt.Fprintf(c.App.ErrWriter, "dropped %s\n", id)
	}
	return entryFailures(failed)
}

// resendEntries delivers outbox entries now, those held in flight too.
func resendEntries(c *cli.Context) error {
	ids, err := entryIDs(c, "--resend")
	if err != nil {
		return err
	}
	t, err := transport(c)
	if err != nil {
		return err
	}
	var failed []string
	busy := false
	err = outbox(c).Resend(t, ids, func(id string, err error) {
		switch {
		case err == nil:
			fmt.Fprintf(c.App.ErrWriter, "sent %s\n", id)
		case errors.Is(err, submit.ErrDuplicate):
			fmt.Fprintf(c.App.ErrWriter, "%s\n", oneLine(err.Error()))
		case errors.Is(err, submit.ErrBusy):
			// Not a mistake in the command: another send or flush has
			// it now (as a flush leaves it).
			fmt.Fprintf(c.App.ErrWriter, "%s: %s\n", id, submit.ErrBusy)
			busy = true
		default:
			failed = append(failed, entryError(id, err))
		}
	})
	if len(failed) > 0 {
		// IDs that name no entry to send are a usage error (exit 2); the
		// failures of those sent are said too.
		if err != nil {
			failed = append(failed, err.Error())
		}
		return entryFailures(failed)
	}
	if err == nil && busy {
		return exitError{ExitTempFail}
	}
	return submitError(c, err)
}

// entryError says why entry id could not be dropped or resent.
func entryError(id string, err error) string {
	if errors.Is(err, submit.ErrGone) {
		return fmt.Sprintf("no entry %q in the outbox (mailseal send --queue lists them)", id)
	}
	return err.Error()
}

// entryFailures is the error for outbox entries that could not be dropped
// or resent: ErrUsage for IDs that are not in the outbox, else as it is.
func entryFailures(failed []string) error {
	if len(failed) == 0 {
		return nil
	}
	return fmt.Errorf("%s: %w", strings.Join(failed, "; "), mailseal.ErrUsage)
}
