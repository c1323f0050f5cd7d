/* SPDX-License-Identifier: MIT */
/*
 * atomic.h - C11 atomics with the memory order always spelled out, and the
 * one fence macro that stays correct under ThreadSanitizer.
 *
 * Every use of an order other than relaxed carries a comment at the call
 * site: what it orders, and the function it pairs with.
 */
#ifndef FILCH_ATOMIC_H
#define FILCH_ATOMIC_H

#include <stdatomic.h>
#include <stdbool.h>

#define filch__load(p, mo) atomic_load_explicit((p), memory_order_##mo)
#define filch__store(p, v, mo) atomic_store_explicit((p), (v), memory_order_##mo)
#define filch__xchg(p, v, mo) atomic_exchange_explicit((p), (v), memory_order_##mo)
#define filch__add(p, v, mo) atomic_fetch_add_explicit((p), (v), memory_order_##mo)
#define filch__sub(p, v, mo) atomic_fetch_sub_explicit((p), (v), memory_order_##mo)
#define filch__or(p, v, mo) atomic_fetch_or_explicit((p), (v), memory_order_##mo)
#define filch__and(p, v, mo) atomic_fetch_and_explicit((p), (v), memory_order_##mo)
/* Strong compare-and-swap; *expected is updated on failure. */
#define filch__cas(p, expected, desired, succ, fail)                        \
	atomic_compare_exchange_strong_explicit((p), (expected), (desired), \
						memory_order_##succ,        \
						memory_order_##fail)
#define filch__cas_weak(p, expected, desired, succ, fail)                 \
	atomic_compare_exchange_weak_explicit((p), (expected), (desired), \
					      memory_order_##succ,        \
					      memory_order_##fail)

#if defined(__SANITIZE_THREAD__)
#define FILCH_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define FILCH_TSAN 1
#endif
#endif

#ifdef FILCH_TSAN
void __tsan_acquire(void *addr);
void __tsan_release(void *addr);
void __tsan_ignore_thread_begin(void);
void __tsan_ignore_thread_end(void);
/* Hand-off through a structure TSan cannot see (urcu, ck): release before
 * publishing addr, acquire after receiving it. */
#define filch__tsan_release(addr) __tsan_release((void *)(addr))
#define filch__tsan_acquire(addr) __tsan_acquire((void *)(addr))
/* Around a call into an uninstrumented library that allocates memory which
 * its own threads free after a hand-off TSan cannot see (urcu's
 * rcu_barrier): memory allocated in between is not recorded as written by
 * this thread. Our own accesses must not happen in between. */
#define filch__tsan_ignore_begin() __tsan_ignore_thread_begin()
#define filch__tsan_ignore_end() __tsan_ignore_thread_end()
#else
#define filch__tsan_release(addr) ((void)(addr))
#define filch__tsan_acquire(addr) ((void)(addr))
#define filch__tsan_ignore_begin() ((void)0)
#define filch__tsan_ignore_end() ((void)0)
#endif

/*
 * filch__fence_seq_cst(): atomic_thread_fence(memory_order_seq_cst), as the
 * cheapest full barrier. On x86-64 that is a locked RMW on the stack top,
 * "lock orq $0,(%rsp)": what gcc 12 emits for the C11 fence, while clang 14
 * emits MFENCE, which costs about twice as much here (docs/design.md).
 * ThreadSanitizer ignores standalone fences: where TSan must see the
 * ordering, use the store-load pair below instead.
 */
#if defined(__x86_64__)
#define filch__fence_seq_cst() \
	__asm__ __volatile__("lock orq $0, (%%rsp)" ::: "memory", "cc")
#else
#define filch__fence_seq_cst() atomic_thread_fence(memory_order_seq_cst)
#endif

/*
 * The seq_cst fence between two accesses, correct under TSan.
 *
 * For the store-buffering (Dekker) pattern: thread A stores X then loads
 * Y; thread B modifies Y, loads Y and then loads X; A's load of Y and B's
 * load of X must not both miss the other side's write. Write it as
 *
 *	A: filch__store_then_fence(&X, v);   B: y = filch__load_then_fence(&Y);
 *	   y = filch__load_after_fence(&Y);     x = filch__load_after_fence(&X);
 *
 * with B's modifications of Y seq_cst (a seq_cst CAS).
 *   - Normal builds: the access, filch__fence_seq_cst(), then the load
 *     after the fence as acquire (a plain MOV on x86, LDAR on ARMv8), so
 *     that it also synchronizes with a release it reads. Two seq_cst fences
 *     are ordered in the total order S, and C11 7.17.3 makes whichever side
 *     comes second see the other's access (Le et al., PPoPP 2013).
 *   - TSan builds (__SANITIZE_THREAD__): seq_cst loads and stores and no
 *     fence, which TSan models (it ignores fences): the same guarantee from
 *     S over the accesses themselves. Not used in normal builds: on x86 a
 *     seq_cst store is an XCHG on X itself, which right after another store
 *     to X (pop after push) costs 11-12 ns here against 7 ns for a store
 *     plus the stack fence (docs/design.md).
 * Both forms are checked by the Relacy model of the deque.
 */
#ifdef FILCH_TSAN
#define filch__store_then_fence(p, v) filch__store(p, v, seq_cst)
#define filch__load_then_fence(p) filch__load(p, seq_cst)
#define filch__load_after_fence(p) filch__load(p, seq_cst)
#else
#define filch__store_then_fence(p, v)          \
	do {                                   \
		filch__store(p, v, relaxed);   \
		filch__fence_seq_cst();        \
	} while (0)
#define filch__load_then_fence(p)                               \
	__extension__({                                         \
		__typeof__(filch__load(p, acquire)) filch__v_ = \
			filch__load(p, acquire);                \
		filch__fence_seq_cst();                         \
		filch__v_;                                      \
	})
#define filch__load_after_fence(p) filch__load(p, acquire)
#endif

/* Spin-wait hint. */
static inline void filch__cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#elif defined(__aarch64__)
	__asm__ __volatile__("yield" ::: "memory");
#else
	atomic_signal_fence(memory_order_seq_cst);
#endif
}

#define FILCH_CACHELINE 64

#endif /* FILCH_ATOMIC_H */
