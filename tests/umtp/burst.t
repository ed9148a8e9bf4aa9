#!/bin/sh
# burst.t - a burst of datagrams sent as fast as one sender can is held
# (large socket buffer, recvmmsg) while messages are injected one by one
# over SMTP into smtp-sink: every datagram is accepted and injected.
# BURST (default 2000) datagrams, all distinct protocol 2 packets with
# their own Message-ID.  As root only: an ordinary user's socket buffer
# is capped by net.core.rmem_max, which no test should change.
. "$LEAFMAIL_SRC/tests/lib.sh"
. "$S/tests/umtp/common.sh"

[ "$(id -u)" -eq 0 ] || skip_all "needs root for SO_RCVBUFFORCE"
command -v smtp-sink >/dev/null 2>&1 || PATH=$PATH:/usr/sbin
command -v smtp-sink >/dev/null 2>&1 || skip_all "smtp-sink (postfix) not installed"
N=${BURST:-2000}
SPORT=$(free_port)
smtp-sink -u postfix -c "127.0.0.1:$SPORT" 50 >"$T/sink.log" 2>&1 &
track_pid $!
wait_for 10 python3 -c "import socket; socket.create_connection(('127.0.0.1', $SPORT))"

mkkey default
write_conf "smtp://127.0.0.1:$SPORT"
start_receive || { notok "umtp receive starts"; cat "$RLOG"; exit 1; }

# Build N packets first, then send them back to back from one socket.
perl -e '
	use Compress::Zlib; use Digest::SHA qw(sha256 hmac_sha256); use IO::Socket::INET;
	my ($keyf, $port, $n) = @ARGV;
	open(my $h, "<", $keyf) or die; binmode $h; local $/; my $key = <$h>; close $h;
	my $kid = substr(sha256("UMTP key id\0" . $key), 0, 8);
	my @p;
	for my $i (1 .. $n) {
		my $mid = "<burst$i\@example.org>";
		my $z = Compress::Zlib::memGzip("Message-ID: $mid\nSubject: burst $i\n\nbody $i\n");
		my $t = time();
		my $pkt = "\xffUM\x02\x00" . $kid . pack("NN", 0, $t)
			. join("", map { chr(int(rand(256))) } 1 .. 16)
			. "\0" . "\1" . chr(15) . "bob\@example.net" . chr(length $mid) . $mid
			. pack("n", length $z) . $z;
		push @p, $pkt . substr(hmac_sha256($pkt, $key), 0, 16);
	}
	my $s = IO::Socket::INET->new(PeerAddr => "127.0.0.1:$port", Proto => "udp") or die;
	$s->send($_) for @p;
' "$T/keys/default" "$PORT" "$N"
check "all $N datagrams accepted" wait_for 120 sh -c "[ \$(grep -c 'accepted datagram' '$RLOG') -ge $N ]"
check "all $N injected" wait_for 120 sh -c "[ \$(grep -c 'injected message' '$RLOG') -ge $N ]"
check "none refused or lost" sh -c "! grep -qE 'refused|LOST' '$RLOG'"
echo "# accepted $(grep -c 'accepted datagram' "$RLOG") of $N"
no_sanitizer_reports
