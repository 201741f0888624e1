package main

import (
	"fmt"

	"github.com/urfave/cli/v2"

	"github.com/mailseal/mailseal"
	"github.com/mailseal/mailseal/keystore"
)

// keysEditCommands change stored keys: their passphrase, and OpenPGP
// user IDs and expiry.
func keysEditCommands() []*cli.Command {
	return []*cli.Command{
		{
			Name:      "passwd",
			Usage:     "change the passphrase of the secret keys matching QUERY (OpenPGP keys and X.509 private keys), or of all (--all)",
			ArgsUsage: "QUERY",
			Flags: []cli.Flag{
				&cli.BoolFlag{Name: "all", Usage: "every secret key in the keystore"},
				&cli.BoolFlag{Name: "pgp", Usage: "only OpenPGP keys"},
				&cli.BoolFlag{Name: "smime", Usage: "only X.509 private keys"},
				&cli.StringFlag{Name: "new-passphrase-file", Usage: "read the new passphrase from the first line of `FILE` (else MAILSEAL_NEW_PASSPHRASE, or a prompt asked twice on a terminal)"},
			},
			Action: keysPasswd,
		},
	}
}

// newPassphraseSource is the passphrase keys passwd sets.
func newPassphraseSource(c *cli.Context) *passphrases {
	return &passphrases{file: c.String("new-passphrase-file"), fileFlag: "--new-passphrase-file", env: "MAILSEAL_NEW_PASSPHRASE",
		noun: "new passphrase", confirm: true, kind: mailseal.ErrUsage, stdin: c.App.Reader}
}

// kindFlags reads the --pgp/--smime of a keys command into a protocol
// ("" for both kinds).
func kindFlags(c *cli.Context) (string, error) {
	switch {
	case c.Bool("pgp") && c.Bool("smime"):
		return "", usageErr("--pgp and --smime exclude each other (without either, both kinds are taken)")
	case c.Bool("pgp"):
		return mailseal.ProtocolOpenPGP, nil
	case c.Bool("smime"):
		return mailseal.ProtocolSMIME, nil
	}
	return "", nil
}

func keysPasswd(c *cli.Context) error {
	all := c.Bool("all")
	if all != (c.NArg() == 0) || c.NArg() > 1 {
		return usageErr("keys passwd needs one QUERY, or --all")
	}
	proto, err := kindFlags(c)
	if err != nil {
		return err
	}
	newPass := newPassphraseSource(c)
	if err := newPass.unavailable("keys passwd"); err != nil {
		return err
	}
	store, err := openStore(c)
	if err != nil {
		return err
	}
	changes, err := store.ChangePassphrase(keystore.PassphraseOptions{
		Query: c.Args().First(), All: all, Protocol: proto,
		Old: newPassphrases(c).get,
		New: func(string) ([]byte, error) { return newPass.get("keys passwd") },
	})
	for _, ch := range changes {
		kind := "pgp"
		if ch.Protocol == mailseal.ProtocolSMIME {
			kind = "x509"
		}
		fmt.Fprintf(c.App.ErrWriter, "%s %s %s: %s\n", kind, ch.Fingerprint, ch.Name, ch.Change)
	}
	return err
}
