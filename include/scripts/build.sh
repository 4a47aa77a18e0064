#!/usr/bin/env bash
# build.sh: build one release of the app on the build host, test it, pack it.
#
# usage: build.sh --repo URL --tag TAG --release ID --workdir DIR
#                 [--since REF] [--run CMD]... [--test CMD]... [--report FILE]
#
#   --repo     the app's git repository (URL or path), mirrored in DIR/repo.git
#   --tag      the version to build (an existing git tag)
#   --release  the release id (the folder name it gets on every host)
#   --workdir  the build folder on this host
#   --since    the version live in production: release notes list the commits since it
#   --run      a build command, run in the release folder (repeatable, in order)
#   --test     a test command, run on a copy of the built release (repeatable)
#   --report   a file the tests write (e.g. a clover coverage report), relative to
#              the release; kept as DIR/artifacts/ID.report
#
# Leaves DIR/artifacts/ID.tar.gz, ID.tar.gz.sha256, ID.notes.md and ID.migrations (the new migrations).
# Last line: {"ok": true, "artifact": ..., "sha256": ..., "commit": ..., "notes": ..., "commit_times": "<epoch> ..."}
. "$(dirname "$0")/lib.sh"

repo='' tag='' release='' workdir='' since=''
runs=() tests=() report=''
while [ $# -gt 0 ]; do
  case $1 in
    --repo) need_value "$@"; repo=$2; shift 2 ;;
    --tag) need_value "$@"; tag=$2; shift 2 ;;
    --release) need_value "$@"; release=$2; shift 2 ;;
    --workdir) need_value "$@"; workdir=$2; shift 2 ;;
    --since) since=${2:-}; shift 2 ;;
    --run) need_value "$@"; runs+=("$2"); shift 2 ;;
    --test) need_value "$@"; tests+=("$2"); shift 2 ;;
    --report) report=${2:-}; shift 2 ;;
    -h|--help) usage_from_header; exit 0 ;;
    *) die 2 "unknown option $1 (see build.sh -h)" ;;
  esac
done
[ -n "$repo" ] && [ -n "$tag" ] && [ -n "$release" ] && [ -n "$workdir" ] || die 2 "--repo, --tag, --release and --workdir are required"
check_release_id "$release"

mkdir -p "$workdir/artifacts" "$workdir/work"
mirror="$workdir/repo.git"
# two builds at once (two release runs) share the mirror: one updates it at a time
exec 9>"$workdir/.mirror.lock"
flock -w 300 9 || die 4 "another build has held $workdir/.mirror.lock for 5 minutes"
# git_said FILE: what git printed, on one line (its own words are the diagnosis)
git_said() { { grep -v '^$' "$1" || echo "nothing"; } | tail -n 4 | tr -s ' \n' ' ' | sed 's/ *$//'; }
gitlog="$workdir/work/.git-$release.err"
if [ -d "$mirror" ]; then
  log "fetching $repo"
  git -C "$mirror" remote set-url origin "$repo"
  # not --quiet: a refused tag is said only in git's progress lines
  if ! git -C "$mirror" fetch --prune --tags origin '+refs/heads/*:refs/heads/*' >"$gitlog" 2>&1; then
    said=$(git_said "$gitlog"); rm -f "$gitlog"
    if [[ $said == *"would clobber existing tag"* ]]; then
      die 4 "cannot fetch $repo: git said: $said. A tag was moved in the repository after it was built here; a release never takes a moved tag silently: tag a new version, or remove $mirror on the build host to accept the moved tag"
    fi
    die 4 "cannot fetch $repo: git said: $said. Check the repository address and the build host's access to it"
  fi
else
  log "cloning $repo"
  if ! git clone --quiet --mirror "$repo" "$mirror.tmp" 2>"$gitlog"; then
    said=$(git_said "$gitlog"); rm -rf "$gitlog" "$mirror.tmp"
    die 4 "cannot clone $repo: git said: $said. Check the repository address and the build host's access to it"
  fi
  mv "$mirror.tmp" "$mirror"
fi
rm -f "$gitlog"
commit=$(git -C "$mirror" rev-parse --verify --quiet "refs/tags/$tag^{commit}") \
  || die 3 "tag $tag does not exist in $repo: push the tag, or pick one of: $(git -C "$mirror" tag --sort=-v:refname | head -n 5 | paste -sd' ')"

dir="$workdir/work/$release"
rm -rf "$dir" "$dir.test"
mkdir -p "$dir"
git -C "$mirror" archive "$commit" | tar -x -C "$dir"
exec 9>&-  # the mirror is free for the next build
log "$tag is $commit, unpacked in $dir"

for cmd in ${runs[@]+"${runs[@]}"}; do
  (cd "$dir" && run_logged build "$cmd") || die 4 "build command failed: $cmd (output above)"
done

tests_summary="no test commands configured"
if [ ${#tests[@]} -gt 0 ]; then
  cp -a "$dir" "$dir.test"
  out="$workdir/work/$release.tests.log"
  tests_summary=''
  for cmd in "${tests[@]}"; do
    log "test: $cmd"
    (cd "$dir.test" && bash -c "$cmd") >"$out" 2>&1 || { cat "$out" >&2; rm -rf "$dir.test"; die 4 "tests failed: $cmd (output above)"; }
    cat "$out" >&2
    tests_summary+=$(test_summaries "$out")$'\n'   # every command's summary: pass or fail is from the exit codes
  done
  tests_summary=$(printf '%s' "$tests_summary" | grep . || true)
  if [ -n "$report" ]; then
    [ -f "$dir.test/$report" ] || { rm -rf "$dir.test"; die 4 "the tests did not write $report: check the test commands"; }
    cp "$dir.test/$report" "$workdir/artifacts/$release.report"
  fi
  rm -rf "$dir.test" "$out"
fi

if [ -n "$since" ] && git -C "$mirror" rev-parse --verify --quiet "refs/tags/$since^{commit}" >/dev/null; then
  range="$since..$commit"
else
  range=$commit
fi
notes=$(git -C "$mirror" log --no-merges --format='- %s (%h, %an)' -n 100 "$range")
# when each change of the release was committed (epoch seconds): its lead time ends when production is verified
commit_times=$(git -C "$mirror" log --no-merges --format=%ct -n 100 "$range" | paste -sd' ')
[ -n "$notes" ] || notes="- no changes since $since"
printf '# %s\n\n%s\n' "$tag" "$notes" >"$workdir/artifacts/$release.notes.md"

# The migrations this release adds (or changes) since the live version, in one file for the
# migration-safety gate: "=== <path>" and then the file.
if [ "$range" = "$commit" ]; then
  new_migrations=$(cd "$dir" && find database/migrations -name '*.php' 2>/dev/null | sort)
else
  new_migrations=$(git -C "$mirror" diff --name-only --diff-filter=AM "$since" "$commit" -- database/migrations | sort)
fi
: >"$workdir/artifacts/$release.migrations"
for m in $new_migrations; do
  printf '=== %s\n' "$m" >>"$workdir/artifacts/$release.migrations"
  cat "$dir/$m" >>"$workdir/artifacts/$release.migrations"
done

cat >"$dir/.release.json" <<JSON
{"release": $(json_str "$release"), "version": $(json_str "$tag"), "commit": "$commit", "built_at": "$(date -u +%FT%TZ)"}
JSON
artifact="$workdir/artifacts/$release.tar.gz"
tar -czf "$artifact.partial" -C "$dir" .
mv "$artifact.partial" "$artifact"
sha=$(sha256sum "$artifact" | cut -d' ' -f1)
echo "$sha" >"$artifact.sha256"
rm -rf "$dir"
bytes=$(stat -c %s "$artifact")
log "packed $artifact ($bytes bytes, sha256 $sha)"
result release "$release" version "$tag" commit "$commit" artifact "$artifact" sha256 "$sha" \
  bytes "$bytes" tests "$tests_summary" report "${report:+$workdir/artifacts/$release.report}" \
  since "${since:-}" notes "$notes" migrations "$workdir/artifacts/$release.migrations" commit_times "$commit_times"
