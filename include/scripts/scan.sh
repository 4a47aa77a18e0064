#!/usr/bin/env bash
# scan.sh: security scan of a built release, before it goes anywhere near production.
#
# usage: scan.sh --artifact FILE [--run CMD] [--max-critical N] [--advisories warn|block|off]
#        scan.sh --dir DIR --advisories-only [--max-critical N] [--advisories warn|block]
#
#   --artifact      the packed build (build.sh's ID.tar.gz)
#   --dir           a release folder, scanned where it is (a live release: nothing is written there)
#   --advisories-only  only the known advisories (the audit of a live release)
#   --run           an extra scanner, run in the unpacked build; its last line is
#                   JSON {"critical": N, "high": N, "findings": ["..."]}
#   --max-critical  fail (exit 5) above this many critical findings (default 0)
#   --advisories    the known advisories of the locked dependencies: `composer audit`
#                   (composer.lock) and `npm audit` (package-lock.json), counted with
#                   the findings. When the advisory database cannot be reached: warn
#                   (default: said, and the scan goes on), block (exit 6), or off
#
# Built-in checks of the unpacked build:
#   critical  a private key, an AWS access key, or a .env file shipped in the build
#             (secrets belong in shared/.env on each host, never in the artifact);
#             a PHP file that evaluates request input (eval/assert/system on $_GET,
#             $_POST, $_REQUEST, $_COOKIE)
#   high      debug mode on by default (config/app.php), world-writable files
# Last line: {"ok": true, "critical": N, "high": N, "findings": [...]}
. "$(dirname "$0")/lib.sh"

artifact='' in_dir='' only='' run='' max_critical=0 advisories=warn
while [ $# -gt 0 ]; do
  case $1 in
    --artifact) need_value "$@"; artifact=$2; shift 2 ;;
    --dir) need_value "$@"; in_dir=$2; shift 2 ;;
    --advisories-only) only=1; shift ;;
    --run) run=${2:-}; shift 2 ;;
    --max-critical) need_value "$@"; max_critical=$2; shift 2 ;;
    --advisories) need_value "$@"; advisories=$2; shift 2 ;;
    -h|--help) usage_from_header; exit 0 ;;
    *) die 2 "unknown option $1 (see scan.sh -h)" ;;
  esac
done
[ -n "$artifact$in_dir" ] || die 2 "--artifact (a build) or --dir (a release folder) is required"
[ -z "$artifact" ] || [ -f "$artifact" ] || die 3 "no build at $artifact: build the release first"
[ -z "$in_dir" ] || [ -d "$in_dir" ] || die 3 "no release folder at $in_dir on $HOST_NAME"
[[ $max_critical =~ ^[0-9]+$ ]] || die 2 "--max-critical must be a number"
case $advisories in warn|block|off) ;; *) die 2 "--advisories must be warn, block or off, not $advisories" ;; esac

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
if [ -n "$artifact" ]; then
  dir=$work/build
  mkdir "$dir"
  tar -xzf "$artifact" -C "$dir"
else
  dir=$(cd "$in_dir" && pwd -P)
fi

critical=() high=()
if [ -z "$only" ]; then
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
fi

# counted CRITICAL HIGH SOURCE: a source's counts, one line each, every finding counted
more_critical=0 more_high=0
counted() {
  if [ "$1" -gt 0 ]; then critical+=("$1 critical finding(s) from $3"); more_critical=$((more_critical + $1 - 1)); fi
  if [ "$2" -gt 0 ]; then high+=("$2 high finding(s) from $3"); more_high=$((more_high + $2 - 1)); fi
}

if [ -n "$run" ] && [ -z "$only" ]; then
  out=$(cd "$dir" && bash -c "$run") || die 4 "the scanner failed: $run"
  last=$(printf '%s\n' "$out" | tail -n 1)
  extra_critical=$(printf '%s' "$last" | grep -oE '"critical": *[0-9]+' | grep -oE '[0-9]+$' || true)
  extra_high=$(printf '%s' "$last" | grep -oE '"high": *[0-9]+' | grep -oE '[0-9]+$' || true)
  [ -n "$extra_critical" ] || die 4 "the scanner's last line is not {\"critical\": N, ...}: $last"
  counted "$extra_critical" "${extra_high:-0}" "$run"
fi

# Known advisories of the locked dependencies. composer audit's advisories (a severity of
# critical, else high) or npm audit's metadata: "C H"; exit 3 when the JSON is neither.
# shellcheck disable=SC2016  # PHP, not shell
AUDIT_COUNTS='$j = json_decode(stream_get_contents(STDIN), true);
if (!is_array($j) || isset($j["error"])) exit(3);
if (isset($j["metadata"]["vulnerabilities"])) { $v = $j["metadata"]["vulnerabilities"];
  printf("%d %d\n", $v["critical"] ?? 0, $v["high"] ?? 0); exit(0); }
if (!array_key_exists("advisories", $j)) exit(3);
$c = 0; $h = 0;
foreach ($j["advisories"] as $list) foreach ($list as $a) {
  if (strtolower((string)($a["severity"] ?? "")) === "critical") $c++; else $h++; }
printf("%d %d\n", $c, $h);'
unreachable=()
audit() {  # NAME TOOL ARGS...: run in the unpacked build; its counts, or why it could not ask
  local name=$1 out counts c h
  shift
  command -v "$1" >/dev/null || { unreachable+=("$name: $1 is not installed on the build host"); return 0; }
  out=$(cd "$dir" && "$@" 2>"$work/audit-err") || true
  if [ -z "$out" ] && ! [ -s "$work/audit-err" ]; then return 0; fi
  if counts=$(printf '%s' "$out" | php -r "$AUDIT_COUNTS" 2>/dev/null); then
    read -r c h <<<"$counts"
    log "$name: $c critical, $h high advisory(ies)"
    counted "$c" "$h" "$name"
  elif grep -q 'No packages - skipping audit' "$work/audit-err"; then
    return 0
  else
    unreachable+=("$name: $( (grep -m1 -iE 'could not|resolve|refused|ENOTFOUND|ECONNREFUSED|failed|error' "$work/audit-err" \
      || tail -n 1 "$work/audit-err") | sed -E 's/^[[:space:]]+//' | cut -c1-200)")
  fi
}
advised=off
if [ "$advisories" != off ]; then
  advised=checked
  [ ! -f "$dir/composer.lock" ] || audit "composer audit" composer audit --locked --no-dev --format=json --no-interaction
  [ ! -f "$dir/package-lock.json" ] || audit "npm audit" npm audit --package-lock-only --omit=dev --json
  if [ ${#unreachable[@]} -gt 0 ]; then
    advised="unreachable: ${unreachable[*]}"
    note="the advisory database could not be reached (${unreachable[*]}): the dependencies' known vulnerabilities were not checked"
    [ "$advisories" = warn ] || die 6 "$note. The scan stops (build.advisories: block): let the build host reach it, or set build.advisories: warn to release without that check"
    log "WARNING: $note (build.advisories: warn)"
  fi
fi

ncrit=$(( ${#critical[@]} + more_critical ))
nhigh=$(( ${#high[@]} + more_high ))
for x in ${critical[@]+"${critical[@]}"}; do log "critical: $x"; done
for x in ${high[@]+"${high[@]}"}; do log "high: $x"; done
if [ "$ncrit" -gt "$max_critical" ]; then
  die 5 "$ncrit critical finding(s), at most $max_critical allowed: ${critical[0]}"
fi
log "$ncrit critical, $nhigh high finding(s)"
result critical "$ncrit" high "$nhigh" advisories "$advised" \
  findings "$(json_list ${critical[@]+"${critical[@]}"} ${high[@]+"${high[@]}"})"
