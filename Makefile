# leafmail top-level Makefile.
#
# Layout: lib/*.c -> build/libleafmail.a; for each program directory P,
# P/*.c other than its main files -> build/libP.a, and each main file
# links with both archives.  New files in these directories need no edit
# here.  BUILD=build-asan with SAN=1 gives the sanitizer build that
# `make check-asan` runs the same suite against.

BUILD   ?= build
PREFIX  ?= /usr/local
DESTDIR ?=
SAN     ?= 0
VERSION := 0.1.0
SYSCONFDIR ?= /etc/leafmail

CC      ?= cc
PKGS    := libconfuse lmdb libcrypto zlib libcurl milter sqlite3 hiredis libmicrohttpd json-c libsystemd
# libpq and libsqlite3 are dlopen'ed by leafmail-deliver on first use
# (deliver/mailbox_*.c); only their headers are needed at build time.
# pkg-config runs when this file is read: the targets that install the
# packages first (demo, bench, check) build through a sub-make, which
# reads it again once they are there.
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) libpq 2>/dev/null)
PKG_LIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null)
CMOCKA_LIBS := $(shell pkg-config --libs cmocka 2>/dev/null)
PKG_MISSING := $(shell command -v pkg-config >/dev/null 2>&1 && pkg-config --exists $(PKGS) libpq cmocka 2>/dev/null || echo yes)

WARN    := -Wall -Wextra -Werror -Wshadow -Wformat=2 -Wno-format-nonliteral
# _FORTIFY_SOURCE as Debian builds with it: its warnings (an ignored
# setresgid() result) are errors here too, not only in the package build.
CFLAGS  ?= -O2 -g -D_FORTIFY_SOURCE=2
ifeq ($(SAN),1)
CFLAGS  := -O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=undefined
LDFLAGS += -fsanitize=address,undefined
endif
ALL_CFLAGS := -std=c11 -D_GNU_SOURCE -pthread $(WARN) $(CFLAGS) -Ilib $(PKG_CFLAGS) \
	-DLEAFMAIL_SQLITE -DLEAFMAIL_PGSQL -DLEAFMAIL_VERSION='"$(VERSION)"' -DSYSCONFDIR='"$(SYSCONFDIR)"'
LIBS    := $(PKG_LIBS) -pthread
# Each program keeps only the libraries it really uses.
LDFLAGS += -Wl,--as-needed

# program = directory : main source
PROGRAMS := leafmail-milter leafmail-relayd leafmail-relaylock umtp leafmail-tunneld leafmail-deliver leafmail-policyd
main_leafmail-milter   := milter/main.c
main_leafmail-relayd   := relayd/main.c
main_leafmail-relaylock := relaylock/relaylock.c
main_umtp              := umtp/main.c
main_leafmail-tunneld  := tunneld/main.c
main_leafmail-deliver  := deliver/main.c
main_leafmail-policyd  := policyd/main.c
dir_leafmail-milter    := milter
dir_leafmail-relayd    := relayd
dir_leafmail-relaylock := relaylock
dir_umtp               := umtp
dir_leafmail-tunneld   := tunneld
dir_leafmail-deliver   := deliver
dir_leafmail-policyd   := policyd

PROGDIRS  := milter relayd relaylock umtp tunneld deliver policyd
MAINS     := $(foreach p,$(PROGRAMS),$(main_$(p)))
LIB_SRCS  := $(wildcard lib/*.c)
# Objects live under $(BUILD)/obj so a directory never collides with a
# program of the same name (umtp/ and the umtp program).
LIB_OBJS  := $(LIB_SRCS:%.c=$(BUILD)/obj/%.o)
# Only programs whose main file exists are built, so the tree builds while
# some programs are still to come.
BUILT_PROGRAMS := $(foreach p,$(PROGRAMS),$(if $(wildcard $(main_$(p))),$(p)))

dir_srcs  = $(filter-out $(MAINS),$(wildcard $(1)/*.c))
dir_lib   = $(if $(call dir_srcs,$(1)),$(BUILD)/lib$(1).a)
PRIV_LIBS := $(foreach d,$(PROGDIRS),$(call dir_lib,$(d)))

UNIT_SRCS := $(wildcard tests/unit/test_*.c)
UNIT_BINS := $(UNIT_SRCS:tests/unit/%.c=$(BUILD)/tests/%)
FUZZ_SRCS := $(wildcard tests/fuzz/fuzz_*.c)

.PHONY: FORCE all deps pkgcheck check check-fast check-asan unit install clean demo bench lint fuzz deb check-package
all: pkgcheck $(BUILT_PROGRAMS:%=$(BUILD)/%)

# Without the -dev packages every library flag above is empty and the
# link fails with a page of undefined references; say what to do instead.
pkgcheck:
ifeq ($(PKG_MISSING),yes)
	@echo "leafmail: pkg-config or a library's -dev package is missing" >&2
	@echo "  (pkg-config --exists $(PKGS) libpq cmocka failed)." >&2
	@echo "  Run 'make deps' as root (tests/install-deps.sh), then make again." >&2
	@exit 69
endif

$(BUILD)/obj/%.o: %.c $(wildcard lib/*.h) $(wildcard */*.h)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -c -o $@ $<

# An archive is remade when its list of sources changes too (a file
# moved or deleted), not only when an object is newer: ar would keep the
# old member and the programs would link a stale copy.
$(BUILD)/obj/%.srcs: FORCE
	@mkdir -p $(@D)
	@echo '$(if $(filter lib,$*),$(LIB_SRCS),$(call dir_srcs,$*))' | cmp -s - $@ || \
		echo '$(if $(filter lib,$*),$(LIB_SRCS),$(call dir_srcs,$*))' >$@

$(BUILD)/libleafmail.a: $(LIB_OBJS) $(BUILD)/obj/lib.srcs
	@rm -f $@
	ar rcs $@ $(LIB_OBJS)

define privlib
$(BUILD)/lib$(1).a: $(patsubst %.c,$(BUILD)/obj/%.o,$(call dir_srcs,$(1))) $(BUILD)/obj/$(1).srcs
	@rm -f $$@
	ar rcs $$@ $$(patsubst %.c,$(BUILD)/obj/%.o,$$(call dir_srcs,$(1)))
endef
$(foreach d,$(PROGDIRS),$(if $(call dir_srcs,$(d)),$(eval $(call privlib,$(d)))))

define program
$(BUILD)/$(1): $(BUILD)/obj/$(main_$(1):.c=.o) $(call dir_lib,$(dir_$(1))) $(BUILD)/libleafmail.a
	$(CC) $(LDFLAGS) -o $$@ $$^ $(LIBS)
endef
$(foreach p,$(BUILT_PROGRAMS),$(eval $(call program,$(p))))

# Unit tests link every archive, so a test can reach any module.
$(BUILD)/tests/%: tests/unit/%.c $(PRIV_LIBS) $(BUILD)/libleafmail.a | pkgcheck
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(LDFLAGS) -Itests/unit -o $@ $< $(PRIV_LIBS) $(BUILD)/libleafmail.a $(LIBS) $(CMOCKA_LIBS)

unit: pkgcheck $(UNIT_BINS)

deps:
	@sh tests/install-deps.sh

# The whole suite: unit tests, miltertest scripts, integration tests against
# real Postfix/Dovecot on loopback, once with the normal build and once with
# the AddressSanitizer+UBSan build.  Ends with one "N passed, N failed".
check: deps
	$(MAKE) all unit
	$(MAKE) BUILD=build-asan SAN=1 all unit
	sh tests/run.sh $(BUILD) build-asan

# The suite against the normal build only (quicker while developing).
check-fast: deps
	$(MAKE) all unit
	sh tests/run.sh $(BUILD)

check-asan: deps
	$(MAKE) BUILD=build-asan SAN=1 all unit
	sh tests/run.sh build-asan

# libFuzzer targets (clang).  `make fuzz` builds them; tests/run.sh runs
# each briefly.
FUZZ_LIBS := $(foreach d,$(PROGDIRS),$(if $(call dir_srcs,$(d)),build-fuzz/lib$(d).a)) build-fuzz/libleafmail.a
fuzz: $(FUZZ_SRCS:tests/fuzz/%.c=build-fuzz/%)
# FORCE: the sub-make decides whether the archives changed; the target is
# relinked every time, which costs a second.
build-fuzz/%: tests/fuzz/%.c FORCE
	$(MAKE) BUILD=build-fuzz CC=clang CFLAGS="-O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined -fsanitize=fuzzer-no-link" $(FUZZ_LIBS)
	clang -std=c11 -D_GNU_SOURCE -g -O1 -fsanitize=fuzzer,address,undefined -Ilib -Irelayd -Imilter -Iumtp -Ideliver -Ipolicyd $(PKG_CFLAGS) -o $@ $< \
		$(FUZZ_LIBS) $(LIBS)
FORCE:

demo: deps
	$(MAKE) all
	sh tests/demo.sh

bench: deps
	$(MAKE) all
	sh tests/bench/run.sh $(BUILD)

lint:
	cppcheck --quiet --error-exitcode=1 --enable=warning,portability --std=c11 -D_GNU_SOURCE -Ilib --suppress=missingIncludeSystem lib $(PROGDIRS)
	for m in man/*.[0-9]; do mandoc -Tlint -Wwarning $$m || exit 1; done

# systemd units: contrib/systemd/*.service.in with the installed paths and
# the shared hardening block (contrib/systemd/hardening.inc) filled in.
# /usr/local/lib/systemd/system is on systemd's search path; the Debian
# package gives UNITDIR=/lib/systemd/system.
UNITDIR ?= $(PREFIX)/lib/systemd/system
UNIT_INS := $(wildcard contrib/systemd/*.service.in)

install: all
	install -d $(DESTDIR)$(PREFIX)/sbin $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(SYSCONFDIR) $(DESTDIR)$(UNITDIR)
	for u in $(UNIT_INS); do \
		n=$${u##*/}; \
		sed -e 's|@SBINDIR@|$(PREFIX)/sbin|g' -e 's|@BINDIR@|$(PREFIX)/bin|g' \
			-e '/^@HARDENING@$$/{r contrib/systemd/hardening.inc' -e 'd;}' \
			$$u >$(DESTDIR)$(UNITDIR)/$${n%.in} && \
		chmod 0644 $(DESTDIR)$(UNITDIR)/$${n%.in} || exit 1; \
	done
	for p in $(BUILT_PROGRAMS); do \
		case $$p in umtp) d=bin ;; *) d=sbin ;; esac; \
		install -m 0755 $(BUILD)/$$p $(DESTDIR)$(PREFIX)/$$d/$$p || exit 1; \
	done
	for m in man/*.[0-9]; do \
		s=$${m##*.}; install -d $(DESTDIR)$(PREFIX)/share/man/man$$s; \
		install -m 0644 $$m $(DESTDIR)$(PREFIX)/share/man/man$$s/ || exit 1; \
	done
	install -m 0644 conf/leafmail.conf $(DESTDIR)$(SYSCONFDIR)/leafmail.conf.sample

clean:
	rm -rf build build-asan build-fuzz

# The Debian package (debian/): dpkg-buildpackage from this checkout, the
# results moved from .. into deb/.  check-package builds it and runs
# tests/package/check.sh: lintian, piuparts, and an install, start and
# purge on a fresh Debian 12 root (minutes; not part of make check).
deb:
	@sh tests/install-deps.sh package
	dpkg-buildpackage -us -uc -b
	mkdir -p deb
	v=$$(dpkg-parsechangelog -S Version); a=$$(dpkg-architecture -qDEB_HOST_ARCH); \
	for f in ../leafmail_$${v}_$$a.deb ../leafmail-dbgsym_$${v}_$$a.deb \
		../leafmail_$${v}_$$a.buildinfo ../leafmail_$${v}_$$a.changes; do \
		[ -f "$$f" ] && mv "$$f" deb/; \
	done; ls -l deb/

check-package: deb
	sh tests/package/check.sh deb
