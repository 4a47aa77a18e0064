#!/usr/bin/env bash
# migrate.sh: run the database migrations of a release, once per environment.
#
# usage: migrate.sh --deploy-path P --release ID [--rollback]
#
#   --rollback  undo the migrations release ID ran (the newest batch, which must be
#               exactly those): `php artisan migrate:rollback` from P/releases/ID,
#               the folder that holds their down() methods. Nothing to undo: exit 0.
#
# Runs `php artisan migrate --force` from P/releases/ID (the new code, not yet
# live) and records which migrations ran in P/.deploy/migrations.log, so a
# rollback knows what this release added. What ran is read from Laravel's
# `migrations` table (names and batch, before and after), never from artisan's
# wording, which changes between Laravel versions. Never retried blindly: a
# failure exits 4 and says which migration failed.
. "$(dirname "$0")/lib.sh"

path='' release='' rollback=false
while [ $# -gt 0 ]; do
  case $1 in
    --deploy-path) need_value "$@"; path=$2; shift 2 ;;
    --release) need_value "$@"; release=$2; shift 2 ;;
    --rollback) rollback=true; shift ;;
    -h|--help) usage_from_header; exit 0 ;;
    *) die 2 "unknown option $1 (see migrate.sh -h)" ;;
  esac
done
[ -n "$path" ] && [ -n "$release" ] || die 2 "--deploy-path and --release are required"
check_release_id "$release"
target="$path/releases/$release"
[ -f "$target/artisan" ] || die 3 "release $release is not unpacked on $HOST_NAME"

out=$(mktemp)
trap 'rm -f "$out"' EXIT
db_lock "$path"

if [ "$rollback" = true ]; then
  ran=$(grep -F "\"release\": $(json_str "$release")," "$path/.deploy/migrations.log" 2>/dev/null | grep '"migrated"' | tail -n 1 \
    | sed -E 's/.*"migrated": \[(.*)\].*/\1/' | tr -d '" ' | tr ',' '\n' | grep . | sort || true)
  if [ -z "$ran" ]; then
    log "release $release ran no migrations here: nothing to roll back"
    result release "$release" rolled_back "[]" count 0
    exit 0
  fi
  newest=$(db_query "$path/shared/.env" "SELECT migration FROM migrations WHERE batch = (SELECT MAX(batch) FROM migrations)" | sort)
  [ "$newest" = "$ran" ] || die 3 "the newest migration batch on $HOST_NAME is not the one $release ran (newest: $(echo $newest), $release ran: $(echo $ran)): nothing rolled back; restore the backup instead"
  if ! (cd "$target" && php artisan migrate:rollback --force --no-interaction) >"$out" 2>&1; then
    cat "$out" >&2 2>/dev/null || true
    die 4 "rolling back the migrations of $release failed on $HOST_NAME (output above): restore the backup"
  fi
  # shellcheck disable=SC2086  # one migration name per word
  list=$(json_list $ran)
  printf '{"time": "%s", "release": %s, "rolled_back": %s}\n' "$(date -u +%FT%TZ)" "$(json_str "$release")" "$list" >>"$path/.deploy/migrations.log"
  cat "$out" >&2 2>/dev/null || true   # after the log: a session gone by now loses only these lines
  log "rolled back $(echo "$ran" | wc -l) migration(s) of $release"
  result release "$release" rolled_back "$list" count "$(echo "$ran" | wc -l)"
  exit 0
fi
# ran_migrations: every migration Laravel's table records as run, "name<TAB>batch", oldest first
ran_migrations() {
  local env_file=$path/shared/.env
  [ -n "$(db_query "$env_file" "SHOW TABLES LIKE 'migrations'")" ] || return 0   # none ran yet
  db_query "$env_file" "SELECT migration, batch FROM migrations ORDER BY batch, id"
}
before=$(ran_migrations) || die 4 "cannot read the migrations table on $HOST_NAME: check the database settings in $path/shared/.env"
if ! (cd "$target" && php artisan migrate --force --no-interaction) >"$out" 2>&1; then
  cat "$out" >&2 2>/dev/null || true
  # Laravel 8: "Migrating: NAME"; 9 and later: "NAME ........ FAIL"
  failed=$(sed -E 's/\x1b\[[0-9;]*[A-Za-z]//g; s/^[[:space:]]+//' "$out" \
    | sed -nE 's/^Migrating: +([^ ]+).*/\1/p; s/^([0-9]{4}_[0-9]{2}_[0-9]{2}_[0-9]{6}_[A-Za-z0-9_]+) .*FAIL$/\1/p' | tail -n 1)
  die 4 "migration ${failed:-of $release} failed on $HOST_NAME: the database may be partly migrated; restore the backup or fix forward (output above)"
fi
after=$(ran_migrations) || die 4 "cannot read the migrations table on $HOST_NAME after migrating: the release's migrations ran; check $path/shared/.env"
migrated=$(comm -13 <(echo "$before" | cut -f1 | sort) <(echo "$after" | cut -f1 | sort) | grep . || true)
batch=$(echo "$after" | awk -F'\t' 'NF == 2 && $2 > max {max = $2} END {print max + 0}')
# shellcheck disable=SC2086  # one migration name per word
list=$(json_list $migrated)
mkdir -p "$path/.deploy"
count=$(echo "$migrated" | grep -c . || true)
[ "$count" -gt 0 ] || batch=null
line=$(printf '{"time": "%s", "release": %s, "migrated": %s, "batch": %s}' "$(date -u +%FT%TZ)" "$(json_str "$release")" "$list" "$batch")
printf '%s\n' "$line" >>"$path/.deploy/migrations.log"   # written before anything is printed
cat "$out" >&2 2>/dev/null || true
log "$count migration(s) ran for $release${migrated:+ (batch $batch)}"
result release "$release" migrated "$list" count "$count" batch "$batch"
