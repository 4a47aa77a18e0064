#!/usr/bin/env bash
# backup.sh: a consistent, compressed, checksummed and verified database dump.
#
# usage: backup.sh --deploy-path P --name NAME [--dir DIR] [--keep N] [--copy CMD]
#
#   --copy   then copy the verified dump off the host with CMD (rsync, an object-store CLI...),
#            run with BACKUP_FILE and BACKUP_SHA256 set; its last line of output must be the
#            copy's sha256 (e.g. `... && ssh vault sha256sum /backups/$(basename "$BACKUP_FILE")`),
#            which must match: a copy that fails or differs fails the backup (exit 4 or 5)
#
# Reads the database settings (DB_HOST, DB_PORT, DB_DATABASE, DB_USERNAME,
# DB_PASSWORD) from P/shared/.env, so no credential leaves the host. Writes
# DIR/NAME.sql.gz (default DIR: P/.deploy/backups) with mariadb-dump
# --single-transaction (InnoDB: a consistent snapshot without locking writers),
# routines, triggers and events, then verifies it: gzip integrity, the dump's
# completion line, and the sha256 written beside it. Keeps the newest N (default 5).
# DIR/NAME.json records when the dump was taken and every table's row count
# just before it: a restore compares them with the live database, so it says how
# many rows it would lose. A dump holds every row of the app: the backups folder
# is 0700 and every file in it 0600 (umask 077).
. "$(dirname "$0")/lib.sh"
umask 077

path='' name='' dir='' keep=5 copy=''
while [ $# -gt 0 ]; do
  case $1 in
    --deploy-path) need_value "$@"; path=$2; shift 2 ;;
    --name) need_value "$@"; name=$2; shift 2 ;;
    --dir) need_value "$@"; dir=$2; shift 2 ;;
    --keep) need_value "$@"; keep=$2; shift 2 ;;
    --copy) copy=${2:-}; shift 2 ;;
    -h|--help) usage_from_header; exit 0 ;;
    *) die 2 "unknown option $1 (see backup.sh -h)" ;;
  esac
done
[ -n "$path" ] && [ -n "$name" ] || die 2 "--deploy-path and --name are required"
check_release_id "$name"
[[ $keep =~ ^[1-9][0-9]*$ ]] || die 2 "--keep must be a positive number"
dir=${dir:-$path/.deploy/backups}
env_file="$path/shared/.env"
[ -f "$env_file" ] || die 3 "$env_file is missing on $HOST_NAME: the database settings are read from it"

db=$(dotenv "$env_file" DB_DATABASE)
[ -n "$db" ] || die 3 "DB_DATABASE is not set in $env_file"

db_lock "$path"
mkdir -p "$dir"
chmod 700 "$dir" 2>/dev/null || log "warning: cannot make $dir private (0700): it is owned by $(stat -c %U "$dir")"
[ -w "$dir" ] || die 3 "backup folder $dir is not writable by $(id -un) on $HOST_NAME: no backup was taken, so the migrations do not run"
defaults=$(db_defaults_file "$env_file")
trap 'rm -f "$defaults" "$dir/$name.sql.gz.partial"' EXIT


file="$dir/$name.sql.gz"
taken=$(date -u '+%F %T')
counts=''
for t in $(db_query "$env_file" "SHOW FULL TABLES WHERE Table_type = 'BASE TABLE'" | cut -f1); do
  counts+="$(json_str "$t"): $(db_query "$env_file" "SELECT COUNT(*) FROM \`$t\`"), "
done
log "dumping $db to $file"
if ! mariadb-dump --defaults-extra-file="$defaults" --single-transaction --quick --routines \
    --triggers --events --hex-blob --add-drop-table --databases "$db" 2>"$dir/$name.err" \
    | gzip -6 >"$file.partial"; then
  die 4 "mariadb-dump of $db failed on $HOST_NAME: $(tail -n 3 "$dir/$name.err" | tr '\n' ' ')"
fi
[ -s "$dir/$name.err" ] && log "mariadb-dump said: $(tail -n 3 "$dir/$name.err" | tr '\n' ' ')"
rm -f "$dir/$name.err"
gzip -t "$file.partial" || die 5 "backup $file is not a valid gzip file"
zcat "$file.partial" | tail -n 1 | grep -q '^-- Dump completed' \
  || die 5 "backup of $db is incomplete (no completion line): the dump stopped early"
tables=$(zcat "$file.partial" | grep -c '^CREATE TABLE' || true)
mv "$file.partial" "$file"
sha=$(sha256sum "$file" | cut -d' ' -f1)
echo "$sha  $name.sql.gz" >"$file.sha256"
(cd "$dir" && sha256sum --quiet -c "$name.sql.gz.sha256") || die 5 "backup $file does not match its checksum"
printf '{"taken": "%s", "database": %s, "sha256": "%s", "tables": {%s}}\n' \
  "$taken" "$(json_str "$db")" "$sha" "${counts%, }" >"$dir/$name.json"

# Retention: the newest $keep backups stay.
ls -1t "$dir"/*.sql.gz 2>/dev/null | tail -n +"$((keep + 1))" | while read -r old; do
  rm -f "$old" "$old.sha256" "${old%.sql.gz}.json"; log "removed old backup $old"
done
bytes=$(stat -c %s "$file")
log "backup verified: $file ($bytes bytes, $tables tables, sha256 $sha)"
copied=''
if [ -n "$copy" ]; then
  log "copying it off the host: $copy"
  said=$(BACKUP_FILE=$file BACKUP_SHA256=$sha bash -c "$copy" 2>&1) \
    || die 4 "copying the backup off $HOST_NAME failed: $(printf '%s' "$said" | tail -n 2 | tr '\n' ' ')(the dump is kept here: $file)"
  copied=$(printf '%s' "$said" | tail -n 1 | grep -oE '[0-9a-f]{64}' | head -n 1 || true)
  [ "$copied" = "$sha" ] \
    || die 5 "the copy of $file off $HOST_NAME does not match its checksum (copy: ${copied:-no sha256 printed}, dump: $sha): the copy command must print the copy's sha256 last"
  log "the copy off the host matches (sha256 $sha)"
fi
result file "$file" sha256 "$sha" bytes "$bytes" tables "$tables" database "$db" taken "$taken" rows "{${counts%, }}" \
  copied "$([ -n "$copied" ] && echo true || echo false)"
