#!/usr/bin/env bash
# check.sh: pre-deployment checks of one host. Changes nothing.
#
# usage: check.sh --deploy-path P [--min-free-mb N] [--database]
#
# Checks: the deploy path is writable, P/shared/.env exists, at least N MB
# (default 500) are free for the new release and the backup, PHP runs, and with
# --database that the app's database answers with the credentials in .env.
# Exit 5 names every check that failed.
. "$(dirname "$0")/lib.sh"

path='' min_free=500 database=false
while [ $# -gt 0 ]; do
  case $1 in
    --deploy-path) need_value "$@"; path=$2; shift 2 ;;
    --min-free-mb) need_value "$@"; min_free=$2; shift 2 ;;
    --database) database=true; shift ;;
    -h|--help) usage_from_header; exit 0 ;;
    *) die 2 "unknown option $1 (see check.sh -h)" ;;
  esac
done
[ -n "$path" ] || die 2 "--deploy-path is required"
check_deploy_path "$path"

failed=()
free_mb=$(df -Pm "$path" | awk 'NR==2 {print $4}')
[ "$free_mb" -ge "$min_free" ] || failed+=("only $free_mb MB free in $path (need $min_free)")
[ -f "$path/shared/.env" ] || failed+=("$path/shared/.env is missing")
php_version=$(php -r 'echo PHP_VERSION;' 2>/dev/null) || failed+=("php does not run")
db=skipped
if [ "$database" = true ] && [ -f "$path/shared/.env" ]; then
  defaults=$(db_defaults_file "$path/shared/.env")
  if mariadb-admin --defaults-extra-file="$defaults" --connect-timeout=5 ping >/dev/null 2>&1; then
    db=ok
  else
    db=unreachable
    failed+=("database $(dotenv "$path/shared/.env" DB_HOST):$(dotenv "$path/shared/.env" DB_PORT) does not answer with the credentials in .env")
  fi
  rm -f "$defaults"
fi
if [ ${#failed[@]} -gt 0 ]; then
  die 5 "pre-deployment checks failed on $HOST_NAME: $(IFS=';'; echo "${failed[*]}")"
fi
log "free ${free_mb} MB, php ${php_version}, database ${db}"
result free_mb "$free_mb" php "$php_version" database "$db"
