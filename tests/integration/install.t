# install.t - `make install` honours PREFIX and DESTDIR: every built
# program lands in sbin/ (umtp in bin/), every man page in its section, the
# sample configuration under SYSCONFDIR, nothing outside DESTDIR.
. "$LEAFMAIL_SRC/tests/lib.sh"
[ "${LEAFMAIL_SAN:-0}" = 1 ] && skip_all "runs in the normal pass only"
R=$T/root
# BUILD: install what this run built, never rebuild another tree (the
# checkout and build directory themselves: $S and $B are staged copies)
if make -s -C "${LEAFMAIL_CHECKOUT:-$S}" BUILD="${LEAFMAIL_BUILD_DIR:-$B}" install DESTDIR="$R" PREFIX=/usr \
	SYSCONFDIR=/etc/leafmail >"$T/make.log" 2>&1; then
	ok "make install DESTDIR=... PREFIX=/usr"
else
	notok "make install DESTDIR=... PREFIX=/usr"
	sed 's/^/# /' "$T/make.log" | tail -10
	exit 1
fi
for p in leafmail-milter leafmail-relayd leafmail-relaylock leafmail-tunneld leafmail-deliver leafmail-policyd; do
	check "$p in /usr/sbin, executable" [ -x "$R/usr/sbin/$p" ]
done
check "umtp in /usr/bin, executable" [ -x "$R/usr/bin/umtp" ]
check "installed relayd is the built one" cmp -s "$B/leafmail-relayd" "$R/usr/sbin/leafmail-relayd"
n=0
for m in "$S"/man/*.[0-9]; do
	sec=${m##*.}
	[ -f "$R/usr/share/man/man$sec/${m##*/}" ] || { notok "man page ${m##*/} installed"; continue; }
	n=$((n + 1))
done
check "every man page installed ($n)" [ "$n" -eq "$(ls "$S"/man/*.[0-9] | wc -l)" ]
check "sample configuration in /etc/leafmail" [ -f "$R/etc/leafmail/leafmail.conf.sample" ]
check "the sample configuration passes -t" "$R/usr/sbin/leafmail-relayd" -t -c "$R/etc/leafmail/leafmail.conf.sample"
check "nothing outside /usr and /etc" [ -z "$(ls "$R" | grep -v -x -e usr -e etc)" ]
