package main

import (
	"fmt"
	"runtime"
	"runtime/debug"

	"github.com/urfave/cli/v2"

	"github.com/mailseal/mailseal/internal/sop"
)

// versionLine is what `mailseal version` and `mailseal --version` print:
// the version, the commit it was built from (when the build recorded it),
// the Go version and the OpenPGP library's version.
func versionLine() string {
	commit, goCrypto := "unknown", "unknown"
	if info, ok := debug.ReadBuildInfo(); ok {
		for _, s := range info.Settings {
			if s.Key == "vcs.revision" && len(s.Value) >= 12 {
				commit = s.Value[:12]
			}
			if s.Key == "vcs.modified" && s.Value == "true" && commit != "unknown" {
				commit += "+changes"
			}
		}
		for _, d := range info.Deps {
			if d.Path == "github.com/ProtonMail/go-crypto" {
				goCrypto = d.Version
			}
		}
	}
	return fmt.Sprintf("mailseal %s (commit %s, %s, go-crypto %s)", sop.Version, commit, runtime.Version(), goCrypto)
}

func versionCommand() *cli.Command {
	return &cli.Command{
		Name:  "version",
		Usage: "print the version, the commit, the Go and go-crypto versions",
		Action: func(c *cli.Context) error {
			_, err := fmt.Fprintln(c.App.Writer, versionLine())
			return err
		},
	}
}

// helpCommand is `mailseal help [COMMAND [SUBCOMMAND]]`: the help that
// `mailseal COMMAND SUBCOMMAND --help` prints, as git and go users type it.
func helpCommand() *cli.Command {
	return &cli.Command{
		Name:      "help",
		Usage:     "show the help of the program or of a command",
		ArgsUsage: "[COMMAND [SUBCOMMAND]]",
		Action: func(c *cli.Context) error {
			if c.NArg() == 0 {
				return cli.ShowAppHelp(c)
			}
			args := append(append([]string{c.App.Name}, c.Args().Slice()...), "--help")
			return c.App.Run(args)
		},
	}
}
