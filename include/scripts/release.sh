#!/usr/bin/env bash
# release.sh: unpack an uploaded build into its own release folder.
#
# usage: release.sh --deploy-path P --release ID --artifact FILE [--sha256 HEX]
#
# Creates P/releases/ID from FILE, checked first against HEX or, without
# --sha256, against FILE.sha256 when the build's checksum was uploaded beside it.
# Running it again
# rebuilds the folder from scratch, unless ID is the live release (exit 3).
# The live release is never touched.
. "$(dirname "$0")/lib.sh"

path='' release='' artifact='' sha=''
while [ $# -gt 0 ]; do
  case $1 in
    --deploy-path) need_value "$@"; path=$2; shift 2 ;;
    --release) need_value "$@"; release=$2; shift 2 ;;
    --artifact) need_value "$@"; artifact=$2; shift 2 ;;
    --sha256) need_value "$@"; sha=$2; shift 2 ;;
    -h|--help) usage_from_header; exit 0 ;;
    *) die 2 "unknown option $1 (see release.sh -h)" ;;
  esac
done
[ -n "$path" ] && [ -n "$release" ] && [ -n "$artifact" ] || die 2 "--deploy-path, --release and --artifact are required"
check_release_id "$release"
check_deploy_path "$path"
[ -f "$artifact" ] || die 3 "artifact $artifact is not on $HOST_NAME: upload it first"
if [ -z "$sha" ] && [ -f "$artifact.sha256" ]; then sha=$(cut -d' ' -f1 "$artifact.sha256"); fi
if [ -n "$sha" ]; then
  actual=$(sha256sum "$artifact" | cut -d' ' -f1)
  [ "$actual" = "$sha" ] || die 3 "artifact $artifact is corrupt (sha256 $actual, expected $sha): upload it again"
fi

adopt_releases "$path"   # the release live before the first run here is its safety net
target="$path/releases/$release"
if [ "$(readlink -f "$path/current" 2>/dev/null)" = "$(readlink -f "$target" 2>/dev/null)" ] && [ -e "$target" ]; then
  die 3 "release $release is live on $HOST_NAME: it is not unpacked again"
fi
mkdir -p "$path/releases"
rm -rf "$target" "$target.partial"
mkdir "$target.partial"
tar -xzf "$artifact" -C "$target.partial" || { rm -rf "$target.partial"; die 4 "cannot unpack $artifact"; }
[ -f "$target.partial/.release.json" ] || { rm -rf "$target.partial"; die 3 "$artifact is not a release build (no .release.json)"; }
mv "$target.partial" "$target"
rm -f "$artifact" "$artifact.sha256"
log "unpacked $release in $target"
result release "$release" path "$target"
