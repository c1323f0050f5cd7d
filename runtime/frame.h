/* SPDX-License-Identifier: MIT */
/*
 * frame.h - running-task frames: which task a thread runs now, for
 * filch_task_fail and filch_cancel_requested on that thread, and for a
 * timed shutdown that lists a worker's running tasks from another thread
 * (frame.c has the protocol).
 */
#ifndef FILCH_FRAME_H
#define FILCH_FRAME_H

#include <stdbool.h>
#include <stdint.h>

#include <filch.h>

/*
 * One frame per task body, on the stack of the thread that runs it; frames
 * nest when a waiting task runs the task it waits for, or a group job.
 * Written before the frame is published, then read-only until it is left.
 */
struct filch__task_frame {
	filch_future *future; /* NULL for a fire-and-forget task, a group job */
	void (*fn)(void);     /* the task's function, as given by the user */
	uint64_t seq;	      /* the thread's frames entered so far, this one
				 included: a frame's identity over time */
	bool job;	      /* a group job: transparent to the lookups of
				 filch__task_frame_current */
	char *message;	      /* filch_task_fail's, owned, or NULL: the
				 thread's own (never read by an inspector) */
	struct filch__task_frame *outer;
};

void filch__task_frame_enter(struct filch__task_frame *fr, filch_future *f,
			     void (*fn)(void), bool job);
/* Leaves fr, the innermost frame. May wait while another thread inspects
 * this thread's frames (a few microseconds, see frame.c). */
void filch__task_frame_leave(struct filch__task_frame *fr);

/* The innermost frame of a task (group jobs skipped), or NULL. */
struct filch__task_frame *filch__task_frame_current(void);
/* The future of the innermost task running on this thread, or NULL. */
filch_future *filch__task_frame_future(void);

/* The calling thread's frame list, for registering a worker. */
struct filch__frames;
struct filch__frames *filch__frames_mine(void);

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
 * innermost first, while that thread cannot leave fr: visit may read fr
 * and retain fr->future. Where the kernel refuses membarrier(2), no frame
 * can be read: visit(arg, i, NULL) once for each slot i that runs a task.
 * Stops at visit's first nonzero return and returns it, else 0. Any
 * thread but one of the slots'; inspections are serialized (a
 * process-wide lock). */
typedef int (*filch__frame_visit)(void *arg, unsigned slot,
				  const struct filch__task_frame *fr);
int filch__frames_inspect(_Atomic(struct filch__frames *) *slots, unsigned n,
			  size_t stride, filch__frame_visit visit, void *arg);

/* The inspection lock, which fork.c holds across fork(). */
void filch__frames_lock(void);
void filch__frames_unlock(void);

#endif /* FILCH_FRAME_H */
