package job

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// FuzzLoad reads arbitrary job responses and CUSTOM_ENV_ variables, both
// written by whoever writes the pipeline: Load must never panic, and
// Scrub must hide every masked value in every form k8sdrv prints it,
// wherever in a message it sits. environ holds NAME=VALUE entries
// separated by NUL; before and after surround the value in the message.
func FuzzLoad(f *testing.F) {
	files, err := filepath.Glob("../podbuilder/testdata/*.job.json")
	if err != nil || len(files) == 0 {
		f.Fatalf("no job responses to seed from (%v)", err)
	}
	for _, file := range files {
		data, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data, "CUSTOM_ENV_CI_JOB_ID=1", "error: ", "\n")
	}
	for _, seed := range []struct{ response, environ, before, after string }{
		{`{"variables":[{"key":"TOKEN","value":"s3cr\"et\\n","masked":true}]}`, "CUSTOM_ENV_TOKEN=s3cr\"et\\n", `value "`, `" refused`},
		{`{"variables":[{"key":"A","value":"ab","masked":true},{"key":"B","value":"abcd","masked":true}]}`, "", "x", "cd"},
		{`{"variables":[{"key":"U","value":"é<&>\u2028\t","masked":true}]}`, "", "", ""},
		{`{"variables":[{"key":"M","value":"ASKED","masked":true},{"key":"K","value":"]x","masked":true}]}`, "", "[M", "]"},
		{`{"image":{"name":"alpine","pull_policy":["always"]},"services":[{"name":"redis","alias":"a,b c"}],"runner_info":{"timeout":3600}}`, "", "", ""},
		{`{"variables":[{"key":"X","value":1}]}`, "", "", ""},
		{`not json`, "CUSTOM_ENV_CI_JOB_SERVICES=[{]\x00CUSTOM_ENV_CI_JOB_TIMEOUT=x", "", ""},
	} {
		f.Add([]byte(seed.response), seed.environ, seed.before, seed.after)
	}
	path := filepath.Join(f.TempDir(), "response.json")
	f.Fuzz(func(t *testing.T, response []byte, environ, before, after string) {
		if err := os.WriteFile(path, response, 0o600); err != nil {
			t.Fatal(err)
		}
		j, err := Load(strings.Split(environ, "\x00"), path)
		if err != nil {
			return
		}
		for _, secret := range j.Masked {
			for _, msg := range messagesHolding(secret, before, after) {
				checkScrubbed(t, j, msg, secret)
			}
		}
	})
}

// messagesHolding returns the messages in which k8sdrv's output may hold
// secret: as it is, quoted once or twice (%q, %+q), and JSON-escaped, on
// its own and as part of a longer message that is quoted or escaped whole.
func messagesHolding(secret, before, after string) []string {
	msg := before + secret + after
	js, _ := json.Marshal(msg)
	return []string{
		msg,
		strconv.Quote(msg),
		strconv.QuoteToASCII(msg),
		strconv.Quote(strconv.Quote(msg)),
		string(js),
		before + strconv.Quote(secret) + after,
		before + string(js) + after,
	}
}

// checkScrubbed fails when the scrubbed message still shows secret
// outside the [MASKED] marks: raw, or in the form it had in msg.
func checkScrubbed(t *testing.T, j *Job, msg, secret string) {
	t.Helper()
	js, _ := json.Marshal(secret)
	forms := []string{secret, inner(strconv.Quote(secret)), inner(strconv.QuoteToASCII(secret)), inner(string(js))}
	scrubbed := j.Scrub(msg)
	// A piece of the marker and the text beside it may spell a short
	// value by chance: only the text between marks counts.
	for _, piece := range strings.Split(scrubbed, "[MASKED]") {
		for _, form := range forms {
			if strings.Contains(piece, form) {
				t.Fatalf("masked value %q (as %q) survives scrubbing:\n%q\n→ %q", secret, form, msg, scrubbed)
			}
		}
	}
}
