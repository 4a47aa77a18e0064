#!/usr/bin/env bash
# measure.sh: what the rollback triggers read from a host's database and alarms. Changes nothing.
#
# usage: measure.sh --deploy-path P [--table T]... [--since TIME]
#
#   --table   a critical table: its rows are counted (-1: the database says the table
#             does not exist; null: the count failed or the database is unreachable)
#   --since   also count, per table with an updated_at column, the rows written since TIME
#             (UTC, e.g. 2026-11-26 02:00:00): what a restore of a backup taken then would lose
#
# Reads the database settings from P/shared/.env. Last line:
# {"ok": true, "database": "ok"|"unreachable", "tables": {T: N}, "written_since": {T: N},
#  "security": {"raised": bool, ...}}. An unreachable database is a measurement, not an error,
# and never reads as rows lost.
. "$(dirname "$0")/lib.sh"

path='' since='' tables=()
while [ $# -gt 0 ]; do
  case $1 in
    --deploy-path) need_value "$@"; path=$2; shift 2 ;;
    --table) need_value "$@"; tables+=("$2"); shift 2 ;;
    --since) since=${2:-}; shift 2 ;;
    -h|--help) usage_from_header; exit 0 ;;
    *) die 2 "unknown option $1 (see measure.sh -h)" ;;
  esac
done
[ -n "$path" ] || die 2 "--deploy-path is required"
check_deploy_path "$path"
env_file="$path/shared/.env"
[ -f "$env_file" ] || die 3 "$env_file is missing on $HOST_NAME: the database settings are read from it"
[ -z "$since" ] || [[ $since =~ ^[0-9]{4}-[0-9]{2}-[0-9]{2}[T\ ][0-9]{2}:[0-9]{2}:[0-9]{2}Z?$ ]] \
  || die 2 "--since '$since' is not a UTC time such as 2026-11-26 02:00:00"
since=${since/T/ }; since=${since%Z}

database=ok
db_query "$env_file" 'SELECT 1' >/dev/null 2>&1 || database=unreachable
counts='' written=''
for t in ${tables[@]+"${tables[@]}"}; do
  [[ $t =~ ^[A-Za-z0-9_]+$ ]] || die 2 "table name '$t' is not valid"
  n=null
  if [ "$database" = ok ]; then
    if ! n=$(db_query "$env_file" "SELECT COUNT(*) FROM \`$t\`" 2>/dev/null); then
      # missing only when the database says so; a count that failed otherwise is not known
      n=null
      tables_now=$(db_query "$env_file" "SHOW TABLES LIKE '$t'" 2>/dev/null) && [ -z "$tables_now" ] && n=-1
    fi
  fi
  counts+="$(json_str "$t"): $n, "
  if [ -n "$since" ] && [ "$database" = ok ] && [[ $n =~ ^[0-9]+$ ]] \
      && [ -n "$(db_query "$env_file" "SHOW COLUMNS FROM \`$t\` LIKE 'updated_at'" 2>/dev/null)" ]; then
    w=$(db_query "$env_file" "SELECT COUNT(*) FROM \`$t\` WHERE updated_at >= '$since'" 2>/dev/null) || w=null
    written+="$(json_str "$t"): $w, "
  fi
done
security='{"raised": false}'
[ -f "$path/.deploy/security-alarm" ] && security=$(cat "$path/.deploy/security-alarm")
log "database $database; tables: {${counts%, }}"
result database "$database" tables "{${counts%, }}" written_since "{${written%, }}" security "$security"
