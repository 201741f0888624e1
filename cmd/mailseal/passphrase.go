package main

import (
	"bytes"
	"crypto/subtle"
	"fmt"
	"os"
	"sync"

	"github.com/urfave/cli/v2"
	"golang.org/x/term"

	"github.com/mailseal/mailseal"
)

// passphrases finds a passphrase: its file flag, then its environment
// variable, then a prompt on the terminal — but only when stdin is a
// terminal, so scripts never hang on a prompt. The keystore passphrase
// (newPassphrases) is one; the new passphrase of keys passwd and the
// password of a PKCS#12 file being imported are others.
type passphrases struct {
	mu       sync.Mutex // batch workers ask concurrently
	file     string
	fileFlag string // e.g. --passphrase-file, for messages
	env      string // e.g. MAILSEAL_PASSPHRASE
	noun     string // "passphrase", "new passphrase", "PKCS#12 password"
	// confirm asks twice on the terminal (a passphrase being set).
	confirm bool
	// kind is the error kind when there is none: ErrLocked for what
	// unlocks a key, ErrUsage for what the command needs to run.
	kind   error
	stdin  any
	cached []byte
	have   bool
}

// newPassphrases is the keystore passphrase: --passphrase-file,
// MAILSEAL_PASSPHRASE, or a prompt.
func newPassphrases(c *cli.Context) *passphrases {
	return &passphrases{file: c.String("passphrase-file"), fileFlag: "--passphrase-file", env: "MAILSEAL_PASSPHRASE",
		noun: "passphrase", kind: mailseal.ErrLocked, stdin: c.App.Reader}
}

// interactive reports whether get would prompt (neither the file flag nor
// the environment variable is given).
func (p *passphrases) interactive() bool {
	return p.file == "" && os.Getenv(p.env) == ""
}

// unavailable says why get would fail for want of a source: neither the
// file flag nor the environment variable is given, and stdin is not a
// terminal to prompt on. Nil when get can try.
func (p *passphrases) unavailable(purpose string) error {
	if !p.interactive() {
		return nil
	}
	if f, ok := p.stdin.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		return nil
	}
	return mailseal.WithKind(fmt.Errorf("%s needs a %s: give %s or set %s", purpose, p.noun, p.fileFlag, p.env), p.kind)
}

// get returns the passphrase; purpose names what it is for in the prompt.
func (p *passphrases) get(purpose string) ([]byte, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.have {
		return p.cached, nil
	}
	var pass []byte
	switch {
	case p.file != "":
		data, err := os.ReadFile(p.file)
		if err != nil {
			return nil, fmt.Errorf("%s file: %w: %w", p.noun, err, mailseal.ErrUsage)
		}
		if i := bytes.IndexAny(data, "\r\n"); i >= 0 {
			data = data[:i]
		}
		pass = data
	case os.Getenv(p.env) != "":
		pass = []byte(os.Getenv(p.env))
	default:
		if err := p.unavailable(purpose); err != nil {
			return nil, err
		}
		var err error
		if pass, err = p.prompt(purpose); err != nil {
			return nil, err
		}
	}
	if len(pass) == 0 {
		return nil, mailseal.WithKind(fmt.Errorf("%s: the %s is empty", purpose, p.noun), p.kind)
	}
	p.cached, p.have = pass, true
	return pass, nil
}

// prompt reads the passphrase from the terminal (twice with confirm).
func (p *passphrases) prompt(purpose string) ([]byte, error) {
	in, out, err := openTerminal()
	if err != nil {
		return nil, mailseal.WithKind(fmt.Errorf("%s needs a %s and there is no terminal: give %s or set %s", purpose, p.noun, p.fileFlag, p.env), p.kind)
	}
	defer in.Close()
	if out != in {
		defer out.Close()
	}
	read := func(label string) ([]byte, error) {
		fmt.Fprint(out, label)
		pass, err := term.ReadPassword(int(in.Fd()))
		fmt.Fprintln(out)
		if err != nil {
			return nil, mailseal.WithKind(fmt.Errorf("reading the %s for %s: %w", p.noun, purpose, err), p.kind)
		}
		return pass, nil
	}
	label := fmt.Sprintf("%s%s for %s: ", string(bytes.ToUpper([]byte(p.noun[:1]))), p.noun[1:], purpose)
	pass, err := read(label)
	if err != nil || !p.confirm {
		return pass, err
	}
	again, err := read(fmt.Sprintf("Repeat the %s: ", p.noun))
	if err != nil {
		return nil, err
	}
	if subtle.ConstantTimeCompare(pass, again) != 1 {
		return nil, mailseal.WithKind(fmt.Errorf("%s: the two %ss differ", purpose, p.noun), mailseal.ErrUsage)
	}
	return pass, nil
}
