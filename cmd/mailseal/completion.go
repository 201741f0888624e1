package main

import (
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/urfave/cli/v2"
)

// The shell completions are made from
// the CLI definition itself (buildApp), so they name every command and
// flag there is and nothing else.

func completionCommand() *cli.Command {
	return &cli.Command{
		Name:      "completion",
		Usage:     "print the shell completion script for bash, zsh or fish",
		ArgsUsage: "bash|zsh|fish",
		Description: "bash:  source <(mailseal completion bash), or save it as /usr/share/bash-completion/completions/mailseal\n" +
			"zsh:   save it as _mailseal in a directory of $fpath\n" +
			"fish:  save it as ~/.config/fish/completions/mailseal.fish",
		Action: func(c *cli.Context) error {
			if c.NArg() != 1 {
				return usageErr("completion needs one shell: bash, zsh or fish")
			}
			return writeCompletion(c.App.Writer, buildApp(nil, io.Discard, io.Discard), c.Args().First())
		},
	}
}

// writeCompletion writes the completion script of app for shell.
func writeCompletion(w io.Writer, app *cli.App, shell string) error {
	nodes := completionNodes(app)
	var script string
	switch shell {
	case "bash":
		script = bashCompletion(nodes)
	case "zsh":
		script = zshCompletion(nodes)
	case "fish":
		script = fishCompletion(nodes)
	default:
		return usageErr("completion: unknown shell %q (bash, zsh or fish)", shell)
	}
	_, err := io.WriteString(w, script)
	return err
}

// cnode is one command (the app itself has path ""), as completion sees
// it: its visible subcommands and flags, the global flags included.
type cnode struct {
	path     string // "", "verify", "keys list"
	commands []*cli.Command
	flags    []cflag
	ownArgs  bool // SOP, sendmail: their arguments are their own
}

type cflag struct {
	names      []string // -i, --input
	takesValue bool
	usage      string
}

func completionNodes(app *cli.App) []cnode {
	global := visibleFlags(app.Flags)
	var globalValues []cflag
	for _, f := range global {
		if f.takesValue {
			globalValues = append(globalValues, f)
		}
	}
	help := cflag{names: []string{"-h", "--help"}, usage: "show help"}
	nodes := []cnode{{commands: visibleCommands(app.Commands), flags: append(global, help)}}
	var walk func(path string, cmds []*cli.Command)
	walk = func(path string, cmds []*cli.Command) {
		for _, c := range visibleCommands(cmds) {
			p := strings.TrimSpace(path + " " + c.Name)
			n := cnode{path: p, commands: visibleCommands(c.Subcommands), ownArgs: c.SkipFlagParsing}
			if !c.SkipFlagParsing {
				n.flags = append(append(visibleFlags(c.Flags), globalValues...), help)
			}
			nodes = append(nodes, n)
			walk(p, c.Subcommands)
		}
	}
	walk("", app.Commands)
	return nodes
}

func visibleCommands(cmds []*cli.Command) []*cli.Command {
	var out []*cli.Command
	for _, c := range cmds {
		if !c.Hidden {
			out = append(out, c)
		}
	}
	return out
}

func visibleFlags(flags []cli.Flag) []cflag {
	var out []cflag
	for _, f := range flags {
		if v, ok := f.(cli.VisibleFlag); ok && !v.IsVisible() {
			continue
		}
		cf := cflag{takesValue: true}
		if tv, ok := f.(interface{ TakesValue() bool }); ok {
			cf.takesValue = tv.TakesValue()
		}
		if u, ok := f.(interface{ GetUsage() string }); ok {
			cf.usage = strings.ReplaceAll(u.GetUsage(), "`", "")
		}
		for _, n := range f.Names() {
			if len(n) == 1 {
				cf.names = append(cf.names, "-"+n)
			} else {
				cf.names = append(cf.names, "--"+n)
			}
		}
		sort.Slice(cf.names, func(i, j int) bool { return len(cf.names[i]) < len(cf.names[j]) })
		out = append(out, cf)
	}
	return out
}

func (n cnode) commandNames() string {
	var s []string
	for _, c := range n.commands {
		s = append(s, c.Names()...)
	}
	return strings.Join(s, " ")
}

func (n cnode) flagNames(valuesOnly bool) string {
	var s []string
	for _, f := range n.flags {
		if !valuesOnly || f.takesValue {
			s = append(s, f.names...)
		}
	}
	return strings.Join(s, " ")
}

// shellCase writes a case statement over the command paths.
func shellCase(b *strings.Builder, nodes []cnode, value func(cnode) string, zsh bool) {
	b.WriteString("    case \"$1\" in\n")
	for _, n := range nodes {
		if v := value(n); v != "" {
			fmt.Fprintf(b, "        %s) echo %s ;;\n", shellQuote(n.path), shellQuote(v))
		}
	}
	b.WriteString("    esac\n")
}

// shellQuote quotes s for sh, bash and zsh.
func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// completionTables are the shell functions both bash and zsh use: the
// subcommands, the flags and the flags that take a value of a command
// path, and the commands that parse their own arguments.
func completionTables(nodes []cnode, zsh bool) string {
	var b strings.Builder
	b.WriteString("_mailseal_commands() {\n")
	shellCase(&b, nodes, func(n cnode) string { return n.commandNames() }, zsh)
	b.WriteString("}\n_mailseal_flags() {\n")
	shellCase(&b, nodes, func(n cnode) string { return n.flagNames(false) }, zsh)
	b.WriteString("}\n_mailseal_value_flags() {\n")
	shellCase(&b, nodes, func(n cnode) string { return n.flagNames(true) }, zsh)
	b.WriteString("}\n_mailseal_own_args() {\n")
	shellCase(&b, nodes, func(n cnode) string {
		if n.ownArgs {
			return "yes"
		}
		return ""
	}, zsh)
	b.WriteString("}\n")
	return b.String()
}

// The command path of the words before the cursor: words that name a
// subcommand, skipping options and the values of those that take one.
// It sets cmdpath, and skip when the word under the cursor is a value.
const shellWalk = `    local cmdpath="" skip="" w i
    for ((i = FIRST; i < LAST; i++)); do
        w=${WORDS[i]}
        if [[ -n $skip ]]; then skip=""; continue; fi
        [[ -n $(_mailseal_own_args "$cmdpath") ]] && return 1
        if [[ $w == -* ]]; then
            [[ $w != *=* && " $(_mailseal_value_flags "$cmdpath") " == *" $w "* ]] && skip=1
            continue
        fi
        [[ " $(_mailseal_commands "$cmdpath") " == *" $w "* ]] && cmdpath="${cmdpath:+$cmdpath }$w"
    done
    [[ -n $(_mailseal_own_args "$cmdpath") ]] && return 1
`

func bashCompletion(nodes []cnode) string {
	walk := strings.NewReplacer("FIRST", "1", "LAST", "COMP_CWORD", "WORDS", "COMP_WORDS").Replace(shellWalk)
	return "# bash completion for mailseal; made by `mailseal completion bash` from the CLI's definition\n" +
		completionTables(nodes, false) +
		"_mailseal() {\n" +
		"    local cur=${COMP_WORDS[COMP_CWORD]}\n" +
		"    COMPREPLY=()\n" +
		walk +
		`    if [[ -n $skip ]]; then
        COMPREPLY=($(compgen -f -- "$cur"))
    elif [[ $cur == -* ]]; then
        COMPREPLY=($(compgen -W "$(_mailseal_flags "$cmdpath")" -- "$cur"))
    else
        local cmds
        cmds=$(_mailseal_commands "$cmdpath")
        if [[ -n $cmds ]]; then
            COMPREPLY=($(compgen -W "$cmds" -- "$cur"))
        else
            COMPREPLY=($(compgen -f -- "$cur"))
        fi
    fi
}
complete -o default -F _mailseal mailseal
`
}

func zshCompletion(nodes []cnode) string {
	walk := strings.NewReplacer("FIRST", "2", "LAST", "CURRENT", "WORDS", "words").Replace(shellWalk)
	var b strings.Builder
	b.WriteString("#compdef mailseal\n# zsh completion for mailseal; made by `mailseal completion zsh` from the CLI's definition\n")
	b.WriteString(completionTables(nodes, true))
	// Descriptions: "name:what it does" lines for _describe.
	b.WriteString("_mailseal_described() {\n    case \"$1 $2\" in\n")
	for _, n := range nodes {
		var cmds, flags []string
		for _, c := range n.commands {
			cmds = append(cmds, c.Name+":"+oneLine(c.Usage))
		}
		for _, f := range n.flags {
			for _, name := range f.names {
				flags = append(flags, name+":"+oneLine(f.usage))
			}
		}
		if len(cmds) > 0 {
			fmt.Fprintf(&b, "        %s) print -r -- %s ;;\n", shellQuote("commands "+n.path), shellQuote(strings.Join(cmds, "\n")))
		}
		if len(flags) > 0 {
			fmt.Fprintf(&b, "        %s) print -r -- %s ;;\n", shellQuote("flags "+n.path), shellQuote(strings.Join(flags, "\n")))
		}
	}
	b.WriteString("    esac\n}\n")
	b.WriteString("_mailseal() {\n    local cur=${words[CURRENT]}\n")
	b.WriteString(strings.Replace(walk, "return 1", "{ _files; return }", -1))
	b.WriteString(`    local -a described
    if [[ -n $skip ]]; then
        _files
    elif [[ $cur == -* ]]; then
        described=(${(f)"$(_mailseal_described flags "$cmdpath")"})
        _describe option described
    elif [[ -n $(_mailseal_commands "$cmdpath") ]]; then
        described=(${(f)"$(_mailseal_described commands "$cmdpath")"})
        _describe command described
    else
        _files
    fi
}
if [[ $zsh_eval_context[-1] == loadautoload ]]; then
    _mailseal "$@"
else
    compdef _mailseal mailseal
fi
`)
	return b.String()
}

func fishCompletion(nodes []cnode) string {
	var b strings.Builder
	b.WriteString("# fish completion for mailseal; made by `mailseal completion fish` from the CLI's definition\n")
	b.WriteString("complete -c mailseal -f\n")
	q := func(s string) string {
		return "'" + strings.NewReplacer(`\`, `\\`, "'", `\'`).Replace(oneLine(s)) + "'"
	}
	for _, n := range nodes {
		// The condition: the command path has been typed, and no
		// subcommand of it yet.
		cond := "__fish_use_subcommand"
		if n.path != "" {
			words := strings.Fields(n.path)
			cond = "__fish_seen_subcommand_from " + words[len(words)-1]
			if len(words) > 1 {
				cond = "__fish_seen_subcommand_from " + words[0] + "; and " + cond
			}
			if len(n.commands) > 0 {
				var sub []string
				for _, c := range n.commands {
					sub = append(sub, c.Names()...)
				}
				cond += "; and not __fish_seen_subcommand_from " + strings.Join(sub, " ")
			}
		}
		for _, c := range n.commands {
			fmt.Fprintf(&b, "complete -c mailseal -n %s -a %s -d %s\n", q(cond), c.Name, q(c.Usage))
		}
		if n.path == "" {
			cond = "" // the global flags go anywhere
		}
		for _, f := range n.flags {
			fmt.Fprintf(&b, "complete -c mailseal")
			if cond != "" {
				fmt.Fprintf(&b, " -n %s", q(cond))
			}
			for _, name := range f.names {
				if strings.HasPrefix(name, "--") {
					fmt.Fprintf(&b, " -l %s", name[2:])
				} else {
					fmt.Fprintf(&b, " -s %s", name[1:])
				}
			}
			if f.takesValue {
				b.WriteString(" -r -F")
			}
			fmt.Fprintf(&b, " -d %s\n", q(f.usage))
		}
		if n.path != "" && len(n.commands) == 0 && !n.ownArgs {
			fmt.Fprintf(&b, "complete -c mailseal -n %s -F\n", q(cond)) // FILE arguments
		}
	}
	return b.String()
}
