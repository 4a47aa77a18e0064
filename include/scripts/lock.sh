#!/usr/bin/env bash
# lock.sh: the environment's deploy lock, kept on its first host (P/.deploy/lock).
#
# usage: lock.sh --deploy-path P --owner ID [--by WHO]      take the lock
#        lock.sh --deploy-path P --status                     who holds it
#        lock.sh --deploy-path P --release --owner ID         give it back (only its owner)
#        lock.sh --deploy-path P --break --owner ID           clear a stale lock held by ID
#
#   --owner  who takes or holds it: the Airflow run (dag_id/run_id)
#   --by     a readable label for the log (release type, version)
#
# Taking is one mkdir(2): of two runs asking at once, exactly one gets it.
# Taking a lock you already hold succeeds again (a retried task is safe).
# Exit 6 when another owner holds it; the last line says who and since when.
# --break only clears a lock whose owner is still ID, so a live run that took
# the lock in the meantime never loses it. Every change is logged in
# P/.deploy/lock.log.
. "$(dirname "$0")/lib.sh"

path='' owner='' by='' action=take
while [ $# -gt 0 ]; do
  case $1 in
    --deploy-path) need_value "$@"; path=$2; shift 2 ;;
    --owner) need_value "$@"; owner=$2; shift 2 ;;
    --by) by=${2:-}; shift 2 ;;
    --status) action='status'; shift ;;
    --release) action='release'; shift ;;
    --break) action='break'; shift ;;
    -h|--help) usage_from_header; exit 0 ;;
    *) die 2 "unknown option $1 (see lock.sh -h)" ;;
  esac
done
[ -n "$path" ] || die 2 "--deploy-path is required"
[ "$action" = status ] || [ -n "$owner" ] || die 2 "--owner is required to take, release or break the lock"
check_deploy_path "$path"
mkdir -p "$path/.deploy"
lock="$path/.deploy/lock"

holder() { cat "$lock/owner" 2>/dev/null || true; }
since() { cat "$lock/since" 2>/dev/null || true; }
journal() {
  printf '{"at": "%s", "event": "%s", "owner": %s, "by": %s}\n' \
    "$(date -u +%FT%TZ)" "$1" "$(json_str "$owner")" "$(json_str "$by")" >>"$path/.deploy/lock.log"
}
held() { result locked true held_by "$(holder)" since "$(since)" label "$(cat "$lock/by" 2>/dev/null || true)"; }

case $action in
  status)
    if [ -d "$lock" ]; then held; else result locked false; fi ;;
  take)
    # the lock is born with its owner: a folder filled first, then renamed into place (rename(2) is
    # atomic and fails onto a lock that exists), so nobody ever sees a lock without an owner
    fresh="$path/.deploy/.lock.$$"
    rm -rf "$fresh" && mkdir "$fresh"
    printf '%s' "$owner" >"$fresh/owner"
    printf '%s' "$by" >"$fresh/by"
    date -u +%FT%TZ >"$fresh/since"
    if mv -T "$fresh" "$lock" 2>/dev/null; then
      journal take
      log "locked for $owner${by:+ ($by)}"
      held
    elif rm -rf "$fresh" && [ "$(holder)" = "$owner" ]; then
      log "already held by $owner"
      held
    else
      log "held by $(holder) since $(since)"
      held
      exit 6
    fi ;;
  release|break)
    if [ ! -d "$lock" ]; then
      log "not locked"
      result locked false
    elif [ "$(holder)" = "$owner" ]; then
      # rename first: a concurrent take sees either the old lock or none, never a half-removed one
      mv "$lock" "$lock.$$.gone" && rm -rf "$lock.$$.gone"
      journal "$action"
      log "$action: lock of $owner removed"
      result locked false
    else
      log "held by $(holder), not by $owner: left alone"
      held
      exit 6
    fi ;;
esac
