package main

import (
	"fmt"
	"strings"

	"github.com/urfave/cli/v2"
)

// sendmailCommand documents `mailseal sendmail`; the arguments are
// translated into a `send` invocation by sendmailArgs before urfave/cli
// sees them, because sendmail's flags (-t, -oi, -fADDR, -FName) are not
// in its syntax.
func sendmailCommand() *cli.Command {
	return &cli.Command{
		Name:      "sendmail",
		Usage:     "sendmail-compatible: sign, encrypt and send a message (set as the sendmail program of cron, git, mutt, PHP)",
		ArgsUsage: "[-t] [-i] [-oi] [-f SENDER] [RECIPIENT...]",
		Description: "Reads the message on stdin. -t takes the recipients from To, Cc and Bcc (and adds RECIPIENTs);\n" +
			"without it only the RECIPIENTs get the message. -f sets the envelope sender. -i, -oi, -F, -B and\n" +
			"-o options are accepted and ignored. Settings come from the config file (smtp = \"...\", ...);\n" +
			"for cron's mail (From: root) set domain and from there (see mailseal send --help).\n" +
			"A symlink named sendmail to mailseal behaves the same.",
		SkipFlagParsing: true,
		Action: func(c *cli.Context) error {
			if c.Args().Len() == 1 && c.Args().First() == "--help" { // sendmailArgs: --help or -h
				cmd := c.Command
				_, err := fmt.Fprintf(c.App.Writer, "mailseal sendmail - %s\n\nUSAGE:\n   mailseal sendmail %s\n   sendmail %s\n\n%s\n",
					cmd.Usage, cmd.ArgsUsage, cmd.ArgsUsage, cmd.Description)
				return err
			}
			return usageErr("sendmail: unexpected arguments")
		},
	}
}

// translateSendmail rewrites a sendmail command line: argv[0] named
// sendmail, or the sendmail subcommand after mailseal's global flags.
func translateSendmail(args []string) ([]string, error) {
	if len(args) == 0 {
		return args, nil
	}
	if programName(args[0]) == "sendmail" {
		rest, err := sendmailArgs(args[1:])
		if err != nil {
			return nil, err
		}
		return append([]string{"mailseal"}, rest...), nil
	}
	for i := 1; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "--home" || a == "--passphrase-file" || a == "-home" || a == "-passphrase-file":
			i++
			continue
		case strings.HasPrefix(a, "-"):
			continue
		case a == "sendmail":
			rest, err := sendmailArgs(args[i+1:])
			if err != nil {
				return nil, err
			}
			return append(append([]string(nil), args[:i]...), rest...), nil
		}
		break
	}
	return args, nil
}

// sendmailArgs turns sendmail's options into `send` flags.
func sendmailArgs(in []string) ([]string, error) {
	out := []string{"send"}
	headers := false
	var rcpts []string
	for i := 0; i < len(in); i++ {
		a := in[i]
		value := func(flag string) (string, error) {
			if len(a) > len(flag) {
				return a[len(flag):], nil
			}
			if i+1 >= len(in) {
				return "", usageErr("sendmail: %s needs a value", flag)
			}
			i++
			return in[i], nil
		}
		switch {
		case a == "--":
			rcpts = append(rcpts, in[i+1:]...)
			i = len(in)
		case a == "-t":
			headers = true
		case a == "-i" || a == "-oi" || a == "-v" || a == "-U" || strings.HasPrefix(a, "-o") && len(a) > 2:
			// ignored, as by other sendmail replacements
		case strings.HasPrefix(a, "-f") || strings.HasPrefix(a, "-r"):
			v, err := value(a[:2])
			if err != nil {
				return nil, err
			}
			out = append(out, "--envelope-from", strings.Trim(v, "<>"))
		case strings.HasPrefix(a, "-F") || strings.HasPrefix(a, "-B") || strings.HasPrefix(a, "-N") || strings.HasPrefix(a, "-R") || strings.HasPrefix(a, "-V"):
			if _, err := value(a[:2]); err != nil {
				return nil, err
			}
		case a == "--help" || a == "-h":
			return []string{"sendmail", "--help"}, nil // the sendmail command's help, exit 0
		case strings.HasPrefix(a, "-"):
			return nil, usageErr("sendmail: option %q is not supported", a)
		default:
			rcpts = append(rcpts, a)
		}
	}
	for _, r := range rcpts {
		for _, part := range strings.Split(r, ",") {
			if p := strings.TrimSpace(part); p != "" {
				out = append(out, "--rcpt", p)
			}
		}
	}
	if !headers {
		if len(rcpts) == 0 {
			return nil, usageErr("sendmail: no recipients (give them as arguments, or -t to read To, Cc and Bcc)")
		}
		out = append(out, "--no-header-recipients")
	}
	return out, nil
}
