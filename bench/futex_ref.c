/* SPDX-License-Identifier: MIT */
/* futex_ref.c - a bare futex wake-up, timed (futex_ref.h). */
#include "config.h"

#include "futex_ref.h"

#include <limits.h>
#include <linux/futex.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "fb.h"

/*
 * word: the round the sleeper may run. The waker stores round r (release)
 * and wakes; the sleeper waits while word != its next round. woke_ns: when
 * the sleeper ran, read by the waker after `answered` (release/acquire).
 */
struct ping {
	atomic_uint word;
	atomic_uint answered;
	int64_t woke_ns;
	unsigned rounds;
};

static void futex_wait(atomic_uint *w, unsigned expected)
{
	syscall(SYS_futex, w, FUTEX_WAIT_PRIVATE, expected, NULL, NULL, 0);
}

static void futex_wake(atomic_uint *w)
{
	syscall(SYS_futex, w, FUTEX_WAKE_PRIVATE, INT_MAX, NULL, NULL, 0);
}

static void *sleeper(void *arg)
{
	struct ping *p = arg;

	for (unsigned r = 1; r <= p->rounds; r++) {
		/* Pairs with the release store of fb_futex_wakeup_us. */
		while (atomic_load_explicit(&p->word, memory_order_acquire) !=
		       r)
			futex_wait(&p->word, r - 1);
		p->woke_ns = fb_now_ns();
		/* Publishes woke_ns to the waker's acquire load. */
		atomic_store_explicit(&p->answered, r, memory_order_release);
	}
	return NULL;
}

void fb_futex_wakeup_us(unsigned rounds, double *p50, double *p99)
{
	struct ping p = {0, 0, 0, rounds};
	int64_t *lat = fb_xmalloc(rounds * sizeof(*lat));
	struct fb_sample s;
	pthread_t t;

	if (pthread_create(&t, NULL, sleeper, &p) != 0)
		fb_fail("cannot start the futex sleeper");
	for (unsigned r = 1; r <= rounds; r++) {
		int64_t t0;

		fb_sleep_ns(1000000); /* the sleeper is asleep by now */
		t0 = fb_now_ns();
		/* Releases the round to the sleeper's acquire load. */
		atomic_store_explicit(&p.word, r, memory_order_release);
		futex_wake(&p.word);
		/* Pairs with the sleeper's release store of answered. */
		while (atomic_load_explicit(&p.answered,
					    memory_order_acquire) != r)
			fb_cpu_relax();
		lat[r - 1] = p.woke_ns - t0;
	}
	pthread_join(t, NULL);
	fb_percentiles_us(lat, rounds, &s);
	*p50 = s.value[0];
	*p99 = s.value[1];
	free(lat);
}
