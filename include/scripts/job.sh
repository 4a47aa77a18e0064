#!/usr/bin/env bash
# job.sh: run a long database verb (backup, migrate, restore) detached from the SSH session
# that asked for it, with a status folder the task polls: a session that drops, or a task
# that times out, neither stops the work halfway nor starts it twice.
#
# usage: job.sh --deploy-path P --id ID --start --command CMD
#        job.sh --deploy-path P --id ID --wait SECONDS
#
#   --start    run CMD (one shell command line) in its own session, its output kept in
#              P/.deploy/jobs/ID/{out,err} and its exit code in .../exit once it ends. A job
#              ID that exists already is not started again: this attaches to it (a retry).
#   --wait     wait up to SECONDS for job ID to end; then print its output, its errors to
#              stderr, and exit with its exit code. Still running: exit 75. Gone without an
#              exit code (killed with the host): exit 4.
#
# The verb holds the database lock itself (lib.sh db_lock), so nothing else touches the
# database while a job runs, whoever polls it. Job folders older than 30 days are removed.
. "$(dirname "$0")/lib.sh"

path='' id='' cmd='' start=false wait=''
while [ $# -gt 0 ]; do
  case $1 in
    --deploy-path) need_value "$@"; path=$2; shift 2 ;;
    --id) need_value "$@"; id=$2; shift 2 ;;
    --command) need_value "$@"; cmd=$2; shift 2 ;;
    --start) start=true; shift ;;
    --wait) need_value "$@"; wait=$2; shift 2 ;;
    -h|--help) usage_from_header; exit 0 ;;
    *) die 2 "unknown option $1 (see job.sh -h)" ;;
  esac
done
[ -n "$path" ] && [ -n "$id" ] || die 2 "--deploy-path and --id are required"
[[ $id =~ ^[A-Za-z0-9][A-Za-z0-9._-]*$ ]] || die 2 "job id $id may hold only letters, digits, '.', '_' and '-'"
jobs="$path/.deploy/jobs"
dir="$jobs/$id"

if [ "$start" = true ]; then
  [ -n "$cmd" ] || die 2 "--start needs --command"
  mkdir -p "$jobs" || die 3 "cannot create $jobs on $HOST_NAME"
  find "$jobs" -mindepth 1 -maxdepth 1 -type d -mtime +30 -exec rm -rf {} + 2>/dev/null || true
  if ! mkdir "$dir" 2>/dev/null; then   # mkdir is the claim: one start per id, however many ask
    log "job $id started before on $HOST_NAME: attaching to it, not starting it again"
    result job "$id" state attached
    exit 0
  fi
  printf '%s\n' "$cmd" >"$dir/command"
  # its own session, no terminal, nothing read from or written to this one
  setsid bash -c 'bash -c "$1" >"$2/out" 2>"$2/err"; echo $? >"$2/exit.partial"; mv "$2/exit.partial" "$2/exit"' \
    job "$cmd" "$dir" </dev/null >/dev/null 2>&1 &
  echo $! >"$dir/pid"
  log "job $id started on $HOST_NAME (pid $!)"
  result job "$id" state started
  exit 0
fi

[ -n "$wait" ] || die 2 "one of --start or --wait is required"
[[ $wait =~ ^[0-9]+$ ]] || die 2 "--wait takes whole seconds, not $wait"
[ -d "$dir" ] || die 3 "there is no job $id on $HOST_NAME ($dir)"
deadline=$(( $(date +%s) + wait ))
while [ ! -f "$dir/exit" ]; do
  if ! kill -0 "$(cat "$dir/pid" 2>/dev/null || echo 0)" 2>/dev/null && [ ! -f "$dir/exit" ]; then
    die 4 "job $id ended on $HOST_NAME without an exit code (killed, or the host restarted): see $dir/err; check the database before going on"
  fi
  [ "$(date +%s)" -lt "$deadline" ] || { result job "$id" state running; exit 75; }
  sleep 0.2
done
cat "$dir/err" >&2
cat "$dir/out"
exit "$(cat "$dir/exit")"
