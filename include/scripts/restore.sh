#!/usr/bin/env bash
# restore.sh: put the database back to a backup taken by backup.sh.
#
# usage: restore.sh --deploy-path P --name NAME [--dir DIR]
#
# Checks DIR/NAME.sql.gz (default DIR: P/.deploy/backups) against its sha256 and
# gzip's integrity test before touching anything. Then takes a safety dump of the
# database as it is now (DIR/safety/before-restore-TIME.sql.gz, the newest 3 kept:
# the way back if the restore was the wrong call), puts the app in maintenance
# (`php artisan down` from P/current: it answers 503 while the dump loads), loads
# the backup into the app's database (settings from P/shared/.env), drops the
# tables created after the backup (the schema is the backup's) and brings the app
# back up. A load that fails leaves the app down, the safety dump named.
# Every row written since the backup is lost: a person decides that (the
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
[ -f "$env_file" ] || die 3 "$env_file is missing on $HOST_NAME: the database settings are read from it"
kept=$(find "$dir" -maxdepth 1 -name '*.sql.gz' -printf '%f ' 2>/dev/null || true)
[ -f "$file" ] || die 3 "backup $file does not exist on $HOST_NAME: nothing was restored (kept backups: ${kept:-none})"
[ -f "$file.sha256" ] || die 3 "backup $file has no checksum beside it: it is not trusted, nothing was restored"
(cd "$dir" && sha256sum --quiet -c "$name.sql.gz.sha256") 2>/dev/null \
  || die 5 "backup $file does not match its checksum: nothing was restored"
gzip -t "$file" || die 5 "backup $file is not a valid gzip file: nothing was restored"
db=$(dotenv "$env_file" DB_DATABASE)
db_lock "$path"
db_query "$env_file" 'SELECT 1' >/dev/null || die 4 "database $db does not answer on $HOST_NAME: nothing was restored"
here=$(dirname "$0")

safety="before-restore-$(date -u +%Y%m%dT%H%M%S)"
"$here/backup.sh" --deploy-path "$path" --name "$safety" --dir "$dir/safety" --keep 3 >/dev/null \
  || die 4 "the safety dump of $db failed on $HOST_NAME (see above): nothing was restored"
log "safety dump of $db as it was: $dir/safety/$safety.sql.gz"

# maintenance mode while the dump loads: the app answers 503, not half-restored data
artisan() { [ -f "$path/current/artisan" ] && (cd "$path/current" && php artisan "$@" --no-interaction) >&2; }
down=false
if artisan down --retry=15; then down=true; else log "warning: php artisan down failed: the app stays up while the dump loads"; fi

# tables the backup does not know were created after it: drop them
in_dump=$(zcat "$file" | sed -nE 's/^CREATE TABLE `([^`]+)`.*/\1/p' | sort)
extra=$(comm -13 <(echo "$in_dump") <(db_query "$env_file" "SHOW FULL TABLES WHERE Table_type = 'BASE TABLE'" | cut -f1 | sort))
defaults=$(db_defaults_file "$env_file")
trap 'rm -f "$defaults"' EXIT
log "restoring $db from $file"
started=$(date +%s)
partly="the database may be partly restored and the app stays in maintenance: run restore.sh again, or load the safety dump $dir/safety/$safety.sql.gz"
zcat "$file" | mariadb --defaults-extra-file="$defaults" "$db" \
  || die 4 "loading $file into $db failed on $HOST_NAME: $partly"
for t in $extra; do
  log "dropping $t (created after the backup)"
  db_query "$env_file" "SET FOREIGN_KEY_CHECKS=0; DROP TABLE IF EXISTS \`$t\`" || die 4 "cannot drop $t: $partly"
done
if [ "$down" = true ]; then
  artisan up || die 4 "the database is restored but php artisan up failed on $HOST_NAME: run it in $path/current"
  log "the app was in maintenance for $(( $(date +%s) - started )) s"
fi
mkdir -p "$path/.deploy"
printf '{"time": "%s", "restored": %s, "database": %s, "safety_dump": %s, "user": %s}\n' "$(date -u +%FT%TZ)" \
  "$(json_str "$name")" "$(json_str "$db")" "$(json_str "$safety")" "$(json_str "$(id -un)")" >>"$path/.deploy/restores.log"
# shellcheck disable=SC2086  # one table name per word
result restored "$name" database "$db" dropped "$(json_list $extra)" safety_dump "$dir/safety/$safety.sql.gz" maintenance "$down"
