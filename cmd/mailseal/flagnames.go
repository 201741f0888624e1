package main

import (
	"strings"

	"github.com/urfave/cli/v2"
)

// The CLI library works a flag's names out of its Name and Aliases with a
// regular expression at every call of Names, and after parsing a command
// line it calls Names for every flag of the command once for each flag it
// checks (runFlagActions, Context.IsSet): about a thousand regular
// expression runs for a command of forty flags. BenchmarkRunSmallEncrypt,
// one small sign+encrypt run in process, takes 0.77 of the time with names
// worked out once (0.88 against 1.14 ms); whole processes took 0.93 of the
// time (60 interleaved pairs). The flag types below answer Names
// from names worked out when the command tree is built, and are otherwise
// the library's own flags: the library, help, man pages and completion see
// them through the library's interfaces, which they keep (TestNamesOnce
// compares all of their output with and without them). Two checks of the
// library are by concrete type and miss a wrapped *cli.BoolFlag:
// DisableDefaultText (no flag here sets it) and leaving hidden flags out
// of its own shell completion (not used: completion.go builds the
// completion from the unwrapped app).

type boolFlag struct {
	*cli.BoolFlag
	names []string
}

func (f *boolFlag) Names() []string { return f.names }

type stringFlag struct {
	*cli.StringFlag
	names []string
}

func (f *stringFlag) Names() []string { return f.names }

type intFlag struct {
	*cli.IntFlag
	names []string
}

func (f *intFlag) Names() []string { return f.names }

type stringSliceFlag struct {
	*cli.StringSliceFlag
	names []string
}

func (f *stringSliceFlag) Names() []string { return f.names }

// namesOnce gives the flags of the app and of every command in it names
// worked out once.
func namesOnce(app *cli.App) {
	flagNamesOnce(app.Flags)
	var walk func([]*cli.Command)
	walk = func(cmds []*cli.Command) {
		for _, c := range cmds {
			flagNamesOnce(c.Flags)
			walk(c.Subcommands)
		}
	}
	walk(app.Commands)
}

func flagNamesOnce(flags []cli.Flag) {
	for i, f := range flags {
		switch f := f.(type) {
		case *cli.BoolFlag:
			flags[i] = &boolFlag{f, flagNames(f.Name, f.Aliases)}
		case *cli.StringFlag:
			flags[i] = &stringFlag{f, flagNames(f.Name, f.Aliases)}
		case *cli.IntFlag:
			flags[i] = &intFlag{f, flagNames(f.Name, f.Aliases)}
		case *cli.StringSliceFlag:
			flags[i] = &stringSliceFlag{f, flagNames(f.Name, f.Aliases)}
		}
	}
}

// flagNames is what cli.FlagNames gives, without its regular expression
// (which every start of the program ran for each of its flags, some 300):
// the name and each alias up to the first comma or space, which the
// library strips in case a name is written the v1 way ("input, i").
// TestNamesOnce compares the two for every flag.
func flagNames(name string, aliases []string) []string {
	names := make([]string, 0, 1+len(aliases))
	for _, s := range append([]string{name}, aliases...) {
		if i := strings.IndexAny(s, ", "); i >= 0 {
			s = s[:i]
		}
		names = append(names, s)
	}
	return names
}
