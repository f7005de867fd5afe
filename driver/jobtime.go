package driver

import (
	"bufio"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// timesFile is the name, inside $TMPDIR, of the file in which prepare and
// each run append when they started and how long they took, so that
// cleanup can say where the job's time went. Each k8sdrv call is its own
// process and gitlab-runner calls them one after another, so appending a
// line each is safe.
const timesFile = "k8sdrv-times"

// callTime is one k8sdrv call of a job: "prepare" or the stage of a run.
type callTime struct {
	call    string
	start   time.Time
	elapsed time.Duration
}

// recordTime appends this process's call to the job's times file: from
// when the process started (d.Started) until now. A failure to write is a
// debug line: it costs only the summary at cleanup.
func (d *Driver) recordTime(call string) {
	line := fmt.Sprintf("%s %d %d\n", call, d.Started.UnixNano(), time.Since(d.Started).Nanoseconds())
	f, err := os.OpenFile(filepath.Join(d.Env.TmpDir, timesFile), os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err == nil {
		_, err = f.WriteString(line)
		err = errors.Join(err, f.Close())
	}
	if err != nil {
		d.Log.Debug().Msgf("record the time of %s: %v", call, err)
	}
}

// readTimes reads the job's times file; lines it cannot parse (none that
// k8sdrv wrote) are skipped.
func readTimes(dir string) ([]callTime, error) {
	f, err := os.Open(filepath.Join(dir, timesFile))
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var calls []callTime
	lines := bufio.NewScanner(f)
	for lines.Scan() {
		fields := strings.Fields(lines.Text())
		if len(fields) != 3 {
			continue
		}
		start, err1 := strconv.ParseInt(fields[1], 10, 64)
		elapsed, err2 := strconv.ParseInt(fields[2], 10, 64)
		if err1 != nil || err2 != nil || elapsed < 0 {
			continue
		}
		calls = append(calls, callTime{call: fields[0], start: time.Unix(0, start), elapsed: time.Duration(elapsed)})
	}
	return calls, lines.Err()
}

// jobTimeLine sums up a job at the end of its cleanup (which took
// cleanup): its time from the start of prepare, prepare's part (all of a
// retried prepare's calls in this TMPDIR), the stages' (and the longest
// one), and cleanup's. Without any call recorded it is empty.
func jobTimeLine(calls []callTime, now time.Time, cleanup time.Duration) string {
	if len(calls) == 0 {
		return ""
	}
	first := calls[0].start
	var prepare, stages time.Duration
	var longest callTime
	runs := 0
	for _, c := range calls {
		if c.start.Before(first) {
			first = c.start
		}
		if c.call == "prepare" {
			prepare += c.elapsed
			continue
		}
		runs++
		stages += c.elapsed
		if c.elapsed > longest.elapsed {
			longest = c
		}
	}
	line := fmt.Sprintf("Job took %s from prepare to the end of cleanup: prepare %s", roundDuration(now.Sub(first)), roundDuration(prepare))
	if runs > 0 {
		noun := "stages"
		if runs == 1 {
			noun = "stage"
		}
		line += fmt.Sprintf(", %d %s %s (longest %s %s)", runs, noun, roundDuration(stages), longest.call, roundDuration(longest.elapsed))
	}
	return line + ", cleanup " + roundDuration(cleanup)
}

// roundDuration shows a duration to a tenth of a second as prepare's
// timing line does ("2.9s"), with minutes and hours from one minute on
// ("1m4.2s").
func roundDuration(d time.Duration) string {
	if d < time.Minute {
		return seconds(d)
	}
	return d.Round(100 * time.Millisecond).String()
}

// endJobTime prints the job's summary line, when the times file is this
// job's (own: prepare's state was), and removes the file.
func (d *Driver) endJobTime(own bool) {
	if own {
		calls, err := readTimes(d.Env.TmpDir)
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			d.Log.Debug().Msgf("read the job's times: %v", err)
		}
		if line := jobTimeLine(calls, time.Now(), time.Since(d.Started)); line != "" {
			d.Log.Info().Msg(line)
		}
	}
	if err := os.Remove(filepath.Join(d.Env.TmpDir, timesFile)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		d.Log.Debug().Msgf("remove the job's times: %v", err)
	}
}
