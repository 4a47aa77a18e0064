#!/usr/bin/env bash
# restore.sh: put the database back to a backup taken by backup.sh.
#
# usage: restore.sh --deploy-path P --name NAME [--dir DIR]
#
# Checks DIR/NAME.sql.gz (default DIR: P/.deploy/backups) against its sha256 and
# gzip's integrity test before touching anything, then loads it into the
# app's database (settings from P/shared/.env). Tables created after the backup
# (by the release being undone) are dropped, so the schema is the backup's.
# Every row written since the backup is lost: the caller decides that (the
# rollback shows how many first). Appends to P/.deploy/restores.log.
. "$(dirname "$0")/lib.sh"

path='' name='' dir=''
while [ $# -gt 0 ]; do
  case $1 in
    --deploy-path) need_value "$@"; path=$2; shift 2 ;;
    --name) need_value "$@"; name=$2; shift 2 ;;
    --dir) need_value "$@"; dir=$2; shift 2 ;;
    -h|--help) usage_from_header; exit 0 ;;
    *) die 2 "unknown option $1 (see restore.sh -h)" ;;
  esac
done
[ -n "$path" ] && [ -n "$name" ] || die 2 "--deploy-path and --name are required"
check_release_id "$name"
dir=${dir:-$path/.deploy/backups}
env_file="$path/shared/.env"
file="$dir/$name.sql.gz"
[ -f "$env_file" ] || die 3 "$env_file is missing on $(hostname): the database settings are read from it"
kept=$(find "$dir" -maxdepth 1 -name '*.sql.gz' -printf '%f ' 2>/dev/null || true)
[ -f "$file" ] || die 3 "backup $file does not exist on $(hostname): nothing was restored (kept backups: ${kept:-none})"
[ -f "$file.sha256" ] || die 3 "backup $file has no checksum beside it: it is not trusted, nothing was restored"
(cd "$dir" && sha256sum --quiet -c "$name.sql.gz.sha256") 2>/dev/null \
  || die 5 "backup $file does not match its checksum: nothing was restored"
gzip -t "$file" || die 5 "backup $file is not a valid gzip file: nothing was restored"
db=$(dotenv "$env_file" DB_DATABASE)
db_query "$env_file" 'SELECT 1' >/dev/null || die 4 "database $db does not answer on $(hostname): nothing was restored"

# tables the backup does not know were created after it: drop them
in_dump=$(zcat "$file" | sed -nE 's/^CREATE TABLE `([^`]+)`.*/\1/p' | sort)
extra=$(comm -13 <(echo "$in_dump") <(db_query "$env_file" "SHOW FULL TABLES WHERE Table_type = 'BASE TABLE'" | cut -f1 | sort))
defaults=$(db_defaults_file "$env_file")
trap 'rm -f "$defaults"' EXIT
log "restoring $db from $file"
zcat "$file" | mariadb --defaults-extra-file="$defaults" "$db" \
  || die 4 "loading $file into $db failed on $(hostname): the database may be partly restored; run restore.sh again"
for t in $extra; do
  log "dropping $t (created after the backup)"
  db_query "$env_file" "SET FOREIGN_KEY_CHECKS=0; DROP TABLE IF EXISTS \`$t\`" || die 4 "cannot drop $t"
done
mkdir -p "$path/.deploy"
printf '{"time": "%s", "restored": %s, "database": %s, "user": %s}\n' "$(date -u +%FT%TZ)" \
  "$(json_str "$name")" "$(json_str "$db")" "$(json_str "$(id -un)")" >>"$path/.deploy/restores.log"
# shellcheck disable=SC2086  # one table name per word
result restored "$name" database "$db" dropped "$(json_list $extra)"
