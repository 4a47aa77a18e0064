#!/usr/bin/env bash
# rollback.sh: go back to a good release on this host: the same atomic switch, backwards.
#
# usage: rollback.sh --deploy-path P [--from ID] [--to ID] [--reload CMD] [--run-id RUN] [--reason TEXT]
#                    [--migrations | --restore BACKUP] [--dry-run] [--rehearsal]
#
#   --from        the release this rollback leaves; when another one is live (the rollback
#                 ran already, or someone switched since), nothing is changed (exit 3)
#   --to          the release to go back to; default: the previous good release
#                 (the newest one live before the current one, kept and not marked bad)
#   --migrations  then undo the migrations the bad release ran (migrate.sh --rollback);
#                 on the environment's first host only, as the database is shared
#   --restore     then restore that backup (restore.sh): rows written since are lost
#   --dry-run     say what would happen, change nothing
#   --rehearsal   the release's rollback rehearsal on staging: the release left is not marked
#                 bad (it goes forward again), and releases.log calls it a rehearsal
#
# The release being left is marked bad (P/.deploy/bad-releases), so no later
# rollback goes back to it. Run again once --to is live, it changes nothing: not
# the code, and not the database (no migration undone twice, no second restore). The rollback DAG runs this on every host; when
# Airflow itself is down, an operator runs it by hand (break-glass):
#   P/.deploy/bin/rollback.sh --deploy-path P --reload 'sudo systemctl reload php8.2-fpm'
. "$(dirname "$0")/lib.sh"

path='' from='' to='' reload='' run_id='' reason='' db='' backup='' dry=false rehearsal=false
while [ $# -gt 0 ]; do
  case $1 in
    --deploy-path) need_value "$@"; path=$2; shift 2 ;;
    --from) need_value "$@"; from=$2; shift 2 ;;
    --to) need_value "$@"; to=$2; shift 2 ;;
    --reload) reload=${2:-}; shift 2 ;;
    --run-id) run_id=${2:-}; shift 2 ;;
    --reason) reason=${2:-}; shift 2 ;;
    --migrations) db=migrations; shift ;;
    --restore) need_value "$@"; db=restore; backup=$2; shift 2 ;;
    --dry-run) dry=true; shift ;;
    --rehearsal) rehearsal=true; shift ;;
    -h|--help) usage_from_header; exit 0 ;;
    *) die 2 "unknown option $1 (see rollback.sh -h)" ;;
  esac
done
[ -n "$path" ] || die 2 "--deploy-path is required"
check_deploy_path "$path"
here=$(dirname "$0")
current=$(basename "$(readlink "$path/current" 2>/dev/null || true)")
[ -n "$current" ] || die 3 "nothing is live on $HOST_NAME ($path/current is missing): nothing to roll back"
if [ -n "$from" ] && [ "$from" != "$current" ] && { [ -z "$to" ] || [ "$to" != "$current" ]; }; then
  die 3 "$from is not live on $HOST_NAME ($current is): this rollback ran already or someone switched since; nothing was changed"
fi
if [ -z "$to" ]; then
  to=$(previous_good "$path")
  [ -n "$to" ] || die 3 "no previous good release is kept on $HOST_NAME (live: $current): name one with --to (see status.sh)"
fi
check_release_id "$to"
[ "$dry" = true ] || adopt_releases "$path" "$run_id"   # another tool's releases are targets too
[ -n "$(release_meta "$path" "$to")" ] || { [ "$dry" = true ] && [ -d "$path/releases/$to" ]; } \
  || die 3 "release $to is not a kept release on $HOST_NAME: kept: $(releases_newest_first "$path" | xargs -r -n1 basename | paste -sd' ')"
if [ "$to" != "$current" ] && grep -qxF "$to" <(bad_releases "$path"); then
  die 3 "release $to was rolled back from before (marked bad on $HOST_NAME): choose another target"
fi
if [ "$dry" = true ]; then
  log "would switch $current -> $to${db:+ and then $db}"
  result dry_run true from "$current" to "$to" database "${db:-none}"
  exit 0
fi
if [ "$to" = "$current" ]; then
  # already done (a retry, a second submission): the database was handled by the run that switched
  [ -z "$db" ] || log "$to is live already on $HOST_NAME: the database is left as it is ($db not run again)"
  db=''
  from=${from:-$current}
elif [ "$rehearsal" = true ]; then
  log "rehearsing the rollback $current -> $to"
  from=$current
else
  grep -qxF "$current" <(bad_releases "$path") || echo "$current" >>"$path/.deploy/bad-releases"
  log "rolling back $current -> $to${reason:+ ($reason)}"
  from=$current
fi
event=rollback
[ "$rehearsal" = false ] || event=rehearsal
"$here/switch.sh" --deploy-path "$path" --release "$to" --reload "$reload" --run-id "$run_id" --event "$event" >/dev/null \
  || die 4 "the switch to $to failed on $HOST_NAME (see above)"
case $db in
  migrations) "$here/migrate.sh" --deploy-path "$path" --release "$from" --rollback >/dev/null || die 4 "rolling back $from's migrations failed" ;;
  restore) "$here/restore.sh" --deploy-path "$path" --name "$backup" >/dev/null || die 4 "restoring backup $backup failed" ;;
esac
meta=$(release_meta "$path" "$to")
version=$( [ -n "$meta" ] && meta_version "$meta" || foreign_version "$path/releases/$to")
result from "$from" to "$to" version "$version" database "${db:-none}" changed "$([ "$to" = "$current" ] && echo false || echo true)"
