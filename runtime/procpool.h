/* SPDX-License-Identifier: MIT */
/*
 * procpool.h - the parts of process workers shared by the pool
 * (procpool.c), the worker process (procworker.c) and the fork server
 * (forkserver.c): the frames on a worker's socket, the worker's main
 * loop, and the fork server's requests.
 */
#ifndef FILCH_RUNTIME_PROCPOOL_H
#define FILCH_RUNTIME_PROCPOOL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <filch.h>

/* To a worker: this header, then len argument bytes. */
struct filch__pp_call {
	uint64_t fn; /* the filch_proc_fn's address in this binary */
	uint64_t len;
};

/* From a worker: this header, then len bytes (the result, or the error
 * message). The first reply of a worker is its ready frame: len 0, code
 * the initializer's return. */
struct filch__pp_reply {
	int32_t code;
	uint32_t zero;
	uint64_t len;
};

/* Moves n bytes through the stream fd, to it (out) or from it; -EPIPE
 * when the peer is gone (end of file, a reset, a broken pipe). */
int filch__pp_xfer(int fd, void *buf, size_t n, bool out);

/* The worker process, from just after its fork: dies with its parent
 * (which must be parent), runs o's initializer as worker self, sends its
 * ready frame on fd, then serves calls until fd closes. The caller has
 * closed every inherited descriptor of the pool but fd. */
_Noreturn void filch__pp_worker_main(const struct filch_procpool_opts *o,
				     unsigned self, int fd, pid_t parent);

/* The fork server (FILCH_START_FORKSERVER): a single-threaded process
 * forked at pool creation that forks the workers on request. req carries
 * requests and replies (with the worker's socket passed along); note
 * carries the death of each worker, as the server reaps it. */
struct filch__pp_server {
	pid_t pid;
	int req, note;
};

/* Forks the server from the calling thread (its PR_SET_PDEATHSIG follows
 * that thread). The server closes the n descriptors of close_fds first.
 * 0 or a negative errno; on error nothing is left. */
int filch__pp_server_start(struct filch__pp_server *s,
			   const struct filch_procpool_opts *o,
			   const int *close_fds, size_t n);

/* Asks the server for worker index: 0 with *pid and *sock (the pool's end
 * of the worker's socketpair, close-on-exec), or a negative errno. */
int filch__pp_server_spawn(struct filch__pp_server *s, unsigned index,
			   pid_t *pid, int *sock);

/* Reads one death note: 0 with the worker's *pid and wait *status, or
 * -EPIPE when the server is gone. */
int filch__pp_server_note(struct filch__pp_server *s, pid_t *pid,
			  int *status);

/* Ends the server: it kills and reaps its workers, then exits; reaps it
 * and closes its descriptors. */
void filch__pp_server_stop(struct filch__pp_server *s);

#endif /* FILCH_RUNTIME_PROCPOOL_H */
