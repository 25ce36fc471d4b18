#!/usr/bin/env bash
# release.sh — build topscript's release binaries: one static binary per
# OS and architecture (CGO_ENABLED=0, so it runs on any machine of its OS
# with nothing installed), stamped with the version, in an archive each,
# with a SHA256SUMS file.
#
#   scripts/release.sh [VERSION]            # default: git describe, else "dev"
#   TARGETS="linux/amd64 windows/amd64" scripts/release.sh v1.2.0
#   OUT=/tmp/dist scripts/release.sh v1.2.0
#
# Writes OUT (default dist/):
#   topscript_VERSION_OS_ARCH.tar.gz (.zip for Windows) holding topscript
#   (topscript.exe), README.md and topscript.toml; SHA256SUMS.
# Each binary is checked: built with CGO_ENABLED=0 (go version -m) and
# holding the version; the one for this machine is also run and must say
# it (topscript version).
set -euo pipefail
cd "$(dirname "$0")/.."

version=${1:-$(git describe --tags --always --dirty 2>/dev/null || echo dev)}
targets=${TARGETS:-"linux/amd64 linux/arm64 darwin/amd64 darwin/arm64 windows/amd64 windows/arm64"}
out=${OUT:-dist}
mkdir -p "$out"
out=$(cd "$out" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

host="$(go env GOOS)/$(go env GOARCH)"
for target in $targets; do
  os=${target%/*}
  arch=${target#*/}
  name="topscript_${version}_${os}_${arch}"
  dir="$work/$name"
  mkdir -p "$dir"
  exe=topscript
  [ "$os" = windows ] && exe=topscript.exe
  echo "release: $target" >&2
  CGO_ENABLED=0 GOOS=$os GOARCH=$arch go build -trimpath \
    -ldflags "-s -w -X main.version=$version" -o "$dir/$exe" ./cmd/topscript
  info=$(go version -m "$dir/$exe")
  grep -q 'CGO_ENABLED=0' <<<"$info" || { echo "release: $target: not built with CGO_ENABLED=0" >&2; exit 1; }
  grep -q -a -F "$version" "$dir/$exe" || { echo "release: $target: version $version not in the binary" >&2; exit 1; }
  if [ "$target" = "$host" ]; then
    got=$("$dir/$exe" version)
    case "$got" in
      "topscript $version "*) ;;
      *) echo "release: $target: topscript version says \"$got\", want $version" >&2; exit 1 ;;
    esac
  fi
  cp README.md topscript.toml "$dir/"
  if [ "$os" = windows ]; then
    (cd "$work" && rm -f "$out/$name.zip" && zip -qr "$out/$name.zip" "$name")
  else
    tar -C "$work" -czf "$out/$name.tar.gz" "$name"
  fi
done
(cd "$out" && sha256sum topscript_"${version}"_* > SHA256SUMS)
echo "release: $(wc -l < "$out/SHA256SUMS") archives in $out" >&2
