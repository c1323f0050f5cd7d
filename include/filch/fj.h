/* SPDX-License-Identifier: MIT */
/*
 * filch/fj.h - the fork-join fast path: typed task frames stored by value on
 * a per-worker frame stack, spawned and synced by inline code (C11 only).
 *
 *	FILCH_FJ_FN1(long, fib, unsigned, n)
 *	{
 *		long a, b;
 *
 *		if (n < 2)
 *			return n;
 *		FILCH_SPAWN(fib, n - 1);
 *		b = FILCH_CALL(fib, n - 2);
 *		a = FILCH_SYNC(fib);
 *		return a + b;
 *	}
 *
 *	static void root(filch_fj *fj, void *arg)
 *	{
 *		*(long *)arg = fib(fj, 30);
 *	}
 *	...	long r; filch_fj_run(ex, root, &r);
 *
 * FILCH_FJ_FNk(R, name, T1, a1, ..., Tk, ak), k = 1 to 4, defines a static
 * function R name(filch_fj *fj, T1 a1, ...) and its spawn and sync helpers.
 * R is not void; the arguments and the result, by value, share
 * FILCH_FJ_PAYLOAD bytes (checked at compile time). Inside such a function:
 *   FILCH_SPAWN(name, args...)  pushes a frame for name(args...): some idle
 *                               worker may steal and run it;
 *   FILCH_SYNC(name)            pops the newest frame, which must be one
 *                               of name's, and returns its result: when no
 *                               thief took it, by calling name directly;
 *                               else after the thief finished it (the wait
 *                               runs only frames the stolen one spawned,
 *                               then sleeps with a spare in its place);
 *   FILCH_CALL(name, args...)   an ordinary call, with the same context.
 * FILCH_FJ_RUNNER(name) is the function that runs a stolen frame of name,
 * as filch_shutdown_timed's report names it (its .fn; .name is NULL).
 * Every FILCH_SPAWN is matched by one FILCH_SYNC in the same function
 * before it returns, the newest frame first. A function that returns with a
 * frame pending is a bug that filch_fj_run reports by aborting when its
 * root returns; a sync without a frame aborts at once. A frame stack holds
 * FILCH_FJ_DEPTH frames; a spawn beyond that aborts, like a stack overflow.
 *
 * The common case costs a few stores on spawn (the arguments, the frame's
 * function, its state word, the head pointer) and a compare on sync, with
 * no atomic read-modify-write and no fence: the frames above the split are
 * the owner's alone. Thieves take frames below the split; when they find
 * none they ask the owner, who moves the split up at its next spawn
 * (Lace's split deque; docs/design.md, "Fork-join fast path").
 *
 * ABI: the layouts below are version FILCH_FJ_ABI; filch_fj_run passes it to
 * the library, which refuses another version with -ENOTSUP, so a program
 * built against another layout never gets a frame stack.
 *
 * Threads: a filch_fj belongs to one worker thread; code holding one runs
 * on that worker, inside filch_fj_run's root or a frame. Do not keep it.
 */
#ifndef FILCH_FJ_H
#define FILCH_FJ_H

#ifdef __cplusplus
#error "filch/fj.h is a C11 header"
#endif

#include <stdint.h>

#include <filch.h>

/* The layout version of struct filch_fj and struct filch_fj_frame (1 had
 * indices where struct filch_fj now has pointers). */
#define FILCH_FJ_ABI 2
/* Bytes a frame holds for its arguments and result (they share them). */
#define FILCH_FJ_PAYLOAD 32
/* Frames one worker's stack holds. */
#define FILCH_FJ_DEPTH (1u << 20)

typedef struct filch_fj filch_fj;

/* One spawned call: 64 bytes, one cache line. state is the runtime's
 * protocol word (fj.c), base and reserved_ its own too. */
struct filch_fj_frame {
	uint32_t state;
	uint32_t base;
	void (*run)(filch_fj *fj, struct filch_fj_frame *f);
	void *reserved_[2];
	union {
		unsigned char bytes[FILCH_FJ_PAYLOAD];
		void *p_;
		long long ll_;
		double d_;
	} payload;
} __attribute__((aligned(64)));

/* The owner's part of a worker's frame stack (the runtime's record begins
 * with it). The frames from split up to head (pointers into the stack,
 * head the frame the next spawn fills) are the owner's alone; end is the
 * stack's end. publish, set by thieves that found nothing to take (or by
 * the owner), asks the owner to share frames at its next spawn. */
struct filch_fj {
	struct filch_fj_frame *head;
	struct filch_fj_frame *split;
	struct filch_fj_frame *end;
	struct filch_fj_frame *frames;
	uint32_t publish;
};

typedef void (*filch_fj_root_fn)(filch_fj *fj, void *arg);

/* Runs fn(fj, arg) on a worker of ex with that worker's frame stack and
 * returns once it returned: directly on a worker of ex, else through a
 * job (filch_group_spawn's rules apply). Use filch_fj_run, which passes
 * FILCH_FJ_ABI. Returns 0, -EINVAL (NULL ex or fn), -ENOTSUP (abi is not
 * the library's FILCH_FJ_ABI), -ENOMEM (no frame stack could be mapped),
 * -ECANCELED (a cancelling shutdown discarded the job before it started),
 * or an error of filch_group_spawn (-EAGAIN too when ex's bounded queue is
 * full under FILCH_FULL_CALLER_RUNS: the caller has no frame stack of ex
 * to run fn on); on error fn did not run. Any thread; blocks. */
FILCH_API int filch_fj_run_v(filch_executor *ex, filch_fj_root_fn fn,
			     void *arg, unsigned abi);

/* The slow paths of the inline code below; not to be called otherwise. */
/* Shares half of the owner's frames with thieves (publish was set). */
FILCH_API void filch_fj_share(filch_fj *fj);
/* Sync of a frame below the split: takes it back and returns 1 (the caller
 * runs it), or waits for its thief and returns 0 (its result is in it). */
FILCH_API int filch_fj_join(filch_fj *fj);
/* A spawn found the frame stack full: aborts with a message. */
FILCH_API void filch_fj_overflow(filch_fj *fj) __attribute__((noreturn));

static inline int filch_fj_run(filch_executor *ex, filch_fj_root_fn fn,
			       void *arg)
{
	return filch_fj_run_v(ex, fn, arg, FILCH_FJ_ABI);
}

/* The frame the next spawn fills. */
static inline struct filch_fj_frame *filch_fj_push_(filch_fj *fj)
{
	if (__builtin_expect(fj->head == fj->end, 0))
		filch_fj_overflow(fj);
	return fj->head;
}

/* Completes the spawn of f, filled with its arguments. The relaxed store
 * of state and the frame's plain stores are published to thieves by the
 * release CAS of filch_fj_share, which makes the frame stealable. */
static inline void filch_fj_commit_(filch_fj *fj, struct filch_fj_frame *f,
				    void (*run)(filch_fj *,
						struct filch_fj_frame *))
{
	f->run = run;
	__atomic_store_n(&f->state, 0, __ATOMIC_RELAXED);
	fj->head = f + 1;
	/* Relaxed: a request; a late look only shares one spawn later. */
	if (__builtin_expect(__atomic_load_n(&fj->publish, __ATOMIC_RELAXED),
			     0))
		filch_fj_share(fj);
}

/* Pops the newest frame, which head then points to: 1 when the caller
 * runs it, 0 when a thief ran it. A sync without a frame (head == split
 * == frames) goes to the slow path, which aborts. */
static inline int filch_fj_pop_(filch_fj *fj)
{
	if (__builtin_expect(fj->head > fj->split, 1)) {
		fj->head--;
		return 1;
	}
	return filch_fj_join(fj);
}

#define FILCH_FJ_STRIP_(...) __VA_ARGS__
/* Argument a of the frame at filch_fj_p_. The generated functions name
 * their locals filch_fj_*_ so that no user name (of the function or of an
 * argument) can collide with them. */
#define FILCH_FJ_A_(a) filch_fj_p_->args.a

#define FILCH_FJ_GEN_(R, name, DECL, FIELDS, LOAD, STORE)                    \
	static R name(filch_fj *filch_fj_ctx_, FILCH_FJ_STRIP_ DECL);        \
	struct name##_filch_fj_ {                                            \
		union {                                                      \
			struct {                                             \
				FILCH_FJ_STRIP_ FIELDS                       \
			} args;                                              \
			R result;                                            \
		};                                                           \
	};                                                                   \
	_Static_assert(sizeof(struct name##_filch_fj_) <= FILCH_FJ_PAYLOAD,  \
		       #name "'s arguments and result fit a frame");         \
	static void name##_filch_fj_run_(filch_fj *filch_fj_ctx_,            \
					 struct filch_fj_frame *filch_fj_f_) \
	{                                                                    \
		struct name##_filch_fj_ *filch_fj_p_ =                       \
			(void *)filch_fj_f_->payload.bytes;                  \
		R filch_fj_r_ = name(filch_fj_ctx_, FILCH_FJ_STRIP_ LOAD);   \
                                                                             \
		filch_fj_p_->result = filch_fj_r_;                           \
	}                                                                    \
	static inline __attribute__((unused)) void name##_filch_fj_spawn_(   \
	    filch_fj *filch_fj_ctx_, FILCH_FJ_STRIP_ DECL)                   \
	{                                                                    \
		struct filch_fj_frame *filch_fj_f_ =                         \
			filch_fj_push_(filch_fj_ctx_);                       \
		struct name##_filch_fj_ *filch_fj_p_ =                       \
			(void *)filch_fj_f_->payload.bytes;                  \
                                                                             \
		FILCH_FJ_STRIP_ STORE                                        \
		filch_fj_commit_(filch_fj_ctx_, filch_fj_f_,                 \
				 name##_filch_fj_run_);                      \
	}                                                                    \
	static inline __attribute__((unused)) R name##_filch_fj_sync_(       \
	    filch_fj *filch_fj_ctx_)                                         \
	{                                                                    \
		int filch_fj_mine_ = filch_fj_pop_(filch_fj_ctx_);           \
		struct name##_filch_fj_ *filch_fj_p_ =                       \
			(void *)filch_fj_ctx_->head->payload.bytes;          \
                                                                             \
		if (filch_fj_mine_)                                          \
			return name(filch_fj_ctx_, FILCH_FJ_STRIP_ LOAD);    \
		return filch_fj_p_->result;                                  \
	}                                                                    \
	static R name(filch_fj *filch_fj_ctx_, FILCH_FJ_STRIP_ DECL)

#define FILCH_FJ_FN1(R, name, T1, a1)                                        \
	FILCH_FJ_GEN_(R, name, (T1 a1), (T1 a1;), (FILCH_FJ_A_(a1)),          \
		      (FILCH_FJ_A_(a1) = a1;))
#define FILCH_FJ_FN2(R, name, T1, a1, T2, a2)                                \
	FILCH_FJ_GEN_(R, name, (T1 a1, T2 a2), (T1 a1; T2 a2;),              \
		      (FILCH_FJ_A_(a1), FILCH_FJ_A_(a2)),                    \
		      (FILCH_FJ_A_(a1) = a1; FILCH_FJ_A_(a2) = a2;))
#define FILCH_FJ_FN3(R, name, T1, a1, T2, a2, T3, a3)                        \
	FILCH_FJ_GEN_(R, name, (T1 a1, T2 a2, T3 a3), (T1 a1; T2 a2; T3 a3;), \
		      (FILCH_FJ_A_(a1), FILCH_FJ_A_(a2), FILCH_FJ_A_(a3)),   \
		      (FILCH_FJ_A_(a1) = a1; FILCH_FJ_A_(a2) = a2;           \
		       FILCH_FJ_A_(a3) = a3;))
#define FILCH_FJ_FN4(R, name, T1, a1, T2, a2, T3, a3, T4, a4)                \
	FILCH_FJ_GEN_(R, name, (T1 a1, T2 a2, T3 a3, T4 a4),                 \
		      (T1 a1; T2 a2; T3 a3; T4 a4;),                         \
		      (FILCH_FJ_A_(a1), FILCH_FJ_A_(a2), FILCH_FJ_A_(a3),    \
		       FILCH_FJ_A_(a4)),                                     \
		      (FILCH_FJ_A_(a1) = a1; FILCH_FJ_A_(a2) = a2;           \
		       FILCH_FJ_A_(a3) = a3; FILCH_FJ_A_(a4) = a4;))

#define FILCH_SPAWN(name, ...)                                               \
	name##_filch_fj_spawn_(filch_fj_ctx_, __VA_ARGS__)
#define FILCH_SYNC(name) name##_filch_fj_sync_(filch_fj_ctx_)
#define FILCH_CALL(name, ...) name(filch_fj_ctx_, __VA_ARGS__)
/* The function that runs a frame of name on a thief, as the .fn of a
 * timed shutdown's straggler (filch_shutdown_timed) that is a stolen
 * frame of name. */
#define FILCH_FJ_RUNNER(name) ((void (*)(void))name##_filch_fj_run_)
/* The filch_fj of the enclosing FILCH_FJ_FNk function. */
#define FILCH_FJ_SELF filch_fj_ctx_

#endif /* FILCH_FJ_H */
