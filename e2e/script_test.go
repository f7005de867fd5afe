package e2e

import (
	"sort"
	"strings"
)

// runnerScript returns a stage script shaped like the ones gitlab-runner
// hands to a Custom executor: bash, a TERM trap, pipefail and errexit, then
// `: | eval $'...'` holding the exports and the commands.
func runnerScript(exports map[string]string, commands string) string {
	keys := make([]string, 0, len(exports))
	for k := range exports {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var body strings.Builder
	for _, k := range keys {
		body.WriteString("export " + k + "=" + shellQuote(exports[k]) + "\n")
	}
	body.WriteString(commands)
	return "#!/usr/bin/env bash\n\n" +
		"trap exit 1 TERM\n\n" +
		"if set -o | grep pipefail > /dev/null; then set -o pipefail; fi; set -o errexit\n" +
		"set +o noclobber\n" +
		": | eval " + ansiC(body.String()) + "\n" +
		"exit 0\n"
}

// shellQuote quotes s for a POSIX shell.
func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// ansiC quotes s as bash's $'...'.
func ansiC(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `'`, `\'`, "\n", `\n`, "\t", `\t`)
	return "$'" + r.Replace(s) + "'"
}
