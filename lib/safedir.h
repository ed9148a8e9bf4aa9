/*
 * safedir.h - open a directory by a path that the service account must
 * not be able to redirect (the rule it serves is stated in daemon.c).
 *
 *   safedir_open(path, u, flags, err, errlen)
 *       The directory path names, as a descriptor (O_RDONLY|O_DIRECTORY),
 *       reached from "/" one component at a time, symbolic links followed
 *       by hand.  When u->is_root (we are root and u is the service
 *       account), every directory in which a name is looked up on the way
 *       must be one u cannot write, or a sticky one whose entry u owns
 *       neither the directory nor the entry: otherwise u could replace
 *       what the name leads to, and the call fails with SAFEDIR_UNSAFE.
 *       Started as an ordinary user there is nobody to guard against and
 *       nothing is refused.
 *   flags
 *       SAFEDIR_CREATE    create missing components (mode 0755, ours)
 *       SAFEDIR_GIVE      hand the last one to u (fchown), when root
 *       SAFEDIR_GIVE_NEW  the same, only when this call created it
 *
 * Returns the descriptor, SAFEDIR_UNSAFE (err names the directory u can
 * write), or -1 with err set and errno kept (ENOENT: missing, without
 * SAFEDIR_CREATE).  ACLs are not looked at: a directory made writable to
 * the service account by an ACL alone passes.  Nothing here logs or exits.
 */
#ifndef LEAFMAIL_SAFEDIR_H
#define LEAFMAIL_SAFEDIR_H

#include <stddef.h>

#include "daemon.h"

#define SAFEDIR_CREATE 1
#define SAFEDIR_GIVE 2
#define SAFEDIR_GIVE_NEW 4

#define SAFEDIR_UNSAFE (-2)

int safedir_open(const char *path, const struct daemon_user *u, int flags,
                 char *err, size_t errlen);

#endif
