#!/bin/sh
# check.sh DEBDIR - the Debian package as an administrator meets it
# (`make check-package`, which builds DEBDIR/leafmail_*.deb first).
#
#   1. lintian: no error and no warning that debian/ does not override
#      with a reason;
#   2. piuparts: install, remove and purge in a clean Debian 12 chroot,
#      nothing left behind (Debian's own tester);
#   3. in a throw-away overlay of a fresh Debian 12 root, in a network
#      namespace of its own (loopback only): `apt-get install
#      ./leafmail_*.deb`; nothing started and no MTA file changed; every
#      daemon's -t on the shipped configuration; each daemon started the
#      way its systemd unit starts it (the unit's User=, Group= and
#      SupplementaryGroups=, UMask=, ExecStartPre= and ExecStart=, with a
#      NOTIFY_SOCKET: READY=1 must come), its socket or listener checked,
#      then TERM and a clean exit; `apt-get purge`, and no file of ours
#      left;
#   4. the units' exposure by `systemd-analyze security --offline`
#      (<= 4.9 each);
#   5. tests/package/boot.sh: the units under a real systemd, in the fresh
#      root booted by systemd-nspawn: each enabled and started, active,
#      running as leafmail, its socket reachable by Postfix's user,
#      reloaded where it has a reload, stopped cleanly.
#
# The fresh root is $FRESH_ROOT (default /srv/fresh/root, what
# ../shared/tools/fresh-debian builds), made with mmdebstrap when missing.
# Needs root.  Prints ok/not ok lines and "N passed, N failed".
set -u
debdir=${1:-deb}
src=$(cd "$(dirname "$0")/../.." && pwd)
case $debdir in /*) ;; *) debdir=$src/$debdir ;; esac
deb=$(ls "$debdir"/leafmail_*.deb 2>/dev/null | head -1)
[ -n "$deb" ] || { echo "check-package: no $debdir/leafmail_*.deb (make deb)" >&2; exit 2; }
[ "$(id -u)" = 0 ] || { echo "check-package: needs root" >&2; exit 2; }
root=${FRESH_ROOT:-/srv/fresh/root}
pass=0 fail=0
ok() { pass=$((pass + 1)); echo "ok - $*"; }
notok() { fail=$((fail + 1)); echo "not ok - $*"; }
check() { _d=$1; shift; if "$@"; then ok "$_d"; else notok "$_d"; fi; }

mirror=$(awk '/^URIs:/ {print $2; exit}' /etc/apt/sources.list.d/debian.sources 2>/dev/null)
[ -n "$mirror" ] || mirror=$(awk '$1 == "deb" {print $2; exit}' /etc/apt/sources.list 2>/dev/null)
if [ ! -x "$root/usr/bin/apt-get" ]; then
	echo "# building a minimal Debian 12 root in $root (once)"
	mkdir -p "$(dirname "$root")"
	mmdebstrap --variant=minbase --include=ca-certificates bookworm "$root" "$mirror" \
		>"$root.log" 2>&1 || { echo "check-package: mmdebstrap failed ($root.log)" >&2; exit 2; }
fi
work=$(mktemp -d /tmp/lmpkg.XXXXXX)
chmod 755 "$work"
m=$work/merged
mounts=""
cleanup() {
	for p in /proc/[0-9]*; do
		[ "$(readlink "$p/root" 2>/dev/null)" = "$m" ] && kill -9 "${p#/proc/}" 2>/dev/null
	done
	sleep 0.3
	for mp in $mounts; do umount -l "$mp" 2>/dev/null; done
	rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

# 1. lintian
echo "# lintian $(lintian --version 2>/dev/null)"
if lintian --fail-on error,warning --info "$deb" >"$work/lintian.out" 2>&1; then
	ok "lintian: no error, no unexplained warning"
else
	notok "lintian: no error, no unexplained warning"
fi
sed 's/^/#   /' "$work/lintian.out" | head -40

# 2. piuparts (its own copy of the fresh root)
echo "# piuparts $(dpkg-query -W -f='${Version}' piuparts 2>/dev/null)"
if piuparts --existing-chroot="$root" --distribution=bookworm --mirror="$mirror main" \
	--warn-on-others --scriptsdir=/etc/piuparts/scripts --tmpdir="$work" \
	"$deb" >"$work/piuparts.out" 2>&1; then
	ok "piuparts: install, remove, purge"
else
	notok "piuparts: install, remove, purge"
	grep -E 'ERROR|FAIL|FAILED|left' "$work/piuparts.out" | head -30 | sed 's/^/#   /'
fi
tail -2 "$work/piuparts.out" | sed 's/^/#   /'

# 3. the fresh root
mkdir -p "$work/upper" "$work/wk" "$m"
mount -t overlay overlay -o "lowerdir=$root,upperdir=$work/upper,workdir=$work/wk" "$m" ||
	{ notok "overlay mount of $root"; echo "$pass passed, $fail failed"; exit 1; }
mounts="$m"
for d in proc sys dev dev/pts; do mount --bind "/$d" "$m/$d" && mounts="$m/$d $mounts"; done
mount -t tmpfs tmpfs "$m/run" && mounts="$m/run $mounts"
mount -t tmpfs tmpfs "$m/tmp" && mounts="$m/tmp $mounts"
cp /etc/resolv.conf "$m/etc/resolv.conf"
printf '#!/bin/sh\nexit 101\n' >"$m/usr/sbin/policy-rc.d"
chmod 755 "$m/usr/sbin/policy-rc.d"
mkdir -p "$m/root/pkg"
cp "$deb" "$m/root/pkg/"
cp "$src/tests/package/inside.sh" "$m/root/pkg/"
incr() { # PHASE [unshare...]: one phase of inside.sh in the chroot
	_ph=$1
	shift
	"$@" chroot "$m" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin \
		HOME=/root LANG=C.UTF-8 sh /root/pkg/inside.sh "$_ph" \
		"/root/pkg/$(basename "$deb")" >>"$work/inside.out" 2>&1
}
echo "# in a fresh Debian 12 root (overlay of $root)"
: >"$work/inside.out"
incr install && {
	# The daemons in a network namespace of their own (loopback only).
	incr run unshare --net --fork sh -c 'ip link set lo up 2>/dev/null; exec "$@"' sh
	incr purge
}
rc=$?
cat "$work/inside.out"
p=$(grep -c '^ok ' "$work/inside.out")
f=$(grep -c '^not ok ' "$work/inside.out")
pass=$((pass + p)) fail=$((fail + f))
[ "$rc" -eq 0 ] || [ "$f" -gt 0 ] || notok "inside.sh exited $rc"

# 4. the units' exposure
if command -v systemd-analyze >/dev/null 2>&1; then
	dpkg-deb -x "$deb" "$work/x"
	for u in "$work"/x/lib/systemd/system/*.service; do
		line=$(systemd-analyze security --offline=true "$u" 2>/dev/null | tail -1)
		score=$(printf '%s\n' "$line" | sed -n 's/.*: \([0-9.]*\) .*/\1/p')
		echo "# ${u##*/}: $line"
		check "${u##*/} exposure ${score:-?} <= 4.9" \
			awk -v s="${score:-99}" 'BEGIN { exit !(s + 0 <= 4.9) }'
	done
fi

# 5. the units under a real systemd: the fresh root with systemd, Postfix
# and the package, booted by systemd-nspawn (own network namespace)
sh "$src/tests/package/boot.sh" "$deb" "$root" >"$work/boot.out" 2>&1
cat "$work/boot.out"
p=$(grep -c '^ok ' "$work/boot.out")
f=$(grep -c '^not ok ' "$work/boot.out")
pass=$((pass + p)) fail=$((fail + f))

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ] && [ "$pass" -gt 0 ]
