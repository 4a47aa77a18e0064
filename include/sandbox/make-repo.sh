#!/usr/bin/env bash
# Builds the sandbox application's git repository: app/ is the first release
# (v1.0.0); each folder under versions/ is laid over the previous release and
# tagged with its name, in version order. The result is a bare repository,
# the "origin" the build host clones, as GitHub would be for ZenaManage.
#
# usage: make-repo.sh DEST.git
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
dest=${1:?usage: make-repo.sh DEST.git}

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

git init -q -b main "$work"
gitc() { git -C "$work" -c user.name="ZenaManage Developers" -c user.email="dev@zenamanage.test" "$@"; }

commit_layer() {  # layer-folder tag date
  local layer=$1 tag=$2 date=$3
  (cd "$layer" && tar --exclude=.message --exclude=vendor -cf - .) | tar -xmf - -C "$work"  # -m: new mtimes, so git sees every change
  gitc add -A
  GIT_AUTHOR_DATE=$date GIT_COMMITTER_DATE=$date gitc commit -q -F "$layer/.message"
  GIT_COMMITTER_DATE=$date gitc tag -a "$tag" -m "ZenaManage $tag"
}

commit_layer "$here/app" v1.0.0 "2025-01-06T10:00:00Z"
day=7
for layer in $(ls -d "$here"/versions/v* | sort -V); do
  commit_layer "$layer" "$(basename "$layer")" "2025-01-$(printf %02d "$day")T10:00:00Z"
  day=$((day + 7))
done

rm -rf "$dest.tmp"
git clone -q --bare "$work" "$dest.tmp"
rm -rf "$dest"
mv "$dest.tmp" "$dest"
echo "repository=$dest tags=$(git -C "$dest" tag | sort -V | paste -sd, -)"
