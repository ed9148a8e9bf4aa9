# stage.sh - world-readable copies of the checkout and of a build's
# programs, for tests and the demo (sourced, POSIX sh).
#
# The suite and the demo run programs of the checkout as unprivileged
# users: Postfix's pipe(8) executes leafmail-deliver as the mailbox owner,
# umtp receive executes its injection command as leafmail, relayd reads
# its files after dropping privileges.  A newcomer's checkout is often
# under /root (mode 0700), where none of them can even look.  So they are
# given copies in a directory everyone can traverse instead of the
# checkout itself.
#
#   stage_src SRC DEST      the tree without build output, tests/tmp,
#                           demo/ or .git
#   stage_build BUILD DEST  BUILD's programs and archives (its top-level
#                           files; benchmarks link the archives) and its
#                           bench/ programs, if any
# Both leave DEST and everything in it readable (and directories and
# programs executable) by all, whatever the caller's umask.

stage_src() {
	mkdir -p "$2" || return 1
	tar -C "$1" --exclude=./.git --exclude='./build' --exclude='./build-*' \
		--exclude=./tests/tmp --exclude=./demo -cf - . |
		tar -C "$2" -xf - || return 1
	chmod -R a+rX "$2"
}

stage_build() {
	mkdir -p "$2" || return 1
	for _f in "$1"/*; do
		[ -f "$_f" ] && { cp -p "$_f" "$2/" || return 1; }
	done
	if [ -d "$1/bench" ]; then
		cp -pR "$1/bench" "$2/" || return 1
	fi
	chmod -R a+rX "$2"
}
