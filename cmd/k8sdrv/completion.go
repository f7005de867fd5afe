package main

import (
	"embed"
	"fmt"
	"strings"
	"text/template"

	"github.com/urfave/cli/v2"
)

// The completion scripts are written from the command tree, so that a new
// command or flag is completed without anyone editing a script. They are
// static: urfave/cli v2's own completion (EnableBashCompletion) would run
// k8sdrv with a hidden flag on every TAB, and its bash and zsh scripts are
// not part of the Go module.
//
//go:embed completion/*.tmpl
var completionTemplates embed.FS

var shells = []string{"bash", "zsh"}

// completionFlag is one flag as the scripts see it.
type completionFlag struct {
	Names  []string // with their dashes: --config, -c
	Usage  string
	Value  bool // takes a value
	Repeat bool // may be given more than once
}

// completionCommand is one command: its flags, and what its arguments are.
type completionCommand struct {
	Name, Usage string
	Flags       []completionFlag
	Words       []string // the words its first argument takes, if a closed set
	Files       bool     // its arguments are file names
}

type completionTree struct {
	Global   []completionFlag
	Commands []completionCommand
}

// newCompletionCommand is `k8sdrv completion bash|zsh`.
func newCompletionCommand() *cli.Command {
	return &cli.Command{
		Name:  "completion",
		Usage: "print a shell completion script (bash or zsh)",
		UsageText: "k8sdrv completion bash|zsh\n\n" +
			"Examples:\n" +
			"   source <(k8sdrv completion bash)                        # this shell\n" +
			"   k8sdrv completion bash > /etc/bash_completion.d/k8sdrv  # every bash\n" +
			"   k8sdrv completion zsh > \"${fpath[1]}/_k8sdrv\"           # zsh",
		ArgsUsage: "bash|zsh",
		Action: func(c *cli.Context) error {
			if c.NArg() != 1 {
				return fmt.Errorf("completion: want one shell (%s), got %d arguments", strings.Join(shells, " or "), c.NArg())
			}
			return writeCompletion(c, c.Args().First())
		},
	}
}

func writeCompletion(c *cli.Context, shell string) error {
	found := false
	for _, s := range shells {
		found = found || s == shell
	}
	if !found {
		return fmt.Errorf("completion: unknown shell %q (want %s)", shell, strings.Join(shells, " or "))
	}
	t, err := template.New(shell+".tmpl").Funcs(template.FuncMap{
		"join":      func(s []string) string { return strings.Join(s, " ") },
		"flagNames": flagNames,
		"varName":   func(s string) string { return strings.ReplaceAll(s, "-", "_") },
		"zshFlag":   zshFlag,
		"zshQuote":  zshQuote,
	}).ParseFS(completionTemplates, "completion/"+shell+".tmpl")
	if err != nil {
		return fmt.Errorf("completion: %w", err)
	}
	return t.Execute(c.App.Writer, newCompletionTree(c.App))
}

// newCompletionTree reads the visible commands and flags of a set-up app
// (the help command and --help, --version included).
func newCompletionTree(app *cli.App) completionTree {
	tree := completionTree{Global: completionFlags(app.VisibleFlags())}
	var names []string
	for _, cmd := range app.VisibleCommands() {
		names = append(names, cmd.Name)
	}
	for _, cmd := range app.VisibleCommands() {
		cc := completionCommand{
			Name:  cmd.Name,
			Usage: cmd.Usage,
			Flags: completionFlags(withHelpFlag(cmd.VisibleFlags())),
			Files: cmd.ArgsUsage != "",
		}
		switch cmd.Name {
		case "help":
			cc.Words = names
		case "completion":
			cc.Words = shells
		}
		tree.Commands = append(tree.Commands, cc)
	}
	return tree
}

// withHelpFlag adds --help, which urfave/cli gives a command only when
// that command runs.
func withHelpFlag(flags []cli.Flag) []cli.Flag {
	for _, f := range flags {
		if f == cli.HelpFlag {
			return flags
		}
	}
	return append(flags, cli.HelpFlag)
}

func completionFlags(flags []cli.Flag) []completionFlag {
	var out []completionFlag
	for _, f := range flags {
		cf := completionFlag{}
		for _, n := range f.Names() {
			cf.Names = append(cf.Names, dashed(n))
		}
		if d, ok := f.(cli.DocGenerationFlag); ok {
			cf.Usage, cf.Value = d.GetUsage(), d.TakesValue()
		}
		if _, ok := f.(*cli.StringSliceFlag); ok {
			cf.Repeat = true
		}
		out = append(out, cf)
	}
	return out
}

func dashed(name string) string {
	if len(name) == 1 {
		return "-" + name
	}
	return "--" + name
}

// ValuedFlags are the flags, global or not, whose next word is their value.
func (t completionTree) ValuedFlags() []string {
	var out []string
	add := func(flags []completionFlag) {
		for _, f := range flags {
			if f.Value {
				out = append(out, f.Names...)
			}
		}
	}
	add(t.Global)
	for _, c := range t.Commands {
		add(c.Flags)
	}
	return out
}

// CommandNames are the commands in the order of `k8sdrv help`.
func (t completionTree) CommandNames() []string {
	var out []string
	for _, c := range t.Commands {
		out = append(out, c.Name)
	}
	return out
}

func flagNames(flags []completionFlag) []string {
	var out []string
	for _, f := range flags {
		out = append(out, f.Names...)
	}
	return out
}

// zshFlag is one _arguments spec: '(-c --config)'{-c,--config}'[usage]:value:'.
func zshFlag(f completionFlag) string {
	spec := zshQuote("[" + zshEscape(f.Usage) + "]")
	if f.Value {
		spec = zshQuote("["+zshEscape(f.Usage)+"]:value:") + zshValueAction(f)
	}
	if len(f.Names) == 1 {
		prefix := ""
		if f.Repeat {
			prefix = "*"
		}
		return zshQuote(prefix+f.Names[0]) + spec
	}
	excl := "(" + strings.Join(f.Names, " ") + ")"
	return zshQuote(excl) + "{" + strings.Join(f.Names, ",") + "}" + spec
}

// zshValueAction completes a flag's value: a file for --config, else nothing.
func zshValueAction(f completionFlag) string {
	for _, n := range f.Names {
		if n == "--config" {
			return "_files"
		}
	}
	return ""
}

// zshEscape keeps a description from ending _arguments' [...] or :field.
func zshEscape(s string) string {
	return strings.NewReplacer(`\`, `\\`, "[", `\[`, "]", `\]`, ":", `\:`).Replace(s)
}

// zshQuote single-quotes a word for zsh (and sh).
func zshQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
