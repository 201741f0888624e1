package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"sync"
	"time"

	openpgp "github.com/ProtonMail/go-crypto/openpgp/v2"
	"github.com/urfave/cli/v2"

	"github.com/mailseal/mailseal"
	"github.com/mailseal/mailseal/internal/atomicfile"
	"github.com/mailseal/mailseal/internal/flow"
	"github.com/mailseal/mailseal/keystore"
	"github.com/mailseal/mailseal/mime"
	"github.com/mailseal/mailseal/pgp"
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
		}, smimeSignFlags),
		Action: withMessage(func(s *session, m *mime.Message) error {
			if useSMIME, err := s.useSMIME(m, false); err != nil || useSMIME {
				if err != nil {
					return err
				}
				return s.smimeSign(m)
			}
			signer, err := s.signer(m, s.c.String("signer"))
			if err != nil {
				return err
			}
			return s.writeOutput(func(w io.Writer) error {
				return s.openpgp().Sign(w, m, signer)
			})
		}),
	}
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
		}, smimeEncryptFlags, smimeSignFlags),
		Action: func(c *cli.Context) error {
			if c.String("batch") != "" {
				s, err := newSession(c)
				if err != nil {
					return err
				}
				return runBatch(s, func() (batchWork, error) { return s.encryptWorker(), nil }, true)
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
		}, verifyFlags),
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
		}, verifyFlags),
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
		return runBatch(s, func() (batchWork, error) { return s.openWorker(decrypt) }, decrypt)
	}
	// A signed part is hashed while the message is parsed; which hashes
	// it takes depends on the protocol only, not on keys.
	m, err := s.readMessage(flow.HashSignedPart([]flow.Engine{&flow.OpenPGP{}, &flow.SMIME{}}))
	if err != nil {
		return s.failReport(err)
	}
	defer m.Close()
	op, err := s.openpgpWithKeys()
	if err != nil {
		return s.failReport(err)
	}
	sm, err := s.smimeFlow()
	if err != nil {
		return s.failReport(err)
	}
	engines := []flow.Engine{op, sm}
	if c.Bool("smime") {
		engines = []flow.Engine{sm, op}
	}
	opts := flow.Options{
		Part: c.String("part"), Decrypt: decrypt, Limits: mime.DefaultLimits(), MemLimit: s.policy.MaxMemorySpool,
		AllowUnauthenticated: c.Bool("allow-unauthenticated"),
	}
	var outErr error
	if decrypt {
		// Written while a signature inside is still being checked.
		opts.Output = func(outer mime.Header, inner io.Reader) error {
			outErr = s.writeOutput(func(w io.Writer) error { return mime.WriteMessage(w, outer, inner) })
			return outErr
		}
	}
	res, err := flow.Open(m, engines, opts)
	if outErr != nil {
		return outErr
	}
	if err != nil {
		return s.failReport(err)
	}
	defer res.Close()
	rep := &res.Report
	s.printReport(rep, !decrypt)
	code := rep.ExitCode()
	if decrypt && res.Inner != nil && rep.Status == mailseal.StatusUnsigned {
		code = mailseal.ExitOK // decrypted, integrity verified, simply not signed
	}
	if code != 0 {
		return exitError{code}
	}
	return nil
}

// encryptMessage resolves recipients and signer (failing before anything
// is written) and hands the encrypting function to output.
func (s *session) encryptMessage(m *mime.Message, output func(func(io.Writer) error) error) error {
	if useSMIME, err := s.useSMIME(m, true); err != nil || useSMIME {
		if err != nil {
			return err
		}
		return s.smimeEncrypt(m, output)
	}
	to, err := s.recipients(m, s.c.StringSlice("to"), !s.c.Bool("no-self"))
	if err != nil {
		return err
	}
	var signer *openpgp.Entity
	if s.c.Bool("sign") {
		if signer, err = s.signer(m, s.c.String("signer")); err != nil {
			return err
		}
	}
	return output(func(w io.Writer) error {
		return s.openpgp().Encrypt(w, m, to, signer)
	})
}

// session is what one command invocation needs: flags, keystore, policy,
// and the keys unlocked so far (to sign many messages; a batch worker has
// a session of its own).
type session struct {
	c      *cli.Context
	policy mailseal.Policy
	pass   *passphrases
	store  *keystore.Store

	mu         sync.Mutex
	pgpSigners map[string]*openpgp.Entity
	x509IDs    map[string]smime.Identity
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
	return &session{c: c, policy: policy, pass: newPassphrases(c), store: store}, nil
}

func (s *session) readMessage(opts ...mime.ParseOption) (*mime.Message, error) {
	var m *mime.Message
	var err error
	if name := s.c.String("input"); name != "" {
		f, oerr := os.Open(name)
		if oerr != nil {
			return nil, fmt.Errorf("%w: %w", oerr, mailseal.ErrInput)
		}
		m, err = mime.ParseFile(f, mime.DefaultLimits(), s.policy.MaxMemorySpool, opts...)
	} else if f, ok := s.c.App.Reader.(*os.File); ok {
		// A file on stdin (< msg.eml) is read in place, not spooled.
		m, err = mime.ParseFile(f, mime.DefaultLimits(), s.policy.MaxMemorySpool, opts...)
	} else {
		m, err = mime.Parse(s.c.App.Reader, mime.DefaultLimits(), s.policy.MaxMemorySpool, opts...)
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
func (s *session) openpgp() *flow.OpenPGP {
	return &flow.OpenPGP{Engine: pgp.New(s.policy)}
}

func (s *session) openpgpWithKeys() (*flow.OpenPGP, error) {
	op := s.openpgp()
	op.Keyring = s.store.PGPKeyring(s.pass.get)
	op.Keyring.Password = func() ([]byte, error) { return s.pass.get("the message password") }
	return op, nil
}

// senderAddress is the single From address of the message.
func senderAddress(m *mime.Message) (string, error) {
	from, err := m.Root.Header.Addresses("From")
	if err != nil || len(from) != 1 {
		return "", usageErr("the message needs exactly one From address to pick the sender's key (or give --signer)")
	}
	return from[0], nil
}

// signer returns the unlocked secret key to sign with.
func (s *session) signer(m *mime.Message, query string) (*openpgp.Entity, error) {
	var fpr string
	if query != "" {
		cert, err := s.store.FindOnePGP(query)
		if err != nil {
			return nil, err
		}
		fpr = fingerprint(cert)
	} else {
		from, err := senderAddress(m)
		if err != nil {
			return nil, err
		}
		keys, err := s.store.SecretPGPForEmail(from)
		if err != nil {
			return nil, err
		}
		switch len(keys) {
		case 0:
			return nil, fmt.Errorf("no secret key for the sender %s (generate or import one, or give --signer): %w", from, mailseal.ErrNoKey)
		case 1:
			fpr = fingerprint(keys[0])
		default:
			var fprs []string
			for _, k := range keys {
				fprs = append(fprs, fingerprint(k))
			}
			return nil, usageErr("several secret keys for %s: %s; choose one with --signer", from, strings.Join(fprs, ", "))
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if key, ok := s.pgpSigners[fpr]; ok {
		return key, nil
	}
	key, err := s.store.PGPSecret(fpr)
	if err != nil {
		return nil, err
	}
	if err := keystore.Unlock(key, s.pass.get); err != nil {
		return nil, err
	}
	if s.pgpSigners == nil {
		s.pgpSigners = map[string]*openpgp.Entity{}
	}
	s.pgpSigners[fpr] = key
	return key, nil
}

// recipientAddresses are the addresses in To, Cc and Bcc, the extra ones,
// and with self the single From address.
func recipientAddresses(m *mime.Message, extra []string, self bool) ([]string, error) {
	var addrs []string
	for _, field := range []string{"To", "Cc", "Bcc"} {
		if m.Root.Header.Get(field) == "" {
			continue
		}
		list, err := m.Root.Header.Addresses(field)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", field, err)
		}
		addrs = append(addrs, list...)
	}
	addrs = append(addrs, extra...)
	if self {
		from, err := senderAddress(m)
		if err != nil {
			return nil, usageErr("the message needs exactly one From address to encrypt to the sender (or give --no-self)")
		}
		addrs = append(addrs, from)
	}
	if len(addrs) == 0 {
		return nil, usageErr("no recipients: the message has no To, Cc or Bcc and no --to was given")
	}
	return addrs, nil
}

// recipients finds a valid encryption key for every recipient address and
// fails, naming each one that has none, before anything is written.
func (s *session) recipients(m *mime.Message, extra []string, self bool) ([]*openpgp.Entity, error) {
	addrs, err := recipientAddresses(m, extra, self)
	if err != nil {
		return nil, err
	}
	engine := pgp.New(s.policy)
	seen := map[string]bool{}
	var to []*openpgp.Entity
	var missing []string
	for _, addr := range addrs {
		certs, err := s.pgpRecipientCerts(engine, addr)
		if err != nil {
			return nil, err
		}
		if len(certs) == 0 {
			missing = append(missing, addr)
		}
		for _, cert := range certs {
			if fpr := fingerprint(cert); !seen[fpr] {
				seen[fpr] = true
				to = append(to, cert)
			}
		}
	}
	if len(missing) > 0 {
		sort.Strings(missing)
		return nil, fmt.Errorf("no valid OpenPGP encryption key for %s (import their key with mailseal keys import): %w",
			strings.Join(missing, ", "), mailseal.ErrNoKey)
	}
	return to, nil
}

// pgpRecipientCerts returns the stored certificates with a valid user ID
// bound to addr that have a valid encryption key (none is not an error).
func (s *session) pgpRecipientCerts(engine *pgp.Engine, addr string) ([]*openpgp.Entity, error) {
	certs, err := s.store.PGPForAddress(addr)
	if err != nil && !errors.Is(err, mailseal.ErrNoKey) {
		return nil, err
	}
	var out []*openpgp.Entity
	for _, cert := range certs {
		if engine.CheckRecipient(cert) == nil {
			out = append(out, cert)
		}
	}
	return out, nil
}

func fingerprint(e *openpgp.Entity) string {
	return strings.ToUpper(fmt.Sprintf("%x", e.PrimaryKey.Fingerprint))
}

// failReport prints an error; with --json as a report object.
func (s *session) failReport(err error) error {
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
