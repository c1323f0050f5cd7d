/* SPDX-License-Identifier: MIT */
/*
 * frame.pml - the frame-inspection protocol of runtime/frame.c: a worker
 * leaves frames and drops each task's reference to its future, while a
 * reporter inspects its frames and retains the future it finds.
 *
 * Memory is TSO (x86): each thread's stores wait in its store buffer (one
 * slot here) until the buffer drains, at any moment, or at an atomic
 * read-modify-write or a barrier; loads read memory. Steps, as frame.c
 * names them:
 *   worker, per task:  enter (top = i)  ...  L1 top = 0 (buffered)
 *                      L2 load inspect: if set, wait until it is clear
 *                      L3 drop the task's reference (an RMW: drains)
 *   reporter, NINSPECT times: R1 inspect = 1 (buffered)
 *                      R2 membarrier: drains every buffer
 *                      R3 load top: retain that task's future
 *                      R4 inspect = 0 (an XCHG), later release
 * The property: the reporter never reads the frame of, nor retains, a
 * task whose future was freed (its reference count reached 0).
 * Mutants (each must fail): 1 R2 drains only the reporter's buffer (no
 * membarrier); 2 the worker loads inspect before L1; 3 R4 before R3's
 * retain; 4 the worker does not wait at L2.
 */
#ifndef NTASK
#define NTASK 3
#endif
#ifndef NINSPECT
#define NINSPECT 2
#endif
#ifndef MUTANT
#define MUTANT 0
#endif

byte top;		/* the worker's innermost frame: a task, or 0 */
bool inspect;
byte wbuf;		/* the worker's store buffer: a pending top */
bool wpend;
bool rpend;		/* the reporter's pending inspect = 1 */
byte refs[NTASK + 1];
bool freed[NTASK + 1];

inline wdrain()
{
	if
	:: wpend -> top = wbuf; wpend = false
	:: else -> skip
	fi
}

inline rdrain()
{
	if
	:: rpend -> inspect = true; rpend = false
	:: else -> skip
	fi
}

inline drop(i)
{
	refs[i]--;
	if
	:: refs[i] == 0 -> freed[i] = true
	:: else -> skip
	fi
}

/* Store buffers drain whenever the hardware likes. */
active proctype buffers()
{
end:	do
	:: atomic { wpend -> wdrain() }
	:: atomic { rpend -> rdrain() }
	od
}

active proctype worker()
{
	byte i = 1;

	do
	:: i <= NTASK ->
		/* The caller released its reference at once: the task's is
		 * the last. enter: a release store of top. */
		refs[i] = 1;
		atomic { wdrain(); wbuf = i; wpend = true }
#if MUTANT == 2
		if
		:: inspect -> (!inspect)
		:: else -> skip
		fi;
		atomic { wdrain(); wbuf = 0; wpend = true };
#else
		atomic { wdrain(); wbuf = 0; wpend = true };	/* L1 */
#if MUTANT != 4
		if					/* L2 */
		:: inspect -> (!inspect)
		:: else -> skip
		fi;
#endif
#endif
		atomic { wdrain(); drop(i) };		/* L3 */
		i++
	:: else -> break
	od
}

active proctype reporter()
{
	byte n = 0, fr;

	do
	:: n < NINSPECT ->
		atomic { rdrain(); rpend = true };	/* R1 */
#if MUTANT == 1
		atomic { rdrain() };			/* only its own fence */
#else
		atomic { rdrain(); wdrain() };		/* R2 */
#endif
		fr = top;				/* R3 */
#if MUTANT == 3
		atomic { rdrain(); inspect = false };	/* R4 too early */
#endif
		if
		:: fr != 0 ->
			atomic { assert(!freed[fr]); refs[fr]++ }
		:: else -> skip
		fi;
#if MUTANT != 3
		atomic { rdrain(); inspect = false };	/* R4 */
#endif
		if
		:: fr != 0 -> atomic { drop(fr) }
		:: else -> skip
		fi;
		n++
	:: else -> break
	od
}
