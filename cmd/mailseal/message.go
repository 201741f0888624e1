package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/mailseal/mailseal"
	"github.com/mailseal/mailseal/internal/atomicfile"
	"github.com/mailseal/mailseal/internal/batch"
	"github.com/mailseal/mailseal/keystore"
	"github.com/mailseal/mailseal/mime"
	"github.com/mailseal/mailseal/smime"
)

var ioFlags = []cli.Flag{
	&cli.StringFlag{Name: "input", Aliases: []string{"i"}, Usage: "read the message from `FILE` instead of stdin"},
	&cli.StringFlag{Name: "output", Aliases: []string{"o"}, Usage: "write to `FILE` instead of stdout (replaced atomically)"},
	&cli.BoolFlag{Name: "json", Usage: "print the status report as one JSON object"},
	&cli.BoolFlag{Name: "pgp", Usage: "use OpenPGP (PGP/MIME)"},
	smimeFlag,
}

// protocolFlag sets the preference when sign and encrypt choose the protocol.
var protocolFlag = &cli.StringFlag{Name: "protocol", Usage: "without --pgp/--smime: try `openpgp` (default) or smime first"}

// flags joins flag lists into a new slice.
func flags(lists ...[]cli.Flag) []cli.Flag {
	var out []cli.Flag
	for _, l := range lists {
		out = append(out, l...)
	}
	return out
}

func signCommand() *cli.Command {
	return &cli.Command{
		Name:  "sign",
		Usage: "sign a message (PGP/MIME or S/MIME multipart/signed)",
		Flags: flags(ioFlags, []cli.Flag{
			&cli.StringFlag{Name: "signer", Usage: "sign with the secret key matching `QUERY` (default: the From address)"},
			protocolFlag,
		}, smimeSignFlags, limitFlags),
		Action: withMessage(func(s *session, m *mime.Message) error {
			order, err := s.protocolOrder()
			if err != nil {
				return err
			}
			signer, err := s.signer(m, order)
			if err != nil {
				return err
			}
			return s.writeOutput(func(w io.Writer) error {
				return mailseal.Sign(w, m, signer, mailseal.WithPolicy(s.policy))
			})
		}),
	}
}

// signer is the key that signs m: the one matching --signer, else the
// From address's, in the first protocol of order that has one.
func (s *session) signer(m *mime.Message, order []string) (mailseal.Signer, error) {
	if q := s.c.String("signer"); q != "" {
		only := ""
		if len(order) == 1 {
			only = order[0]
		}
		return s.keys.SignerMatching(q, only)
	}
	from, err := mailseal.SenderAddress(m)
	if err != nil {
		return nil, err
	}
	return mailseal.ChooseSigner(s.keys, from, order)
}

func encryptCommand() *cli.Command {
	return &cli.Command{
		Name:  "encrypt",
		Usage: "encrypt a message to its recipients (PGP/MIME multipart/encrypted or S/MIME enveloped)",
		Flags: flags(ioFlags, []cli.Flag{
			&cli.BoolFlag{Name: "sign", Usage: "also sign with the sender's key"},
			&cli.StringSliceFlag{Name: "to", Usage: "encrypt also to `ADDR` (repeatable)"},
			&cli.BoolFlag{Name: "no-self", Usage: "do not encrypt to the sender's own key"},
			&cli.StringFlag{Name: "signer", Usage: "with --sign: sign with the secret key matching `QUERY`"},
			protocolFlag,
			batchFlag,
		}, smimeEncryptFlags, smimeSignFlags, limitFlags),
		Action: func(c *cli.Context) error {
			if c.String("batch") != "" {
				s, err := newSession(c)
				if err != nil {
					return err
				}
				return runBatch(s, func() (batch.Work, error) { return s.encryptWorker(), nil }, true)
			}
			return withMessage(func(s *session, m *mime.Message) error {
				return s.encryptMessage(m, s.writeOutput)
			})(c)
		},
	}
}

func decryptCommand() *cli.Command {
	return &cli.Command{
		Name:  "decrypt",
		Usage: "decrypt a message and verify its inner signature",
		Flags: flags(ioFlags, []cli.Flag{
			&cli.StringFlag{Name: "part", Usage: "decrypt the encrypted part at `PATH` (e.g. 2 or 1.2) alone"},
			batchFlag,
			allowUnauthenticatedFlag,
		}, verifyFlags, limitFlags),
		Action: func(c *cli.Context) error { return openCommand(c, true) },
	}
}

// allowUnauthenticatedFlag releases what decrypt otherwise withholds:
// content that could have been altered unnoticed (flow.Options).
var allowUnauthenticatedFlag = &cli.BoolFlag{Name: "allow-unauthenticated",
	Usage: "S/MIME CBC: output content that no good signature covers (unsigned, or an unknown or untrusted signer); " +
		"CBC has no integrity protection, so it may have been altered in transit (a bad signature is never output)"}

func verifyCommand() *cli.Command {
	return &cli.Command{
		Name:  "verify",
		Usage: "verify a message's signature; exit 0 only for a good signature",
		Flags: flags(ioFlags, []cli.Flag{
			&cli.StringFlag{Name: "part", Usage: "verify the signed part at `PATH` alone"},
			batchFlag,
		}, verifyFlags, limitFlags),
		Action: func(c *cli.Context) error { return openCommand(c, false) },
	}
}

// withMessage makes an action that reads the input message first.
func withMessage(action func(s *session, m *mime.Message) error) cli.ActionFunc {
	return func(c *cli.Context) error {
		s, err := newSession(c)
		if err != nil {
			return err
		}
		m, err := s.readMessage()
		if err != nil {
			return err
		}
		defer m.Close()
		return action(s, m)
	}
}

// openCommand is decrypt and verify: both open the protected entity of a
// message; decrypt also writes the decrypted message.
func openCommand(c *cli.Context, decrypt bool) error {
	s, err := newSession(c)
	if err != nil {
		return err
	}
	if c.String("batch") != "" {
		return runBatch(s, func() (batch.Work, error) { return s.openWorker(decrypt), nil }, decrypt)
	}
	m, err := s.readMessage(mailseal.HashingOption())
	if err != nil {
		return s.failReport(err)
	}
	defer m.Close()
	opened, err := s.open(m, s.openKeys(), decrypt, s.writeOutput)
	if err != nil {
		return s.failReport(err)
	}
	s.printReport(&opened.Report, !decrypt)
	if code := opened.ExitCode(); code != 0 {
		return exitError{code}
	}
	return nil
}

// open verifies m or, with decrypt, decrypts it, the decrypted message
// going to output, which is made only when there is something to release
// (output makes the -o file, or a batch's output message).
func (s *session) open(m *mime.Message, keys mailseal.Keys, decrypt bool, output func(func(io.Writer) error) error) (*mailseal.Opened, error) {
	if !decrypt {
		return mailseal.Open(m, keys, s.openOptions(false, nil))
	}
	var opened *mailseal.Opened
	var openErr error
	err := output(func(w io.Writer) error {
		opened, openErr = mailseal.Open(m, keys, s.openOptions(true, w))
		if openErr != nil || !opened.Decrypted {
			return errNothingReleased
		}
		return nil
	})
	switch {
	case openErr != nil:
		return nil, openErr
	case err == errNothingReleased:
		return opened, nil
	case err != nil:
		return nil, err
	}
	return opened, nil
}

// errNothingReleased stops the output of a decryption that released
// nothing (the report says why).
var errNothingReleased = errors.New("nothing released")

// openOptions are the options of decrypt and verify.
func (s *session) openOptions(decrypt bool, output io.Writer) mailseal.OpenOptions {
	return mailseal.OpenOptions{Decrypt: decrypt, Output: output, Part: s.c.String("part"), Policy: &s.policy, Limits: s.limits,
		PreferSMIME: s.c.Bool("smime"), AllowUnauthenticated: s.c.Bool("allow-unauthenticated")}
}

// openKeys are the keystore's keys, and the password of a
// password-encrypted message, asked for when one comes.
func (s *session) openKeys() mailseal.Keys {
	k := s.keys.Keys()
	k.OpenPGP.Password = func() ([]byte, error) { return s.pass.get("the message password") }
	return k
}

// encryptMessage resolves recipients and signer (failing before anything
// is written) and hands the encrypting function to output.
func (s *session) encryptMessage(m *mime.Message, output func(func(io.Writer) error) error) error {
	order, err := s.protocolOrder()
	if err != nil {
		return err
	}
	encOpts, err := s.smimeEncryptOptions()
	if err != nil {
		return err
	}
	addrs, err := mailseal.RecipientAddresses(m, s.c.StringSlice("to"), !s.c.Bool("no-self"))
	if err != nil {
		return err
	}
	sel, err := mailseal.ChooseRecipients(s.keys, addrs, order)
	if err != nil {
		return err
	}
	opts := []mailseal.Option{mailseal.WithPolicy(s.policy), mailseal.WithSMIME(encOpts)}
	if s.c.Bool("sign") {
		// The signer's protocol is the recipients'.
		signer, err := s.signer(m, []string{sel.Protocol})
		if err != nil {
			return err
		}
		opts = append(opts, mailseal.SignWith(signer))
	}
	for _, w := range sel.Warnings {
		fmt.Fprintf(s.c.App.ErrWriter, "warning: %s\n", w)
	}
	return output(func(w io.Writer) error {
		return mailseal.Encrypt(w, m, sel.Recipients, opts...)
	})
}

// session is what one command invocation needs: flags, keystore, policy,
// and the keystore session that selects and unlocks keys (a batch worker
// that signs has one of its own).
type session struct {
	c      *cli.Context
	policy mailseal.Policy
	limits mime.Limits // of every parse (the limit flags)
	pass   *passphrases
	store  *keystore.Store
	keys   *keystore.Session
}

func newSession(c *cli.Context) (*session, error) {
	if c.NArg() > 0 {
		return nil, usageErr("unexpected argument %q (the message is read from stdin or -i FILE)", c.Args().First())
	}
	home := c.String("home")
	if home == "" {
		home = keystore.DefaultDir()
	}
	store, err := keystore.Open(home)
	if err != nil {
		return nil, err
	}
	policy := mailseal.DefaultPolicy()
	if c.IsSet("at") {
		t, err := parseTime(c.String("at"))
		if err != nil {
			return nil, err
		}
		policy.Now = t
	}
	if v := c.String("accept-sha1-before"); v != "" {
		t, err := parseTime(v)
		if err != nil {
			return nil, usageErr("--accept-sha1-before %q: want RFC 3339 (2016-01-02T15:04:05Z) or a date (2016-01-02)", v)
		}
		policy.AcceptSHA1Before = t
	}
	s := &session{c: c, policy: policy, limits: mime.DefaultLimits(), pass: newPassphrases(c), store: store}
	if err := s.readLimits(); err != nil {
		return nil, err
	}
	signOpts, err := s.smimeSignOptions()
	if err != nil {
		return nil, err
	}
	s.keys = s.newKeySession(signOpts)
	return s, nil
}

// newKeySession is a keystore session with the command's settings.
func (s *session) newKeySession(signOpts smime.SignOptions) *keystore.Session {
	return s.store.Session(keystore.SessionOptions{Policy: s.policy, Passphrase: s.pass.get,
		SystemRoots: !s.c.Bool("no-system-roots"), RequireCRLs: s.c.Bool("require-crls"), SMIMESign: signOpts})
}

func (s *session) readMessage(opts ...mime.ParseOption) (*mime.Message, error) {
	var m *mime.Message
	var err error
	if name := s.c.String("input"); name != "" {
		f, oerr := os.Open(name)
		if oerr != nil {
			return nil, fmt.Errorf("%w: %w", oerr, mailseal.ErrInput)
		}
		m, err = mime.ParseFile(f, s.limits, s.policy.MaxMemorySpool, opts...)
	} else if f, ok := s.c.App.Reader.(*os.File); ok {
		// A file on stdin (< msg.eml) is read in place, not spooled.
		m, err = mime.ParseFile(f, s.limits, s.policy.MaxMemorySpool, opts...)
	} else {
		m, err = mime.Parse(s.c.App.Reader, s.limits, s.policy.MaxMemorySpool, opts...)
	}
	if err != nil {
		return nil, fmt.Errorf("reading the message: %w", err)
	}
	if m.Size() == 0 {
		m.Close()
		return nil, fmt.Errorf("no message: the input is empty: %w", mailseal.ErrInput)
	}
	return m, nil
}

// writeOutput writes to stdout, or atomically to the -o file: on error the
// file is not created and no partial output is left behind.
func (s *session) writeOutput(write func(io.Writer) error) error {
	name := s.c.String("output")
	if name == "" {
		return write(s.c.App.Writer)
	}
	if err := atomicfile.Write(name, 0o600, write); err != nil {
		var pe *os.PathError
		if errors.As(err, &pe) {
			return fmt.Errorf("output: %w: %w", err, mailseal.ErrUsage)
		}
		return err
	}
	return nil
}

// failReport prints an error; with --json as a report object.
func (s *session) failReport(err error) error {
	err = limitHint(err)
	if !s.c.Bool("json") {
		return err
	}
	rep := mailseal.Report{Status: mailseal.StatusError, Signers: []mailseal.Signature{}, Error: oneLine(err.Error())}
	if errors.Is(err, mailseal.ErrIntegrity) {
		rep.Status, rep.Encrypted, rep.Integrity = mailseal.StatusBad, true, mailseal.IntegrityFailed
	}
	s.printReport(&rep, s.c.Command.Name == "verify")
	return exitError{mailseal.ExitCode(err)}
}

// printReport writes the report: with --json as one JSON object (to stdout
// when the command writes no message, else to stderr), otherwise as
// readable lines on stderr, the first of them the status and every warning.
func (s *session) printReport(rep *mailseal.Report, toStdout bool) {
	if s.c.Bool("json") {
		w := s.c.App.ErrWriter
		if toStdout {
			w = s.c.App.Writer
		}
		enc := json.NewEncoder(w)
		enc.SetEscapeHTML(false)
		enc.Encode(rep)
		return
	}
	w := s.c.App.ErrWriter
	line := "status: " + string(rep.Status)
	if rep.Protocol != "" {
		line += " (" + rep.Protocol + ")"
	}
	if rep.Encrypted {
		line += ", encrypted"
		if rep.Integrity != "" {
			line += ", integrity " + rep.Integrity
		}
		if rep.Unauthenticated {
			line += ", UNAUTHENTICATED: the content may have been altered in transit"
		}
	}
	// Warnings qualify the verdict: they stand beside it, where a reader
	// who reads one line still sees them.
	for _, warn := range rep.Warnings {
		line += "; warning: " + oneLine(warn)
	}
	fmt.Fprintln(w, line)
	for _, sg := range rep.Signers {
		who := sg.Fingerprint
		switch {
		case who == "":
			who = "unknown key " + sg.KeyID
		case len(sg.Emails) == 0:
			who += " (bound to no address)"
		default:
			who += " " + strings.Join(sg.Emails, ", ")
		}
		fmt.Fprintf(w, "signer: %s %s", who, sg.Status)
		if !sg.Created.IsZero() { // a signature too damaged to read has no time
			fmt.Fprintf(w, ", made %s", sg.Created.UTC().Format(time.RFC3339))
		}
		if sg.Source != "" {
			fmt.Fprintf(w, ", key from %s", sg.Source)
		}
		if sg.Error != "" {
			fmt.Fprintf(w, " (%s)", sg.Error)
		}
		fmt.Fprintln(w)
	}
	for _, u := range rep.Unprotected {
		fmt.Fprintf(w, "unprotected: %s\n", u)
	}
	if rep.Error != "" {
		fmt.Fprintf(w, "error: %s\n", rep.Error)
	}
}
