#!/usr/bin/perl -w
#
# umtp-seed.pl - the seed's umtp (../shared/seeds/umtp-perl-script.txt,
# Chris Lightfoot's umtp 1.18, 2002), made runnable for leafmail's tests.
# Kept faithful to the seed's code: same packet building and parsing,
# same ~/.umtp/secret, pid file and log.  Changed only where the tests
# need it, each marked "leafmail:":
#   - receive writes each accepted message to ~/.umtp/inbox/N.rcpt and
#     N.msg instead of piping it to "/bin/sh -c sendmail -i RCPT" (the
#     seed's shell injection);
#   - receive writes a line to ~/.umtp/log after binding, so tests know
#     when it listens;
#   - `<STDIN>` restored where the seed's text lost it;
#   - with UMTP_SEED_SENDMAIL=PATH, receive injects the seed's way
#     instead ("PATH -i RECIPIENT" through the shell), for the benchmark.
#
# Usage: umtp-seed.pl send HOST PORT RECIPIENT < message
#        umtp-seed.pl receive HOST PORT
#
# Packet structure (the seed's comment says "length of whole packet"; the
# code packs and checks the length of the rest, after the 2 bytes):
#   2       length, network order
#   varies  0-terminated recipient
#   varies  gzip'd message (Received: headers removed)
#   16      MD5(secret . packet-without-digest)

$maxpktlen = 1472;    # Fragmented UDP Packets Don't Work.
$maxsecret = 8192;
$mode = '';

use FileHandle;
use POSIX;
use IO::File;
use IO::Pipe;
use IO::Socket;
use Compress::Zlib;
use Digest::MD5;
use Fcntl ':flock';

@foo = uname;
$pidfile = "$ENV{HOME}/.umtp/pid.$foo[1]";
$log = undef;

sub log_start () {
    $log = new IO::File("$ENV{HOME}/.umtp/log", O_WRONLY | O_CREAT | O_APPEND)
        or die "~/.umtp/log: $!";
    $log->autoflush(1);
}

sub log_print (@) {
    $log->print(scalar(localtime), " umtp $mode" . "[$$]: ", @_, "\n");
}

$SIG{__DIE__} = sub {
    my $a = shift;
    $a =~ s/ at .* line \d.*//;
    chomp $a;
    if ($log) {
        log_print("$a; aborting");
    } else {
        print STDERR "umtp: $a\n";
    }
    unlink $pidfile if ($mode eq 'receive');
    exit(1);
};

die "not enough arguments" unless (@ARGV);
die "no ~/.umtp directory" unless (-d "$ENV{HOME}/.umtp");
$mode = shift(@ARGV);

# obtain secret
$g = new IO::File("$ENV{HOME}/.umtp/secret", O_RDONLY) or die "~/.umtp/secret: $!";
$secret = '';
$g->read($secret, $maxsecret);
$g->close();

sub daemonise {
    chdir '/' or die "chdir(/): $!";
    open STDIN, '/dev/null' or die "/dev/null: $!";
    open STDOUT, '>/dev/null' or die "/dev/null: $!";
    defined(my $pid = fork) or die "fork: $!";
    exit if $pid;
    setsid or die "Can't start a new session: $!";
    open STDERR, '>/dev/null' or die "/dev/null: $!";
}

sub make_packet ($$) {
    my ($recip, $data) = @_;
    # Go through the email, ditching Received: lines.
    my (@lines) = split("\n", $data);
    my $cdata;
    my ($rflag, $bflag) = (0, 0);
    foreach (@lines) {
        if (/^Received:/i) {
            $rflag = 1;
        } elsif (/^[^\s]/) {
            $rflag = 0;
        }
        $bflag = 1 if (/^$/);    # end of headers
        $cdata .= "$_\n" if ($bflag || !$rflag);
    }
    $cdata = Compress::Zlib::memGzip($cdata);
    my $pkt = '';
    $pkt = pack('n', length($recip) + 1 + length($cdata) + 16);
    $pkt .= "$recip\0$cdata";
    my $dig = Digest::MD5::md5($secret . $pkt);
    $pkt .= $dig;
    return $pkt;
}

sub parse_packet ($) {
    my ($pkt) = @_;
    my $len = unpack('n', substr($pkt, 0, 2));
    if ($len != length($pkt) - 2) {
        log_print("length in packet does not match");
        return ();
    }
    # check digest
    my $dig = Digest::MD5::md5($secret . substr($pkt, 0, length($pkt) - 16));
    if ($dig ne substr($pkt, length($pkt) - 16, 16)) {
        log_print("digest in packet does not match");
        return ();
    }
    my ($recip) = (substr($pkt, 2) =~ /([^\0]+)/);
    my $cdata = substr($pkt, 2 + length($recip) + 1,
        length($pkt) - 2 - 1 - length($recip) - 16);
    my $data = "X-Via: umtp\n" . Compress::Zlib::memGunzip($cdata);
    return ($recip, $data);
}

if ($mode eq 'receive') {
    die "call as umtp receive host port" if (@ARGV != 2);
    ($host, $port) = @ARGV;
    daemonise;
    log_start;
    $f = new IO::File($pidfile, O_RDWR | O_CREAT) or die "$pidfile: $!";
    if (!flock($f, LOCK_EX | LOCK_NB)) {
        $pid = $f->getline;
        chomp($pid);
        die "~/.umtp/pid: could not lock; probably umtp is already running with PID $pid";
    }
    $f->autoflush(1);
    $f->seek(0, SEEK_SET);
    $f->truncate(0);
    $f->print("$$\n");
    $s = new IO::Socket::INET(LocalAddr => "$host:$port", Proto => "udp")
        or die "$host:$port: $!";
    log_print("listening on $host:$port");    # leafmail: readiness
    $n = 0;                                   # leafmail: inbox counter
    mkdir "$ENV{HOME}/.umtp/inbox";
    do {
        $pkt = '';
        $s->recv($pkt, $maxpktlen, 0);
        @foo = parse_packet($pkt);
        if (@foo) {
            log_print("received packet length " . length($pkt)
                . " deliver to $foo[0]; email length " . length($foo[1]));
            if ($ENV{UMTP_SEED_SENDMAIL}) {
                # leafmail: the seed's own injection, for the benchmark:
                # "$sendmail -i RECIPIENT" through the shell, as it did.
                my $p = new IO::File("|$ENV{UMTP_SEED_SENDMAIL} -i $foo[0]")
                    or die "sendmail: $!";
                $p->print($foo[1]);
                $p->close();
            } else {
                # leafmail: instead of my_open2(..., "$sendmail -i $foo[0]"),
                # write what would have been delivered.
                $n++;
                my $m = new IO::File("$ENV{HOME}/.umtp/inbox/$n.msg.tmp",
                    O_WRONLY | O_CREAT | O_TRUNC) or die "inbox: $!";
                $m->print($foo[1]);
                $m->close();
                my $r = new IO::File("$ENV{HOME}/.umtp/inbox/$n.rcpt",
                    O_WRONLY | O_CREAT | O_TRUNC) or die "inbox: $!";
                $r->print("$foo[0]\n");
                $r->close();
                rename("$ENV{HOME}/.umtp/inbox/$n.msg.tmp",
                    "$ENV{HOME}/.umtp/inbox/$n.msg");
            }
        } else {
            log_print("received bogus packet length " . length($pkt));
        }
    } while (1);
    $f->close;
} elsif ($mode eq 'send') {
    die "call as umtp send host port recipient" if (@ARGV != 3);
    ($host, $port, $recip) = @ARGV;
    log_start;
    @lines = <STDIN>;
    # Possibly discard BSD mail folder separator.
    shift @lines if ($lines[0] =~ /^From /);
    $data = join('', @lines);
    log_print("email length " . length($data) . " to send to $recip via $host:$port");
    $pkt = make_packet($recip, $data);
    if (length($pkt) > $maxpktlen) {
        log_print("packet length " . length($pkt) . " is too long");
        exit 1;
    } else {
        log_print("packet length is " . length($pkt));
        $s = new IO::Socket::INET(PeerAddr => "$host:$port", Proto => "udp")
            or die "$host:$port: $!";
        $s->print($pkt) or die "send: $!";
        $s->close();
        exit 0;
    }
} else {
    die "unknown mode $mode";
}
