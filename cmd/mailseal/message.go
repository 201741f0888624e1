package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/urfave/cli/v2"
	"golang.org/x/term"

	"github.com/mailseal/mailseal"
	"github.com/mailseal/mailseal/auth"
	"github.com/mailseal/mailseal/internal/atomicfile"
	"github.com/mailseal/mailseal/internal/batch"
	"github.com/mailseal/mailseal/keystore"
	"github.com/mailseal/mailseal/mime"
	"github.com/mailseal/mailseal/smime"
)

var ioFlags = []cli.Flag{
	&cli.StringFlag{Name: "input", Aliases: []string{"i"}, Usage: "read the message from `FILE` instead of stdin (or give FILE as the argument)"},
	&cli.StringFlag{Name: "output", Aliases: []string{"o"}, Usage: "write to `FILE` instead of stdout (replaced atomically)"},
	&cli.BoolFlag{Name: "pgp", Usage: "use OpenPGP (PGP/MIME)"},
	smimeFlag,
}

// The --json of the commands that read mail (a status report) and of those
// that write it (what was done, on stderr: stdout is the message).
var (
	reportJSON = []cli.Flag{&cli.BoolFlag{Name: "json", Usage: "print the status report as one JSON object"}}
	doneJSON   = []cli.Flag{&cli.BoolFlag{Name: "json", Usage: "print what was done (keys, size) as one JSON object on stderr"}}
)

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
		Name:      "sign",
		ArgsUsage: "[FILE]",
		Usage:     "sign a message (PGP/MIME or S/MIME multipart/signed)",
		Flags: flags(ioFlags, doneJSON, []cli.Flag{
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
			d := &done{Operation: "sign", Protocol: signer.Protocol(), Signer: &keyRef{signer.Fingerprint()}, Recipients: []keyRef{}}
			if err := s.writeOutput(d.counted(func(w io.Writer) error {
				return mailseal.Sign(w, m, signer, mailseal.WithPolicy(s.policy))
			})); err != nil {
				return err
			}
			return s.printDone(d)
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

// hideSubjectFlag is encrypt's and send's: --hide-subject=false keeps the
// real Subject outside.
var hideSubjectFlag = &cli.BoolFlag{Name: "hide-subject", Value: true,
	Usage: "show the Subject as \"[...]\" outside, the real one inside and at the top of the text (--hide-subject=false leaves it readable outside)"}

func encryptCommand() *cli.Command {
	return &cli.Command{
		Name:      "encrypt",
		ArgsUsage: "[FILE]",
		Usage:     "encrypt a message to its recipients (PGP/MIME multipart/encrypted or S/MIME enveloped)",
		Flags: flags(ioFlags, doneJSON, []cli.Flag{
			&cli.BoolFlag{Name: "sign", Usage: "also sign with the sender's key"},
			&cli.StringSliceFlag{Name: "to", Usage: "encrypt also to `ADDR` (repeatable)"},
			&cli.BoolFlag{Name: "no-self", Usage: "do not encrypt to the sender's own key"},
			hideSubjectFlag,
			&cli.StringFlag{Name: "signer", Usage: "with --sign: sign with the secret key matching `QUERY`"},
			protocolFlag,
			batchFlag, toFormatFlag, quietFlag,
		}, locateFlags, networkFlags, smimeEncryptFlags, smimeSignFlags, limitFlags),
		Action: func(c *cli.Context) error {
			if c.String("batch") != "" {
				s, err := newSession(c)
				if err != nil {
					return err
				}
				return runBatch(s, func() (batch.Work, error) { return s.encryptWorker(), nil }, true)
			}
			return withMessage(func(s *session, m *mime.Message) error {
				d, err := s.encrypt(m, s.writeOutput)
				if err != nil {
					return err
				}
				return s.printDone(d)
			})(c)
		},
	}
}

func decryptCommand() *cli.Command {
	return &cli.Command{
		Name:      "decrypt",
		ArgsUsage: "[FILE]",
		Usage:     "decrypt a message and verify its inner signature",
		Flags: flags(ioFlags, reportJSON, []cli.Flag{
			&cli.StringFlag{Name: "part", Usage: "decrypt the encrypted part at `PATH` (e.g. 2 or 1.2) alone"},
			batchFlag, toFormatFlag, quietFlag,
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
		Name:      "verify",
		ArgsUsage: "[FILE]",
		Usage:     "verify a message's signature; exit 0 only for a good signature",
		Flags: flags(ioFlags, reportJSON, []cli.Flag{
			&cli.StringFlag{Name: "part", Usage: "verify the signed part at `PATH` alone"},
			batchFlag, toFormatFlag, quietFlag,
		}, verifyFlags, authFlags, limitFlags),
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
	if s.authOpts, err = s.authOptions(); err != nil {
		return err
	}
	addResults := s.c.Bool("add-auth-results")
	if c.String("batch") != "" {
		if addResults {
			return usageErr("--add-auth-results writes one message: not with --batch")
		}
		if s.authOpts != nil {
			// One cache for the mailbox, shared by the workers: each key
			// and policy is looked up once, at most authWorkers at a time.
			s.authOpts.Resolver = auth.NewCache(s.authOpts.Resolver, auth.CacheOptions{Parallel: authWorkers})
		}
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
	if addResults {
		err := s.writeOutput(func(w io.Writer) error {
			return auth.WriteWithResults(w, m, s.authOpts.AuthServID, opened.Auth.AuthenticationResults)
		})
		if err != nil {
			return s.failReport(err)
		}
	}
	s.printReport(&opened.Report, decrypt || addResults)
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
	o := mailseal.OpenOptions{Decrypt: decrypt, Output: output, Part: s.c.String("part"), Policy: &s.policy, Limits: s.limits,
		PreferSMIME: s.c.Bool("smime"), AllowUnauthenticated: s.c.Bool("allow-unauthenticated"), Auth: s.authOpts}
	if s.c.Bool("autocrypt") {
		o.Autocrypt = s.store.Autocrypt()
	}
	return o
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
	_, err := s.encrypt(m, output)
	return err
}

// encrypt is encryptMessage, saying what it did.
func (s *session) encrypt(m *mime.Message, output func(func(io.Writer) error) error) (*done, error) {
	order, err := s.protocolOrder()
	if err != nil {
		return nil, err
	}
	encOpts, err := s.smimeEncryptOptions()
	if err != nil {
		return nil, err
	}
	addrs, err := mailseal.RecipientAddresses(m, s.c.StringSlice("to"), !s.c.Bool("no-self"))
	if err != nil {
		return nil, err
	}
	sel, err := mailseal.ChooseRecipients(s.keys, addrs, order)
	located := s.newlyLocated()
	if err != nil {
		s.printLocated(located)
		return nil, err
	}
	d := &done{Operation: "encrypt", Protocol: sel.Protocol, Recipients: []keyRef{}}
	if s.c.Bool("json") && s.c.String("batch") == "" {
		d.Located = located
	} else { // a batch's JSON lines are per message: the look-ups go to stderr
		s.printLocated(located)
	}
	for _, r := range sel.Recipients {
		d.Recipients = append(d.Recipients, keyRef{r.Fingerprint()})
	}
	opts := []mailseal.Option{mailseal.WithPolicy(s.policy), mailseal.WithSMIME(encOpts), mailseal.WithKeepSubject(!s.c.Bool("hide-subject"))}
	if s.c.Bool("sign") {
		// The signer's protocol is the recipients'.
		signer, err := s.signer(m, []string{sel.Protocol})
		if err != nil {
			return nil, err
		}
		opts = append(opts, mailseal.SignWith(signer))
		d.Operation, d.Signer = "sign+encrypt", &keyRef{signer.Fingerprint()}
	}
	if s.c.Bool("json") && s.c.String("batch") == "" {
		d.Warnings = sel.Warnings
	} else { // a batch's JSON lines are its messages' reports: the warnings go to stderr
		for _, w := range sel.Warnings {
			s.warnKey(w)
		}
	}
	return d, output(d.counted(func(w io.Writer) error {
		return mailseal.Encrypt(w, m, sel.Recipients, opts...)
	}))
}

// done is what sign --json and encrypt --json print: what was done, with
// which keys, how much was written (docs/report.schema.json, $defs/done).
type done struct {
	Operation  string   `json:"operation"` // sign, encrypt, sign+encrypt
	Protocol   string   `json:"protocol"`
	Signer     *keyRef  `json:"signer,omitempty"`
	Recipients []keyRef `json:"recipients"`
	Size       int64    `json:"size"`
	Output     string   `json:"output,omitempty"` // the -o file
	// Warnings are what the checks had to say about keys they accepted
	// (an S/MIME certificate whose revocation status is unknown); without
	// --json, and in a batch, they are lines on stderr.
	Warnings []string `json:"warnings,omitempty"`
	// Located are the keys --locate found and stored for recipients
	// (keys locate --json's answers); without --json, lines on stderr.
	Located []keystore.Located `json:"located,omitempty"`
}

// keyRef names a key by its full fingerprint.
type keyRef struct {
	Fingerprint string `json:"fingerprint"`
}

// counted wraps a writing function so that d.Size is what it wrote.
func (d *done) counted(write func(io.Writer) error) func(io.Writer) error {
	return func(w io.Writer) error {
		cw := &countingWriter{w: w}
		err := write(cw)
		d.Size = cw.n
		return err
	}
}

type countingWriter struct {
	w io.Writer
	n int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// printDone prints, with --json, what sign or encrypt did.
func (s *session) printDone(d *done) error {
	if !s.c.Bool("json") {
		return nil
	}
	d.Output = s.c.String("output")
	return s.encodeJSON(d, true)
}

// jsonOut is where --json output goes: stdout for verify, which writes
// nothing else; stderr for the commands whose stdout is the message
// (decrypt, sign, encrypt), also when it goes to a file (-o), so a script
// finds it in one place.
func (s *session) jsonOut(writesMessage bool) io.Writer {
	if writesMessage {
		return s.c.App.ErrWriter
	}
	return s.c.App.Writer
}

// encodeJSON writes v as one line of JSON where jsonOut says.
func (s *session) encodeJSON(v any, writesMessage bool) error {
	enc := json.NewEncoder(s.jsonOut(writesMessage))
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
}

// session is what one command invocation needs: flags, keystore, policy,
// and the keystore session that selects and unlocks keys (a batch worker
// that signs has one of its own).
type session struct {
	c      *cli.Context
	input  string // the message file: -i FILE or the FILE argument; "" is stdin
	policy mailseal.Policy
	limits mime.Limits // of every parse (the limit flags)
	pass   *passphrases
	store  *keystore.Store
	keys   *keystore.Session
	// authOpts are verify --auth's domain checks (nil without).
	authOpts *auth.Options
	// locate is how encrypt/send --locate look recipients' keys up (nil
	// without); shown counts the answers of keys.Located already shown.
	locate *keystore.SessionLocate
	shown  int
	// order is protocolOrder's answer when a batch worker worked it out
	// once (IsSet walks every flag: a tenth of a small message's time).
	order []string
	// warned, in a batch, holds the key warnings already printed, shared
	// by the workers (nil outside a batch).
	warned *warnedSet
}

// warnKey prints a warning about a key (an S/MIME certificate whose
// revocation status is unknown) on stderr: in a batch once, not once per
// message, since every message that uses the key would repeat it.
func (s *session) warnKey(w string) {
	if s.warned != nil && !s.warned.first(w) {
		return
	}
	fmt.Fprintf(s.c.App.ErrWriter, "warning: %s\n", w)
}

// warnedSet is the set of warnings a batch has printed.
type warnedSet struct {
	mu   sync.Mutex
	seen map[string]bool
}

// first reports whether w is new to the set, and adds it.
func (ws *warnedSet) first(w string) bool {
	ws.mu.Lock()
	defer ws.mu.Unlock()
	if ws.seen[w] {
		return false
	}
	if ws.seen == nil {
		ws.seen = map[string]bool{}
	}
	ws.seen[w] = true
	return true
}

func newSession(c *cli.Context) (*session, error) {
	input := c.String("input")
	switch {
	case c.NArg() > 1 || c.NArg() == 1 && (input != "" || c.String("batch") != ""):
		return nil, usageErr("unexpected argument %q (the message is read from stdin, -i FILE or one FILE argument)", c.Args().Get(c.NArg()-1))
	case c.NArg() == 1 && c.Args().First() != "-":
		input = c.Args().First()
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
	s := &session{c: c, input: input, policy: policy, limits: mime.DefaultLimits(), pass: newPassphrases(c), store: store}
	if err := s.readLimits(); err != nil {
		return nil, err
	}
	signOpts, err := s.smimeSignOptions()
	if err != nil {
		return nil, err
	}
	if s.locate, err = locateOptions(c); err != nil {
		return nil, err
	}
	s.keys = s.newKeySession(signOpts)
	return s, nil
}

// newKeySession is a keystore session with the command's settings.
func (s *session) newKeySession(signOpts smime.SignOptions) *keystore.Session {
	return s.store.Session(keystore.SessionOptions{Policy: s.policy, Passphrase: s.pass.get,
		SystemRoots: !s.c.Bool("no-system-roots"), RequireCRLs: s.c.Bool("require-crls"), SMIMESign: signOpts,
		Locate: s.locate})
}

func (s *session) readMessage(opts ...mime.ParseOption) (*mime.Message, error) {
	var m *mime.Message
	var err error
	if name := s.input; name != "" {
		f, oerr := os.Open(name)
		if oerr != nil {
			return nil, fmt.Errorf("%w: %w", oerr, mailseal.ErrInput)
		}
		m, err = mime.ParseFile(f, s.limits, s.policy.MaxMemorySpool, opts...)
	} else if f, ok := s.c.App.Reader.(*os.File); ok {
		if term.IsTerminal(int(f.Fd())) {
			// No message was piped in: say what is waiting for input.
			fmt.Fprintln(s.c.App.ErrWriter, "mailseal: reading a message from the terminal; end with Ctrl-D (or give FILE or -i FILE)")
		}
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

// privateOutput reports whether the command's output files are for their
// owner alone: decrypted mail (see writeOutput; --batch follows the same
// rule).
func (s *session) privateOutput() bool { return s.c.Command.Name == "decrypt" }

// writeOutput writes to stdout, or atomically to the -o file: on error the
// file is not created and no partial output is left behind (the file is
// not synced, as other tools' output files are not: see
// atomicfile.WriteOutput). The file is
// made with the umask (0644 usually), as other tools make their output,
// except decrypted mail, which is 0600: its sender meant it for the
// recipient alone.
func (s *session) writeOutput(write func(io.Writer) error) error {
	name := s.c.String("output")
	if name == "" {
		return write(s.c.App.Writer)
	}
	perm := os.FileMode(0o666)
	if s.privateOutput() {
		perm = 0o600
	}
	if err := atomicfile.WriteOutput(name, perm, write); err != nil {
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
	rep := mailseal.ErrorReport(err)
	rep.Error = oneLine(rep.Error)
	s.printReport(&rep, s.c.Command.Name == "decrypt")
	return exitError{mailseal.ExitCode(err)}
}

// printReport writes the report: with --json as one JSON object (where
// jsonOut says: stdout for verify, stderr for decrypt), otherwise as readable lines on stderr, the first of them the
// status and every warning.
func (s *session) printReport(rep *mailseal.Report, writesMessage bool) {
	if s.c.Bool("json") {
		s.encodeJSON(rep, writesMessage)
		return
	}
	w := visible{s.c.App.ErrWriter}
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
	if rep.Auth != nil { // the domain's verdict, next to the person's
		fmt.Fprintln(w, strings.Join(authLines(rep.Auth), "\n"))
	}
	for _, sg := range rep.Signers {
		who := sg.Fingerprint
		switch {
		case who == "":
			who = "unknown key"
			if k := sg.SigningKey + sg.KeyID; k != "" { // one of them, or neither (S/MIME)
				who += " " + k
			}
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
