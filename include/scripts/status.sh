#!/usr/bin/env bash
# status.sh: what is live on this host, and which releases are kept.
#
# usage: status.sh --deploy-path P
#
# Last line: {"ok": true, "current": ID, "version": V, "previous": ID, "previous_good": ID,
#             "since": TIME, "run_id": RUN, "releases": [{"release": ID, "version": V, "live": bool, "bad": bool,
#                           "origin": "built"|"adopted"|"foreign"}, ...]}
# (newest first). "adopted": another tool deployed it and a release or rollback recorded it;
# "foreign": not recorded yet (its version from its VERSION file, or "unknown"); both are
# rollback targets. "since" and "run_id": when the live release went live and which run put it
# there (the releases log's last line about it; empty when the log does not know it). Changes nothing.
. "$(dirname "$0")/lib.sh"

path=''
while [ $# -gt 0 ]; do
  case $1 in
    --deploy-path) need_value "$@"; path=$2; shift 2 ;;
    -h|--help) usage_from_header; exit 0 ;;
    *) die 2 "unknown option $1 (see status.sh -h)" ;;
  esac
done
[ -n "$path" ] || die 2 "--deploy-path is required"
[ -d "$path" ] || die 3 "deploy path $path does not exist on $HOST_NAME"

origin_of() {  # release id
  local meta
  meta=$(release_meta "$path" "$1")
  case $meta in
    '') echo foreign ;;
    */.deploy/adopted/*) echo adopted ;;
    *) echo built ;;
  esac
}
version_of() {  # release id
  local meta
  [ -n "$1" ] || return 0
  meta=$(release_meta "$path" "$1")
  if [ -n "$meta" ]; then meta_version "$meta"; else foreign_version "$path/releases/$1"; fi
}

current=$(basename "$(readlink "$path/current" 2>/dev/null || true)")
previous="" since="" run_id=""
if [ -f "$path/.deploy/releases.log" ]; then
  previous=$(tail -n 1 "$path/.deploy/releases.log" | sed -E 's/.*"previous": "([^"]*)".*/\1/')
  went_live=$(grep -F "\"release\": $(json_str "$current")," "$path/.deploy/releases.log" | tail -n 1 || true)
  if [ -n "$current" ] && [ -n "$went_live" ]; then
    since=$(sed -nE 's/.*"time": "([^"]*)".*/\1/p' <<<"$went_live")
    run_id=$(sed -nE 's/.*"run_id": "([^"]*)".*/\1/p' <<<"$went_live")
  fi
fi
items=""
while IFS= read -r dir; do
  [ -n "$dir" ] || continue
  r=$(basename "$dir")
  case $r in *.partial) continue ;; esac
  live=false; [ "$r" = "$current" ] && live=true
  bad=false; grep -qxF "$r" <(bad_releases "$path") && bad=true
  items+="{\"release\": $(json_str "$r"), \"version\": $(json_str "$(version_of "$r")"), \"live\": $live, \"bad\": $bad, \"origin\": \"$(origin_of "$r")\"},"
done < <(releases_newest_first "$path")
result current "$current" version "$(version_of "$current")" previous "$previous" \
  previous_good "$(previous_good "$path")" since "$since" run_id "$run_id" releases "[${items%,}]"
