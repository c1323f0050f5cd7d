/* SPDX-License-Identifier: MIT */
/*
 * frame.c - running-task frames, and how another thread lists them.
 *
 * Each thread keeps its innermost frame in a thread-local list (top, the
 * frames linked through outer). Entering and leaving a frame is what
 * filch_task_fail and filch_cancel_requested always needed; a timed
 * shutdown (shutdown_report.c) also reads a worker's frames from another
 * thread, to name the tasks still running and retain their futures. The
 * task path pays for that one load of the thread's own inspect word, on
 * leaving a frame: no fence, no atomic read-modify-write, no clock read.
 *
 * The danger for the reader: a frame lives on the worker's stack, and the
 * task's reference to its future is dropped right after the frame is
 * left (submit.c, then.c); the future may then be freed. So the reader
 * must not read a frame that may be left, nor retain a future whose frame
 * may be left, while it does so. The protocol (stress/frame.pml checks it):
 *
 *   leave (worker W)                 inspect (reader R, under inspect_lock)
 *   L1 top = fr->outer               R1 inspect = INSPECTED (every slot)
 *   L2 load inspect: if set, sleep   R2 membarrier(): a full barrier in
 *      until R4 clears it               every thread of the process
 *   L3 (caller) drop the task's      R3 load top; read the frames from
 *      reference to fr->future          there outward, retain futures
 *                                    R4 inspect = 0, wake W if it sleeps
 *
 * L1-L2 against R1-R3 is the store-buffering (Dekker) pattern: if W's L2
 * misses R1, then R2's barrier in W came after L2, hence after L1, and R3
 * sees L1: R never reads fr. Otherwise W waits at L2 until R4, and fr with
 * every frame outward of it stays on W's stack, each holding its task's
 * reference, while R reads them. W's side needs a seq_cst fence between L1
 * and L2; membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED) executes it in W on
 * R's behalf (as urcu's memb flavour does for its readers), so W's side is
 * a store, a compiler barrier and a load. Under ThreadSanitizer, which
 * does not know membarrier, L1, L2, R1 and R3 are seq_cst instead.
 * Entering needs nothing more: a frame is complete before the release
 * store that publishes it in top, and a reader finds it or the one before.
 *
 * inspect (the shared state word of a thread's frame list):
 *   0                   no inspection; W leaves frames freely
 *   INSPECTED           set by R at R1 (under inspect_lock), for the
 *                       threads registered in the slots it inspects
 *   INSPECTED | WAITER  W, in L2, is about to sleep on the futex (CAS)
 * R4 takes either back to 0 (XCHG) and wakes W when WAITER was set.
 *
 * A slot's registration changes only NULL -> list (the worker, before its
 * first task, a release store) and list -> NULL (the worker, before it
 * exits, under inspect_lock): R reads a thread's list only under that
 * lock, while the thread, and so its thread-local storage, exists.
 */
#include "config.h"

#include <errno.h>
#include <linux/membarrier.h>
#include <pthread.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "atomic.h"
#include "frame.h"
#include "futex.h"
#include "perturb.h"

#define INSPECTED FILCH__FRAMES_INSPECTED
#define WAITER 2u

/* initial-exec: see FILCH__TLS in executor.h */
_Thread_local __attribute__((tls_model("initial-exec")))
struct filch__frames filch__frames_self;

static pthread_mutex_t inspect_lock = PTHREAD_MUTEX_INITIALIZER;

/* L2's slow path: sleeps until the inspection ends (R4). Out of line, so
 * that leaving a frame stays a few instructions without a stack frame. */
void filch__task_frame_wait_inspection(void)
{
	uint32_t v;

	/* Acquire: R's reads of our frames before we reuse their memory;
	 * pairs with the release XCHG in filch__frames_inspect (R4). */
	while ((v = filch__load(&filch__frames_self.inspect, acquire)) != 0) {
		if (v == INSPECTED &&
		    !filch__cas(&filch__frames_self.inspect, &v, INSPECTED | WAITER, acquire,
				acquire))
			continue;
		filch__futex_wait(&filch__frames_self.inspect, INSPECTED | WAITER,
				  FILCH__NO_DEADLINE);
	}
}

struct filch__task_frame *filch__task_frame_current(void)
{
	struct filch__task_frame *fr = filch__load(&filch__frames_self.top, relaxed);

	while (fr && fr->job)
		fr = fr->outer;
	return fr;
}

filch_future *filch__task_frame_future(void)
{
	struct filch__task_frame *fr = filch__task_frame_current();

	return fr ? fr->future : NULL;
}

void filch__frames_register(_Atomic(struct filch__frames *) *slot)
{
	/* Release: pairs with the acquire load in filch__frames_inspect
	 * (the list is initialized thread-local storage: nothing else). */
	filch__store(slot, &filch__frames_self, release);
}

void filch__frames_unregister(_Atomic(struct filch__frames *) *slot)
{
	pthread_mutex_lock(&inspect_lock);
	filch__store(slot, NULL, relaxed); /* read under the lock only */
	pthread_mutex_unlock(&inspect_lock);
}

void filch__frames_lock(void)
{
	pthread_mutex_lock(&inspect_lock);
}

void filch__frames_unlock(void)
{
	pthread_mutex_unlock(&inspect_lock);
}

static long membarrier(int cmd)
{
	return syscall(SYS_membarrier, cmd, 0);
}

/* R2: a full barrier in every thread of the process. Registration is
 * per process, and a child of fork() may need its own: registers again
 * when the kernel says this process has not. */
static int heavy_barrier(void)
{
	if (membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED) == 0)
		return 0;
	if (errno == EPERM &&
	    membarrier(MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED) == 0 &&
	    membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED) == 0)
		return 0;
	return -ENOSYS;
}

static struct filch__frames *slot_list(_Atomic(struct filch__frames *) *slots,
				       unsigned i, size_t stride)
{
	_Atomic(struct filch__frames *) *slot =
		(void *)((char *)slots + (size_t)i * stride);

	/* Acquire: pairs with filch__frames_register's release store. */
	return filch__load(slot, acquire);
}

unsigned filch__frames_busy(_Atomic(struct filch__frames *) *slots,
			    unsigned n, size_t stride)
{
	struct filch__frames *fs;
	unsigned busy = 0;

	pthread_mutex_lock(&inspect_lock);
	for (unsigned i = 0; i < n; i++)
		/* Relaxed: a snapshot; top is compared, never followed. */
		if ((fs = slot_list(slots, i, stride)) &&
		    filch__load(&fs->top, relaxed))
			busy++;
	pthread_mutex_unlock(&inspect_lock);
	return busy;
}

int filch__frames_inspect(_Atomic(struct filch__frames *) *slots, unsigned n,
			  size_t stride, filch__frame_visit visit, void *arg)
{
	struct filch__frames *fs;
	int rc = 0;

	pthread_mutex_lock(&inspect_lock);
	for (unsigned i = 0; i < n; i++)
		if ((fs = slot_list(slots, i, stride)))
			/* R1, seq_cst: before R3 (see the top). */
			filch__store(&fs->inspect, INSPECTED, seq_cst);
	if (heavy_barrier() != 0) { /* R2 */
		/* Without it no frame may be read: only which thread runs
		 * one (top itself is safe to load while the thread lives). */
		for (unsigned i = 0; i < n && rc == 0; i++)
			if ((fs = slot_list(slots, i, stride)) &&
			    filch__load(&fs->inspect, relaxed) &&
			    filch__load(&fs->top, relaxed))
				rc = visit(arg, i, NULL);
		goto out;
	}
	for (unsigned i = 0; i < n && rc == 0; i++) {
		/* A list registered after R1 is not ours to read. */
		if (!(fs = slot_list(slots, i, stride)) ||
		    !filch__load(&fs->inspect, relaxed))
			continue;
		/* R3, seq_cst: after R1; the acquire half pairs with the
		 * release store in filch__task_frame_enter. */
		for (struct filch__task_frame *fr = filch__load(&fs->top, seq_cst);
		     fr && rc == 0; fr = fr->outer) {
			FILCH__PERTURB(); /* the thread may try to leave fr */
			rc = visit(arg, i, fr);
		}
	}
out:
	for (unsigned i = 0; i < n; i++)
		/* R4, release: our reads of the frames before the thread
		 * leaves them; pairs with the acquire loads of inspect in
		 * filch__task_frame_leave and wait_inspection. */
		if ((fs = slot_list(slots, i, stride)) &&
		    (filch__xchg(&fs->inspect, 0, release) & WAITER))
			filch__futex_wake(&fs->inspect, 1);
	pthread_mutex_unlock(&inspect_lock);
	return rc;
}
