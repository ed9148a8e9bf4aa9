#!/bin/sh
# concurrent.t - 200 leafmail-deliver processes started at once, each with
# its own message, into one mailbox: 200 distinct files in new/, each
# complete (its own body, its size equal to ",S="), none lost, none
# doubled, tmp/ empty, every process exit 0; then again with a quota, so
# the maildirsize appends of racing processes all land as whole lines.
. "$LEAFMAIL_SRC/tests/lib.sh"
. "$S/tests/deliver/common.sh"

N=200
mailbox "busy@example.org" "quota@example.org 100M"
mkdir -p "$T/msgs" "$T/rc"
i=1
while [ $i -le $N ]; do
	msg_file $i >"$T/msgs/$i"
	i=$((i + 1))
done

run_all() {
	i=1 pids=""
	while [ $i -le $N ]; do
		( "$DELIVER" -c "$CFG" -f s@example.net "$1" <"$T/msgs/$i" >/dev/null 2>&1
		  echo $? >"$T/rc/$i" ) &
		pids="$pids $!"
		i=$((i + 1))
	done
	for p in $pids; do wait "$p"; done
}

verify() { # DIR LABEL
	md=$1
	check "$2: all $N processes exit 0" [ "$(cat "$T"/rc/* | grep -cx 0)" -eq $N ]
	check "$2: $N files in new/" [ "$(count "$md/new")" -eq $N ]
	check "$2: tmp/ empty" [ "$(count "$md/tmp")" -eq 0 ]
	bad=0
	for f in "$md"/new/*; do
		n=$(sed -n 's/^body of message \([0-9]*\)$/\1/p' "$f")
		sz=$(wc -c <"$f")
		case $f in *",S=$sz") ;; *) bad=$((bad + 1)) ;; esac
		{ printf 'Return-Path: <s@example.net>\nDelivered-To: %s\n' "$3"; cat "$T/msgs/$n"; } | cmp -s - "$f" || bad=$((bad + 1))
		echo "$n"
	done >"$T/seen"
	check "$2: every file complete with the right size" [ "$bad" -eq 0 ]
	check "$2: each message exactly once" [ "$(sort -un "$T/seen" | wc -l)" -eq $N ] && [ "$(wc -l <"$T/seen")" -eq $N ]
}

rm -f "$T"/rc/*
run_all busy@example.org
verify "$BASE/example.org/busy" "no quota" busy@example.org

rm -f "$T"/rc/*
run_all quota@example.org
verify "$BASE/example.org/quota" "with quota" quota@example.org
# maildirsize: definition line, then one whole line per delivery (after
# the first, which may have counted by scanning); the sum equals the files.
ms=$BASE/example.org/quota/maildirsize
total=$(cat "$BASE"/example.org/quota/new/* | wc -c)
sum=$(awk 'NR == 1 { next } NF != 2 { bad = 1 } { b += $1; c += $2 } END { if (bad) print "torn"; else print b, c }' "$ms")
check "maildirsize sums to the files ($sum vs $total $N)" [ "$sum" = "$total $N" ]
