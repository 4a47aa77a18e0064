#!/usr/bin/env bash
# artisan.sh: run artisan commands in a release folder (caches, queue restart).
#
# usage: artisan.sh --deploy-path P --release ID COMMAND...
#
# Each COMMAND is one artisan command with its arguments, as one word, e.g.
#   artisan.sh --deploy-path /srv/app --release v1.2.0-1 config:cache route:cache
# Stops at the first command that fails (exit 4).
. "$(dirname "$0")/lib.sh"

path='' release=''
commands=()
while [ $# -gt 0 ]; do
  case $1 in
    --deploy-path) need_value "$@"; path=$2; shift 2 ;;
    --release) need_value "$@"; release=$2; shift 2 ;;
    -h|--help) usage_from_header; exit 0 ;;
    -*) die 2 "unknown option $1 (see artisan.sh -h)" ;;
    *) commands+=("$1"); shift ;;
  esac
done
[ -n "$path" ] && [ -n "$release" ] || die 2 "--deploy-path and --release are required"
check_release_id "$release"
target="$path/releases/$release"
[ -f "$target/artisan" ] || die 3 "release $release has no artisan on $HOST_NAME: is it unpacked?"

for c in ${commands[@]+"${commands[@]}"}; do
  [[ $c =~ ^[a-z][a-z:_-]*( [A-Za-z0-9=:_./-]+)*$ ]] || die 2 "'$c' is not an artisan command"
  log "php artisan $c"
  # shellcheck disable=SC2086  # the command's own words
  (cd "$target" && php artisan $c --no-interaction) >&2 || die 4 "php artisan $c failed in $release on $HOST_NAME (output above)"
done
result release "$release" commands "${commands[*]-}"
