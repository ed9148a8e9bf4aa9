#!/usr/bin/perl
# popbsmtp-ref.pl - the reference parser of the relayd catch-up benchmark:
# the pop-before-smtp approach (one anchored regex per line, a hash of
# ip => expiry), on a Dovecot log in log_path layout.
#
#   perl popbsmtp-ref.pl EXPIRE_SECONDS < dovecot.log
#
# Prints "N" (the number of distinct unexpired addresses) on stdout.
#
# It is generous to Perl on purpose, so the ratio relayd/Perl is not
# flattered: the time stamp is converted once per distinct second (a cache
# in front of Time::Local), addresses are not canonicalised beyond
# stripping "::ffff:", and nothing is written to a database (pop-before-
# smtp ties its hash to a Berkeley DB file; relayd's number includes its
# synced LMDB writes).
use strict;
use warnings;
use Time::Local qw(timelocal);

my $expire = shift // 86400;
my $now = time;
my @lt = localtime $now;
my $year = $lt[5] + 1900;
my %mon;
@mon{qw(Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec)} = (0 .. 11);

my (%db, %tcache);
while (my $line = <STDIN>) {
	next unless $line =~ m{^(\w{3} [ \d]\d \d\d:\d\d:\d\d) (?:pop3|imap)-login: (?:Info: )?Login: user=<.*?>, method=\S+, rip=(?:::ffff:)?([0-9A-Fa-f.:]+), lip=};
	my ($ts, $ip) = ($1, $2);
	my $t = $tcache{$ts};
	unless (defined $t) {
		my ($m, $d, $h, $mi, $s) =
		    $ts =~ /^(\w{3}) +(\d+) (\d\d):(\d\d):(\d\d)/;
		$t = timelocal($s, $mi, $h, $d, $mon{$m}, $year);
		$t = timelocal($s, $mi, $h, $d, $mon{$m}, $year - 1)
		    if $t > $now + 86400;
		%tcache = () if keys %tcache > 100000;
		$tcache{$ts} = $t;
	}
	my $exp = $t + $expire;
	next if $exp <= $now;
	$db{$ip} = $exp if !defined $db{$ip} || $db{$ip} < $exp;
}
print scalar(keys %db), "\n";
