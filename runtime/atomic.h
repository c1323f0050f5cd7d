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
 * The seq_cst fence, written so that ThreadSanitizer sees it.
 *
 * The store-load (Dekker, store-buffering) pattern: thread A stores X then
 * loads Y, thread B stores or RMWs Y then loads X, and at least one of them
 * must see the other's store. Write A's side as
 *
 *	filch__store_then_fence(&X, v);
 *	y = filch__load_after_fence(&Y);
 *
 * and B's loads as filch__load_after_fence too. Both are seq_cst
 * operations, ordered by C11's single total order S, in every build:
 *   - TSan does not model atomic_thread_fence (a correct fence hand-off is
 *     reported as a race, a missing one goes unseen); it does model these.
 *   - x86-64: gcc 12 and clang 14 both emit XCHG for the store (a locked
 *     RMW) and a plain MOV for the load. The fence form, a relaxed store
 *     plus atomic_thread_fence(seq_cst), is MOV + "lock orq $0,(%rsp)"
 *     with gcc but MOV + MFENCE with clang, and MFENCE costs about four
 *     times a locked RMW on the machines we measured (docs/design.md).
 *   - AArch64: STLR then LDAR, which ARMv8 never reorders.
 * Do not mix in a standalone fence for the same pattern.
 */
#define filch__store_then_fence(p, v) filch__store(p, v, seq_cst)
#define filch__load_after_fence(p) filch__load(p, seq_cst)

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
