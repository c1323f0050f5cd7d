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
/* Hand-off through a structure TSan cannot see (urcu, ck): release before
 * publishing addr, acquire after receiving it. */
#define filch__tsan_release(addr) __tsan_release((void *)(addr))
#define filch__tsan_acquire(addr) __tsan_acquire((void *)(addr))
#else
#define filch__tsan_release(addr) ((void)(addr))
#define filch__tsan_acquire(addr) ((void)(addr))
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
