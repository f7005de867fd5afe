#!/usr/bin/env bash
# run_exec of a Custom executor that runs every stage script with bash on
# this host, with no config, prepare or cleanup: the least a Custom
# executor job can cost, gitlab-runner's own floor (BenchmarkRunnerJob).
# Called as <script> <stage>.
if bash "$1"; then
  exit 0
else
  code=$?
fi
echo "$code" >"$BUILD_EXIT_CODE_FILE"
exit "$BUILD_FAILURE_EXIT_CODE"
