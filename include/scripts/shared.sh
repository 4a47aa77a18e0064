#!/usr/bin/env bash
# shared.sh: link the state every release shares into a release folder.
#
# usage: shared.sh --deploy-path P --release ID [--dir D]... [--file F]...
#
# Defaults: --dir storage --file .env. P/shared/D and P/shared/F hold the real
# data; the release gets symbolic links to them. A shared folder missing on the
# first deploy is seeded from the release; a shared file missing is an error
# (the operator provides .env).
. "$(dirname "$0")/lib.sh"

path='' release=''
dirs=() files=()
while [ $# -gt 0 ]; do
  case $1 in
    --deploy-path) need_value "$@"; path=$2; shift 2 ;;
    --release) need_value "$@"; release=$2; shift 2 ;;
    --dir) need_value "$@"; dirs+=("$2"); shift 2 ;;
    --file) need_value "$@"; files+=("$2"); shift 2 ;;
    -h|--help) usage_from_header; exit 0 ;;
    *) die 2 "unknown option $1 (see shared.sh -h)" ;;
  esac
done
[ -n "$path" ] && [ -n "$release" ] || die 2 "--deploy-path and --release are required"
check_release_id "$release"
[ ${#dirs[@]} -gt 0 ] || dirs=(storage)
[ ${#files[@]} -gt 0 ] || files=(.env)
target="$path/releases/$release"
[ -d "$target" ] || die 3 "release $release is not unpacked on $(hostname): run release.sh first"

for f in "${files[@]}"; do
  [ -f "$path/shared/$f" ] || die 3 "shared file $path/shared/$f is missing on $(hostname): create it (the app's $f) before deploying"
  rm -rf "${target:?}/$f"
  mkdir -p "$(dirname "$target/$f")"
  ln -s "$path/shared/$f" "$target/$f"
done
for d in "${dirs[@]}"; do
  mkdir -p "$path/shared/$d"
  if [ -d "$target/$d" ] && [ ! -L "$target/$d" ]; then
    cp -an "$target/$d/." "$path/shared/$d/"   # seeds what is missing, overwrites nothing
    rm -rf "${target:?}/$d"
  fi
  mkdir -p "$(dirname "$target/$d")"
  ln -sfn "$path/shared/$d" "$target/$d"
done
if [ -d "$path/shared/storage" ]; then
  mkdir -p "$path/shared/storage/app" "$path/shared/storage/logs" \
    "$path/shared/storage/framework/cache/data" "$path/shared/storage/framework/sessions" "$path/shared/storage/framework/views"
fi
log "linked ${dirs[*]} ${files[*]} into $release"
result release "$release" dirs "${dirs[*]}" files "${files[*]}"
