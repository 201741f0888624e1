package main

import (
	"github.com/urfave/cli/v2"

	"github.com/mailseal/mailseal"
	"github.com/mailseal/mailseal/internal/sop"
)

// sopCommand is the Stateless OpenPGP interface: keys and certificates come
// from files on the command line, never from the keystore.
func sopCommand() *cli.Command {
	return &cli.Command{
		Name:            "sop",
		Usage:           "Stateless OpenPGP (draft-dkg-openpgp-stateless-cli): version, list-profiles, generate-key, extract-cert, change-key-password, revoke-key, sign, verify, encrypt, decrypt, armor, dearmor, inline-sign, inline-verify, inline-detach",
		ArgsUsage:       "SUBCOMMAND [OPTIONS] [ARGS]",
		SkipFlagParsing: true,
		Action: func(c *cli.Context) error {
			code := sop.Run(c.Args().Slice(), sop.Env{Stdin: c.App.Reader, Stdout: c.App.Writer, Stderr: c.App.ErrWriter,
				Policy: mailseal.DefaultPolicy()})
			if code != 0 {
				return exitError{code}
			}
			return nil
		},
	}
}
