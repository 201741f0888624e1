// Command mailseal signs, encrypts, decrypts and verifies email with OpenPGP
// (PGP/MIME and inline PGP) and manages the keys in a local keystore.
//
// Every message command reads a whole RFC 5322 message on stdin (or -i FILE)
// and writes to stdout (or -o FILE). Exit codes: 0 ok; 1 verification or
// integrity failure; 2 usage error or unreadable input; 3 missing or locked key.
package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"runtime/pprof"
	"strings"
	"sync"

	"github.com/urfave/cli/v2"

	"github.com/mailseal/mailseal"
)

func main() {
	// MAILSEAL_CPUPROFILE=FILE writes a CPU profile (go tool pprof) of the
	// run, for BENCHMARKS.md's "where the time goes".
	if path := os.Getenv("MAILSEAL_CPUPROFILE"); path != "" {
		if f, err := os.Create(path); err == nil {
			pprof.StartCPUProfile(f)
			code := run(os.Args, os.Stdin, os.Stdout, os.Stderr)
			pprof.StopCPUProfile()
			f.Close()
			os.Exit(code)
		}
	}
	os.Exit(run(os.Args, os.Stdin, os.Stdout, os.Stderr))
}

// exitError carries an exit code decided by a command (e.g. a report that is
// not good) without an error message of its own.
type exitError struct{ code int }

func (e exitError) Error() string { return fmt.Sprintf("exit %d", e.code) }

func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	app := newApp(stdin, stdout, stderr)
	args, err := translateSendmail(args)
	if err == nil && len(args) == 2 && (args[1] == "--help" || args[1] == "-h") {
		// The app has its own help command, so the CLI library adds no
		// --help flag at the top: say what it would.
		args = []string{args[0], "help"}
	}
	if err == nil {
		args, err = orderArgs(app, args)
	}
	if err != nil {
		fmt.Fprintf(visible{stderr}, "mailseal: %s\n", oneLine(err.Error()))
		return mailseal.ExitCode(err)
	}
	unknown := false
	app.CommandNotFound = func(c *cli.Context, name string) {
		fmt.Fprintf(c.App.ErrWriter, "mailseal: unknown command %q (see mailseal --help)\n", name)
		unknown = true
	}
	err = app.Run(args)
	if unknown {
		return mailseal.ExitUsage
	}
	if err == nil {
		return mailseal.ExitOK
	}
	var ee exitError
	if errors.As(err, &ee) {
		return ee.code
	}
	fmt.Fprintf(visible{stderr}, "mailseal: %s\n", oneLine(limitHint(err).Error()))
	return mailseal.ExitCode(err)
}

func oneLine(s string) string {
	s = strings.TrimSpace(s)
	return strings.Join(strings.Fields(strings.ReplaceAll(s, "\n", "; ")), " ")
}

func newApp(stdin io.Reader, stdout, stderr io.Writer) *cli.App {
	app := buildApp(stdin, stdout, stderr)
	for _, c := range app.Commands {
		quietUsageErrors(c, "mailseal")
	}
	namesOnce(app)
	return app
}

// quietUsageErrors makes a flag error of c (and of its subcommands) one
// line on stderr that says where the help is, exit 2 — never the help
// text on stdout, where a script's output goes (encrypt --sgn < m > out).
func quietUsageErrors(c *cli.Command, parent string) {
	name := parent + " " + c.Name
	c.OnUsageError = func(_ *cli.Context, err error, _ bool) error {
		return fmt.Errorf("%s (see %s --help): %w", flagError(err), name, mailseal.ErrUsage)
	}
	for _, sub := range c.Subcommands {
		quietUsageErrors(sub, name)
	}
}

// goFlagName is a long flag as Go's flag package names it in errors: with
// one dash.
var goFlagName = sync.OnceValue(func() *regexp.Regexp {
	return regexp.MustCompile(`(defined: |argument: |for flag )-([A-Za-z0-9][A-Za-z0-9-]+)`)
})

// flagError is a flag error with long flags written as they are typed
// (--sgn, not -sgn).
func flagError(err error) string {
	return goFlagName().ReplaceAllString(err.Error(), "${1}--${2}")
}

func buildApp(stdin io.Reader, stdout, stderr io.Writer) *cli.App {
	return &cli.App{
		Name:  "mailseal",
		Usage: "sign, encrypt, decrypt, verify and send email with OpenPGP and S/MIME",
		Description: "Message commands read a message on stdin (or -i FILE) and write to stdout (or -o FILE).\n" +
			"Exit codes: 0 ok, 1 verification or integrity failure, 2 usage error or unreadable input,\n" +
			"3 missing or locked key, 75 (send) kept in the outbox for a later send --flush.",
		Reader:          stdin,
		Writer:          stdout,
		ErrWriter:       stderr,
		HideHelpCommand: true,
		HideVersion:     true, // --version is the flag below, with the whole line
		Flags: []cli.Flag{
			&cli.BoolFlag{Name: "version", Usage: "print the version (as mailseal version does)"},
			&cli.StringFlag{Name: "home", Usage: "keystore directory", EnvVars: []string{"MAILSEAL_HOME"}},
			&cli.StringFlag{Name: "passphrase-file", Usage: "read the key passphrase from the first line of `FILE`"},
		},
		OnUsageError: func(c *cli.Context, err error, isSubcommand bool) error {
			return fmt.Errorf("%s (see mailseal --help): %w", flagError(err), mailseal.ErrUsage)
		},
		ExitErrHandler: func(*cli.Context, error) {},
		Action: func(c *cli.Context) error {
			if c.Bool("version") {
				_, err := fmt.Fprintln(c.App.Writer, versionLine())
				return err
			}
			if c.NArg() > 0 {
				return usageErr("unknown command %q (see mailseal --help)", c.Args().First())
			}
			return cli.ShowAppHelp(c)
		},
		Commands: []*cli.Command{
			signCommand(),
			encryptCommand(),
			decryptCommand(),
			verifyCommand(),
			sendCommand(),
			sendmailCommand(),
			sopCommand(),
			keysCommand(),
			dkimCommand(),
			wkdCommand(),
			daneCommand(),
			autocryptCommand(),
			versionCommand(),
			helpCommand(),
			completionCommand(),
			manCommand(),
		},
	}
}

// needs makes an action that first checks that the flags named are given:
// a usage error naming them otherwise (the CLI library's Required prints
// the help on stdout, where a script's output goes).
func needs(names []string, action cli.ActionFunc) cli.ActionFunc {
	return func(c *cli.Context) error {
		var missing []string
		for _, n := range names {
			if c.String(n) == "" {
				missing = append(missing, "--"+n)
			}
		}
		if len(missing) > 0 {
			return usageErr("%s needs %s (see %s --help)", c.Command.HelpName, strings.Join(missing, " and "), c.Command.HelpName)
		}
		return action(c)
	}
}

func usageErr(format string, args ...any) error {
	return fmt.Errorf("%s: %w", fmt.Sprintf(format, args...), mailseal.ErrUsage)
}
