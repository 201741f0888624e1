package main

import (
	"bytes"
	"fmt"
	"os"
	"sync"

	"github.com/urfave/cli/v2"
	"golang.org/x/term"

	"github.com/mailseal/mailseal"
)

// passphrases finds the passphrase: --passphrase-file, then
// MAILSEAL_PASSPHRASE, then a prompt on the terminal — but only when stdin
// is a terminal, so scripts never hang on a prompt.
type passphrases struct {
	mu     sync.Mutex // batch workers ask concurrently
	file   string
	stdin  any
	cached []byte
	have   bool
}

func newPassphrases(c *cli.Context) *passphrases {
	return &passphrases{file: c.String("passphrase-file"), stdin: c.App.Reader}
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
			return nil, fmt.Errorf("passphrase file: %w: %w", err, mailseal.ErrUsage)
		}
		if i := bytes.IndexAny(data, "\r\n"); i >= 0 {
			data = data[:i]
		}
		pass = data
	case os.Getenv("MAILSEAL_PASSPHRASE") != "":
		pass = []byte(os.Getenv("MAILSEAL_PASSPHRASE"))
	default:
		f, ok := p.stdin.(*os.File)
		if !ok || !term.IsTerminal(int(f.Fd())) {
			return nil, mailseal.WithKind(fmt.Errorf("%s needs a passphrase: give --passphrase-file or set MAILSEAL_PASSPHRASE", purpose), mailseal.ErrLocked)
		}
		in, out, err := openTerminal()
		if err != nil {
			return nil, mailseal.WithKind(fmt.Errorf("%s needs a passphrase and there is no terminal: give --passphrase-file or set MAILSEAL_PASSPHRASE", purpose), mailseal.ErrLocked)
		}
		defer in.Close()
		if out != in {
			defer out.Close()
		}
		fmt.Fprintf(out, "Passphrase for %s: ", purpose)
		pass, err = term.ReadPassword(int(in.Fd()))
		fmt.Fprintln(out)
		if err != nil {
			return nil, mailseal.WithKind(fmt.Errorf("reading the passphrase for %s: %w", purpose, err), mailseal.ErrLocked)
		}
	}
	if len(pass) == 0 {
		return nil, mailseal.WithKind(fmt.Errorf("%s: the passphrase is empty", purpose), mailseal.ErrLocked)
	}
	p.cached, p.have = pass, true
	return pass, nil
}
