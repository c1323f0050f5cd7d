/* SPDX-License-Identifier: MIT */
/*
 * procfds.h - the process-wide record of the descriptors that process
 * pools hold (procfds.c), so that a process a pool forks (a fork server,
 * a fork-method worker) closes every other pool's before it runs
 * anything, and keeps the program's own.
 */
#ifndef FILCH_RUNTIME_PROCFDS_H
#define FILCH_RUNTIME_PROCFDS_H

#include <stddef.h>

/* The record's lock. A pool's descriptor is made and recorded under it
 * (filch__ppfd_keep), it is held across every fork() of a pool, and a
 * descriptor is forgotten and closed under it (filch__ppfd_close): a
 * child of that fork finds in its copy of the record every pool
 * descriptor it inherited, and no other. */
void filch__ppfd_lock(void);
void filch__ppfd_unlock(void);

/* Under the lock, right after the call that made fd (fd < 0: it failed,
 * with errno): records fd as a pool's. Returns fd, or a negative errno
 * (the call's; -ENOMEM when the record cannot grow: then fd is closed). */
int filch__ppfd_keep(int fd);

/* Makes a close-on-exec socketpair of type (AF_UNIX) and records both
 * ends: 0 or a negative errno (then nothing is left open). */
int filch__ppfd_socketpair(int type, int sv[2]);

/* Forgets fd and closes it (takes the lock). */
void filch__ppfd_close(int fd);

/* In the child of a pool's fork(), while it is single-threaded and holds
 * the lock (the forking thread held it): closes every recorded
 * descriptor but the n of keep, forgets them, and releases the lock.
 * Async-signal-safe. */
void filch__ppfd_child(const int *keep, size_t n);

/* fork.c's handlers, for a fork() that is not a pool's (the program's):
 * prepare takes the lock unless this thread holds it already (a pool
 * forking), parent releases what prepare took; in the child of the
 * program's fork, child forgets every record (the inherited descriptors
 * are no longer known to belong to a live pool) and releases the lock. */
void filch__ppfd_prepare(void);
void filch__ppfd_parent(void);
void filch__ppfd_child_of_program(void);

#endif /* FILCH_RUNTIME_PROCFDS_H */
