package main

import (
	"strings"

	"github.com/urfave/cli/v2"
)

// orderArgs puts a command line in the order the CLI library reads:
// global flags (--home, --passphrase-file) before the command, and each
// command's options before its positional arguments. Users of gpg, sq and
// git write both after (mailseal decrypt msg.eml --passphrase-file f,
// mailseal keys list ops --json), and the library stops reading options
// at the first positional argument.
//
// It knows from app which flags each command has and which of them take a
// value, so a value is never mistaken for a positional argument. What
// follows -- is positional and stays so (the -- is kept); the commands
// that parse their own arguments (sop, sendmail: SkipFlagParsing) are
// left alone; an unknown command or flag is left for the library to
// report. A flag that takes a value and has none is a usage error.
func orderArgs(app *cli.App, args []string) ([]string, error) {
	if len(args) < 2 {
		return args, nil
	}
	// Only the global flags that take a value move: a global boolean
	// (--version) after a command is no option of that command.
	global := map[string]bool{}
	for name, takes := range valueFlags(app.Flags) {
		if takes {
			global[name] = true
		}
	}
	var front, path, opts, pos []string
	known := valueFlags(app.Flags) // the flags of the command being read
	commands := app.Commands
	inCommand := false
	dashdash := false
	for i := 1; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			if !inCommand { // no command yet: leave the rest to the library
				pos = append(pos, args[i:]...)
				break
			}
			dashdash = true
			pos = append(pos, args[i+1:]...)
			break
		}
		if !strings.HasPrefix(a, "-") || a == "-" {
			if cmd := findCommand(commands, a); cmd != nil && len(pos) == 0 {
				path = append(path, a)
				if cmd.SkipFlagParsing { // its arguments are its own
					pos = append(pos, args[i+1:]...)
					break
				}
				known, commands, inCommand = valueFlags(cmd.Flags), cmd.Subcommands, true
				continue
			}
			if !inCommand { // an unknown command: the library says so
				pos = append(pos, args[i:]...)
				break
			}
			pos = append(pos, a)
			continue
		}
		name, hasValue := flagName(a)
		takes, ok := known[name]
		dst := &front
		if inCommand {
			dst = &opts
			if !ok && global[name] {
				takes, ok, dst = true, true, &front
			}
		}
		if ok && takes && !hasValue {
			if i+1 == len(args) {
				return nil, usageErr("flag needs an argument: %s (see %s --help)", a, strings.Join(append([]string{app.Name}, path...), " "))
			}
			*dst = append(*dst, a, args[i+1])
			i++
			continue
		}
		*dst = append(*dst, a)
	}
	out := append([]string{args[0]}, front...)
	out = append(out, path...)
	out = append(out, opts...)
	if dashdash {
		out = append(out, "--")
	}
	return append(out, pos...), nil
}

// findCommand is the command (or subcommand) of cmds named name or one of
// its aliases, or nil.
func findCommand(cmds []*cli.Command, name string) *cli.Command {
	for _, c := range cmds {
		if c.HasName(name) {
			return c
		}
	}
	return nil
}

// flagName is the name of the flag argument a (-o, --output, --output=x)
// and whether the value is in a itself.
func flagName(a string) (name string, hasValue bool) {
	name = strings.TrimLeft(a, "-")
	if i := strings.IndexByte(name, '='); i >= 0 {
		return name[:i], true
	}
	return name, false
}

// valueFlags maps each name (and alias) of flags to whether the flag takes
// a value; the help flag (-h, --help) takes none.
func valueFlags(flags []cli.Flag) map[string]bool {
	m := map[string]bool{"help": false, "h": false}
	for _, f := range flags {
		takes := true
		if tv, ok := f.(interface{ TakesValue() bool }); ok {
			takes = tv.TakesValue()
		}
		for _, n := range f.Names() {
			m[n] = takes
		}
	}
	return m
}
