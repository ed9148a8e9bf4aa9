#!/bin/sh
# capture-sendmail.sh - a stand-in for sendmail(1) in the umtp tests
# (inject = "sendmail:/.../capture-sendmail.sh"): writes its argument
# vector, one argument per line, to $UMTP_CAPTURE_DIR/ID.argv and its
# standard input to ID.msg, then exits $UMTP_CAPTURE_EXIT (default 0), so
# tests can check exactly what umtp receive passed and make injection fail.
# ID.msg appears last (renamed into place) so a polling test sees whole
# messages only.  With UMTP_CAPTURE_HANG=1 it reads its input and then
# never exits (a local queue command that hangs).
dir=${UMTP_CAPTURE_DIR:?}
id=$(date +%s%N).$$
for a in "$@"; do printf '%s\n' "$a"; done >"$dir/$id.argv"
cat >"$dir/$id.tmp"
mv "$dir/$id.tmp" "$dir/$id.msg"
[ "${UMTP_CAPTURE_HANG:-0}" = 1 ] && exec sleep 3600
exit "${UMTP_CAPTURE_EXIT:-0}"
