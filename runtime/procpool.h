/* SPDX-License-Identifier: MIT */
/*
 * procpool.h - the parts of process workers shared by the pool
 * (procpool.c), the worker process (procworker.c) and the fork server
 * (forkserver.c), and the spawn start method (spawn.c): the frames on a
 * worker's socket, the worker's main loop, the fork server's requests,
 * and how functions cross to an exec'd worker.
 */
#ifndef FILCH_RUNTIME_PROCPOOL_H
#define FILCH_RUNTIME_PROCPOOL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>

#include <filch.h>

/* The longest module name (NUL included) that crosses to a worker. */
#define FILCH__PP_MAX_NAME 4096

/* How many calls the pool writes to a worker ahead of the one it runs
 * (the pipeline's depth, per worker). */
#define FILCH__PP_DEPTH 16

/* A call's mark in the ring shared by the pool and its workers: one ring
 * of FILCH__PP_DEPTH marks per worker slot, call seq using mark
 * seq % FILCH__PP_DEPTH. state holds (seq << 2) | one of:
 *   QUEUED    -> STARTED    the worker starts the call (its CAS, in
 *                           procworker.c's pp_start_call)
 *   QUEUED    -> CANCELLED  the pool cancels it (its CAS, in procpool.c's
 *                           pp_mark_cancel): the worker skips it
 * The pool sets QUEUED before writing the call (pp_send); a mark is
 * reused only after the reply of the call before it in the ring was read,
 * and seq (never reset for a slot) tells a stale CAS apart. start is the
 * CLOCK_MONOTONIC time the call started, stored before STARTED. */
enum { FILCH__PP_QUEUED = 1, FILCH__PP_STARTED = 2, FILCH__PP_CANCELLED = 3 };
struct filch__pp_mark {
	_Atomic uint64_t state;
	_Atomic int64_t start;
};

/* The mark value of call seq in a state (seq's low 48 bits). */
static inline uint64_t filch__pp_mark_of(uint64_t seq, unsigned state)
{
	return ((seq & ((UINT64_C(1) << 48) - 1)) << 2) | state;
}

/* A reply's code when the worker skipped a cancelled call (never a task's
 * code: INT_MIN becomes EOVERFLOW). */
#define FILCH__PP_SKIPPED INT32_MIN

/* To a worker: this header, then mod_len bytes of the module's name
 * (FILCH_START_SPAWN: NUL-terminated, "" for the program), then len
 * argument bytes, unless shm: then the header came with a sealed memfd
 * of the len bytes attached (filch__pp_shm_make). */
struct filch__pp_call {
	uint64_t fn; /* the filch_proc_fn's address (mod_len 0), or its
			offset in the module */
	uint64_t len;
	uint32_t mod_len;
	uint32_t shm;
	uint64_t seq; /* the call's number (its mark) */
};

/* To a spawned worker, first (FILCH_START_SPAWN): this, then init_len
 * bytes of the initializer's module name and arg_len bytes of its
 * argument's (a length 0: no initializer; an argument passed as its
 * value). */
struct filch__pp_setup {
	uint32_t index;
	uint32_t max_tasks_per_child;
	uint64_t memory_limit;
	uint64_t init_off;
	uint64_t arg; /* the offset in its module, or the value */
	uint32_t init_len;
	uint32_t arg_len;
	int64_t spin_ns;
};

/* From a worker: this header, then len bytes (the result, or the error
 * message), unless shm: then a sealed memfd of the len bytes came with
 * the header. The first reply of a worker is its ready frame: len 0,
 * code the initializer's return. */
struct filch__pp_reply {
	int32_t code;
	uint32_t shm;
	uint64_t len;
};

/* The number of worker slots of pp, and whether it spawns its workers
 * (FILCH_START_SPAWN: functions cross as module and offset). */
unsigned filch__pp_workers(const filch_procpool *pp);
bool filch__pp_spawns(const filch_procpool *pp);

/* ---- proctransport.c ---- */

/* Moves n bytes through the stream fd, to it (out) or from it; -EPIPE
 * when the peer is gone (end of file, a reset, a broken pipe). */
int filch__pp_xfer(int fd, void *buf, size_t n, bool out);

/* Sends the n buffers of iov on sock, in one sendmsg when the socket
 * takes them, with fd attached (none if fd < 0). 0 or -EPIPE. */
int filch__pp_send_fd(int sock, const struct iovec *iov, int n, int fd);

/* Sends what follows the first sent bytes of the n buffers of iov on
 * sock (a stream socket took those): 0 or -EPIPE. */
int filch__pp_send_rest(int sock, const struct iovec *iov, int n,
			size_t sent);

/* A reader that takes many frames with one recvmsg: the bytes in buf
 * between head and tail, and the descriptors that came with them in the
 * order they came (each belongs to the next frame that says it has one;
 * -1 for one that procfds.c could not record). Every descriptor received
 * here or by filch__pp_recv_fd, and every memfd of filch__pp_shm_make, is
 * recorded as a pool's: the caller closes it with filch__ppfd_close. */
#define FILCH__PP_RBUF 16384
#define FILCH__PP_RFDS 64
struct filch__pp_rbuf {
	size_t head, tail;
	unsigned fd_head, fd_tail;
	int fds[FILCH__PP_RFDS];
	unsigned char buf[FILCH__PP_RBUF];
};

/* One recvmsg from sock into rb, which must hold no byte (its readers
 * take whole frames: a frame begun is read to its end), waiting for
 * bytes unless nowait: 1 (bytes came), 0 (nowait and nothing there),
 * -EPIPE. */
int filch__pp_rb_fill(int sock, struct filch__pp_rbuf *rb, bool nowait);

/* Moves n bytes from rb (then sock, waiting) to dst. 0 or -EPIPE. */
int filch__pp_rb_read(int sock, struct filch__pp_rbuf *rb, void *dst,
		      size_t n);

/* The next descriptor that came, or -1 if none is left. */
int filch__pp_rb_fd(struct filch__pp_rbuf *rb);

/* Closes the descriptors rb still holds. */
void filch__pp_rb_close(struct filch__pp_rbuf *rb);

/* Receives len bytes into msg from sock, and the descriptor attached to
 * them (close-on-exec) in *fd, or -1 if none. 0, or -EPIPE (then *fd is
 * -1 and nothing is left open). */
int filch__pp_recv_fd(int sock, void *msg, size_t len, int *fd);

/* A sealed memfd holding a copy of the len bytes of data (and a 0 byte
 * after them), or a negative errno. */
int filch__pp_shm_make(const void *data, size_t len);

/* Maps fd, a memfd from filch__pp_shm_make of len bytes, read-only: the
 * bytes (NUL-terminated), or NULL if fd is not such a memfd or the map
 * fails. The caller still closes fd. */
const void *filch__pp_shm_map(int fd, size_t len);

/* Unmaps what filch__pp_shm_map returned for len bytes. */
void filch__pp_shm_unmap(const void *p, size_t len);

/* The prefix of the name of every memfd of process pools (the shared
 * memory of filch__pp_shm_make, a pool's marks), as /proc/PID/fd shows
 * them. */
#define FILCH__PP_MEMFD_PREFIX "filch-"

/* The worker process, from just after its fork: dies with its parent
 * (which must be parent), runs o's initializer as worker self, sends its
 * ready frame on fd, then serves calls in order until fd closes, starting
 * each through its mark in ring (the worker slot's FILCH__PP_DEPTH marks).
 * The caller has closed every inherited descriptor of a pool but fd
 * (filch__ppfd_child). */
_Noreturn void filch__pp_worker_main(const struct filch_procpool_opts *o,
				     unsigned self, int fd, pid_t parent,
				     struct filch__pp_mark *ring);

/* The module whose loaded segments hold addr: copies its name (NUL
 * included, "" for the program) into name (cap bytes) and sets *off to
 * addr less the module's base. Returns the name's length with its NUL,
 * -EINVAL (addr in no module), -ENAMETOOLONG. */
int filch__pp_locate(const void *addr, char *name, size_t cap,
		     uint64_t *off);

/* In a worker: the address of off in the module named name (loaded now
 * if the worker does not have it), or NULL. */
void *filch__pp_resolve(const char *name, uint64_t off);

/* Starts a spawned worker (FILCH_START_SPAWN): fork and exec of the
 * program with the worker's marker, then the len bytes of setup (a
 * struct filch__pp_setup and its names) written to it with ring_fd (the
 * memfd of the pool's marks) attached. 0 with *pid and *sock (the pool's
 * end, close-on-exec, recorded by procfds.c), or a negative errno. */
int filch__pp_spawn_exec(const void *setup, size_t len, int ring_fd,
			 pid_t *pid, int *sock);

/* The fork server (FILCH_START_FORKSERVER): a single-threaded process
 * forked at pool creation that forks the workers on request. req carries
 * requests and replies (with the worker's socket passed along); note
 * carries the death of each worker, as the server reaps it. */
struct filch__pp_server {
	pid_t pid;
	int req, note;
};

/* Forks the server from the calling thread (its PR_SET_PDEATHSIG follows
 * that thread); worker i gets the marks rings + i * FILCH__PP_DEPTH (a
 * shared mapping it inherits). The server first closes every descriptor
 * of a pool that it inherited but its own two (filch__ppfd_child).
 * 0 or a negative errno; on error nothing is left. */
int filch__pp_server_start(struct filch__pp_server *s,
			   const struct filch_procpool_opts *o,
			   struct filch__pp_mark *rings);

/* Asks the server for worker index: 0 with *pid, *sock (the pool's end
 * of the worker's socketpair) and *pidfd (the worker's, made by the
 * server before it could reap the worker: it names that process even
 * after its pid is reused), both close-on-exec; or a negative errno. */
int filch__pp_server_spawn(struct filch__pp_server *s, unsigned index,
			   pid_t *pid, int *sock, int *pidfd);

/* Reads one death note: 0 with the worker's *pid and wait *status, or
 * -EPIPE when the server is gone. */
int filch__pp_server_note(struct filch__pp_server *s, pid_t *pid,
			  int *status);

/* Ends the server: it kills and reaps its workers, then exits; reaps it
 * and closes its descriptors. */
void filch__pp_server_stop(struct filch__pp_server *s);

/* ---- procspin.c ---- */

/* A reader's bounded adaptive spinning (procspin.c): it polls for at most
 * bound ns before it blocks, and only while poll (its last wait ended
 * within bound). One reader's own: no sharing. */
struct filch__pp_spin {
	int64_t bound; /* 0: never polls */
	int64_t since; /* when the current wait began */
	bool poll;
};

void filch__pp_spin_init(struct filch__pp_spin *s, int64_t spin_ns);

/* A wait begins: until when to poll without blocking, or 0 (block at
 * once). */
int64_t filch__pp_spin_begin(struct filch__pp_spin *s);

/* Whether to poll once more (until: filch__pp_spin_begin's); if so,
 * yields the CPU first, to a thread on this CPU that the poll waits for
 * (the waiter, the worker). */
bool filch__pp_spin_on(int64_t until);

/* The wait ended (a frame or an event came): learns whether it was
 * short enough to poll the next time. */
void filch__pp_spin_end(struct filch__pp_spin *s);

#endif /* FILCH_RUNTIME_PROCPOOL_H */
