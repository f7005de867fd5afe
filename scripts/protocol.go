package scripts

// The stage protocol: the words that k8sdrv (package attach) and stage.sh
// exchange, and the names of the files the scripts share for a stage.
// TestScriptsSpeakTheProtocol holds every script here to exactly these.

// Modes: stage.sh's first argument.
const (
	ModeStart  = "start"  // DIR SIZE BIN SUPERVISE, the stage script on stdin
	ModeFollow = "follow" // DIR OFFSET
	ModeSignal = "signal" // DIR SIGNAL
)

// Protocol lines: stage.sh writes them to its stderr, a line each, and
// nothing else there but what the container's shell says on its own.
const (
	// StatusLine ends a stage: "k8sdrv-status CODE LOGSIZE". LOGSIZE is
	// the log's final size, so that k8sdrv can check it holds every byte.
	StatusLine = "k8sdrv-status"
	// ErrorLine reports why a stage could not be started or followed:
	// "k8sdrv-error WHAT". WHAT starts with one of the failures below, or
	// is a diagnostic that k8sdrv shows as it is.
	ErrorLine = "k8sdrv-error"
	// ReadyLine reports a port that listens: "k8sdrv-ready PORT"
	// (waitports.sh, which may also write an ErrorLine).
	ReadyLine = "k8sdrv-ready"
)

// Failures: the first word of an ErrorLine that k8sdrv acts on.
const (
	// FailNotStarted: no script ran in the directory, and none will
	// (a follower claimed it), so the stage may start again in a fresh one.
	FailNotStarted = "not-started"
	// FailIncompleteScript: the stream broke while the script was sent and
	// nothing ran; likewise safe to start again.
	FailIncompleteScript = "incomplete-script"
	// FailAbandoned: a start arrived after a follower had claimed its
	// directory. k8sdrv has moved on by then; nobody reads this but tests.
	FailAbandoned = "abandoned"
)

// stageFiles are the files of a stage's attempt, DIR.<name>, written and
// read by stage.sh and supervise.sh: the script, its log and exit code
// (status), the process group to signal (pgid), the current follower to
// wake (follower) and the claim that decides between a late start and a
// follower.
var stageFiles = []string{"script", "log", "status", "pgid", "follower", "claim"}

// wakeSignal is what supervise.sh sends the follower when the exit code is
// written, so that the follower does not sleep out its poll interval.
const wakeSignal = "USR1"
