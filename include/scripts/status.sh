#!/usr/bin/env bash
# status.sh: what is live on this host, and which releases are kept.
#
# usage: status.sh --deploy-path P
#
# Last line: {"ok": true, "current": ID, "version": V, "previous": ID, "previous_good": ID,
#             "releases": [{"release": ID, "version": V, "live": bool, "bad": bool}, ...]}
# (newest first). Changes nothing.
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
[ -d "$path" ] || die 3 "deploy path $path does not exist on $(hostname)"

version_of() { [ -f "$1/.release.json" ] && sed -E 's/.*"version": "([^"]*)".*/\1/' "$1/.release.json" || echo ""; }

current=$(basename "$(readlink "$path/current" 2>/dev/null || true)")
previous=""
[ -f "$path/.deploy/releases.log" ] && previous=$(tail -n 1 "$path/.deploy/releases.log" | sed -E 's/.*"previous": "([^"]*)".*/\1/')
items=""
while IFS= read -r dir; do
  [ -n "$dir" ] || continue
  r=$(basename "$dir")
  case $r in *.partial) continue ;; esac
  live=false; [ "$r" = "$current" ] && live=true
  bad=false; grep -qxF "$r" <(bad_releases "$path") && bad=true
  items+="{\"release\": $(json_str "$r"), \"version\": $(json_str "$(version_of "$dir")"), \"live\": $live, \"bad\": $bad},"
done < <(releases_newest_first "$path")
result current "$current" version "$(version_of "$path/current")" previous "$previous" \
  previous_good "$(previous_good "$path")" releases "[${items%,}]"
