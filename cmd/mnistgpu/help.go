package main

import (
	"regexp"
	"strings"

	"github.com/urfave/cli/v2"
)

// defaultInUsage finds a default written into a flag's usage text:
// "(default 0.3 for mlp, 0 for cnn)" or "(default: all cores)", with at
// most one level of parentheses inside.
var defaultInUsage = regexp.MustCompile(`\s*\(default:?\s+((?:[^()]|\([^()]*\))*)\)`)

// moveDefaults moves a default written into the usage text of each flag of
// cmds (and their subcommands) to the flag's DefaultText, so that --help
// prints it once, as "(default: …)", instead of the usage's default and
// then the flag's zero value ("(default 0.02 for momentum …) (default: 0)").
func moveDefaults(cmds []*cli.Command) {
	for _, c := range cmds {
		for _, f := range c.Flags {
			usage, text := flagTexts(f)
			if usage == nil || *text != "" {
				continue
			}
			m := defaultInUsage.FindStringSubmatchIndex(*usage)
			if m == nil {
				continue
			}
			def := (*usage)[m[2]:m[3]]
			*usage = strings.TrimSpace((*usage)[:m[0]] + (*usage)[m[1]:])
			*text = def
		}
		moveDefaults(c.Subcommands)
	}
}

// flagTexts returns pointers to f's Usage and DefaultText (nil for a flag
// type that has none here).
func flagTexts(f cli.Flag) (usage, defaultText *string) {
	switch f := f.(type) {
	case *cli.IntFlag:
		return &f.Usage, &f.DefaultText
	case *cli.Float64Flag:
		return &f.Usage, &f.DefaultText
	case *cli.StringFlag:
		return &f.Usage, &f.DefaultText
	case *cli.Uint64Flag:
		return &f.Usage, &f.DefaultText
	case *cli.BoolFlag:
		return &f.Usage, &f.DefaultText
	case *cli.GenericFlag:
		return &f.Usage, &f.DefaultText
	}
	return nil, nil
}

// wrap breaks s at spaces into lines of at most width bytes (a longer word
// gets a line of its own).
func wrap(s string, width int) string {
	var b strings.Builder
	n := 0
	for i, w := range strings.Fields(s) {
		switch {
		case i == 0:
		case n+1+len(w) > width:
			b.WriteByte('\n')
			n = 0
		default:
			b.WriteByte(' ')
			n++
		}
		b.WriteString(w)
		n += len(w)
	}
	return b.String()
}
