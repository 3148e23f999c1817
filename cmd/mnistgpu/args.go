package main

import (
	"strings"

	"github.com/urfave/cli/v2"
)

// reorderArgs returns args (os.Args: the program, then what was typed)
// with each command's flags moved before its arguments, so that flags
// before, between and after arguments mean the same, as with argparse or
// cobra: urfave/cli v2 stops parsing flags at the first argument.
//
// The command path ("sweep merge", "train cnn") is read from app's
// commands; whether a flag takes a value comes from the flag definitions of
// the command it follows or of that command's subcommands, so a flag may
// also come before the subcommand (`train --epochs 3 cnn`). "--" ends the
// flags: everything after it is an argument. Flags before the command
// (--help, --version) stay in front. Where the command line cannot be read
// this way (an unknown command, an argument where a subcommand is due, a
// flag missing its value) args are returned as they are, and the parser
// reports what is wrong.
func reorderArgs(app *cli.App, args []string) []string {
	if len(args) < 2 {
		return args
	}
	out := []string{args[0]}
	var (
		cur         *cli.Command // nil: the app itself
		path, flags []string
		pos         []string
		ended       bool // "--" seen
	)
	rest := args[1:]
	for i := 0; i < len(rest); i++ {
		a := rest[i]
		if a == "--" {
			pos, ended = append(pos, rest[i+1:]...), true
			break
		}
		if isFlagArg(a) {
			if cur == nil {
				out = append(out, a) // the app's own flags take no value
				continue
			}
			flags = append(flags, a)
			if !strings.Contains(a, "=") && flagTakesValue(cur, strings.TrimLeft(a, "-")) {
				if i+1 == len(rest) {
					return args // the parser says the value is missing
				}
				i++
				flags = append(flags, rest[i])
			}
			continue
		}
		if len(pos) == 0 {
			subs := app.Commands
			if cur != nil {
				subs = cur.Subcommands
			}
			if c := findCommand(subs, a); c != nil {
				cur, path = c, append(path, a)
				continue
			}
		}
		if cur == nil {
			return args // not a command: the parser says so
		}
		pos = append(pos, a)
	}
	if cur == nil || len(pos) > 0 && len(cur.Subcommands) > 0 && !ended {
		// No command, or an argument where a subcommand (or nothing) is
		// due: the command's own check names it.
		return args
	}
	out = append(out, path...)
	out = append(out, flags...)
	if len(pos) > 0 {
		out = append(out, "--")
		out = append(out, pos...)
	}
	return out
}

// isFlagArg says whether a reads as a flag: a dash and a name ("-h",
// "--out", "--out=x"); "-" alone is an argument (standard input).
func isFlagArg(a string) bool {
	return len(a) > 1 && a[0] == '-'
}

// findCommand returns the command in cmds named (or aliased) name.
func findCommand(cmds []*cli.Command, name string) *cli.Command {
	for _, c := range cmds {
		if c.HasName(name) {
			return c
		}
	}
	return nil
}

// flagTakesValue says whether the flag called name, defined on c or on one
// of its subcommands, takes a value. Help and unknown flags take none (the
// parser reports an unknown flag by its name).
func flagTakesValue(c *cli.Command, name string) bool {
	if name == "help" || name == "h" {
		return false
	}
	for _, f := range c.Flags {
		for _, n := range f.Names() {
			if n == name {
				v, ok := f.(interface{ TakesValue() bool })
				return !ok || v.TakesValue()
			}
		}
	}
	for _, s := range c.Subcommands {
		if flagTakesValue(s, name) {
			return true
		}
	}
	return false
}
