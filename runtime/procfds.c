/* SPDX-License-Identifier: MIT */
/*
 * procfds.c - the record of every descriptor that the process pools of
 * this process hold: their epoll and event descriptors, marks memfds,
 * sockets to workers and fork servers, pidfds, and the memfds of
 * arguments and results, made here or received.
 *
 * A fork() copies every descriptor, close-on-exec or not. A fork server
 * or a fork-method worker that kept another pool's sockets would keep
 * that pool's peers from seeing end-of-file: its destroy would wait for
 * a fork server that never learns it is done. So such a child closes,
 * before it runs anything, every recorded descriptor but its own
 * (filch__ppfd_child), and no other: the program's descriptors stay.
 * Spawned workers exec, and every recorded descriptor is close-on-exec.
 *
 * For the child's copy of the record to be exact, the record must never
 * differ from the descriptor table at a fork: a descriptor is made and
 * recorded, and forgotten and closed, under one lock (lock), which a
 * pool's fork holds across fork(). A received descriptor is recorded in
 * the same hold as the recvmsg that installs it (proctransport.c waits
 * for the bytes first, without the lock, so that the hold never blocks).
 * The program's own forks take the lock through fork.c's handlers, so
 * that no child copies it held by a thread that the child lacks.
 */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "procfds.h"

/* lock guards bits and nwords: bit fd of bits is set while descriptor fd
 * is a pool's (set by filch__ppfd_keep, cleared by filch__ppfd_close and
 * in a child by filch__ppfd_child and filch__ppfd_child_of_program). */
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static uint64_t *bits;
static size_t nwords;

/* Whether this thread holds lock (filch__ppfd_lock): a pool's fork then
 * passes through filch__ppfd_prepare without taking it again. */
static _Thread_local bool held;

/* Set by filch__ppfd_prepare when it took lock (the program's fork),
 * read by the handlers that follow it in the same thread. Guarded by
 * lock. */
static bool program_fork;

void filch__ppfd_lock(void)
{
	pthread_mutex_lock(&lock);
	held = true;
}

void filch__ppfd_unlock(void)
{
	held = false;
	pthread_mutex_unlock(&lock);
}

/* Under lock: fd is no longer a pool's. */
static void forget(int fd)
{
	if (fd >= 0 && (size_t)fd / 64 < nwords)
		bits[fd / 64] &= ~(UINT64_C(1) << (fd % 64));
}

int filch__ppfd_keep(int fd)
{
	if (fd < 0)
		return -errno;
	size_t w = (size_t)fd / 64;

	if (w >= nwords) {
		size_t n = nwords ? nwords : 16;

		while (n <= w)
			n *= 2;
		uint64_t *p = realloc(bits, n * sizeof(*p));

		if (!p) {
			close(fd);
			return -ENOMEM;
		}
		memset(p + nwords, 0, (n - nwords) * sizeof(*p));
		bits = p;
		nwords = n;
	}
	bits[w] |= UINT64_C(1) << (fd % 64);
	return fd;
}

int filch__ppfd_socketpair(int type, int sv[2])
{
	int e = 0;

	filch__ppfd_lock();
	if (socketpair(AF_UNIX, type | SOCK_CLOEXEC, 0, sv))
		e = -errno;
	else if ((e = filch__ppfd_keep(sv[0])) < 0)
		close(sv[1]);
	else if ((e = filch__ppfd_keep(sv[1])) < 0) {
		forget(sv[0]);
		close(sv[0]);
	}
	filch__ppfd_unlock();
	return e < 0 ? e : 0;
}

void filch__ppfd_close(int fd)
{
	filch__ppfd_lock();
	forget(fd);
	close(fd);
	filch__ppfd_unlock();
}

void filch__ppfd_child(const int *keep, size_t n)
{
	for (size_t w = 0; w < nwords; w++) {
		for (uint64_t b = bits[w]; b; b &= b - 1) {
			int fd = (int)(w * 64 + (size_t)__builtin_ctzll(b));
			bool mine = false;

			for (size_t k = 0; k < n; k++)
				mine |= keep[k] == fd;
			if (!mine) {
				forget(fd);
				close(fd);
			}
		}
	}
	filch__ppfd_unlock();
}

void filch__ppfd_prepare(void)
{
	if (held)
		return; /* a pool's fork: its caller holds lock */
	filch__ppfd_lock();
	program_fork = true;
}

void filch__ppfd_parent(void)
{
	if (!program_fork)
		return;
	program_fork = false;
	filch__ppfd_unlock();
}

void filch__ppfd_child_of_program(void)
{
	if (!program_fork)
		return; /* a pool's fork: filch__ppfd_child follows */
	program_fork = false;
	if (nwords)
		memset(bits, 0, nwords * sizeof(*bits));
	filch__ppfd_unlock();
}
