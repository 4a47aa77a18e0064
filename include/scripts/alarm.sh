#!/usr/bin/env bash
# alarm.sh: raise or clear the critical-vulnerability alarm of an environment.
#
# usage: alarm.sh --deploy-path P --raise --reason TEXT --by WHO
#        alarm.sh --deploy-path P --clear --by WHO
#        alarm.sh --deploy-path P                     the current state
#
# An operator or a scanner raises it when the live release has a critical
# vulnerability: the release being verified or watched rolls back ("critical
# security vulnerability", the first rollback trigger). Kept in
# P/.deploy/security-alarm on the environment's first host; every change is
# appended to P/.deploy/security-alarm.log.
. "$(dirname "$0")/lib.sh"

path='' reason='' by='' action=status
while [ $# -gt 0 ]; do
  case $1 in
    --deploy-path) need_value "$@"; path=$2; shift 2 ;;
    --raise) action=raise; shift ;;
    --clear) action=clear; shift ;;
    --reason) reason=${2:-}; shift 2 ;;
    --by) by=${2:-}; shift 2 ;;
    -h|--help) usage_from_header; exit 0 ;;
    *) die 2 "unknown option $1 (see alarm.sh -h)" ;;
  esac
done
[ -n "$path" ] || die 2 "--deploy-path is required"
check_deploy_path "$path"
mkdir -p "$path/.deploy"
file="$path/.deploy/security-alarm"
case $action in
  raise)
    [ -n "$reason" ] || die 2 "--reason is required: which vulnerability"
    [ -n "$by" ] || die 2 "--by is required: who raises the alarm"
    line=$(printf '{"raised": true, "since": "%s", "by": %s, "reason": %s}' \
      "$(date -u +%FT%TZ)" "$(json_str "$by")" "$(json_str "$reason")")
    printf '%s\n' "$line" >"$file.tmp" && mv -f "$file.tmp" "$file"
    printf '%s\n' "$line" >>"$file.log"
    log "raised by $by: $reason" ;;
  clear)
    [ -n "$by" ] || die 2 "--by is required: who clears the alarm"
    if [ -f "$file" ]; then
      rm -f "$file"
      printf '{"raised": false, "since": "%s", "by": %s}\n' "$(date -u +%FT%TZ)" "$(json_str "$by")" >>"$file.log"
      log "cleared by $by"
    fi ;;
esac
if [ -f "$file" ]; then result raised true alarm "$(cat "$file")"; else result raised false; fi
