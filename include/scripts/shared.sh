#!/usr/bin/env bash
# shared.sh: link the state every release shares into a release folder.
#
# usage: shared.sh --deploy-path P --release ID [--dir D]... [--file F]...
#
# Defaults: --dir storage --file .env. P/shared/D and P/shared/F hold the real
# data; the release gets symbolic links to them. What a shared folder lacks is
# seeded from the release (nothing that exists is changed: folders another user
# owns keep their owner, mode and times); a shared file missing is an error
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

# seed_missing FROM TO: copy into TO what it lacks from FROM, never touching what exists
# (folders another user owns keep their owner, mode and times).
seed_missing() {
  local from=$1 to=$2 rel
  while IFS= read -r -d '' rel; do
    rel=${rel#./}
    [ -e "$to/$rel" ] || [ -L "$to/$rel" ] && continue
    if [ -d "$from/$rel" ] && [ ! -L "$from/$rel" ]; then
      mkdir "$to/$rel" 2>/dev/null || die 3 "cannot create $to/$rel as $(id -un) on $HOST_NAME: make $(dirname "$to/$rel") writable for $(id -un) (e.g. chgrp $(id -gn) and chmod g+w), or create it"
    else
      cp -P "$from/$rel" "$to/$rel" 2>/dev/null || die 3 "cannot write $to/$rel as $(id -un) on $HOST_NAME: make $(dirname "$to/$rel") writable for $(id -un) (e.g. chgrp $(id -gn) and chmod g+w), or copy it there"
    fi
  done < <(cd "$from" && find . -mindepth 1 -print0)
}
[ -d "$target" ] || die 3 "release $release is not unpacked on $HOST_NAME: run release.sh first"

for f in "${files[@]}"; do
  [ -f "$path/shared/$f" ] || die 3 "shared file $path/shared/$f is missing on $HOST_NAME: create it (the app's $f) before deploying"
  rm -rf "${target:?}/$f"
  mkdir -p "$(dirname "$target/$f")"
  ln -s "$path/shared/$f" "$target/$f"
done
for d in "${dirs[@]}"; do
  [ -d "$path/shared/$d" ] || mkdir -p "$path/shared/$d" 2>/dev/null \
    || die 3 "cannot create $path/shared/$d as $(id -un) on $HOST_NAME: create it, owned by or group-writable for $(id -un)"
  if [ -d "$target/$d" ] && [ ! -L "$target/$d" ]; then
    seed_missing "$target/$d" "$path/shared/$d"
    rm -rf "${target:?}/$d"
  fi
  mkdir -p "$(dirname "$target/$d")"
  ln -sfn "$path/shared/$d" "$target/$d"
done
if [ -d "$path/shared/storage" ]; then
  for sub in app logs framework/cache/data framework/sessions framework/views; do
    [ -d "$path/shared/storage/$sub" ] || mkdir -p "$path/shared/storage/$sub" 2>/dev/null \
      || die 3 "cannot create $path/shared/storage/$sub as $(id -un) on $HOST_NAME: create it, or make its parent group-writable for $(id -un)"
  done
fi
log "linked ${dirs[*]} ${files[*]} into $release"
result release "$release" dirs "${dirs[*]}" files "${files[*]}"
