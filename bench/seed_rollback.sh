#!/usr/bin/env bash
# The seed's rollback, on the sandbox's production hosts, for comparison (bench only):
# stop nginx and php-fpm, check out the previous tag, rebuild it, restore the dump,
# start again. Prints the seconds it took.
#
# usage: seed_rollback.sh SANDBOX_ROOT TAG BACKUP_NAME
set -euo pipefail
root=$1 tag=$2 backup=$3
hosts=(production-1 production-2)
started=$(date +%s.%N)
as_deploy() { runuser -u deploy -- "$@"; }

# 1. stop the application
for h in "${hosts[@]}"; do
  for pf in "$root/hosts/$h/run/nginx.pid" "$root/hosts/$h/run/php-fpm.pid"; do
    [ -f "$pf" ] && kill "$(cat "$pf")" 2>/dev/null || true
  done
done
# 2. revert the code: check out the previous tag and rebuild it
for h in "${hosts[@]}"; do
  app="$root/hosts/$h/app"
  dir="$app/releases/seed-$tag"
  as_deploy rm -rf "$dir"
  as_deploy mkdir -p "$dir"
  as_deploy git -C "$root/repo/zenamanage.git" archive "$tag" | as_deploy tar -x -C "$dir"
  (cd "$dir" && as_deploy env COMPOSER_DISABLE_NETWORK=1 HOME=/tmp composer install --no-dev --optimize-autoloader --no-interaction --quiet)
  as_deploy ln -sfn "$app/shared/.env" "$dir/.env"
  as_deploy rm -rf "$dir/storage"
  as_deploy ln -sfn "$app/shared/storage" "$dir/storage"
  printf '{"release": "seed-%s", "version": "%s"}\n' "$tag" "$tag" | as_deploy tee "$dir/.release.json" >/dev/null
  as_deploy ln -sfn "releases/seed-$tag" "$app/current"
done
# 3. restore the database
app="$root/hosts/production-1/app"
as_deploy "$app/.deploy/bin/restore.sh" --deploy-path "$app" --name "$backup" >/dev/null
# 4. start the application and wait until it answers
"$(dirname "$0")/../include/sandbox/target.sh" start >/dev/null
for h in 8083 8084; do
  until curl -fsS "http://127.0.0.1:$h/api/health" >/dev/null 2>&1; do sleep 0.2; done
done
awk -v a="$started" -v b="$(date +%s.%N)" 'BEGIN { printf "%.2f\n", b - a }'
