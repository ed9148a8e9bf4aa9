#!/usr/bin/perl
# gendovecot.pl - write a synthetic Dovecot log for the relayd catch-up
# benchmark (relay_catchup_bench.sh).
#
#   perl gendovecot.pl LINES [END_EPOCH [LAYOUT]] > dovecot.log
#
# LAYOUT: log_path (default: Dovecot's own file, "Mmm dd hh:mm:ss
# pop3-login: Info: ..."), syslog (rsyslog's traditional format, as in
# /var/log/mail.log: "Mmm dd hh:mm:ss mail dovecot: pop3-login: ...", no
# "Info: ") or rfc3339 (rsyslog's default on Debian 12, high precision:
# "2026-12-07T18:40:43.123456+00:00 mail dovecot: pop3-login: ...").
#
# Deterministic apart from the time stamps: the same LINES gives the same
# lines, in the same order, with the same addresses.  Time stamps run
# evenly over the 15 minutes that end at END_EPOCH (default: now), so with
# relay.expire = "1d" none of the logins is stale.
#
# Mix (per 1000 lines, from a fixed LCG, so about these shares):
#   500  successful logins (pop3-login / imap-login "Login:"), each from an
#        address never used before: 10.a.b.c, every 20th from
#        2001:db8::/32, every 50th IPv4-mapped (::ffff:172.16.x.y)
#   150  failed logins, the two ways Dovecot 2.3 writes them (auth failed),
#        some with hostile user names that contain "Login: ... rip="
#   250  pop3(user)/imap(user) "Disconnected: Logged out" lines
#   100  other programs (master, auth, lmtp, config)
# On stderr at the end: "logins=N" (= distinct addresses = table entries).
use strict;
use warnings;
use POSIX qw(strftime);

my $n = shift // die "usage: gendovecot.pl LINES [END_EPOCH [LAYOUT]]\n";
my $end = shift // time;
my $layout = shift // 'log_path';
die "unknown layout $layout\n" unless $layout =~ /^(log_path|syslog|rfc3339)$/;
my $span = 900;
my $start = $end - $span;

my $seed = 12345;
sub rnd {    # 31-bit LCG (glibc's constants): same sequence everywhere;
	# its low bits are poor, so hand out the top 23
	$seed = ($seed * 1103515245 + 12345) & 0x7fffffff;
	return $seed >> 8;
}

my @users = map { "user$_" } 0 .. 999;
my $logins = 0;
my ($last_t, $stamp) = (-1, '');
my $sess_chars = join '', 'A' .. 'Z', 'a' .. 'z', '0' .. '9', '+', '/';

sub session {
	my $s = '';
	for (1 .. 16) { $s .= substr($sess_chars, rnd() % 64, 1) }
	return $s;
}

sub login_ip {
	my $i = $logins;
	return sprintf('2001:db8::%x:%x', $i >> 16, $i & 0xffff) if $i % 20 == 19;
	return sprintf('::ffff:172.16.%d.%d', ($i >> 8) & 255, $i & 255)
	    if $i % 50 == 49;
	my $v = $i + 1;
	return sprintf('10.%d.%d.%d', ($v >> 16) & 255, ($v >> 8) & 255, $v & 255);
}

sub noise_ip { sprintf('192.168.%d.%d', rnd() % 256, rnd() % 254 + 1) }

for my $i (0 .. $n - 1) {
	my $t = $start + int($i * $span / $n);
	if ($t != $last_t) {
		$stamp = $layout eq 'rfc3339'
		    ? strftime('%Y-%m-%dT%H:%M:%S', gmtime $t)
		    : strftime('%b %e %H:%M:%S', localtime $t);
		$last_t = $t;
	}
	my $r = rnd() % 1000;
	my $user = $users[rnd() % @users];
	my $svc = (rnd() & 1) ? 'imap' : 'pop3';
	my $pid = 1000 + rnd() % 60000;
	my $line;
	if ($r < 500) {
		my $ip = login_ip();
		$logins++;
		my $extra = ($r % 7 == 0) ? ', TLS' : '';
		$line = "$svc-login: Info: Login: user=<$user>, method=PLAIN, "
		    . "rip=$ip, lip=10.0.0.1, mpid=$pid$extra, session=<"
		    . session() . '>';
	} elsif ($r < 650) {
		my $how = ($r & 1)
		    ? 'Aborted login by logging out'
		    : 'Connection closed';
		my $u = ($r % 10 == 0)
		    ? "x>: Login: user=<y>, method=PLAIN, rip=6.6.6.6"
		    : $user;
		$line = "$svc-login: Info: Disconnected: $how (auth failed, 1 "
		    . "attempts in 2 secs): user=<$u>, method=PLAIN, rip="
		    . noise_ip() . ', lip=10.0.0.1, session=<' . session() . '>';
	} elsif ($r < 900) {
		my $s = session();
		$line = $svc eq 'imap'
		    ? "imap($user)<$pid><$s>: Info: Disconnected: Logged out "
		    . 'in=' . (rnd() % 999) . ' out=' . (rnd() % 99999)
		    . ' deleted=0 expunged=0 trashed=0 hdr_count=0 hdr_bytes=0 '
		    . 'body_count=0 body_bytes=0'
		    : "pop3($user)<$pid><$s>: Info: Disconnected: Logged out "
		    . 'top=0/0, retr=' . (rnd() % 9) . '/' . (rnd() % 99999)
		    . ', del=0/0, size=' . (rnd() % 999999);
	} else {
		my $k = $r % 4;
		$line = $k == 0 ? "auth: Info: passwd-file(<$user>,"
		    . noise_ip() . '): unknown user'
		    : $k == 1 ? "lmtp($user)<$pid><" . session()
		    . ">: Info: msgid=<$pid.$i\@example.org>: saved mail to INBOX"
		    : $k == 2 ? "lmtp($pid): Info: Connect from local"
		    : 'master: Warning: service(imap-login): process_limit '
		    . '(100) reached, client connections are being dropped';
	}
	if ($layout eq 'log_path') {
		print "$stamp $line\n";
	} else {
		# syslog carries the level out of band: no "Info: "
		$line =~ s/^([^:]+: )(?:Info|Warning): /$1/;
		print $layout eq 'rfc3339'
		    ? sprintf("%s.%06d+00:00 mail dovecot: %s\n", $stamp,
			($i * 7919) % 1000000, $line)
		    : "$stamp mail dovecot: $line\n";
	}
}
print STDERR "logins=$logins\n";
