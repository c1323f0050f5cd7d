/* SPDX-License-Identifier: MIT */
/*
 * park.pml - a Promela model of filch's parking protocol (runtime/park.c,
 * runtime/worker.c) with shutdown and spare workers (runtime/spare.c),
 * checked by spin for lost wake-ups, exact termination and deadlock.
 *
 *   spin -a park.pml && cc -O2 -DSAFETY -o pan pan.c && ./pan -m100000
 *
 * NW primary workers, NSUB foreign submitters (K tasks each), and one
 * thread that shuts the executor down at any moment. A task run by a
 * worker may spawn one child onto the worker's own deque (its
 * notification may be skipped: notify_local's relaxed look, or no look
 * at all with one primary). Each worker has a deque (own[]) and there is
 * one injector (inj); a worker pops its own deque, takes a batch from the
 * injector (the first task runs, the rest go to its deque), or steals.
 * Every last look (W3, T3, N4) sees every queue.
 *
 * With BLOCK, the first task submitted is a blocking one: the worker that
 * runs it waits for a promise that a foreign thread (Promiser) completes
 * at any moment. While it sleeps in the wait, filch__block_begin stands in
 * a spare (NS at most: woken from the dormant stack, or started), and
 * filch__block_end counts it back. block_begin counts the spare active
 * before it wakes or starts it, then, with tasks on the caller's deque,
 * notifies (its pushes may have skipped the notification: one primary);
 * block_end, leaving excess (active > blocked), kicks the first spare
 * whose sleep word reads SLEEPING and that it has not kicked yet (an
 * event count increment without a claim: the spare leaves its park as W3
 * does, CAS SLEEPING -> AWAKE succeeding), and marks it kicked (see
 * MUTANT 13); a spare's kicked flag is cleared when it retires, and set
 * to what it finds when it checks for surplus again (see MUTANT 14),
 * under the lock. A parking spare, after W2 (SLEEPING
 * stored, idle counted) and W3's look for work, checks under the lock
 * whether spares stand in to excess (filch__spare_surplus), and leaves as
 * W3 does if so: the lock orders that check against block_end's store of
 * the counts and its look for a SLEEPING spare, so either the spare sees
 * the excess or block_end sees it SLEEPING (see MUTANT 12). A spare
 * retires while more spares stand in than workers
 * are blocked (filch__spare_maybe_retire), checked at next_task's two
 * places: after its own deque came up empty (before the injector), and
 * in the search loop instead of parking (after its stop-search W1, when
 * it searched). Retiring: dormant; then a look for work, and a notify if
 * it sees some (the W3 it skips); then try_terminate; then a sleep on its
 * event count until popped or TERMINATED. Termination counts NW + active
 * threads (T1).
 *
 * HOLD: the first HOLD primaries start with a blocking task of their own
 * in hand (taken before the model starts), each waiting NWAIT times for
 * its own promises (the Promiser completes any of them at any moment):
 * two workers blocked at once, and two block_ends that each kick a spare.
 *
 * CHILDP: the blocking task pushes a child onto its worker's deque, with
 * no notification (one primary), before its last wait, and that child
 * completes the last promise (so PREQ 1, NSUB 0, MAXSPAWN 0).
 * QUIET: the shutdown comes only once nothing else can move (timeout),
 * and the excess hint is read exactly (EXACT). At that point every kick
 * must have had its effect: a spare that block_end kicked (kickdue) has
 * since decided under the lock whether it retires, unless a block_begin
 * came in between, or the spare checked for surplus under the lock since.
 * TIDY (QUIET, on by default there) asserts more: at rest, no excess
 * spare stands in (active <= blocked). A violation is tidiness only (an
 * excess spare parked is claimable, and T1 counts it), which is what
 * MUTANTS 12 and 13 break.
 *
 * Each statement is one atomic step (sequential consistency): the C code
 * makes every step of the protocol a seq_cst RMW of park_state, or orders
 * it behind one (park.c), and the spare counts change under a mutex
 * (mtx here). Steps that are separate in C are separate here: the claim
 * and the event-count increment, the checks of try_terminate (T1's read
 * of park_state and its read of active too), a spare's dormant store and
 * its kick, a dormant spare's checks and its sleep.
 *
 * A correct run ends with every thread exited (dormant spares too), every
 * accepted task run, and nothing queued. A lost wake-up (of a parked
 * worker, or of a dormant spare that was popped) or a missed termination
 * leaves a thread asleep forever: spin reports an invalid end state
 * (deadlock). TERMINATED is asserted to be set only with nothing queued,
 * no task held and no worker blocked.
 *
 * MUTANT 1: no last look (W3) before sleeping: the classic lost wake-up.
 * MUTANT 2: the notifier skips waking when a worker is merely idle-marked
 *           (reads idle before the publication): must be caught as well.
 * MUTANT 3: termination without checking submitters in flight.
 * MUTANT 4: termination without the second look at park_state (T4): a
 *           worker may leave idle with a task while the terminator looks.
 * MUTANT 5: a retiring spare does not try to terminate after going
 *           dormant: a shut-down pool that waited for it never terminates.
 * MUTANT 6: T1 compares idle with NW only (ignores active spares): the
 *           pool terminates while a worker is blocked.
 * MUTANT 7: block_begin kicks a dormant spare before clearing its dormant
 *           word: the spare may consume the kick, see itself still
 *           dormant, and sleep for good.
 * MUTANT 8: block_begin counts the spare active (counts_set) only after
 *           waking or starting it (spare.c before b40c67a): the spare may
 *           park, and T1 see every thread idle (the blocked worker
 *           uncounted as a thread that may hold a task) and terminate.
 * MUTANT 9: a retiring spare does not look for work after going dormant
 *           (the bug fixed in 60f5838): a submitter's notify saw the
 *           spare searching and woke nobody; the spare stopped searching
 *           and retired; the task stays queued with every thread asleep.
 * MUTANT 10: block_begin does not notify for its own deque: the child
 *           pushed without a notification stays there while the parked
 *           excess spare (which block_begin does not wake: it counts as
 *           standing in) sleeps on (CHILDP).
 * MUTANT 11: block_end does not kick the parked spare. Progress does not
 *           depend on it (the spare is idle and claimable, and T1 counts
 *           it): caught only by QUIET's check that a kicked spare
 *           eventually decides whether it retires.
 * MUTANT 12: a parking spare does not check for surplus after W2 (spare.c
 *           before f86278a): it read the excess hint (false) at its retire
 *           point, block_end stored the excess and read its sleep word
 *           (AWAKE: no kick), then it stored SLEEPING and parks for good as
 *           an excess spare (TIDY, QUIET).
 * MUTANT 13: block_end kicks a spare whether or not it kicked it already
 *           (no kicked flag, spare.c before f86278a): a kicked spare reads
 *           SLEEPING until it wakes, so two block_ends kick the same one
 *           and another stays parked as an excess spare (TIDY, QUIET;
 *           needs two workers blocked at once: HOLD 2, NS 2).
 * MUTANT 14: a parking spare's surplus check clears its kicked flag even
 *           when it finds surplus (spare.c at f86278a: filch__spare_surplus
 *           clears kicked whatever it returns): the spare leaves and will
 *           retire, but reads SLEEPING until its leave, so a second
 *           block_end kicks it again, not the other spare parked, which
 *           stays as an excess spare (TIDY, QUIET, HOLD 2, NS 2). The
 *           model keeps the flag set when the check finds surplus.
 *
 * FJ: worker 0 starts with a fork-join root in hand (runtime/fj.c) and
 * shares FJR frames, one at a time: it spawns until a spawn sees a
 * thief's request (fjreq, the stack's publish word; the model waits for
 * it), clears the request, shares the frame (fjsh, its split) and
 * notifies with the full N1..N4. Its sync then takes the frame back if
 * it is still shared (join's CAS), or first runs a long leaf that ends
 * only once a thief took the frame, and waits for that thief. Other
 * workers take a shared frame in their steal step and run it, or, finding
 * none, ask for one (take's request); their W3 looks at the shared frames
 * too and, seeing none, asks (filch__fj_work_visible), as N4's and
 * found_work's looks do (T3's need not). A worker asleep while the owner
 * waits for a request or for a thief to take its frame is a deadlock.
 * MUTANT 15: the looks see the injector and the deques only (park.c
 *           before the fork-join look): a thief that searched while a
 *           frame was shared, missed it and parks, is never woken, and the
 *           request it made was used up by that share.
 * MUTANT 16: the share notifies with notify_local's relaxed look (fj.c
 *           before the fork-join look), which may miss the thief idle.
 * MUTANT 17: the looks see shared frames but do not ask for private ones:
 *           a thief's last request was used up by a share that the owner
 *           took back, and the owner shares no more. Asking in W3 alone
 *           is not enough either: the share's N1 may find a notifier
 *           counted as searching, whose N4 look comes after the take-back
 *           (found by this model).
 * MUTANT 18: the looks ask but do not see frames already shared: the
 *           owner, in a long leaf, shares nothing more until a thief
 *           takes one.
 */
#ifndef NW
#define NW 2
#endif
#ifndef NS
#define NS 0		/* max_spares */
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
#ifndef BLOCK
#define BLOCK 0
#endif
#ifndef NWAIT
#define NWAIT 2		/* the blocking task's waits, one after the other */
#endif
#ifndef PREQ
#define PREQ 0		/* tasks in the injector at the start */
#endif
#ifndef CHILDP
#define CHILDP 0	/* the last promise is completed by a child (below) */
#endif
#ifndef QUIET
#define QUIET 0		/* shut down only once nothing can move (below) */
#endif
#ifndef HOLD
#define HOLD 0		/* primaries holding a blocking task at the start */
#endif
#ifndef TIDY
#define TIDY QUIET	/* QUIET: no excess spare at rest (below) */
#endif
#ifndef EXACT
#define EXACT QUIET	/* the excess hint read exactly (below) */
#endif
#ifndef FJ
#define FJ 0		/* worker 0 runs a fork-join root (below) */
#endif
#ifndef FJR
#define FJR 2		/* the frames the root shares, one at a time */
#endif
#ifndef MUTANT
#define MUTANT 0
#endif

#define NT (NW + NS)		/* worker slots */
#define NB (BLOCK + HOLD)	/* blocking tasks: the queued one first */
#define MAXP (NT + NSUB + 4)	/* process ids */

#define AWAKE 0
#define SLEEPING 1
#define CLAIMED 2

byte searching = 0;	/* park_state.searching */
byte idle = 0;		/* park_state.idle */
/* park_state.leaves, as what T4 compares: moved[p] is cleared by process
 * p's T1 and set by every leave (W5). */
bool moved[MAXP];
byte sleepw[NT];	/* each worker's sleep word */
/* Each worker's event count, as what matters to its waiter: whether it
 * moved since the waiter read it (W2 and a spare's kick_value clear the
 * flag, every increment sets it), which is exact where a small counter
 * would wrap. */
bool poked[NT];
byte tasks = 0;		/* queued: inj + every own[] */
byte inj = 0;		/* queued in the injector */
byte own[NT];		/* queued in each worker's deque */
byte busy = 0;		/* tasks taken and not yet finished */
byte spawned = 0;	/* children spawned by running tasks */
byte accepted = 0;	/* foreign submissions accepted */
byte ran = 0;		/* tasks run */
byte submitters = 0;	/* foreign submitters in flight */
bool shutdown = false;
bool terminated = false;
byte exited = 0;
/* Worker 0's frame stack (FJ): frames shared and not taken (at most one),
 * frames a thief took and has not finished, and the request word. */
byte fjsh = 0;
byte fjrun = 0;
bool fjreq = false;
/* Work a look sees: tasks queued, or frames shared. */
#define VISIBLE (tasks > 0 || fjsh > 0)

/* filch__park_work_visible (W3, N4, found_work's look), one step: seen is
 * whether work is visible; seeing none, a request for frames
 * (filch__fj_work_visible). T3 looks without asking (the owner, holding
 * its root, is not idle, so T1 fails while it could share). */
inline look(seen)
{
	atomic {
#if MUTANT == 15 || MUTANT == 18
		seen = (tasks > 0);
#else
		seen = VISIBLE;
#endif
#if MUTANT != 15 && MUTANT != 17
		if
		:: !seen && FJ -> fjreq = true
		:: else -> skip
		fi
#endif
	}
}

/* Spares (spare.c): the counts and the dormant stack, under mtx. */
bool mtx = false;
byte nactive = 0;	/* spares standing in, not dormant (spare.c: active) */
byte blocked = 0;	/* workers asleep in a wait */
byte started = 0;	/* spare threads started */
bool dormant[NT];	/* each spare's dormant word */
bool kicked[NT];	/* kicked by a block_end, not yet re-checked */
byte dstack[NS + 1];	/* the dormant stack, dtop entries */
byte dtop = 0;
/* The queued blocking task (BLOCK): 0 not submitted, 1 queued (the
 * injector's head: it is the first submission), 2 taken. */
byte bq = 0;
/* Each blocking task's promises completed (one per wait): the queued one
 * first, then those held from the start (HOLD); three at most. */
byte pdone[3];
#if QUIET
/* Set by a block_end that kicks parked spare i (or, MUTANT 11, would);
 * cleared when spare i decides under the lock whether it retires or
 * parks (filch__spare_surplus), or by a block_begin (which may end the
 * excess). */
bool kickdue[NT];
#endif

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
		:: i < NT ->
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
			:: last -> look(last)
			:: else -> skip
			fi;
			if
			:: last -> skip /* work visible: again */
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
#if MUTANT == 6
	s_act = 0;
#else
	s_act = nactive;		/* read after T1's RMW */
#endif
	if
	:: shutdown && !terminated && s_idle == NW + s_act ->
#if MUTANT != 3
		if
		:: submitters == 0 ->
#endif
			if
			:: !VISIBLE ->
#if MUTANT != 4
				if
				:: !moved[_pid] ->
#endif
					atomic {
						/* exact: nothing queued, held or blocked */
						assert(tasks == 0 && busy == 0 && blocked == 0);
						terminated = true
					};
					i = 0;
					do
					:: i < NT -> poked[i] = true; i++
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
	atomic { i = 0; s_idle = 0; s_act = 0 }
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
		:: i < MAXP -> moved[i] = true; i++
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
		:: last -> look(last)
		:: else -> skip
		fi;
		if
		:: last -> last = false; notify()
		:: else -> skip
		fi
	:: else -> skip
	fi
}

/* notify_local after a push on our own deque: it may be skipped (its
 * relaxed look; with one primary, no look at all). */
inline notify_local()
{
	if
	:: notify()
	:: skip
	fi
}

/* The first task from the injector runs, the rest go to our deque. */
inline take_injected()
{
	atomic {
		if
		:: inj > 0 ->
			if
			:: bq == 1 -> bq = 2; isb = 1; bt = 0
			:: else -> skip
			fi;
			inj--; tasks--; busy++; got = true;
			own[me] = own[me] + inj; batch = (inj > 0); inj = 0
		:: else -> got = false
		fi
	}
	if
	:: batch ->
		batch = false;
		notify_local();
		got = true	/* notify's N1 result reuses got */
	:: else -> skip
	fi
}

/* A steal from the first other deque holding a task. */
inline steal()
{
	atomic {
		got = false;
		i = 0;
		do
		:: i < NT && i != me && own[i] > 0 ->
			own[i]--; tasks--; busy++; got = true; break
		:: i < NT && (i == me || own[i] == 0) -> i++
		:: i == NT -> break
		od;
		i = 0
	}
}

/* A look for work outside our (empty) deque: the injector, a steal, or
 * a shared frame of worker 0, whichever (steal_sweep, take_injected).
 * Finding none, a request for frames (take's, in steal_sweep). */
inline take_other()
{
	if
	:: inj > 0 -> take_injected()
	:: tasks > inj + own[me] -> steal()
	:: atomic { fjsh > 0 && me != 0 -> fjsh--; fjrun++; fjgot = true;
		    got = true }
	:: else ->
		got = false;
		if
		:: FJ -> fjreq = true
		:: else -> skip
		fi
	fi
}

#if NS > 0
/* filch__spare_maybe_retire: goes to out when the executor terminated. */
inline maybe_retire()
{
	poked[me] = false;	/* v = kick value, before the lock */
	atomic {
		!mtx -> mtx = true;
#if QUIET
		kickdue[me] = false
#endif
	};
	if
	:: nactive <= blocked -> atomic { mtx = false }
	:: else ->
		atomic {
			dormant[me] = true;
			kicked[me] = false;
			dstack[dtop] = me; dtop++;
			nactive--;
			mtx = false
		};
#if MUTANT != 9
		/* The look that parking's W3 would make (after W1, when the
		 * spare searched): seen, notify. */
		if
		:: tasks > 0 -> notify()
		:: else -> skip
		fi;
#endif
#if MUTANT != 5
		try_terminate();
#endif
		do
		:: !dormant[me] -> break	/* popped: runs again */
		:: else ->
			if
			:: terminated -> goto out
			:: else -> skip
			fi;
			poked[me];		/* kick_wait(v) */
			poked[me] = false	/* v = kick value */
		od
	fi
}

/* A spare's retirement check (filch__spare_should_retire, then
 * filch__spare_maybe_retire), at next_task's two places: after its own
 * deque came up empty, and in the search loop instead of parking. The
 * excess hint is relaxed: stale or not, but exact with QUIET (a kicked
 * spare reads it after the kick, which follows its store). */
inline retire_point()
{
	if
	:: me >= NW && nactive > blocked -> maybe_retire()
#if EXACT
	:: else -> skip
#else
	:: skip
#endif
	fi
}
#endif

/* filch__block_begin: a spare for one more sleeper, woken or started.
 * The counts are stored before the spare runs (see MUTANT 8). Then, with
 * tasks on this worker's deque (pushes that may have skipped their
 * notification), a notification (see MUTANT 10). */
inline block_begin()
{
	atomic {
		!mtx -> mtx = true;
#if QUIET
		i = 0;
		do
		:: i < NT -> kickdue[i] = false; i++
		:: else -> i = 0; break
		od;
#endif
		b_blk = blocked + 1;
		if
		:: nactive < b_blk && dtop > 0 -> b_sp = 1	/* wake one */
		:: nactive < b_blk && dtop == 0 && started < NS -> b_sp = 2
		:: else -> b_sp = 0	/* enough spares, or refused */
		fi;
#if MUTANT != 8
		if
		:: b_sp != 0 -> nactive++
		:: else -> skip
		fi;
#endif
		blocked = b_blk
	};
	if
	:: b_sp == 1 ->
		atomic { dtop--; i = dstack[dtop]; dstack[dtop] = 0 };
#if MUTANT == 7
		poked[i] = true;	/* kick first */
		dormant[i] = false
#else
		dormant[i] = false;	/* release */
		poked[i] = true		/* the kick */
#endif
	:: b_sp == 2 ->
		atomic { run Worker(NW + started); started++ }
	:: else -> skip
	fi;
#if MUTANT == 8
	/* counts_set after the spare was woken or started (before b40c67a) */
	if
	:: b_sp != 0 -> nactive++
	:: else -> skip
	fi;
#endif
	atomic { mtx = false; b_sp = 0; b_blk = 0; i = 0 };
#if MUTANT != 10
	if
	:: own[me] > 0 -> notify()
	:: else -> skip
	fi
#endif
}

/* filch__block_end: with excess left, kick the first spare whose sleep
 * word reads SLEEPING and that is not marked kicked (kick_parked_spare):
 * an event count increment without a claim, under the lock (see MUTANT
 * 11), and the mark (see MUTANT 13). */
inline block_end()
{
	atomic {
		!mtx -> mtx = true;
		blocked--;
		b_sp = 0;
		if
		:: nactive > blocked ->
			i = NW;
			do
			:: i < NW + started && !kicked[i] &&
			   sleepw[i] == SLEEPING -> b_sp = 1; break
			:: i < NW + started && (kicked[i] ||
			   sleepw[i] != SLEEPING) -> i++
			:: else -> break
			od
		:: else -> skip
		fi
	};
	if
	:: b_sp != 0 ->
		atomic {
#if QUIET
			kickdue[i] = true;
#endif
#if MUTANT != 13
			kicked[i] = true;
#endif
#if MUTANT != 11
			poked[i] = true;	/* the kick */
#endif
			mtx = false; b_sp = 0; i = 0
		}
	:: else -> atomic { mtx = false; i = 0 }
	fi
}

proctype Worker(byte me)
{
	bool got, claimed, last, batch;
	bool fjgot = false;	/* got a frame of worker 0 */
	byte fjn = 0;		/* the root's frames shared so far */
	byte isb = 0;		/* running a blocking task: its next wait */
	byte bt = 0;		/* which blocking task (pdone's index) */
	bool mine = false;	/* counted as searching */
	byte i, s_idle, s_act, b_sp, b_blk;

#if FJ
	if
	:: me == 0 -> goto fjroot
	:: else -> skip
	fi;
#endif
#if HOLD
	/* A blocking task in hand from the start (HOLD). */
	if
	:: me < HOLD -> isb = 1; bt = BLOCK + me; goto execute
	:: else -> skip
	fi;
#endif
loop:	/* next_task */
	atomic {
		if
		:: own[me] > 0 -> own[me]--; tasks--; busy++; got = true
		:: else -> got = false
		fi
	}
	if
	:: got -> got = false; goto execute
	:: else -> skip
	fi;
#if NS > 0
	retire_point();		/* before the injector */
#endif
	take_injected();
	if
	:: got -> got = false; goto execute
	:: else -> skip
	fi;
search:
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
	take_other();		/* steal rounds, or a non-searcher's look */
	if
	:: got && fjgot ->
		/* run_stolen: the frame runs, then DONE */
		got = false; fjgot = false; found_work();
		fjrun--;
		goto loop
	:: got && !fjgot -> got = false; found_work(); goto execute
	:: else ->
		if
		:: mine -> atomic { mine = false; searching-- }
		:: else -> skip
		fi
	fi;
#if NS > 0
	/* Instead of parking (after W1, when it searched); popped from the
	 * dormant stack, the spare parks (next_task's park(w)). */
	retire_point();
#endif
	/* W2 */
	poked[me] = false;
	sleepw[me] = SLEEPING;
	idle++;
#if MUTANT != 1
	/* W3: the last look, taking nothing while idle. */
	look(last);
	if
	:: last -> last = false; leave(); goto search
	:: else -> skip
	fi;
#endif
#if NS > 0 && MUTANT != 12
	/* W3 for a spare, after the look: filch__spare_surplus, under the
	 * lock (as block_end's store of the counts and its look for a
	 * SLEEPING spare): excess seen, leave as W3 does, and retire,
	 * marked kicked (no block_end kicks it again: see MUTANT 14);
	 * none, park, kickable again. */
	if
	:: me >= NW ->
		atomic {
			!mtx -> last = (nactive > blocked);
#if MUTANT == 14
			kicked[me] = false;
#else
			kicked[me] = last;
#endif
#if QUIET
			kickdue[me] = false;
#endif
		};
		if
		:: last -> last = false; leave(); goto search
		:: else -> skip
		fi
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
	goto search;

execute:
#if NB
	if
	:: isb ->
		/* Waits that sleep: a spare stands in meanwhile. */
		do
		:: isb <= NWAIT ->	/* wait number isb */
#if CHILDP
			/* The child that completes the last promise, pushed
			 * without a notification (one primary). */
			if
			:: isb == NWAIT -> atomic { own[me]++; tasks++; spawned++ }
			:: else -> skip
			fi;
#endif
			if
			:: pdone[bt] < isb ->
				block_begin();
				pdone[bt] >= isb;
				block_end()
			:: else -> skip
			fi;
			isb++
		:: else -> isb = 0; bt = 0; break
		od
#if CHILDP
	:: else -> pdone[0] = NWAIT	/* the child: the last promise */
#else
	:: else -> skip
#endif
	fi;
#endif
	/* The task may spawn a child onto this worker's deque. */
	if
	:: spawned < MAXSPAWN ->
		atomic { own[me]++; tasks++; spawned++ };
		notify_local()
	:: skip
	fi;
	atomic { busy--; ran++ };
	goto loop;

#if FJ
fjroot:	/* worker 0's fork-join root */
	do
	:: fjn < FJR ->
		fjreq;			/* spawns until one sees a request */
		fjreq = false;		/* E: filch_fj_share clears it */
		fjsh++;			/* P: the release CAS of the split */
#if MUTANT == 16
		notify_local();
#else
		notify();
#endif
		/* The sync at once, or after a long leaf that ends only
		 * once a thief took the frame. */
		if
		:: skip
		:: skip; fjsh == 0
		fi;
		/* join: its CAS takes the frame back, or it was stolen:
		 * wait for its DONE. */
		if
		:: atomic { fjsh > 0 -> fjsh-- }
		:: atomic { fjsh == 0 -> skip }; fjrun == 0
		fi;
		fjn++
	:: else -> break
	od;
	atomic { busy--; ran++ };
	goto loop;
#endif

out:
	assert(tasks == 0);
	exited++
}

proctype Submitter()
{
	bool got, claimed, last;
	byte i, n = 0, s_idle, s_act;

	do
	:: n < K ->
		submitters++;
		if
		:: shutdown ->
			submitters--;
			try_terminate();
			break
		:: else ->
			atomic {
				inj++; tasks++; accepted++;
				if
				:: BLOCK && bq == 0 -> bq = 1
				:: else -> skip
				fi
			};
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

/* Completes the blocking tasks' promises, each at any moment (in order
 * for each task; with CHILDP, the queued one's last is the child's). */
proctype Promiser()
{
	do
	:: NB > 0 && pdone[0] < NWAIT - CHILDP -> pdone[0]++
	:: NB > 1 && pdone[1] < NWAIT -> pdone[1]++
	:: NB > 2 && pdone[2] < NWAIT -> pdone[2]++
	:: else -> break
	od
}

proctype Shutdown()
{
	bool got, claimed, last;
	byte i, s_idle, s_act;

#if QUIET
	/* At rest first: the kick's guarantee (see MUTANT 11). */
	timeout;
	i = NW;
	do
	:: i < NT -> assert(!kickdue[i]); i++
	:: else -> i = 0; break
	od;
#if TIDY
	assert(nactive <= blocked);
#endif
#endif
	shutdown = true;
	try_terminate();
	/* WAIT: every thread exits (spares too), every accepted task ran. */
	(exited == NW + started);
	assert(ran == accepted + spawned && tasks == 0 && busy == 0);
	assert(blocked == 0 && nactive + NW >= idle)
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
		/* PREQ tasks queued at the start: the blocking one first */
		inj = PREQ; tasks = PREQ; accepted = PREQ;
		if
		:: BLOCK && PREQ > 0 -> bq = 1
		:: else -> skip
		fi;
		w = 0;
		do
		:: w < NSUB -> run Submitter(); w++
		:: else -> break
		od;
		/* HOLD: tasks taken before the start; FJ: worker 0's root */
		accepted = accepted + HOLD + FJ; busy = HOLD + FJ;
#if NB
		run Promiser();
#endif
		run Shutdown()
	}
}
