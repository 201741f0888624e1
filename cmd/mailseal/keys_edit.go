package main

import (
	"fmt"
	"strings"
	"time"

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
		{
			Name:      "add-uid",
			Usage:     "add a user ID to the OpenPGP key matching QUERY (needs its secret key)",
			ArgsUsage: "QUERY 'Name <address>'",
			Action:    func(c *cli.Context) error { return keysUserID(c, false) },
		},
		{
			Name:      "revoke-uid",
			Usage:     "revoke a user ID of the OpenPGP key matching QUERY, named as written or by its address: the address is no longer bound to the key (needs its secret key)",
			ArgsUsage: "QUERY 'Name <address>'|ADDRESS",
			Flags: []cli.Flag{
				&cli.StringFlag{Name: "message", Usage: "why, in the revocation (`TEXT`)"},
			},
			Action: func(c *cli.Context) error { return keysUserID(c, true) },
		},
		{
			Name:      "expire",
			Usage:     "set when the OpenPGP key matching QUERY expires: its primary key and subkeys, or with --primary or --subkeys only those (needs its secret key)",
			ArgsUsage: "QUERY 2y|6m|3w|30d|YYYY-MM-DD|never",
			Flags: []cli.Flag{
				&cli.BoolFlag{Name: "primary", Usage: "only the primary key (as gpg --quick-set-expire FPR TIME)"},
				&cli.BoolFlag{Name: "subkeys", Usage: "only the subkeys (as gpg --quick-set-expire FPR TIME '*')"},
			},
			Action: keysExpire,
		},
	}
}

// keyEditArgs checks the QUERY and VALUE of add-uid, revoke-uid and expire.
func keyEditArgs(c *cli.Context) (query, value string, err error) {
	if c.NArg() != 2 {
		return "", "", usageErr("keys %s needs QUERY and %s", c.Command.Name, c.Command.ArgsUsage[len("QUERY "):])
	}
	return c.Args().Get(0), c.Args().Get(1), nil
}

// keysUserID is add-uid (revoke false) and revoke-uid.
func keysUserID(c *cli.Context, revoke bool) error {
	query, uid, err := keyEditArgs(c)
	if err != nil {
		return err
	}
	store, err := openStore(c)
	if err != nil {
		return err
	}
	var info *keystore.KeyInfo
	verb := "added"
	if revoke {
		info, err = store.RevokeUserID(query, uid, c.String("message"), newPassphrases(c).get)
		verb = "revoked"
	} else {
		info, err = store.AddUserID(query, uid, newPassphrases(c).get)
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(c.App.ErrWriter, "%s: user ID %s: %s\n", info.Fingerprint, verb, uid)
	return nil
}

func keysExpire(c *cli.Context) error {
	query, when, err := keyEditArgs(c)
	if err != nil {
		return err
	}
	which := keystore.ExpireAll
	switch {
	case c.Bool("primary") && c.Bool("subkeys"):
		return usageErr("--primary and --subkeys exclude each other (without either, both are changed)")
	case c.Bool("primary"):
		which = keystore.ExpirePrimary
	case c.Bool("subkeys"):
		which = keystore.ExpireSubkeys
	}
	until, err := parseUntil(when, time.Now())
	if err != nil {
		return err
	}
	store, err := openStore(c)
	if err != nil {
		return err
	}
	info, err := store.SetExpiry(query, until, which, newPassphrases(c).get)
	if err != nil {
		return err
	}
	exp := "never expires"
	if info.Expires != nil {
		exp = "expires " + info.Expires.UTC().Format(time.RFC3339)
	}
	fmt.Fprintf(c.App.ErrWriter, "%s: %s\n", info.Fingerprint, exp)
	for _, sk := range info.Subkeys {
		exp := "never expires"
		if sk.Expires != nil {
			exp = "expires " + sk.Expires.UTC().Format(time.RFC3339)
		}
		fmt.Fprintf(c.App.ErrWriter, "  subkey %s: %s\n", sk.Fingerprint, exp)
	}
	return nil
}

// parseUntil reads when a key expires: never, a date (YYYY-MM-DD, the
// start of that day in UTC) or a time from now (2y, 6m, 3w, 30d as
// parseExpiry reads them). Zero is never.
func parseUntil(s string, now time.Time) (time.Time, error) {
	if strings.TrimSpace(s) == "" {
		return time.Time{}, usageErr("an empty expiry: give a time from now (2y, 6m, 3w, 30d), a date (2030-12-31) or never")
	}
	if t, err := time.Parse(time.DateOnly, strings.TrimSpace(s)); err == nil {
		return t, nil
	}
	d, err := parseExpiry(s)
	if err != nil {
		return time.Time{}, usageErr("%q: give a time from now (2y, 6m, 3w, 30d), a date (2030-12-31) or never", s)
	}
	if d == 0 {
		return time.Time{}, nil
	}
	return now.Add(d), nil
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
		fmt.Fprintf(c.App.ErrWriter, "%s %s %s: %s\n", kind, ch.Fingerprint, uidText(ch.Name), ch.Change)
	}
	return err
}
