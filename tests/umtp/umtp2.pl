#!/usr/bin/perl -w
#
# umtp2.pl - an independent implementation of UMTP protocol 2 packets,
# written from umtp(5), for the tests: it builds well-formed packets and,
# on request, the broken ones umtp receive must refuse.
#
#   umtp2.pl build KEYFILE [opts] RCPT... < message > packet
#       --sender=ADDR  --msgid=ID  --time=UNIX  --nonce=HEX32
#       --keyid-of=FILE   put FILE's key id in the packet (MAC still made
#                         with KEYFILE: a "wrong key" packet)
#       --bad-gzip        corrupt the payload, MAC made over the result
#       --raw             don't strip Received: (default: strip, as umtp)
#   umtp2.pl sendfile HOST PORT FILE...   send each file as one datagram
#
# Core modules only: Digest::SHA, Compress::Zlib, IO::Socket::INET.
use strict;
use Compress::Zlib;
use Digest::SHA qw(sha256 hmac_sha256);
use IO::Socket::INET;

sub slurp {
    my ($f) = @_;
    open(my $h, '<', $f) or die "$f: $!";
    binmode $h;
    local $/;
    my $d = <$h>;
    close $h;
    return $d;
}

sub keyid { return substr(sha256("UMTP key id\0" . $_[0]), 0, 8); }

sub field { my ($s) = @_; die "field too long" if length($s) > 255; return chr(length($s)) . $s; }

my $mode = shift @ARGV or die "usage";
if ($mode eq 'sendfile') {
    my ($host, $port, @files) = @ARGV;
    my $s = IO::Socket::INET->new(PeerAddr => "$host:$port", Proto => 'udp')
        or die "$host:$port: $!";
    for my $f (@files) {
        my $p = slurp($f);
        defined($s->send($p)) or die "send: $!";
    }
    exit 0;
}
die "usage" unless $mode eq 'build';
my $key = slurp(shift @ARGV);
my %o = (sender => '', msgid => '', time => time());
while (@ARGV && $ARGV[0] =~ /^--([a-z-]+)(?:=(.*))?$/) {
    $o{$1} = defined($2) ? $2 : 1;
    shift @ARGV;
}
my @rcpts = @ARGV or die "no recipient";
binmode STDIN;
my $data = do { local $/; <STDIN> };
$data = '' unless defined $data;
unless ($o{raw}) {    # the seed's filter
    my ($r, $b, $out) = (0, 0, '');
    for (split("\n", $data)) {
        if (/^Received:/i) { $r = 1 } elsif (/^[^\s]/) { $r = 0 }
        $b = 1 if /^$/;
        $out .= "$_\n" if ($b || !$r);
    }
    $data = $out;
}
my $z = Compress::Zlib::memGzip($data);
if ($o{'bad-gzip'}) {    # flip bits in the deflate data
    substr($z, 12, 1) = chr(ord(substr($z, 12, 1)) ^ 0x55);
}
my $nonce = $o{nonce} ? pack('H32', $o{nonce}) : join('', map { chr(int(rand(256))) } 1 .. 16);
my $kid = $o{'keyid-of'} ? keyid(slurp($o{'keyid-of'})) : keyid($key);
my $t = $o{time};
my $pkt = "\xffUM\x02\x00" . $kid
    . pack('NN', int($t / 4294967296), $t % 4294967296) . $nonce
    . field($o{sender}) . chr(scalar @rcpts) . join('', map { field($_) } @rcpts)
    . field($o{msgid}) . pack('n', length($z)) . $z;
$pkt .= substr(hmac_sha256($pkt, $key), 0, 16);
binmode STDOUT;
print $pkt;
