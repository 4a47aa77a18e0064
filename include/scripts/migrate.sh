#!/usr/bin/env bash
# migrate.sh: run the database migrations of a release, once per environment.
#
# usage: migrate.sh --deploy-path P --release ID
#
# Runs `php artisan migrate --force` from P/releases/ID (the new code, not yet
# live) and records which migrations ran in P/.deploy/migrations.log, so a
# rollback knows what this release added. Never retried blindly: a failure
# exits 4 and says which migration failed.
. "$(dirname "$0")/lib.sh"

path='' release=''
while [ $# -gt 0 ]; do
  case $1 in
    --deploy-path) need_value "$@"; path=$2; shift 2 ;;
    --release) need_value "$@"; release=$2; shift 2 ;;
    -h|--help) usage_from_header; exit 0 ;;
    *) die 2 "unknown option $1 (see migrate.sh -h)" ;;
  esac
done
[ -n "$path" ] && [ -n "$release" ] || die 2 "--deploy-path and --release are required"
check_release_id "$release"
target="$path/releases/$release"
[ -f "$target/artisan" ] || die 3 "release $release is not unpacked on $(hostname)"

out=$(mktemp)
trap 'rm -f "$out"' EXIT
if ! (cd "$target" && php artisan migrate --force --no-interaction) >"$out" 2>&1; then
  cat "$out" >&2
  failed=$(grep -E '^Migrating:' "$out" | tail -n 1 | sed 's/^Migrating: *//')
  die 4 "migration ${failed:-of $release} failed on $(hostname): the database may be partly migrated; restore the backup or fix forward (output above)"
fi
cat "$out" >&2
migrated=$(grep -E '^Migrated:' "$out" | sed -E 's/^Migrated: +([^ ]+).*/\1/' || true)
# shellcheck disable=SC2086  # one migration name per word
list=$(json_list $migrated)
mkdir -p "$path/.deploy"
printf '{"time": "%s", "release": %s, "migrated": %s}\n' "$(date -u +%FT%TZ)" "$(json_str "$release")" "$list" >>"$path/.deploy/migrations.log"
count=$(echo "$migrated" | grep -c . || true)
log "$count migration(s) ran for $release"
result release "$release" migrated "$list" count "$count"
