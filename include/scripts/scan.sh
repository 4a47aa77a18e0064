#!/usr/bin/env bash
# scan.sh: security scan of a built release, before it goes anywhere near production.
#
# usage: scan.sh --artifact FILE [--run CMD] [--max-critical N]
#
#   --artifact      the packed build (build.sh's ID.tar.gz)
#   --run           an extra scanner, run in the unpacked build; its last line is
#                   JSON {"critical": N, "high": N, "findings": ["..."]}
#   --max-critical  fail (exit 5) above this many critical findings (default 0)
#
# Built-in checks of the unpacked build:
#   critical  a private key, an AWS access key, or a .env file shipped in the build
#             (secrets belong in shared/.env on each host, never in the artifact);
#             a PHP file that evaluates request input (eval/assert/system on $_GET,
#             $_POST, $_REQUEST, $_COOKIE)
#   high      debug mode on by default (config/app.php), world-writable files
# Last line: {"ok": true, "critical": N, "high": N, "findings": [...]}
. "$(dirname "$0")/lib.sh"

artifact='' run='' max_critical=0
while [ $# -gt 0 ]; do
  case $1 in
    --artifact) need_value "$@"; artifact=$2; shift 2 ;;
    --run) run=${2:-}; shift 2 ;;
    --max-critical) need_value "$@"; max_critical=$2; shift 2 ;;
    -h|--help) usage_from_header; exit 0 ;;
    *) die 2 "unknown option $1 (see scan.sh -h)" ;;
  esac
done
[ -n "$artifact" ] || die 2 "--artifact is required"
[ -f "$artifact" ] || die 3 "no build at $artifact: build the release first"
[[ $max_critical =~ ^[0-9]+$ ]] || die 2 "--max-critical must be a number"

dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
tar -xzf "$artifact" -C "$dir"

critical=() high=()
while IFS= read -r f; do critical+=("private key in ${f#"$dir"/}"); done \
  < <(grep -rlE -- '-----BEGIN ([A-Z]+ )?PRIVATE KEY-----' "$dir" 2>/dev/null || true)
while IFS= read -r f; do critical+=("AWS access key in ${f#"$dir"/}"); done \
  < <(grep -rlE 'AKIA[0-9A-Z]{16}' "$dir" 2>/dev/null || true)
while IFS= read -r f; do critical+=("environment file shipped in the build: ${f#"$dir"/}"); done \
  < <(find "$dir" -name .env -not -path '*/vendor/*' \( -type f -o -type l \) 2>/dev/null)
# shellcheck disable=SC2016  # a regular expression, not an expansion
while IFS= read -r f; do critical+=("request input evaluated as code in ${f#"$dir"/}"); done \
  < <(grep -rlE --include='*.php' '(eval|assert|system|shell_exec|passthru|exec)[[:space:]]*\([^)]*\$_(GET|POST|REQUEST|COOKIE)' \
      "$dir" --exclude-dir=vendor 2>/dev/null || true)
if [ -f "$dir/config/app.php" ] && grep -qE "env\(['\"]APP_DEBUG['\"],[[:space:]]*true\)" "$dir/config/app.php"; then
  high+=("config/app.php turns debug mode on when APP_DEBUG is unset")
fi
while IFS= read -r f; do high+=("world-writable: ${f#"$dir"/}"); done \
  < <(find "$dir" -perm -0002 -type f 2>/dev/null | head -n 20)

extra_critical=0 extra_high=0
if [ -n "$run" ]; then
  out=$(cd "$dir" && bash -c "$run") || die 4 "the scanner failed: $run"
  last=$(printf '%s\n' "$out" | tail -n 1)
  extra_critical=$(printf '%s' "$last" | grep -oE '"critical": *[0-9]+' | grep -oE '[0-9]+$' || true)
  extra_high=$(printf '%s' "$last" | grep -oE '"high": *[0-9]+' | grep -oE '[0-9]+$' || true)
  [ -n "$extra_critical" ] || die 4 "the scanner's last line is not {\"critical\": N, ...}: $last"
  [ "$extra_critical" -eq 0 ] || critical+=("$extra_critical critical finding(s) from: $run")
  extra_high=${extra_high:-0}
  [ "$extra_high" -eq 0 ] || high+=("$extra_high high finding(s) from: $run")
fi

ncrit=$(( ${#critical[@]} - (extra_critical > 0 ? 1 : 0) + extra_critical ))
nhigh=$(( ${#high[@]} - (extra_high > 0 ? 1 : 0) + extra_high ))
for x in ${critical[@]+"${critical[@]}"}; do log "critical: $x"; done
for x in ${high[@]+"${high[@]}"}; do log "high: $x"; done
if [ "$ncrit" -gt "$max_critical" ]; then
  die 5 "$ncrit critical finding(s), at most $max_critical allowed: ${critical[0]}"
fi
log "$ncrit critical, $nhigh high finding(s)"
result critical "$ncrit" high "$nhigh" findings "$(json_list ${critical[@]+"${critical[@]}"} ${high[@]+"${high[@]}"})"
