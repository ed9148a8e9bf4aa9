#!/bin/sh
# install-deps.sh [package]: install the Debian 12 packages leafmail needs
# to build, test and run its demo; with "package", those that build and
# check the Debian package instead (make deb, make check-package).
# Idempotent; does nothing when all are present.  Called by `make deps`
# (and so by `make check` and `make demo`).
set -eu

PKGS="build-essential pkg-config clang libclang-rt-14-dev
libmilter-dev libconfuse-dev libsqlite3-dev sqlite3 liblmdb-dev lmdb-utils libcmocka-dev libhiredis-dev redis-server
zlib1g-dev libssl-dev libcurl4-openssl-dev libmicrohttpd-dev libjson-c-dev libsystemd-dev
postfix postfix-lmdb dovecot-core dovecot-pop3d dovecot-imapd
miltertest swaks mandoc perl libnet-perl curl iproute2 procps psmisc python3 openssh-server openssh-client libio-socket-inet6-perl m4 postgresql libpq-dev safecat"

# The account the daemons switch to (as a package's postinst would make it);
# tests started as root need a real unprivileged user to drop to.
ensure_user() {
	id leafmail >/dev/null 2>&1 && return 0
	[ "$(id -u)" = 0 ] || return 0
	useradd --system --home-dir /var/lib/leafmail --no-create-home \
		--shell /usr/sbin/nologin leafmail
}

# For the package: the tools; debian/control's Build-Depends come from
# apt-get build-dep below, so they are listed in one place only.
mode=${1:-}
if [ "$mode" = package ]; then
	PKGS="build-essential debhelper dpkg-dev fakeroot lintian piuparts mmdebstrap systemd systemd-container iproute2"
	src=$(cd "$(dirname "$0")/.." && pwd)
fi
build_deps() {
	[ "$mode" = package ] || return 0
	(cd "$src" && dpkg-checkbuilddeps >/dev/null 2>&1) && return 0
	[ "$(id -u)" = 0 ] || { echo "install-deps: build dependencies missing (run as root)" >&2; exit 69; }
	apt-get build-dep -y -qq "$src"
}

missing=""
for p in $PKGS; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" ||
		missing="$missing $p"
done
if [ -z "$missing" ]; then
	[ "$mode" = package ] && build_deps
	[ "$mode" = package ] || ensure_user
	exit 0
fi

if [ "$(id -u)" != 0 ]; then
	echo "install-deps: missing packages:$missing (run as root to install)" >&2
	exit 69
fi
export DEBIAN_FRONTEND=noninteractive
# Postfix asks what kind of site this is; we only run private instances.
echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections
echo "postfix postfix/mailname string leafmail.invalid" | debconf-set-selections
apt-get update -qq
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $missing
# The packaged daemons must not run: tests start private instances.
for s in postfix dovecot ssh postgresql redis-server; do
	if command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ]; then
		systemctl disable --now "$s" >/dev/null 2>&1 || true
	else
		service "$s" stop >/dev/null 2>&1 || true
	fi
done
if [ "$mode" = package ]; then
	build_deps
	exit 0
fi
ensure_user
exit 0
