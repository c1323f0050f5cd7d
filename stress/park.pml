/* SPDX-License-Identifier: MIT */
/*
 * park.pml - a Promela model of filch's parking protocol (runtime/park.c,
 * runtime/worker.c) with shutdown, checked by spin for lost wake-ups and
 * deadlock.
 *
 *   spin -a park.pml && cc -O2 -DSAFETY -o pan pan.c && ./pan -m100000
 *
 * NW workers, NSUB foreign submitters (K tasks each), and one thread that
 * shuts the executor down at any moment. A task run by a worker may spawn
 * one child onto the worker's own deque (its notification may be skipped:
 * notify_local's relaxed look). All queues are one pool here: a task in
 * any deque or in the injector is visible to every last look.
 *
 * Each statement is one atomic step (sequential consistency): the C code
 * makes every step of the protocol a seq_cst RMW of park_state, or orders
 * it behind one (park.c). Steps that are separate in C are separate here:
 * the claim and the event-count increment, the checks of try_terminate.
 *
 * A correct run ends with every worker exited, every accepted task run,
 * and nothing queued. A lost wake-up leaves a worker asleep with a task
 * queued and nobody to wake it: spin reports an invalid end state
 * (deadlock). The assertions check the counts.
 *
 * MUTANT 1: no last look (W3) before sleeping: the classic lost wake-up.
 * MUTANT 2: the notifier skips waking when a worker is merely idle-marked
 *           (reads idle before the publication): must be caught as well.
 * MUTANT 3: termination without checking submitters in flight.
 * MUTANT 4: termination without the second look at park_state (T4): a
 *           worker may leave idle with a task while the terminator looks.
 */
#ifndef NW
#define NW 2
#endif
#ifndef NSUB
#define NSUB 2
#endif
#ifndef K
#define K 1
#endif
#ifndef MAXSPAWN
#define MAXSPAWN 1
#endif
#ifndef MUTANT
#define MUTANT 0
#endif

#define AWAKE 0
#define SLEEPING 1
#define CLAIMED 2

byte searching = 0;	/* park_state.searching */
byte idle = 0;		/* park_state.idle */
/* park_state.leaves, as what T4 compares: moved[p] is cleared by process
 * p's T1 and set by every leave (W5). */
bool moved[NW + NSUB + 3];
byte sleepw[NW];	/* each worker's sleep word */
/* Each worker's event count, as what matters to its waiter: whether it
 * moved since the waiter read it (W2 clears the flag, every increment
 * sets it), which is exact where a small counter would wrap. */
bool poked[NW];
byte tasks = 0;		/* queued, in any deque or the injector */
byte spawned = 0;	/* children spawned by running tasks */
byte accepted = 0;	/* foreign submissions accepted */
byte ran = 0;		/* tasks run */
byte submitters = 0;	/* foreign submitters in flight */
bool shutdown = false;
bool terminated = false;
byte exited = 0;

/* N1..N4 of park.c. */
inline notify()
{
	do
	:: atomic {
		if
		:: (searching == 0 && idle > 0) -> searching++; got = true
		:: else -> got = false
		fi
	   }
	   if
	   :: !got -> break
	   :: else ->
		i = 0;
		claimed = false;
		do
		:: i < NW ->
			atomic {
				if
				:: sleepw[i] == SLEEPING -> sleepw[i] = CLAIMED; claimed = true
				:: else -> skip
				fi
			}
			if
			:: claimed -> poked[i] = true; break
			:: else -> i++
			fi
		:: else -> break
		od;
		if
		:: claimed -> break
		:: else ->
			atomic { searching--; last = (searching == 0) }
			if
			:: last && tasks > 0 -> skip /* work visible: again */
			:: else -> break
			fi
		fi
	   fi
	od;
	atomic { i = 0; got = false; claimed = false; last = false }
}

/* filch__park_try_terminate, T1..T4: separate reads, as in C. */
inline try_terminate()
{
	atomic { s_idle = idle; moved[_pid] = false };
	if
	:: shutdown && !terminated && s_idle == NW ->
#if MUTANT != 3
		if
		:: submitters == 0 ->
#endif
			if
			:: tasks == 0 ->
#if MUTANT != 4
				if
				:: !moved[_pid] ->
#endif
					terminated = true;
					i = 0;
					do
					:: i < NW -> poked[i] = true; i++
					:: else -> break
					od
#if MUTANT != 4
				:: else -> skip
				fi
#endif
			:: else -> skip
			fi
#if MUTANT != 3
		:: else -> skip
		fi
#endif
	:: else -> skip
	fi;
	atomic { i = 0; s_idle = 0 }
}

/* filch__park_leave. */
inline leave()
{
	atomic {
		if
		:: sleepw[me] == SLEEPING -> claimed = false
		:: else -> claimed = true
		fi;
		sleepw[me] = AWAKE
	}
	atomic {
		idle--;
		i = 0;
		do
		:: i < NW + NSUB + 3 -> moved[i] = true; i++
		:: else -> break
		od;
		i = 0
	};
	atomic { mine = claimed; claimed = false }
}

/* A searching worker found work (W1): the last searcher notifies if,
 * after its decrement, more work is visible (a separate step). */
inline found_work()
{
	if
	:: mine ->
		mine = false;
		atomic { searching--; last = (searching == 0) };
		if
		:: last && tasks > 0 -> last = false; notify()
		:: else -> last = false
		fi
	:: else -> skip
	fi
}

inline take()
{
	atomic {
		if
		:: tasks > 0 -> tasks--; got = true
		:: else -> got = false
		fi
	}
}

proctype Worker(byte me)
{
	bool got, claimed, last;
	bool mine = false;	/* counted as searching */
	byte i, s_idle;

loop:
	take();			/* LIFO slot, own deque, injector */
	if
	:: got -> got = false; goto execute
	:: else -> skip
	fi;
	if
	:: !mine ->
		atomic {
			if
			:: 2 * searching < NW -> searching++; mine = true
			:: else -> skip
			fi
		}
	:: else -> skip
	fi;
	if
	:: mine ->
		take();		/* the steal rounds */
		if
		:: got -> got = false; found_work(); goto execute
		:: else -> atomic { mine = false; searching-- }
		fi
	:: else -> skip
	fi;
	/* W2 */
	poked[me] = false;
	sleepw[me] = SLEEPING;
	idle++;
#if MUTANT != 1
	/* W3: the last look, taking nothing while idle. */
	if
	:: tasks > 0 -> leave(); goto loop
	:: else -> skip
	fi;
#endif
	/* W4 */
	if
	:: shutdown -> try_terminate()
	:: else -> skip
	fi;
	if
	:: terminated -> goto out
	:: else -> skip
	fi;
	poked[me];		/* the futex sleep */
	if
	:: terminated -> goto out
	:: else -> skip
	fi;
	leave();
	goto loop;

execute:
	/* The task may spawn a child onto this worker's deque; its
	 * notification may be skipped (notify_local's relaxed look). */
	if
	:: spawned < MAXSPAWN ->
		atomic { tasks++; spawned++ };
		if
		:: notify()
		:: skip
		fi
	:: skip
	fi;
	ran++;
	goto loop;

out:
	assert(tasks == 0);
	exited++
}

proctype Submitter()
{
	bool got, claimed, last;
	byte i, n = 0, s_idle;

	do
	:: n < K ->
		submitters++;
		if
		:: shutdown ->
			submitters--;
			try_terminate();
			break
		:: else ->
			atomic { tasks++; accepted++ };
#if MUTANT == 2
			if
			:: notify()
			:: skip
			fi;
#else
			notify();
#endif
			submitters--;
			try_terminate();
			n++
		fi
	:: else -> break
	od
}

proctype Shutdown()
{
	byte i, s_idle;

	shutdown = true;
	try_terminate();
	/* WAIT: every worker exits, every accepted task ran. */
	(exited == NW);
	assert(ran == accepted + spawned && tasks == 0)
}

init
{
	byte w;

	atomic {
		w = 0;
		do
		:: w < NW -> run Worker(w); w++
		:: else -> break
		od;
		w = 0;
		do
		:: w < NSUB -> run Submitter(); w++
		:: else -> break
		od;
		run Shutdown()
	}
}
