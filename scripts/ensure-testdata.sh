#!/usr/bin/env bash
# Test images fetched at test time, not committed: old-style DICOM files from Debian's pydicom test
# data (python3-pydicom, MIT), copied unchanged into .testdata/pydicom/ (git-ignored). Which files and
# why: test/TESTDATA.md. Idempotent: once every file is there with the expected
# SHA-256 it does nothing; otherwise it downloads the package (apt-get download, no install), unpacks it
# with dpkg -x in a temporary folder and copies the files over. As root it runs apt-get update first
# when the package lists do not know the package.
set -euo pipefail
cd "$(dirname "$0")/.."
dest=.testdata/pydicom
# name  sha256 (python3-pydicom 2.3.1-1, Debian bookworm); a different release with other bytes fails
# here, loudly, rather than changing what the tests compare.
files=(
  "MR_small_implicit.dcm 6077442c42a56fc7fcc7db8411a657dded9fc109e6d3275765c4de358292b299"
  "MR_small_bigendian.dcm 3e4c8c9fe70de4f3be149bbd673fa56f211c8e8e2ff9bac63f70f9dc31b5d108"
  "ExplVR_BigEnd.dcm 42eb61ea5650f1064e52d48019cd87b118e52cf4dfbc8fa57427ed2ed4c036ea"
  "ExplVR_BigEndNoMeta.dcm a56be8c8c52f0d1cf55d7c2ced6abc6f22b799cbf556b84b856055a7a7565949"
  "ExplVR_LitEndNoMeta.dcm 008e9302975d34899d89b4e3f044f8637b16acde25242eb0b36a1ffc034b9b42"
  "no_meta.dcm 52912b9950f457ac7618efaad0cdd91b52354e07fbc25abee895bd86beebf9bc"
  "rtstruct.dcm 40c41bdf871fd8553396b02476a66024ed23c04927c0dc53fd10ecd3472cd0d3"
)

complete() {
  for entry in "${files[@]}"; do
    set -- $entry
    [ -f "$dest/$1" ] && [ "$(sha256sum "$dest/$1" | cut -d' ' -f1)" = "$2" ] || return 1
  done
}
complete && exit 0

echo "Fetching pydicom's test DICOM files from Debian (python3-pydicom) into $dest…"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
download() { (cd "$work" && apt-get download -qq python3-pydicom >/dev/null 2>&1); }
if ! download; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "apt-get download python3-pydicom failed. Run as root (for apt-get update), or fetch it by hand: see $0" >&2
    exit 1
  fi
  apt-get update -qq
  download || { echo "apt-get download python3-pydicom failed after apt-get update" >&2; exit 1; }
fi
dpkg -x "$work"/python3-pydicom_*.deb "$work/x"
src=$(find "$work/x" -type d -path '*pydicom/data/test_files' | head -1)
[ -n "$src" ] || { echo "python3-pydicom has no pydicom/data/test_files" >&2; exit 1; }
version=$(dpkg-deb -f "$work"/python3-pydicom_*.deb Version)
mkdir -p "$dest"
for entry in "${files[@]}"; do
  set -- $entry
  [ -f "$src/$1" ] || { echo "python3-pydicom $version has no $1" >&2; exit 1; }
  got=$(sha256sum "$src/$1" | cut -d' ' -f1)
  [ "$got" = "$2" ] || { echo "python3-pydicom $version: $1 has SHA-256 $got, the tests expect $2" >&2; exit 1; }
  cp "$src/$1" "$dest/$1"
done
cp "$src/README.txt" "$dest/README.txt"
echo "python3-pydicom $version" >"$dest/VERSION"
complete
