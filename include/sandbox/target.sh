#!/usr/bin/env bash
# The sandbox target: ZenaManage's servers in miniature, on this machine's loopback.
#
#   build-1        sshd :2221                      the build host (builds releases in <root>/hosts/build-1/builds)
#   staging-1      sshd :2222  nginx :8081         staging
#   uat-1          sshd :2223  nginx :8082         UAT
#   production-1   sshd :2224  nginx :8083         production, web host 1
#   production-2   sshd :2225  nginx :8084         production, web host 2
#   lb             nginx :8088 -> production-1, production-2   (what users of production hit)
#   mariadb        :3407       databases zena_staging, zena_uat, zena_production
#
# The foreign profile (target.sh foreign): a VM another tool (Deployer) set up
# years ago, to adopt. One host, "vm", serves two sites from its own layout:
#   vm             sshd :2226  nginx :8085 staging, :8086 production
#                  deploy paths <root>/hosts/vm/srv/zenamanage-{staging,production}
#                  (releases/1 live through an absolute `current` link, no
#                  .release.json, shared/storage owned by www-data and
#                  group-writable, .dep/ as Deployer keeps it), databases
#                  zena_foreign_{staging,production} whose passwords hold " and \,
#                  health at /up and the version at /about without its "v"
#                  (/api/health and /api/version answer 404 there).
# Its environment file is include/sandbox/foreign.yaml.
#
# Every host has its own sshd (key login as the non-root user "deploy", pinned
# host key), nginx and php-fpm (run as "deploy", so the deploy user may reload
# them), and a deploy path <root>/hosts/<host>/app holding shared/.env and
# shared/storage. The Airflow connections for all of it are written to
# <root>/airflow.env.
#
# usage: target.sh start|stop|reset|status|env|foreign|foreign-reset
#   start   install nothing, start what is not running (idempotent)
#   stop    stop only the processes this script started (by their pid files)
#   reset   stop, wipe every deploy path and database, start fresh
#   foreign start the foreign profile too (idempotent); foreign-reset: as another tool left it
#   status  one line per process: running or stopped
#   env     print the path of the airflow.env file
#
# Needs root (it creates the deploy user and runs sshd). Root folder:
# $SANDBOX_ROOT (default /var/tmp/zena-sandbox).
set -euo pipefail

ROOT=${SANDBOX_ROOT:-/var/tmp/zena-sandbox}
USER_NAME=deploy
DB_PORT=3407
LB_PORT=8088
HERE=$(cd "$(dirname "$0")" && pwd)

# name ssh_port http_port environment
HOSTS="build-1 2221 - build
staging-1 2222 8081 staging
uat-1 2223 8082 uat
production-1 2224 8083 production
production-2 2225 8084 production"

log() { printf '%s\n' "$*" >&2; }
die() { log "target.sh: $*"; exit 1; }

as_deploy() { runuser -u "$USER_NAME" -- "$@"; }

running() {  # pid: alive and not a zombie. A stopped daemon stays a zombie until init reaps it,
  # which this machine's init does only every second or two, and `kill -0` counts a zombie as alive.
  local state
  state=$(sed -n 's/^State:[[:space:]]*\(.\).*/\1/p' "/proc/$1/status" 2>/dev/null) || return 1
  [ -n "$state" ] && [ "$state" != Z ]
}

alive() {  # pidfile: its process runs, and is ours. A machine switched off leaves its pid files behind,
  # and their numbers may belong to other processes by now: every daemon here names $ROOT on its command line.
  local pid
  [ -s "$1" ] && pid=$(cat "$1") && running "$pid" && grep -qaF -- "$ROOT/" "/proc/$pid/cmdline" 2>/dev/null
}

wait_for() {  # description command...  (polls up to 30 s)
  local what=$1; shift
  for _ in $(seq 1 300); do
    if "$@" >/dev/null 2>&1; then return 0; fi
    sleep 0.1
  done
  die "$what did not become ready in 30 s"
}

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

ensure_user() {
  if ! id "$USER_NAME" >/dev/null 2>&1; then
    useradd --create-home --shell /bin/bash "$USER_NAME"
  fi
  # A password field of "!" makes sshd (UsePAM no) refuse key logins; "*" means "no password".
  usermod -p '*' "$USER_NAME"
}

ensure_keys() {
  mkdir -p "$ROOT/keys"
  if [ ! -f "$ROOT/keys/deploy_ed25519" ]; then
    ssh-keygen -q -t ed25519 -N '' -C "airflow@zena-sandbox" -f "$ROOT/keys/deploy_ed25519"
  fi
  # replaced whole, never rewritten in place: sshd reads it at every login, and an empty file refuses the key
  if ! cmp -s "$ROOT/keys/deploy_ed25519.pub" "$ROOT/keys/authorized_keys"; then
    install -m 644 "$ROOT/keys/deploy_ed25519.pub" "$ROOT/keys/authorized_keys.tmp"
    mv "$ROOT/keys/authorized_keys.tmp" "$ROOT/keys/authorized_keys"
  fi
  chmod 755 "$ROOT" "$ROOT/keys"
}

ensure_repo() {
  if [ ! -d "$ROOT/repo/zenamanage.git" ]; then
    mkdir -p "$ROOT/repo"
    "$HERE/make-repo.sh" "$ROOT/repo/zenamanage.git" >&2
  fi
  chown -R "$USER_NAME:" "$ROOT/repo"
}

db_cli() { mariadb --no-defaults --socket="$ROOT/mariadb/run/mariadb.sock" -uroot "$@"; }

db_password() {  # environment -> stable password kept in the sandbox
  local f="$ROOT/mariadb/passwords/$1"
  if [ ! -s "$f" ]; then
    mkdir -p "$ROOT/mariadb/passwords"
    head -c 18 /dev/urandom | base64 | tr -d '/+=' > "$f"
  fi
  cat "$f"
}

probe_token() {  # the token of the app's probe user (verification signs in with it)
  db_password probe
}

start_mariadb() {
  local d="$ROOT/mariadb"
  mkdir -p "$d/run" "$d/log"
  chown -R mysql:mysql "$d/run" "$d/log"
  if alive "$d/run/mariadb.pid"; then return 0; fi
  if [ ! -d "$d/data/mysql" ]; then
    mkdir -p "$d/data" && chown mysql:mysql "$d/data"
    mariadb-install-db --no-defaults --user=mysql --datadir="$d/data" \
      --auth-root-authentication-method=socket --skip-test-db >"$d/log/install.log" 2>&1 \
      || die "mariadb-install-db failed: $(tail -n 5 "$d/log/install.log")"
  fi
  setsid /usr/sbin/mariadbd --no-defaults --user=mysql --datadir="$d/data" \
    --socket="$d/run/mariadb.sock" --pid-file="$d/run/mariadb.pid" \
    --port="$DB_PORT" --bind-address=127.0.0.1 --skip-name-resolve \
    --log-error="$d/log/error.log" --innodb-buffer-pool-size=128M \
    --innodb-log-file-size=64M </dev/null >/dev/null 2>&1 &
  wait_for "MariaDB on :$DB_PORT" mariadb-admin --no-defaults --socket="$d/run/mariadb.sock" -uroot ping
  wait_for "MariaDB pid file" test -s "$d/run/mariadb.pid"
}

ensure_databases() {
  local env pw
  for env in staging uat production; do
    pw=$(db_password "$env")
    db_cli -e "CREATE DATABASE IF NOT EXISTS \`zena_$env\`;
      CREATE USER IF NOT EXISTS 'zena_$env'@'127.0.0.1' IDENTIFIED BY '$pw';
      ALTER USER 'zena_$env'@'127.0.0.1' IDENTIFIED BY '$pw';
      GRANT ALL ON \`zena_$env\`.* TO 'zena_$env'@'127.0.0.1';
      GRANT RELOAD, PROCESS, LOCK TABLES, SHOW VIEW, TRIGGER, EVENT ON *.* TO 'zena_$env'@'127.0.0.1';"
  done
}

# php_site HOST_DIR PORT NAME ROOT [EXTRA]: an nginx server block serving a Laravel app from ROOT
# (a path through the `current` symlink) with php-fpm; EXTRA goes in before its locations.
php_site() {
  local h=$1 port=$2 name=$3 root=$4 extra=${5:-}
  cat <<EOF
    server {
        listen 127.0.0.1:$port;
        server_name $name;
        root $root;
        index index.php;
$extra        location / { try_files \$uri \$uri/ /index.php?\$query_string; }
        location ~ \.php\$ {
            fastcgi_pass unix:$h/run/php-fpm.sock;
            include /etc/nginx/fastcgi_params;
            # The resolved path: a switched "current" symlink takes effect at once.
            fastcgi_param SCRIPT_FILENAME \$realpath_root\$fastcgi_script_name;
            fastcgi_param DOCUMENT_ROOT \$realpath_root;
        }
    }
EOF
}

# nginx_conf HOST_DIR SERVERS: an nginx.conf of one host (its pid, logs and temp files in HOST_DIR).
nginx_conf() {
  local h=$1 t
  echo "worker_processes 1;"
  echo "pid $h/run/nginx.pid;"
  echo "error_log $h/log/nginx-error.log warn;"
  echo "events { worker_connections 1024; }"
  echo "http {"
  echo "    include /etc/nginx/mime.types;"
  echo "    access_log off;"
  for t in client_body proxy fastcgi uwsgi scgi; do echo "    ${t}_temp_path $h/run/$t;"; done
  printf '%s\n' "$2"
  echo "}"
}

write_host_files() {  # name ssh_port http_port env
  local name=$1 ssh_port=$2 http_port=$3 env=$4
  local h="$ROOT/hosts/$name"
  mkdir -p "$h/etc" "$h/run" "$h/log"
  if [ "$env" = build ]; then mkdir -p "$h/builds"; else mkdir -p "$h/app/shared/storage"; fi
  [ -f "$h/etc/ssh_host_ed25519_key" ] || ssh-keygen -q -t ed25519 -N '' -C "$name" -f "$h/etc/ssh_host_ed25519_key"

  cat >"$h/etc/sshd_config" <<EOF
Port $ssh_port
ListenAddress 127.0.0.1
HostKey $h/etc/ssh_host_ed25519_key
PidFile $h/run/sshd.pid
UsePAM no
StrictModes no
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
PermitRootLogin no
AllowUsers $USER_NAME
AuthorizedKeysFile $ROOT/keys/authorized_keys
AcceptEnv LANG LC_*
MaxStartups 100:30:200
MaxSessions 50
LogLevel ERROR
Subsystem sftp internal-sftp
EOF

  if [ "$env" != build ]; then
    cat >"$h/etc/php-fpm.conf" <<EOF
[global]
pid = $h/run/php-fpm.pid
error_log = $h/log/php-fpm.log
daemonize = no
; A graceful reload (USR2) waits this long for running requests: none is dropped.
process_control_timeout = 10s

[app]
listen = $h/run/php-fpm.sock
listen.mode = 0666
pm = dynamic
pm.max_children = 8
pm.start_servers = 2
pm.min_spare_servers = 1
pm.max_spare_servers = 4
catch_workers_output = yes
php_admin_value[error_log] = $h/log/php-error.log
EOF
    nginx_conf "$h" "$(php_site "$h" "$http_port" "$name" "$h/app/current/public")" >"$h/etc/nginx.conf"
    if [ ! -f "$h/app/shared/.env" ]; then
      cat >"$h/app/shared/.env" <<EOF
APP_NAME=ZenaManage
APP_ENV=$env
APP_KEY=base64:$(head -c 32 /dev/urandom | base64)
APP_DEBUG=false
APP_URL=http://127.0.0.1:$http_port
LOG_CHANNEL=single
DB_CONNECTION=mysql
DB_HOST=127.0.0.1
DB_PORT=$DB_PORT
DB_DATABASE=zena_$env
DB_USERNAME=zena_$env
DB_PASSWORD=$(db_password "$env")
CACHE_DRIVER=file
QUEUE_CONNECTION=sync
EOF
    fi
    if ! grep -q '^ZENA_PROBE_TOKEN_SHA256=' "$h/app/shared/.env"; then
      echo "ZENA_PROBE_TOKEN_SHA256=$(printf '%s' "$(probe_token)" | sha256sum | cut -d' ' -f1)" >>"$h/app/shared/.env"
    fi
  fi
  chown -R "$USER_NAME:" "$h/run" "$h/log" "$h/builds" 2>/dev/null || true
  [ -d "$h/app" ] && chown -R "$USER_NAME:" "$h/app"
  chmod 755 "$ROOT/hosts" "$h"
}

start_host() {  # name ssh_port http_port env
  local name=$1 ssh_port=$2 http_port=$3 env=$4
  local h="$ROOT/hosts/$name"
  mkdir -p /run/sshd
  if ! alive "$h/run/sshd.pid"; then
    /usr/sbin/sshd -f "$h/etc/sshd_config" -E "$h/log/sshd.log"
    wait_for "sshd of $name on :$ssh_port" port_open "$ssh_port"
  fi
  [ "$env" = build ] && return 0
  if ! alive "$h/run/php-fpm.pid"; then
    as_deploy setsid /usr/sbin/php-fpm8.2 --nodaemonize --fpm-config "$h/etc/php-fpm.conf" \
      </dev/null >>"$h/log/php-fpm.out" 2>&1 &
    wait_for "php-fpm of $name" test -S "$h/run/php-fpm.sock"
    wait_for "php-fpm pid of $name" alive "$h/run/php-fpm.pid"
  fi
  if ! alive "$h/run/nginx.pid"; then
    as_deploy /usr/sbin/nginx -c "$h/etc/nginx.conf" -e "$h/log/nginx-error.log"
    wait_for "nginx of $name on :$http_port" port_open "$http_port"
  fi
}

start_lb() {
  local h="$ROOT/hosts/lb"
  mkdir -p "$h/etc" "$h/run" "$h/log"
  cat >"$h/etc/nginx.conf" <<EOF
worker_processes 1;
pid $h/run/nginx.pid;
error_log $h/log/nginx-error.log warn;
events { worker_connections 1000; }
http {
    access_log off;
    client_body_temp_path $h/run/client_body;
    proxy_temp_path $h/run/proxy;
    fastcgi_temp_path $h/run/fastcgi;
    uwsgi_temp_path $h/run/uwsgi;
    scgi_temp_path $h/run/scgi;
    upstream production { server 127.0.0.1:8083; server 127.0.0.1:8084; keepalive 16; }
    server {
        listen 127.0.0.1:$LB_PORT;
        location / {
            proxy_pass http://production;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
        }
    }
}
EOF
  chown -R "$USER_NAME:" "$h"
  if ! alive "$h/run/nginx.pid"; then
    as_deploy /usr/sbin/nginx -c "$h/etc/nginx.conf" -e "$h/log/nginx-error.log"
    wait_for "production load balancer on :$LB_PORT" port_open "$LB_PORT"
  fi
}

host_key() { cut -d' ' -f1,2 "$ROOT/hosts/$1/etc/ssh_host_ed25519_key.pub"; }

write_airflow_env() {
  local f="$ROOT/airflow.env" name ssh_port http_port env var
  {
    echo "# Airflow connections for the sandbox target (written by target.sh)."
    while read -r name ssh_port http_port env; do
      var="AIRFLOW_CONN_ZENA_$(echo "$name" | tr 'a-z-' 'A-Z_')"
      printf "export %s='%s'\n" "$var" \
        "{\"conn_type\": \"ssh\", \"host\": \"127.0.0.1\", \"port\": $ssh_port, \"login\": \"$USER_NAME\", \"extra\": {\"key_file\": \"$ROOT/keys/deploy_ed25519\", \"host_key\": \"$(host_key "$name")\", \"conn_timeout\": 10}}"
    done <<<"$HOSTS"
    if [ -f "$ROOT/hosts/vm/etc/ssh_host_ed25519_key.pub" ]; then  # the foreign profile
      printf "export AIRFLOW_CONN_FOREIGN_VM='%s'\n" \
        "{\"conn_type\": \"ssh\", \"host\": \"127.0.0.1\", \"port\": $FOREIGN_SSH, \"login\": \"$USER_NAME\", \"extra\": {\"key_file\": \"$ROOT/keys/deploy_ed25519\", \"host_key\": \"$(host_key vm)\", \"conn_timeout\": 10}}"
    fi
    # the app's probe user, for the authentication check after a release
    printf "export AIRFLOW_CONN_ZENA_PROBE='%s'\n" "{\"conn_type\": \"http\", \"login\": \"probe\", \"password\": \"$(probe_token)\"}"
    # the token a monitor's alert must send (POST /releases/api/alerts): its password
    printf "export AIRFLOW_CONN_RELEASE_ALERTS='%s'\n" "{\"conn_type\": \"http\", \"password\": \"$(db_password alerts)\"}"
  } >"$f.tmp"
  chmod 600 "$f.tmp"  # it holds the probe user's password and the alerts' token
  mv "$f.tmp" "$f"
  echo "$f"
}

stop_pidfile() {  # pidfile what
  local pf=$1 what=$2 pid
  if alive "$pf"; then
    pid=$(cat "$pf")
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 1 100); do running "$pid" || break; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null || true
    log "stopped $what (pid $pid)"
  fi
  rm -f "$pf"
}

FOREIGN_SSH=2226
FOREIGN_SITES="staging 8085
production 8086"

foreign_password() {  # site -> a stable password with a quote and a backslash in it
  printf 'Zf"%s\\q' "$(db_password "foreign_$1")"
}

# deploy_as_another_tool SITE TAG NAME: what Deployer's deploy recipe leaves (not this project's layout).
deploy_as_another_tool() {
  local site=$1 tag=$2 name=$3
  local d="$ROOT/hosts/vm/srv/zenamanage-$site"
  local rel="$d/releases/$name" sub
  mkdir -p "$rel" "$d/.dep" "$d/shared/storage"
  git -c safe.directory="$ROOT/repo/zenamanage.git" -C "$ROOT/repo/zenamanage.git" archive "$tag" | tar -x -C "$rel"
  for sub in app/public framework/cache/data framework/sessions framework/views logs; do mkdir -p "$d/shared/storage/$sub"; done
  rm -rf "$rel/storage" && ln -s "$d/shared/storage" "$rel/storage"
  ln -sfn "$d/shared/.env" "$rel/.env"
  chown -R "$USER_NAME:" "$d/releases" "$d/.dep" "$d/shared/storage"
  (cd "$rel" && as_deploy env COMPOSER_DISABLE_NETWORK=1 HOME="$rel" composer install --no-dev --quiet --no-interaction) \
    || die "composer install of $tag for the foreign $site site failed"
  (cd "$rel" && as_deploy php artisan migrate --force --no-interaction >/dev/null) || die "migrating the foreign $site site failed"
  ln -sfn "$rel" "$d/current"   # absolute, as Deployer writes it
  printf '{"created_at":"%s","release_name":"%s","user":"deploy","target":"%s"}\n' \
    "$(date -u +%FT%TZ)" "$name" "$tag" >>"$d/.dep/releases_log"
  chown -h "$USER_NAME:" "$d/current"
}

write_foreign_host() {
  local h="$ROOT/hosts/vm" site http_port d pw
  mkdir -p "$h/etc" "$h/run" "$h/log" "$h/srv"
  [ -f "$h/etc/ssh_host_ed25519_key" ] || ssh-keygen -q -t ed25519 -N '' -C vm -f "$h/etc/ssh_host_ed25519_key"
  sed -e "s#^Port .*#Port $FOREIGN_SSH#" -e "s#$ROOT/hosts/build-1/#$h/#g" "$ROOT/hosts/build-1/etc/sshd_config" >"$h/etc/sshd_config"
  sed -e "s#$ROOT/hosts/staging-1/#$h/#g" "$ROOT/hosts/staging-1/etc/php-fpm.conf" >"$h/etc/php-fpm.conf"
  local servers='' deny
  # this host's app is checked at /up and /about: the sandbox's endpoints are not served here
  deny='        location ~ ^/api/(health|version)$ { return 404; }'$'\n'
  while read -r site http_port; do
    servers+=$(php_site "$h" "$http_port" "$site.zenamanage.vm" "$h/srv/zenamanage-$site/current/public" "$deny")$'\n'
  done <<<"$FOREIGN_SITES"
  nginx_conf "$h" "$servers" >"$h/etc/nginx.conf"
  while read -r site http_port; do
    d="$h/srv/zenamanage-$site"
    pw=$(foreign_password "$site")
    db_cli -e "CREATE DATABASE IF NOT EXISTS \`zena_foreign_$site\`;
      CREATE USER IF NOT EXISTS 'zena_foreign_$site'@'127.0.0.1' IDENTIFIED BY '${pw//\\/\\\\}';
      ALTER USER 'zena_foreign_$site'@'127.0.0.1' IDENTIFIED BY '${pw//\\/\\\\}';
      GRANT ALL ON \`zena_foreign_$site\`.* TO 'zena_foreign_$site'@'127.0.0.1';
      GRANT RELOAD, PROCESS, LOCK TABLES, SHOW VIEW, TRIGGER, EVENT ON *.* TO 'zena_foreign_$site'@'127.0.0.1';"
    mkdir -p "$d/shared"
    if [ ! -f "$d/shared/.env" ]; then
      cat >"$d/shared/.env" <<EOF
APP_NAME="ZenaManage"
APP_ENV=$site
APP_KEY=base64:$(head -c 32 /dev/urandom | base64)
APP_DEBUG=false
APP_URL=http://127.0.0.1:$http_port
LOG_CHANNEL=single
DB_CONNECTION=mysql
DB_HOST=127.0.0.1
DB_PORT=$DB_PORT
DB_DATABASE=zena_foreign_$site
DB_USERNAME=zena_foreign_$site
DB_PASSWORD='$pw'
CACHE_DRIVER=file
QUEUE_CONNECTION=sync
EOF
      chown "$USER_NAME:" "$d/shared" "$d/shared/.env"
    fi
    [ -e "$d/current" ] || deploy_as_another_tool "$site" v1.0.0 1
    # owned by the web server's user, writable by the deploy user through its group
    chown -R www-data:"$USER_NAME" "$d/shared/storage"
    find "$d/shared/storage" -type d -exec chmod 2775 {} +
    find "$d/shared/storage" -type f -exec chmod 0664 {} +
  done <<<"$FOREIGN_SITES"
  chown "$USER_NAME:" "$h/srv"/zenamanage-*
  chown -R "$USER_NAME:" "$h/run" "$h/log"
  chmod 755 "$h" "$h/srv"
}

cmd_foreign() {
  cmd_start >/dev/null
  write_foreign_host
  start_host vm "$FOREIGN_SSH" 8085 foreign
  wait_for "nginx of vm on :8086" port_open 8086
  write_airflow_env
}

cmd_foreign_reset() {
  stop_pidfile "$ROOT/hosts/vm/run/nginx.pid" "nginx of vm"
  stop_pidfile "$ROOT/hosts/vm/run/php-fpm.pid" "php-fpm of vm"
  stop_pidfile "$ROOT/hosts/vm/run/sshd.pid" "sshd of vm"
  rm -rf "$ROOT/hosts/vm/srv"
  cmd_start >/dev/null
  local site rest
  while read -r site rest; do db_cli -e "DROP DATABASE IF EXISTS \`zena_foreign_$site\`"; done <<<"$FOREIGN_SITES"
  cmd_foreign
}

cmd_start() {
  [ "$(id -u)" = 0 ] || die "run as root: it creates the deploy user and starts sshd"
  for bin in /usr/sbin/sshd /usr/sbin/nginx /usr/sbin/php-fpm8.2 /usr/sbin/mariadbd git composer; do
    command -v "$bin" >/dev/null || die "$bin is missing: run 'make setup' (it installs the target's packages with apt)"
  done
  ensure_user
  mkdir -p "$ROOT/hosts"
  chmod 755 "$ROOT"
  ensure_keys
  ensure_repo
  start_mariadb
  ensure_databases
  local name ssh_port http_port env
  while read -r name ssh_port http_port env; do
    write_host_files "$name" "$ssh_port" "$http_port" "$env"
    start_host "$name" "$ssh_port" "$http_port" "$env"
  done <<<"$HOSTS"
  start_lb
  write_airflow_env
}

cmd_stop() {
  local name rest
  stop_pidfile "$ROOT/hosts/vm/run/nginx.pid" "nginx of vm"
  stop_pidfile "$ROOT/hosts/vm/run/php-fpm.pid" "php-fpm of vm"
  stop_pidfile "$ROOT/hosts/vm/run/sshd.pid" "sshd of vm"
  stop_pidfile "$ROOT/hosts/lb/run/nginx.pid" "nginx of lb"
  while read -r name rest; do
    stop_pidfile "$ROOT/hosts/$name/run/nginx.pid" "nginx of $name"
    stop_pidfile "$ROOT/hosts/$name/run/php-fpm.pid" "php-fpm of $name"
    stop_pidfile "$ROOT/hosts/$name/run/sshd.pid" "sshd of $name"
  done <<<"$HOSTS"
  stop_pidfile "$ROOT/mariadb/run/mariadb.pid" "mariadb"
}

cmd_reset() {
  cmd_stop
  local name rest
  while read -r name rest; do rm -rf "$ROOT/hosts/$name/app" "$ROOT/hosts/$name/builds"; done <<<"$HOSTS"
  rm -rf "$ROOT/mariadb/data" "$ROOT/repo" "$ROOT/builds" "$ROOT/hosts/vm/srv"  # the foreign profile's databases go too
  cmd_start
}

cmd_status() {
  local name rest pf
  for pf in "$ROOT/mariadb/run/mariadb.pid" "$ROOT/hosts/lb/run/nginx.pid" \
    $(while read -r name rest; do echo "$ROOT/hosts/$name/run/sshd.pid $ROOT/hosts/$name/run/php-fpm.pid $ROOT/hosts/$name/run/nginx.pid"; done <<<"$HOSTS"); do
    [ "$pf" = "$ROOT/hosts/build-1/run/php-fpm.pid" ] || [ "$pf" = "$ROOT/hosts/build-1/run/nginx.pid" ] && continue
    if alive "$pf"; then echo "running ${pf#"$ROOT/"}"; else echo "stopped ${pf#"$ROOT/"}"; fi
  done
}

# One change at a time: two callers starting the target at once (parallel test processes, a demo beside a
# suite) would race for the same ports and pid files. The lock is held by flock, not by the daemons started.
case "${1:-}" in
  start|stop|reset|foreign|foreign-reset)
    if [ -z "${SANDBOX_LOCK_HELD:-}" ]; then
      mkdir -p "$(dirname "$ROOT")"
      SANDBOX_LOCK_HELD=1 exec flock --close "$ROOT.lock" "$0" "$@"
    fi ;;
esac

case "${1:-}" in
  start) cmd_start ;;
  stop) cmd_stop ;;
  reset) cmd_reset ;;
  status) cmd_status ;;
  env) echo "$ROOT/airflow.env" ;;
  foreign) cmd_foreign ;;
  foreign-reset) cmd_foreign_reset ;;
  -h|--help|help) sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//' ;;
  *) sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//' >&2; exit 2 ;;
esac
