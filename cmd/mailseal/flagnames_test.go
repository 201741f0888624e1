package main

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/urfave/cli/v2"
)

// plainApp is newApp without namesOnce: the library's own flags.
func plainApp(stdout, stderr io.Writer) *cli.App {
	app := buildApp(nil, stdout, stderr)
	for _, c := range app.Commands {
		quietUsageErrors(c, "mailseal")
	}
	return app
}

// TestNamesOnce: with names worked out once, every command's help and
// usage errors read exactly as with the library's own flags; every flag is
// wrapped (a flag type namesOnce does not know would still pay for the
// regular expression), with the names the library's flag gives.
func TestNamesOnce(t *testing.T) {
	var paths [][]string
	var walk func(prefix []string, cmds []*cli.Command)
	walk = func(prefix []string, cmds []*cli.Command) {
		for _, c := range cmds {
			p := append(append([]string{}, prefix...), c.Name)
			paths = append(paths, p)
			walk(p, c.Subcommands)
		}
	}
	walk(nil, buildApp(nil, io.Discard, io.Discard).Commands)
	if len(paths) < 30 {
		t.Fatalf("only %d commands", len(paths))
	}
	t.Setenv("MAILSEAL_HOME", t.TempDir())
	runApp := func(app func(stdout, stderr io.Writer) *cli.App, args []string) string {
		var out, errw bytes.Buffer
		err := app(&out, &errw).Run(append([]string{"mailseal"}, args...))
		return out.String() + "\n--- stderr\n" + errw.String() + "\n--- error\n" + errString(err)
	}
	wrapped := func(stdout, stderr io.Writer) *cli.App { return newApp(nil, stdout, stderr) }
	compared := 0
	for _, p := range append(paths, nil) {
		if len(p) > 0 && (p[0] == "sop" || p[0] == "sendmail") {
			continue // they parse their own arguments
		}
		for _, tail := range [][]string{{"--help"}, {"--no-such-flag"}, {"--home"}} {
			args := append(append([]string{}, p...), tail...)
			got, want := runApp(wrapped, args), runApp(plainApp, args)
			if got != want {
				t.Errorf("mailseal %s:\nwith names once:\n%s\nwith the library's flags:\n%s", strings.Join(args, " "), got, want)
			}
			compared++
		}
	}
	if compared < 90 {
		t.Errorf("only %d command lines compared", compared)
	}

	for _, f := range plainApp(io.Discard, io.Discard).Commands[0].Flags {
		switch f.(type) {
		case *boolFlag, *stringFlag, *intFlag, *stringSliceFlag:
			t.Fatalf("plainApp's flag %v is wrapped: the comparison above compared nothing", f.Names())
		}
	}
	app := newApp(nil, io.Discard, io.Discard)
	check := func(where string, flags []cli.Flag) {
		for _, f := range flags {
			var own []string // what the library's flag says
			switch f := f.(type) {
			case *boolFlag:
				own = f.BoolFlag.Names()
			case *stringFlag:
				own = f.StringFlag.Names()
			case *intFlag:
				own = f.IntFlag.Names()
			case *stringSliceFlag:
				own = f.StringSliceFlag.Names()
			default:
				t.Errorf("%s: flag %v is a %T, which namesOnce does not wrap", where, f.Names(), f)
				continue
			}
			if !slices.Equal(f.Names(), own) {
				t.Errorf("%s: names %q, the library's %q", where, f.Names(), own)
			}
		}
	}
	check("mailseal", app.Flags)
	var walkFlags func(prefix string, cmds []*cli.Command)
	walkFlags = func(prefix string, cmds []*cli.Command) {
		for _, c := range cmds {
			check(prefix+" "+c.Name, c.Flags)
			walkFlags(prefix+" "+c.Name, c.Subcommands)
		}
	}
	walkFlags("mailseal", app.Commands)
}

// flagNames gives what the library's FlagNames gives, for names written
// the v1 way too.
func TestFlagNames(t *testing.T) {
	for _, c := range []struct {
		name    string
		aliases []string
	}{
		{"input", []string{"i"}}, {"input, i", nil}, {"a b", []string{"c,d", " e", ","}}, {"", nil}, {"x,,  y", []string{"z  "}},
	} {
		if got, want := flagNames(c.name, c.aliases), cli.FlagNames(c.name, c.aliases); !slices.Equal(got, want) {
			t.Errorf("%q %q: %q, the library's %q", c.name, c.aliases, got, want)
		}
	}
}

func errString(err error) string {
	if err == nil {
		return "<nil>"
	}
	return err.Error()
}

// BenchmarkRunSmallEncrypt is one small sign+encrypt as the command line
// runs it (a fresh app, keystore and session each time; no process
// start), with the flags' names worked out once and with the library's
// own flags.
func BenchmarkRunSmallEncrypt(b *testing.B) {
	home := b.TempDir()
	b.Setenv("MAILSEAL_HOME", home)
	for _, uid := range []string{"Alice <alice@example.org>", "Bob <bob@example.org>"} {
		if code := run([]string{"mailseal", "keys", "generate", "--pgp", "--uid", uid, "--no-passphrase"}, nil, io.Discard, io.Discard); code != 0 {
			b.Fatalf("generate: exit %d", code)
		}
	}
	msg := filepath.Join(b.TempDir(), "m.eml")
	body := "From: alice@example.org\r\nTo: bob@example.org\r\nSubject: s\r\n\r\n" + strings.Repeat("a line of the message\r\n", 120)
	if err := os.WriteFile(msg, []byte(body), 0o644); err != nil {
		b.Fatal(err)
	}
	args := []string{"mailseal", "encrypt", "--pgp", "--no-self", "--sign", msg}
	for _, c := range []struct {
		name string
		app  func(stdout, stderr io.Writer) *cli.App
	}{
		{"names-once", func(stdout, stderr io.Writer) *cli.App { return newApp(nil, stdout, stderr) }},
		{"library-flags", plainApp},
	} {
		b.Run(c.name, func(b *testing.B) {
			for b.Loop() {
				var errw bytes.Buffer
				if err := c.app(io.Discard, &errw).Run(args); err != nil {
					b.Fatalf("%v: %s", err, errw.String())
				}
			}
		})
	}
}

// BenchmarkNewApp: building the command tree, which every run does
// (flagNames without the library's regular expression: 54-64 µs against
// 124-129).
func BenchmarkNewApp(b *testing.B) {
	for b.Loop() {
		newApp(nil, io.Discard, io.Discard)
	}
}
