#!/usr/bin/perl
# popbsmtp-ref.pl - the reference of the relayd catch-up benchmark: the
# pop-before-smtp approach (one anchored regex per line, a hash of
# ip => expiry) on a Dovecot log, writing its database as pop-before-smtp
# does.
#
#   perl popbsmtp-ref.pl EXPIRE_SECONDS [LAYOUT [DBFILE]] < dovecot.log
#
# LAYOUT is the log's layout, as gendovecot.pl writes it: log_path
# (default), syslog ("Mmm dd hh:mm:ss HOST dovecot: ...") or rfc3339
# (rsyslog's default on Debian 12: "YYYY-MM-DDThh:mm:ss.ffffff+hh:mm HOST
# dovecot: ...").  With DBFILE, every address allowed is written into a
# Berkeley DB hash tied to that file (pop-before-smtp ties its %db to a
# Postfix hash: map, key with a trailing NUL, value "ok") and the file is
# synced at the end; without it nothing is written (the old anchor, kept
# for comparison).
#
# Prints "N" (the number of distinct unexpired addresses) on stdout.
#
# It is generous to Perl on purpose, so the ratio relayd/Perl is not
# flattered: the time stamp is converted once per distinct second (a cache
# in front of Time::Local), addresses are not canonicalised beyond
# stripping "::ffff:", and the database is synced once, at the end
# (relayd's number includes its synced LMDB writes).
use strict;
use warnings;
use Time::Local qw(timelocal timegm);

my $expire = shift // 86400;
my $layout = shift // 'log_path';
my $dbfile = shift;
my $now = time;
my @lt = localtime $now;
my $year = $lt[5] + 1900;
my %mon;
@mon{qw(Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec)} = (0 .. 11);

my (%db, %tcache, %exp);
my $dbh;
if (defined $dbfile) {
	require DB_File;
	require Fcntl;
	no warnings 'once';
	$dbh = tie %db, 'DB_File', $dbfile, Fcntl::O_CREAT() | Fcntl::O_RDWR(),
	    0644, $DB_File::DB_HASH
	    or die "cannot tie $dbfile: $!\n";
}

my $tail = qr{(?:pop3|imap)-login: (?:Info: )?Login: user=<.*?>, method=\S+, rip=(?:::ffff:)?([0-9A-Fa-f.:]+), lip=};
my $re = $layout eq 'syslog'
    ? qr{^(\w{3} [ \d]\d \d\d:\d\d:\d\d) \S+ dovecot(?:\[\d+\])?: $tail}
    : $layout eq 'rfc3339'
    ? qr{^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.\d+)?([+-]\d\d:\d\d|Z) \S+ dovecot(?:\[\d+\])?: $tail}
    : qr{^(\w{3} [ \d]\d \d\d:\d\d:\d\d) $tail};

while (my $line = <STDIN>) {
	my ($ts, $zone, $ip);
	if ($layout eq 'rfc3339') {
		next unless ($ts, $zone, $ip) = $line =~ $re;
	} else {
		next unless ($ts, $ip) = $line =~ $re;
	}
	my $key = defined $zone ? "$ts$zone" : $ts;
	my $t = $tcache{$key};
	unless (defined $t) {
		if (defined $zone) {
			my ($y, $m, $d, $h, $mi, $s) =
			    $ts =~ /^(\d+)-(\d+)-(\d+)T(\d+):(\d+):(\d+)/;
			$t = timegm($s, $mi, $h, $d, $m - 1, $y);
			if ($zone ne 'Z') {
				my ($sg, $zh, $zm) = $zone =~ /([+-])(\d\d):(\d\d)/;
				my $off = ($zh * 60 + $zm) * 60;
				$t -= $sg eq '+' ? $off : -$off;
			}
		} else {
			my ($m, $d, $h, $mi, $s) =
			    $ts =~ /^(\w{3}) +(\d+) (\d\d):(\d\d):(\d\d)/;
			$t = timelocal($s, $mi, $h, $d, $mon{$m}, $year);
			$t = timelocal($s, $mi, $h, $d, $mon{$m}, $year - 1)
			    if $t > $now + 86400;
		}
		%tcache = () if keys %tcache > 100000;
		$tcache{$key} = $t;
	}
	my $e = $t + $expire;
	next if $e <= $now;
	next if defined $exp{$ip} && $exp{$ip} >= $e;
	$exp{$ip} = $e;
	$db{"$ip\0"} = "ok" if $dbh;
}
$dbh->sync if $dbh;
print scalar(keys %exp), "\n";
