# shellcheck shell=bash
# Sourced by every verb script in this folder. Not run on its own.
#
# Conventions of the verb scripts:
#   - `set -euo pipefail`, idempotent, usage text on -h;
#   - progress and errors go to stderr, one line each, prefixed with the verb;
#   - the last line on stdout is one JSON object: {"ok": true|false, "verb": ..., ...};
#   - exit codes: 0 done, 2 usage error, 3 precondition not met (nothing changed),
#     4 a command of the step failed, 5 a check failed, 6 locked by another run.
set -euo pipefail

VERB=$(basename "$0" .sh)
STARTED_NS=$(date +%s%N)
# The host as the environment file names it (Airflow sets it), else the machine's own name.
HOST_NAME=${DEPLOY_HOST_NAME:-$(hostname)}

# Progress goes to stderr; once the SSH session that started a script is gone, writing to it fails
# (the database verbs ignore SIGPIPE so they finish their work): a lost line is never fatal.
log() { printf '%s %s: %s\n' "$(date -u +%H:%M:%S)" "$VERB" "$*" >&2 2>/dev/null || true; }

# JSON string literal of $1.
json_str() {
  local s=$1
  s=${s//\\/\\\\}
  s=${s//\"/\\\"}
  s=${s//$'\n'/\\n}
  s=${s//$'\r'/\\r}
  s=${s//$'\t'/\\t}
  printf '"%s"' "$s"
}

# json_list ITEM...: a JSON array of strings.
json_list() {
  local out="" x
  for x in "$@"; do out+="$(json_str "$x"),"; done
  printf '[%s]' "${out%,}"
}

elapsed() { echo "$(( ($(date +%s%N) - STARTED_NS) / 1000000 ))" | awk '{printf "%.3f", $1/1000}'; }

# result KEY VALUE [KEY VALUE ...]: the closing JSON line. A value that starts
# with [ or { or is a number, true, false or null is written as it is.
result() {
  local out k v
  out="{\"ok\": true, \"verb\": \"$VERB\", \"host\": $(json_str "$HOST_NAME")"
  while [ $# -ge 2 ]; do
    k=$1 v=$2; shift 2
    case $k in  # names and versions stay strings, even a release named 2 (as Deployer names them)
      release|current|current_version|previous|previous_good|from|to|version|restored|name) out+=", \"$k\": $(json_str "$v")"; continue ;;
    esac
    if [[ $v =~ ^(-?[0-9]+(\.[0-9]+)?|true|false|null|\[.*\]|\{.*\})$ ]]; then
      out+=", \"$k\": $v"
    else
      out+=", \"$k\": $(json_str "$v")"
    fi
  done
  printf '%s, "seconds": %s}\n' "$out" "$(elapsed)"
}

# die CODE MESSAGE: say what went wrong and what to do, close with a JSON line, exit.
die() {
  local code=$1; shift
  log "error: $*"
  printf '{"ok": false, "verb": "%s", "exit": %s, "error": %s, "seconds": %s}\n' \
    "$VERB" "$code" "$(json_str "$*")" "$(elapsed)"
  exit "$code"
}

# releases_newest_first PATH: the release folders under PATH/releases, newest first, one per line.
releases_newest_first() {
  # shellcheck disable=SC2012  # release ids are checked names: no newline can occur
  ls -1dt "$1"/releases/*/ 2>/dev/null | sed 's#/$##' || true
}

usage_from_header() {  # prints the comment block at the top of the calling script
  sed -n '2,/^[^#]/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'
}

need_value() {  # option value
  [ $# -ge 2 ] && [ -n "$2" ] || die 2 "option $1 needs a value (see $VERB.sh -h)"
}

# A release id names a folder under releases/: no slashes, no dots at the start.
check_release_id() {
  [[ $1 =~ ^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$ ]] || die 2 "release id '$1' is not valid: letters, digits, '.', '_' and '-' only"
}

# check_deploy_path PATH: the folder must exist and be writable by this user.
check_deploy_path() {
  [ -d "$1" ] || die 3 "deploy path $1 does not exist on $HOST_NAME: create it and its shared/ folder (shared/.env) first"
  [ -w "$1" ] || die 3 "deploy path $1 is not writable by $(id -un) on $HOST_NAME"
}

# run_logged DESCRIPTION COMMAND: run a configured shell command, with its output on stderr.
run_logged() {
  local what=$1 cmd=$2 rc=0
  log "$what: $cmd"
  bash -c "$cmd" >&2 || rc=$?
  return "$rc"
}

# dotenv FILE KEY: the value of KEY in a Laravel .env file (quotes removed).
# As Laravel reads it: 'single quotes' are literal, "double quotes" unescape \" and \\.
dotenv() {
  local v
  v=$(grep -E "^$2=" "$1" | tail -n 1 | cut -d= -f2-) || true
  if [[ $v == \"*\" && ${#v} -ge 2 ]]; then
    v=${v:1:${#v}-2}
    v=$(printf '%s' "$v" | sed -e 's/\\\\/\x01/g' -e 's/\\"/"/g' -e 's/\x01/\\/g')
  elif [[ $v == \'*\' && ${#v} -ge 2 ]]; then
    v=${v:1:${#v}-2}
  fi
  printf '%s' "$v"
}

# db_defaults_file ENV_FILE: a private client option file with the app's
# database credentials (so no password appears in a process list). Prints its path.
db_defaults_file() {
  local f
  f=$(mktemp)
  chmod 600 "$f"
  local password
  password=$(dotenv "$1" DB_PASSWORD)
  password=${password//\\/\\\\}   # an option file's quoted value unescapes \\ and \"
  password=${password//\"/\\\"}
  printf '[client]\nhost=%s\nport=%s\nuser=%s\npassword="%s"\n' \
    "$(dotenv "$1" DB_HOST)" "$(dotenv "$1" DB_PORT)" "$(dotenv "$1" DB_USERNAME)" "$password" >"$f"
  printf '%s' "$f"
}

# bad_releases PATH: the releases rolled back from on this host (never chosen as a rollback target), one per line.
bad_releases() {
  [ -f "$1/.deploy/bad-releases" ] && cat "$1/.deploy/bad-releases" || true
}

# previous_good PATH: the release a rollback goes back to: the newest release that was live
# before the current one (per releases.log), is still kept, complete, and not marked bad.
previous_good() {
  local path=$1 current r
  current=$(basename "$(readlink "$path/current" 2>/dev/null || true)")
  [ -f "$path/.deploy/releases.log" ] || return 0
  # every release named in the log, newest first, once each
  tac "$path/.deploy/releases.log" | sed -E 's/.*"release": "([^"]*)".*"previous": "([^"]*)".*/\1\n\2/' \
    | awk 'NF && !seen[$0]++' | while IFS= read -r r; do
      [ "$r" = "$current" ] && continue
      grep -qxF "$r" <(bad_releases "$path") && continue
      [ -n "$(release_meta "$path" "$r")" ] || continue
      echo "$r"; break
    done
}

# test_summaries FILE: the summary lines of a test runner's output (PHPUnit 9-11, collision's
# `php artisan test`, Pest), colours and indentation removed, one per line.
test_summaries() {
  sed -E 's/\x1b\[[0-9;]*[A-Za-z]//g; s/^[[:space:]]+//' "$1" \
    | grep -E '^(OK \(|OK, but|Tests:|FAILURES!|ERRORS!)' || true
}

# release_meta PATH ID: the file that describes release ID: its .release.json (built here), or
# P/.deploy/adopted/ID.json (a release another tool deployed, adopted); nothing when it is neither.
release_meta() {
  if [ -f "$1/releases/$2/.release.json" ]; then
    printf '%s' "$1/releases/$2/.release.json"
  elif [ -f "$1/.deploy/adopted/$2.json" ]; then
    printf '%s' "$1/.deploy/adopted/$2.json"
  fi
}

# meta_version FILE: the "version" of a release's metadata file.
meta_version() { sed -E 's/.*"version": "([^"]*)".*/\1/' "$1"; }

# foreign_version DIR: the version of a release another tool deployed: its VERSION file, or "unknown".
foreign_version() {
  local v=''
  [ -f "$1/VERSION" ] && v=$(head -n 1 "$1/VERSION" | tr -d '[:space:]' | tr -cd 'A-Za-z0-9._+-' | cut -c1-64)
  printf '%s' "${v:-unknown}"
}

# adopt_releases PATH [RUN]: record every release folder without metadata (another tool deployed it) as
# adopted, in P/.deploy/adopted/ID.json, never writing into the folder itself; when the live release is
# one of them and releases.log does not know it, log it there, so the first rollback goes back to it.
adopt_releases() {
  local path=$1 run=${2:-} dir r v current
  current=$(basename "$(readlink "$path/current" 2>/dev/null || true)")
  while IFS= read -r dir; do
    [ -n "$dir" ] || continue
    r=$(basename "$dir")
    case $r in *.partial) continue ;; esac
    [[ $r =~ ^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$ ]] || continue
    [ -z "$(release_meta "$path" "$r")" ] || continue
    mkdir -p "$path/.deploy/adopted"
    v=$(foreign_version "$dir")
    printf '{"release": %s, "version": %s, "adopted": true, "adopted_at": "%s", "run_id": %s}\n' \
      "$(json_str "$r")" "$(json_str "$v")" "$(date -u +%FT%TZ)" "$(json_str "$run")" >"$path/.deploy/adopted/$r.json"
    log "adopted release $r (version $v), deployed before by another tool"
    if [ "$r" = "$current" ] && ! grep -qF "\"release\": $(json_str "$r")," "$path/.deploy/releases.log" 2>/dev/null; then
      printf '{"time": "%s", "event": "adopt", "release": %s, "version": %s, "previous": "", "run_id": %s, "user": %s}\n' \
        "$(date -u +%FT%TZ)" "$(json_str "$r")" "$(json_str "$v")" "$(json_str "$run")" "$(json_str "$(id -un)")" \
        >>"$path/.deploy/releases.log"
    fi
  done < <(releases_newest_first "$path")
}

# db_lock PATH: hold PATH/.deploy/db.lock (flock) until this script ends, so backups, migrations,
# restores and rollbacks of one database never overlap, even when the run that started one lost
# its SSH session or gave its Airflow lock back; the verbs it starts share it (DB_LOCK_HELD).
# The database verbs also ignore SIGPIPE: a session that drops does not stop them halfway.
db_lock() {
  trap '' PIPE
  [ -z "${DB_LOCK_HELD:-}" ] || return 0
  mkdir -p "$1/.deploy"
  exec 8>>"$1/.deploy/db.lock"
  if ! flock -n 8; then
    log "waiting for $1/.deploy/db.lock (held by: $(tail -n 1 "$1/.deploy/db.lock" 2>/dev/null))"
    flock -w "${DB_LOCK_WAIT:-900}" 8 \
      || die 6 "the database is busy on $HOST_NAME: $(tail -n 1 "$1/.deploy/db.lock" 2>/dev/null) still holds $1/.deploy/db.lock; wait for it to end (nothing was changed)"
  fi
  printf '%s %s (pid %s, %s)\n' "$(date -u +%FT%TZ)" "$VERB" "$$" "$(id -un)" >>"$1/.deploy/db.lock"
  export DB_LOCK_HELD=$VERB
}

# db_query ENV_FILE SQL: run one query as the app's database user; tab-separated rows, no header.
db_query() {
  local defaults rc=0
  defaults=$(db_defaults_file "$1")
  mariadb --defaults-extra-file="$defaults" --connect-timeout=5 -N -B "$(dotenv "$1" DB_DATABASE)" -e "$2" || rc=$?
  rm -f "$defaults"
  return "$rc"
}
