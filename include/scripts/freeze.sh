#!/usr/bin/env bash
# freeze.sh: stop new deployments to an environment, or allow them again.
#
# usage: freeze.sh --deploy-path P --set --reason TEXT --by WHO
#        freeze.sh --deploy-path P --clear --by WHO [--only-by OWNER]
#        freeze.sh --deploy-path P                    the current state
#
# The freeze is P/.deploy/freeze (kept on the environment's first host): a
# JSON line saying who froze it, when and why. Releases check it before they
# touch the environment. Every change is appended to P/.deploy/freeze.log.
# Setting an existing freeze again replaces its reason; clearing a clear
# environment changes nothing. With --only-by, only a freeze OWNER set is
# cleared: a rollback lifts its own freeze, never an operator's.
. "$(dirname "$0")/lib.sh"

path='' reason='' by='' only_by='' action=status
while [ $# -gt 0 ]; do
  case $1 in
    --deploy-path) need_value "$@"; path=$2; shift 2 ;;
    --set) action='set'; shift ;;
    --clear) action='clear'; shift ;;
    --reason) reason=${2:-}; shift 2 ;;
    --by) by=${2:-}; shift 2 ;;
    --only-by) need_value "$@"; only_by=$2; shift 2 ;;
    -h|--help) usage_from_header; exit 0 ;;
    *) die 2 "unknown option $1 (see freeze.sh -h)" ;;
  esac
done
[ -n "$path" ] || die 2 "--deploy-path is required"
check_deploy_path "$path"
mkdir -p "$path/.deploy"
file="$path/.deploy/freeze"

case $action in
  set)
    [ -n "$reason" ] || die 2 "--reason is required: say why deployments stop (the incident)"
    [ -n "$by" ] || die 2 "--by is required: who freezes"
    line=$(printf '{"frozen": true, "since": "%s", "by": %s, "reason": %s}' \
      "$(date -u +%FT%TZ)" "$(json_str "$by")" "$(json_str "$reason")")
    printf '%s\n' "$line" >"$file.tmp" && mv -f "$file.tmp" "$file"
    printf '%s\n' "$line" >>"$path/.deploy/freeze.log"
    log "frozen by $by: $reason" ;;
  clear)
    [ -n "$by" ] || die 2 "--by is required: who clears the freeze"
    if [ -f "$file" ] && [ -n "$only_by" ] && ! grep -qF "\"by\": $(json_str "$only_by")" "$file"; then
      log "kept: the freeze was set by someone else ($(cat "$file"))"
    elif [ -f "$file" ]; then
      rm -f "$file"
      printf '{"frozen": false, "since": "%s", "by": %s}\n' "$(date -u +%FT%TZ)" "$(json_str "$by")" >>"$path/.deploy/freeze.log"
      log "cleared by $by"
    else
      log "not frozen"
    fi ;;
esac
if [ -f "$file" ]; then
  result frozen true freeze "$(cat "$file")"
else
  result frozen false
fi
