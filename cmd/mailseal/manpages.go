package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/mailseal/mailseal/internal/atomicfile"
)

// The man pages are made from the CLI definition (buildApp), as the
// completions are: mailseal.1 and one page per command and subcommand
// (mailseal-verify.1, mailseal-keys-list.1).

func manCommand() *cli.Command {
	return &cli.Command{
		Name:  "man",
		Usage: "write the man pages (mailseal.1 and one per command) into a directory",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "dir", Usage: "write the pages into `DIR` (created if missing; required)"},
		},
		Action: needs([]string{"dir"}, func(c *cli.Context) error {
			return writeManPages(c.String("dir"), buildApp(nil, io.Discard, io.Discard))
		}),
	}
}

func writeManPages(dir string, app *cli.App) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("man: %w", err)
	}
	var b strings.Builder
	manHeader(&b, app.Name, app.Usage)
	b.WriteString(".SH SYNOPSIS\n.B mailseal\n[\\fIGLOBAL OPTIONS\\fR] \\fICOMMAND\\fR [\\fIOPTIONS\\fR] [\\fIARGUMENTS\\fR]\n")
	manText(&b, "DESCRIPTION", app.Description)
	manFlags(&b, "GLOBAL OPTIONS", app.Flags)
	b.WriteString(".SH COMMANDS\n")
	for _, c := range visibleCommands(app.Commands) {
		fmt.Fprintf(&b, ".TP\n.B %s\n%s (see \\fB%s\\fR(1))\n", c.Name, manEscape(c.Usage), manEscape("mailseal-"+c.Name))
	}
	if err := atomicfile.WriteBytes(filepath.Join(dir, "mailseal.1"), 0o666, []byte(b.String())); err != nil {
		return fmt.Errorf("man: %w", err)
	}
	var walk func(path []string, cmds []*cli.Command) error
	walk = func(path []string, cmds []*cli.Command) error {
		for _, c := range visibleCommands(cmds) {
			p := append(append([]string{}, path...), c.Name)
			if err := writeCommandPage(dir, p, c); err != nil {
				return err
			}
			if err := walk(p, c.Subcommands); err != nil {
				return err
			}
		}
		return nil
	}
	return walk([]string{"mailseal"}, app.Commands)
}

func writeCommandPage(dir string, path []string, c *cli.Command) error {
	name := strings.Join(path, "-")
	var b strings.Builder
	manHeader(&b, name, c.Usage)
	fmt.Fprintf(&b, ".SH SYNOPSIS\n.B %s\n", strings.Join(path, " "))
	if len(c.Subcommands) > 0 {
		b.WriteString("\\fISUBCOMMAND\\fR ")
	}
	fmt.Fprintf(&b, "[\\fIOPTIONS\\fR] %s\n", manEscape(strings.ReplaceAll(c.ArgsUsage, "`", "")))
	manText(&b, "DESCRIPTION", c.Description)
	if len(c.Subcommands) > 0 {
		b.WriteString(".SH SUBCOMMANDS\n")
		for _, s := range visibleCommands(c.Subcommands) {
			fmt.Fprintf(&b, ".TP\n.B %s\n%s (see \\fB%s\\fR(1))\n", s.Name, manEscape(s.Usage), manEscape(name+"-"+s.Name))
		}
	}
	if !c.SkipFlagParsing {
		manFlags(&b, "OPTIONS", c.Flags)
	}
	b.WriteString(".SH SEE ALSO\n\\fBmailseal\\fR(1)\n")
	if err := atomicfile.WriteBytes(filepath.Join(dir, name+".1"), 0o666, []byte(b.String())); err != nil {
		return fmt.Errorf("man: %w", err)
	}
	return nil
}

func manHeader(b *strings.Builder, name, usage string) {
	fmt.Fprintf(b, ".TH %s 1 \"\" \"mailseal\" \"User Commands\"\n.SH NAME\n%s \\- %s\n",
		strings.ToUpper(name), name, manEscape(usage))
}

func manText(b *strings.Builder, section, text string) {
	if strings.TrimSpace(text) == "" {
		return
	}
	fmt.Fprintf(b, ".SH %s\n", section)
	for _, line := range strings.Split(strings.TrimSpace(text), "\n") {
		fmt.Fprintf(b, "%s\n.br\n", manEscape(line))
	}
}

func manFlags(b *strings.Builder, section string, flags []cli.Flag) {
	fl := visibleFlags(flags)
	if len(fl) == 0 {
		return
	}
	fmt.Fprintf(b, ".SH %s\n", section)
	for _, f := range fl {
		value := ""
		if f.takesValue {
			value = " \\fIVALUE\\fR"
		}
		fmt.Fprintf(b, ".TP\n.B %s%s\n%s\n", manEscape(strings.Join(f.names, ", ")), value, manEscape(f.usage))
	}
}

// manEscape keeps text from being read as roff: backslashes, and a
// leading dot or quote.
func manEscape(s string) string {
	s = strings.ReplaceAll(s, `\`, `\e`)
	s = strings.ReplaceAll(s, "-", `\-`)
	if strings.HasPrefix(s, ".") || strings.HasPrefix(s, "'") {
		s = `\&` + s
	}
	return s
}
