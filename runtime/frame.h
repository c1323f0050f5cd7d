/* SPDX-License-Identifier: MIT */
/*
 * frame.h - running-task frames: which task a thread runs now, for
 * filch_task_fail and filch_cancel_requested on that thread, and for a
 * timed shutdown that lists a worker's running tasks from another thread
 * (frame.c has the protocol).
 */
#ifndef FILCH_FRAME_H
#define FILCH_FRAME_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include <filch.h>

#include "atomic.h"
#include "perturb.h"

/*
 * One frame per task body, on the stack of the thread that runs it; frames
 * nest when a waiting task runs the task it waits for, or a group job.
 * Written before the frame is published, then read-only until it is left,
 * but for seen, the inspectors' own field.
 */
struct filch__task_frame {
	filch_future *future; /* NULL for a fire-and-forget task, a group job */
	void (*fn)(void);     /* the task's function, as given by the user */
	/* 0 at entry; then written only by inspectors (one at a time, while
	 * the thread cannot leave the frame, see frame.c): when one first
	 * saw the frame (shutdown_report.c). Never read by the thread. */
	int64_t seen;
	bool job;	      /* a group job: transparent to the lookups of
				 filch__task_frame_current */
	char *message;	      /* filch_task_fail's, owned, or NULL: the
				 thread's own (never read by an inspector) */
	struct filch__task_frame *outer;
};

/*
 * For a function whose only addressed local is a task frame: no stack
 * canary (-fstack-protector-strong puts one in every function with an
 * addressed local). A frame holds no array, so a canary would guard
 * nothing there, at five instructions for every task.
 */
#if defined(__has_attribute)
#if __has_attribute(no_stack_protector)
#define FILCH__NO_CANARY __attribute__((no_stack_protector))
#endif
#endif
#ifndef FILCH__NO_CANARY
#define FILCH__NO_CANARY
#endif

/* A thread's frame list (frame.c has the protocol and the states of
 * inspect). Inline below: every task enters and leaves a frame. */
struct filch__frames {
	_Atomic(struct filch__task_frame *) top;
	_Atomic uint32_t inspect; /* see the top of frame.c */
};
#define FILCH__FRAMES_INSPECTED 1u

/* The calling thread's list (initial-exec TLS, defined in frame.c). The
 * inline paths below name its members directly, never through a pointer
 * to it: UBSan checks such a pointer for NULL with the flags of the add
 * that computes it, which the linker may relax into a lea that sets none
 * (seen with gcc 12 and binutils 2.40: a branch on stale flags, a false
 * report). */
extern _Thread_local __attribute__((tls_model("initial-exec")))
struct filch__frames filch__frames_self;

/* Enters fr (the caller's storage), the new innermost frame. */
static inline void filch__task_frame_enter(struct filch__task_frame *fr,
					   filch_future *f, void (*fn)(void),
					   bool job)
{
	fr->future = f;
	fr->fn = fn;
	fr->seen = 0;
	fr->job = job;
	fr->message = NULL;
	fr->outer = filch__load(&filch__frames_self.top, relaxed);
	/* Release: fr's fields before fr is seen; pairs with the acquire
	 * (seq_cst) load of top in filch__frames_inspect. */
	filch__store(&filch__frames_self.top, fr, release);
}

void filch__task_frame_wait_inspection(void);

/* Leaves fr, the innermost frame: L1 and L2 of frame.c. May wait while
 * another thread inspects this thread's frames (a few microseconds). */
static inline void filch__task_frame_leave(struct filch__task_frame *fr)
{
	uint32_t v;

#ifdef FILCH_TSAN
	/* L1, L2 seq_cst: see the top of frame.c. */
	filch__store(&filch__frames_self.top, fr->outer, seq_cst);
	FILCH__PERTURB(); /* an inspection may begin between L1 and L2 */
	v = filch__load(&filch__frames_self.inspect, seq_cst);
#else
	/* L1 then L2: the seq_cst fence between them is executed by the
	 * inspector's membarrier (R2); the compiler must keep the order. */
	filch__store(&filch__frames_self.top, fr->outer, relaxed);
	FILCH__PERTURB(); /* an inspection may begin between L1 and L2 */
	atomic_signal_fence(memory_order_seq_cst);
	/* Acquire: as in wait_inspection, when it reads 0 after an R4. */
	v = filch__load(&filch__frames_self.inspect, acquire);
#endif
	if (__builtin_expect(v != 0, 0))
		filch__task_frame_wait_inspection();
}

/* The innermost frame of a task (group jobs skipped), or NULL. */
struct filch__task_frame *filch__task_frame_current(void);
/* The future of the innermost task running on this thread, or NULL. */
filch_future *filch__task_frame_future(void);

/*
 * A worker's registration: *slot holds its thread's frame list from
 * filch__frames_register (the worker's thread, before it runs tasks)
 * until filch__frames_unregister (the same thread, before it exits).
 */
void filch__frames_register(_Atomic(struct filch__frames *) *slot);
void filch__frames_unregister(_Atomic(struct filch__frames *) *slot);

/*
 * Lists the frames of the registered threads of slots[0..n) (one slot
 * every stride bytes): visit(arg, i, fr) for each frame fr of slot i,
 * innermost first, while that thread cannot leave fr: visit may read fr,
 * retain fr->future and write fr->seen. Where the kernel refuses membarrier(2), no frame
 * can be read: visit(arg, i, NULL) once for each slot i that runs a task.
 * Stops at visit's first nonzero return and returns it, else 0. Any
 * thread but one of the slots'; inspections are serialized (a
 * process-wide lock). */
typedef int (*filch__frame_visit)(void *arg, unsigned slot,
				  struct filch__task_frame *fr);
int filch__frames_inspect(_Atomic(struct filch__frames *) *slots, unsigned n,
			  size_t stride, filch__frame_visit visit, void *arg);

/* How many of the registered threads of slots[0..n) (one slot every
 * stride bytes) are inside a task frame now: a snapshot, for the stats.
 * Reads no frame (no membarrier); takes the inspection lock, as a slot's
 * list is only read under it. Any thread. */
unsigned filch__frames_busy(_Atomic(struct filch__frames *) *slots,
			    unsigned n, size_t stride);

/* The inspection lock, which fork.c holds across fork(). */
void filch__frames_lock(void);
void filch__frames_unlock(void);

#endif /* FILCH_FRAME_H */
