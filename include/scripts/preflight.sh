#!/usr/bin/env bash
# preflight.sh: can this host take a release? What holds and what to fix, before the first one. Changes nothing.
#
# usage: preflight.sh --deploy-path P [--min-free-mb N] [--reload CMD] [--shared-file F]... [--database]
#
# Checks: P exists and is writable, P/shared/.env holds the database settings,
# the database answers as the app's user (with --database), mariadb-dump is
# installed (backups), N MB are free (default 500), the reload command runs
# without a password prompt (a `sudo` one: `sudo -n -l` allows it), the shared
# files are there, and which releases another tool left (they are adopted at
# the first release: the live one becomes its rollback target).
#
# Last line: {"ok": true, "checks": [{"check": NAME, "ok": bool, "detail": TEXT, "fix": TEXT}, ...],
#             "current": ID, "current_version": V, "foreign_releases": [ID, ...]}
# Exit 0 whatever the checks say: the caller judges them (exit 2 for usage only).
. "$(dirname "$0")/lib.sh"

path='' min_free=500 reload='' database=false files=()
while [ $# -gt 0 ]; do
  case $1 in
    --deploy-path) need_value "$@"; path=$2; shift 2 ;;
    --min-free-mb) need_value "$@"; min_free=$2; shift 2 ;;
    --reload) reload=${2:-}; shift 2 ;;
    --shared-file) need_value "$@"; files+=("$2"); shift 2 ;;
    --database) database=true; shift ;;
    -h|--help) usage_from_header; exit 0 ;;
    *) die 2 "unknown option $1 (see preflight.sh -h)" ;;
  esac
done
[ -n "$path" ] || die 2 "--deploy-path is required"
[[ $min_free =~ ^[0-9]+$ ]] || die 2 "--min-free-mb must be a number"

checks=''
check() {  # name ok detail fix
  checks+="{\"check\": $(json_str "$1"), \"ok\": $2, \"detail\": $(json_str "$3"), \"fix\": $(json_str "$4")},"
}

me=$(id -un)
if [ ! -d "$path" ]; then
  check "deploy path" false "$path does not exist" "create it, owned by $me, with shared/.env in it"
elif [ ! -w "$path" ]; then
  check "deploy path" false "$path is not writable by $me (owner $(stat -c %U "$path"))" "chown $me $path, or make it group-writable for $me"
else
  check "deploy path" true "$path, writable by $me" ""
fi

env_file="$path/shared/.env"
if [ ! -f "$env_file" ]; then
  check "shared/.env" false "$env_file is missing" "put the app's .env there (it is linked into every release)"
else
  missing=()
  for k in DB_HOST DB_DATABASE DB_USERNAME; do [ -n "$(dotenv "$env_file" "$k")" ] || missing+=("$k"); done
  if [ ${#missing[@]} -gt 0 ]; then
    check "shared/.env" false "$env_file has no ${missing[*]}" "set the database settings in it (the backups and migrations read them)"
  else
    check "shared/.env" true "database $(dotenv "$env_file" DB_DATABASE) on $(dotenv "$env_file" DB_HOST):$(dotenv "$env_file" DB_PORT)" ""
  fi
fi
for f in ${files[@]+"${files[@]}"}; do
  [ "$f" = .env ] && continue
  if [ -e "$path/shared/$f" ]; then check "shared/$f" true "present" ""; else
    check "shared/$f" false "$path/shared/$f is missing" "create it: it is linked into every release"; fi
done

if [ "$database" = true ] && [ -f "$env_file" ]; then
  if err=$(db_query "$env_file" 'SELECT 1' 2>&1 >/dev/null); then
    check "database" true "answers as $(dotenv "$env_file" DB_USERNAME)" ""
  else
    check "database" false "does not answer as $(dotenv "$env_file" DB_USERNAME): $(printf '%s' "$err" | tail -n 1)" \
      "check DB_HOST, DB_PORT, DB_USERNAME and DB_PASSWORD in $env_file, and the user's grants"
  fi
fi

if command -v mariadb-dump >/dev/null 2>&1; then
  check "mariadb-dump" true "$(command -v mariadb-dump)" ""
else
  check "mariadb-dump" false "not installed: no backup can be taken, so no migration may run" "apt install mariadb-client"
fi

free_mb=$(df -Pm "$(if [ -d "$path" ]; then echo "$path"; else echo /; fi)" | awk 'NR==2 {print $4}')
if [ "$free_mb" -ge "$min_free" ]; then check "free disk" true "$free_mb MB free" ""; else
  check "free disk" false "$free_mb MB free, $min_free needed (a release and a backup)" "free space in $path, or lower min_free_mb"; fi

if [ -z "$reload" ]; then
  check "reload" false "no reload command configured: php-fpm would keep the old code in its opcache" "set reload_command for this host"
elif [[ $reload == sudo\ * ]]; then
  read -r -a words <<<"${reload#sudo }"
  if sudo -n -l -- "${words[@]}" >/dev/null 2>&1; then
    check "reload" true "$me may run it without a password: $reload" ""
  else
    check "reload" false "sudo asks $me for a password (or refuses): $reload" \
      "allow it in sudoers, e.g. '$me ALL=(root) NOPASSWD: /usr/bin/systemctl reload php8.2-fpm'"
  fi
else
  check "reload" true "runs as $me: $reload" ""
fi

current=$(basename "$(readlink "$path/current" 2>/dev/null || true)")
foreign=()
if [ -d "$path/releases" ]; then
  while IFS= read -r dir; do
    r=$(basename "$dir")
    case $r in *.partial) continue ;; esac
    [ -n "$(release_meta "$path" "$r")" ] || foreign+=("$r")
  done < <(releases_newest_first "$path")
fi
version=''
if [ -n "$current" ]; then
  meta=$(release_meta "$path" "$current")
  if [ -n "$meta" ]; then version=$(meta_version "$meta"); else version=$(foreign_version "$path/releases/$current"); fi
fi
log "${#foreign[@]} release(s) another tool left; live: ${current:-none}"
result checks "[${checks%,}]" current "$current" current_version "$version" \
  foreign_releases "$(json_list ${foreign[@]+"${foreign[@]}"})"
