/* SPDX-License-Identifier: MIT */
/*
 * trace.pml - the stop protocol of runtime/trace.c: writers record events
 * into the ring their slot publishes while a controller starts and stops
 * tracing (filch_trace_start, filch_trace_stop: detach, write the trace,
 * free the rings).
 *
 * One slot (a worker's, or the foreign threads' when NW > 1: its writers
 * share the ring and claim events with a fetch_add on head), NW writers of
 * NEV events each, and NCYCLE starts and stops, serialized as trace_lock
 * serializes them. A ring is named by its address: each start takes any
 * of NRING addresses, so that a new ring may reuse the one just freed (a
 * writer that read the old pointer then finds the same value again).
 *
 * Memory is TSO (x86): the controller's plain stores to the slot's
 * pointer (start's release store) wait in its store buffer (one slot)
 * until it drains, at any moment or at an RMW; detach's seq_cst store is
 * an XCHG. The writers' accesses that order anything are RMWs (busy,
 * head), and the fields they store are followed by the RMW that drops
 * busy, so their steps are atomic as written. Steps, as trace.c names
 * them:
 *   writer, per event:  W1 r = slot's pointer (put_slot); if NULL, no event
 *                       W2 busy += 1 (put)
 *                       W3 re-read the pointer: if still r,
 *                          W4 claim: head[r] += 1, W5 fill the event
 *                       W6 busy -= 1
 *   controller, per cycle:
 *                       start: ring r set up (head 0), then the pointer
 *                          = r (release: buffered)
 *                       stop: S1 pointer = NULL (seq_cst), S2 wait until
 *                          busy reads 0, S3 write the trace (emit), S4 free
 * What trace.c promises, and the model asserts: no writer touches a ring
 * (its count, head or events) once the stopper has begun to emit it, nor
 * after it is freed; when the stopper emits a ring, every event counted
 * in head has been written (an event is either in the trace, or counted
 * as dropped by head minus the ring's size, or was never recorded because
 * its writer found the pointer NULL); and the stopper's wait ends (no
 * invalid end state). Not modelled: the ring's size (two writers a whole
 * ring apart may write one event's place; the older one is dropped), the
 * gate filch__traces_on (it only saves the load of W1).
 * Mutants (each must fail): 1 the writer counts itself after its check of
 * the pointer and does not re-read it (W3 skipped); 2 the stopper frees
 * without waiting for the count to drain (S2 skipped); 3 the count lives
 * in the ring instead of the slot (W2 and W6 touch a ring that may be
 * freed); 4 detach's store of NULL is a release store (buffered, not an
 * XCHG); 5 the writer drops its count before it fills the event.
 */
#ifndef NW
#define NW 2
#endif
#ifndef NEV
#define NEV 2
#endif
#ifndef NCYCLE
#define NCYCLE 2
#endif
#ifndef NRING
#define NRING 2
#endif
#ifndef MUTANT
#define MUTANT 0
#endif

#define FREE 0
#define LIVE 1
#define EMITTED 2

byte ring;			/* the slot's pointer, in memory: 0 or a ring */
byte cbuf;			/* the controller's store buffer: a pending */
bool cpend;			/* store to ring */
byte busy;			/* the slot's writers inside put */
byte rbusy[NRING + 1];		/* mutant 3: the count in the ring */
byte rstate[NRING + 1];		/* FREE, LIVE, EMITTED */
byte head[NRING + 1];		/* events claimed */
byte filled[NRING + 1];		/* events written */

inline cdrain()
{
	if
	:: cpend -> ring = cbuf; cpend = false
	:: else -> skip
	fi
}

/* A writer's access to ring r's memory. */
inline touch(r)
{
	assert(rstate[r] == LIVE)
}

inline count(r)
{
#if MUTANT == 3
	atomic { touch(r); rbusy[r]++ }
#else
	busy++
#endif
}

inline uncount(r)
{
#if MUTANT == 3
	atomic { touch(r); rbusy[r]-- }
#else
	busy--
#endif
}

/* The store buffer drains whenever the hardware likes. */
active proctype buffer()
{
end:	do
	:: atomic { cpend -> cdrain() }
	od
}

active [NW] proctype writer()
{
	byte n = 0, r, again;

	do
	:: n < NEV ->
		r = ring;				/* W1 */
		if
		:: r != 0 ->
			count(r);			/* W2 */
#if MUTANT == 1
			again = r;
#else
			again = ring;			/* W3 */
#endif
			if
			:: again == r ->
				atomic { touch(r); head[r]++ };	/* W4 */
#if MUTANT == 5
				uncount(r);
				atomic { touch(r); filled[r]++ }
#else
				atomic { touch(r); filled[r]++ };	/* W5 */
				uncount(r)			/* W6 */
#endif
			:: else ->
				uncount(r)			/* W6 */
			fi
		:: else -> skip
		fi;
		n++
	:: else -> break
	od
}

active proctype controller()
{
	byte c = 0, r;

	do
	:: c < NCYCLE ->
		/* start: any address, the one just freed included */
		r = 1;
		do
		:: r < NRING -> r++
		:: break
		od;
		atomic {
			assert(rstate[r] == FREE);
			head[r] = 0; filled[r] = 0; rstate[r] = LIVE
		};
		atomic { cdrain(); cbuf = r; cpend = true };
		/* stop: detach */
#if MUTANT == 4
		atomic { cdrain(); cbuf = 0; cpend = true };	/* S1 */
#else
		atomic { cdrain(); ring = 0 };			/* S1 */
#endif
#if MUTANT == 3
		(rbusy[r] == 0);				/* S2 */
#elif MUTANT != 2
		(busy == 0);					/* S2 */
#endif
		atomic {					/* S3 */
			rstate[r] = EMITTED;
			assert(filled[r] == head[r])
		};
		rstate[r] = FREE;				/* S4 */
		c++
	:: else -> break
	od
}
