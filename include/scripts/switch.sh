#!/usr/bin/env bash
# switch.sh: make a release live: one atomic switch of `current`, then a graceful reload.
#
# usage: switch.sh --deploy-path P --release ID [--reload CMD] [--run-id RUN] [--event NAME]
#
#   --reload   the command that gracefully reloads PHP-FPM on this host
#              (e.g. 'sudo systemctl reload php8.2-fpm'); without it, nothing is reloaded
#   --run-id   who asked (the Airflow run), written to the releases log
#   --event    what to call it in the log: switch (default) or rollback
#
# `current` is replaced by rename(2), so every request sees either the old or
# the new release, never a mix. Switching to the live release again changes
# nothing (exit 0). Appends one JSON line to P/.deploy/releases.log right after
# the rename. The switch is reported apart from the reload: a reload that fails
# after the rename exits 0 with "switched": true, "reload": "failed", since
# `current` did change and only verification can say what is served now.
. "$(dirname "$0")/lib.sh"

path='' release='' reload='' run_id='' event=switch
while [ $# -gt 0 ]; do
  case $1 in
    --deploy-path) need_value "$@"; path=$2; shift 2 ;;
    --release) need_value "$@"; release=$2; shift 2 ;;
    --reload) reload=${2:-}; shift 2 ;;
    --run-id) run_id=${2:-}; shift 2 ;;
    --event) need_value "$@"; event=$2; shift 2 ;;
    -h|--help) usage_from_header; exit 0 ;;
    *) die 2 "unknown option $1 (see switch.sh -h)" ;;
  esac
done
[ -n "$path" ] && [ -n "$release" ] || die 2 "--deploy-path and --release are required"
check_release_id "$release"
check_deploy_path "$path"
target="$path/releases/$release"
meta=$(release_meta "$path" "$release")
[ -n "$meta" ] || die 3 "release $release is not a complete release on $HOST_NAME ($target/.release.json missing, and not adopted): current is unchanged"
[ -e "$target/.env" ] || die 3 "release $release has no .env on $HOST_NAME (run shared.sh): current is unchanged"

previous=$(basename "$(readlink "$path/current" 2>/dev/null || true)")
changed=true
if [ "$previous" = "$release" ]; then
  changed=false
  log "$release is already live on $HOST_NAME"
else
  ln -sfn "releases/$release" "$path/current.tmp.$$"
  mv -Tf "$path/current.tmp.$$" "$path/current"
  log "current: ${previous:-none} -> $release"
fi
version=$(meta_version "$meta")
mkdir -p "$path/.deploy"
if [ "$changed" = true ]; then   # logged at once: whatever happens next, the log says what current is
  printf '{"time": "%s", "event": %s, "release": %s, "version": %s, "previous": %s, "run_id": %s, "user": %s}\n' \
    "$(date -u +%FT%TZ)" "$(json_str "$event")" "$(json_str "$release")" "$(json_str "$version")" \
    "$(json_str "$previous")" "$(json_str "$run_id")" "$(json_str "$(id -un)")" >>"$path/.deploy/releases.log"
fi
reloaded=none
if [ -n "$reload" ]; then
  if run_logged reload "$reload"; then
    reloaded=ok
  elif [ "$changed" = true ]; then
    reloaded=failed
    log "warning: the reload failed on $HOST_NAME after the switch: current points at $release; verification decides"
  else
    die 4 "php-fpm reload failed on $HOST_NAME ($release was live already, nothing switched): check php-fpm"
  fi
fi
result release "$release" version "$version" previous "$previous" changed "$changed" switched "$changed" reload "$reloaded"
