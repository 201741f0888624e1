#!/usr/bin/env bash
# Builds every package and type-checks it with its tests (go vet) for the
# six targets mailseal supports: linux, darwin and windows on amd64 and
# arm64. Reuses the build cache, so a second run takes seconds.
set -euo pipefail
cd "$(dirname "$0")/.."

for goos in linux darwin windows; do
  for goarch in amd64 arm64; do
    echo "crossbuild: $goos/$goarch"
    GOOS=$goos GOARCH=$goarch go build ./...
    GOOS=$goos GOARCH=$goarch go vet ./...
  done
done
