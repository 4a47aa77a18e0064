#!/usr/bin/env bash
# cleanup.sh: remove old releases, keeping the newest N, the live one and the one before it.
#
# usage: cleanup.sh --deploy-path P [--keep N]
#
# Also removes half-unpacked folders (*.partial) and uploads older than a day: a younger
# .partial may be another run's unpack in progress, and is left alone. Default N: 5.
. "$(dirname "$0")/lib.sh"

path='' keep=5
while [ $# -gt 0 ]; do
  case $1 in
    --deploy-path) need_value "$@"; path=$2; shift 2 ;;
    --keep) need_value "$@"; keep=$2; shift 2 ;;
    -h|--help) usage_from_header; exit 0 ;;
    *) die 2 "unknown option $1 (see cleanup.sh -h)" ;;
  esac
done
[ -n "$path" ] || die 2 "--deploy-path is required"
[[ $keep =~ ^[1-9][0-9]*$ ]] || die 2 "--keep must be a positive number"
check_deploy_path "$path"
[ -d "$path/releases" ] || { result removed "[]" kept "[]"; exit 0; }

live=$(basename "$(readlink "$path/current" 2>/dev/null || true)")
before=""
if [ -f "$path/.deploy/releases.log" ]; then
  before=$(tail -n 1 "$path/.deploy/releases.log" | sed -E 's/.*"previous": "([^"]*)".*/\1/')
fi
removed=() kept=()
n=0
while IFS= read -r dir; do
  [ -n "$dir" ] || continue
  r=$(basename "$dir")
  case $r in
    *.partial)
      if [ -n "$(find "$dir" -maxdepth 0 -mmin +1440)" ]; then rm -rf "$dir"; log "removed $r (left over for more than a day)"; fi
      continue ;;
  esac
  n=$((n + 1))
  if [ "$n" -le "$keep" ] || [ "$r" = "$live" ] || [ "$r" = "$before" ]; then
    kept+=("$r")
  else
    rm -rf "${path:?}/releases/$r"
    removed+=("$r")
  fi
done < <(releases_newest_first "$path")
find "$path/.deploy/uploads" -type f -mtime +1 -delete 2>/dev/null || true
log "kept ${#kept[@]} release(s), removed ${#removed[@]}"
result kept "$(json_list ${kept[@]+"${kept[@]}"})" removed "$(json_list ${removed[@]+"${removed[@]}"})"
