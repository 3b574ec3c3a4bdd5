#!/bin/sh
# Installs every Debian package petrel's build, tests, demo and benchmark need, and
# what building and checking the Debian package (make install, debian/) needs.
# Idempotent: does nothing (and needs no network) when all are present.
# clang with libclang-rt-dev (its libFuzzer and sanitizer runtimes, only recommended by
# clang, and recommends are not installed here) builds the fuzz targets of make check.
set -eu

PKGS="gcc clang libclang-rt-dev make pkg-config
libcurl4-openssl-dev libsodium-dev libssl-dev libarchive-dev libsqlite3-dev libsystemd-dev
libjansson-dev libinih-dev libcmocka-dev
minisign nginx-light curl sqlite3 python3 perl jq util-linux procps strace
systemd man-db groff-base dpkg-dev debhelper lintian"

missing=""
for p in $PKGS; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
		missing="$missing $p"
	fi
done
[ -z "$missing" ] && exit 0

echo "install-deps: installing:$missing" >&2
if [ "$(id -u)" -ne 0 ]; then
	SUDO=sudo
else
	SUDO=
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
# shellcheck disable=SC2086
$SUDO apt-get install -y -qq --no-install-recommends $missing >/dev/null
