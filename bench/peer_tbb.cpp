// SPDX-License-Identifier: MIT
// peer_tbb.cpp - impl "tbb" (oneTBB): task_group inside a task_arena of
// `workers` threads for the fork-join benches, task_arena::enqueue as the
// pool's submit for the submit/wait benches (pool_benches.c), and
// parallel_for for map. TBB's threads are placed (placement.h) by an
// observer of each arena as they enter it.
#include "config.h"

#include <cerrno>
#include <new>
#include <vector>

#include <oneapi/tbb/blocked_range.h>
#include <oneapi/tbb/global_control.h>
#include <oneapi/tbb/parallel_for.h>
#include <oneapi/tbb/task_arena.h>
#include <oneapi/tbb/task_group.h>
#include <oneapi/tbb/task_scheduler_observer.h>

#include "fb.h"
#include "placement.h"
#include "pool_benches.h"
#include "workloads.h"

namespace
{

// Places each TBB worker thread as it first enters the arena: the next
// teammate where the caller works in the arena (fork-join, map: a slot is
// reserved for it), the next worker of the pool otherwise. TBB's threads
// serve any arena and come and go; one that enters after the arena's
// share of threads was placed is placed as a spare, on their CPUs. Slot
// numbers are not used: TBB does not number the workers' slots from 0
// or from the reserved ones alike.
class Placer : public tbb::task_scheduler_observer
{
      public:
	Placer(tbb::task_arena &a, unsigned workers, bool caller_works)
	    : tbb::task_scheduler_observer(a),
	      place_(fb_lazy_place_new(workers, caller_works))
	{
		observe(true);
	}
	~Placer()
	{
		observe(false);
		fb_lazy_place_free(place_);
	}
	void on_scheduler_entry(bool is_worker) override
	{
		if (is_worker)
			fb_lazy_place_self(place_);
	}

      private:
	fb_lazy_place *place_;
};

// An arena of `workers` threads. TBB allows hardware_concurrency - 1
// workers by default; global_control lifts the limit to what was asked.
struct Arena {
	tbb::global_control limit;
	tbb::task_arena arena;
	Placer placer;
	Arena(unsigned workers, unsigned reserved_for_caller)
	    : limit(tbb::global_control::max_allowed_parallelism, workers + 1),
	      arena((int)workers, reserved_for_caller),
	      placer(arena, workers, reserved_for_caller != 0)
	{
		arena.initialize();
	}
};

const fb_params *params;

// ---- fork-join: the caller joins an arena of `workers` slots -------------

int fj_setup(unsigned workers, const fb_params *p, void **state)
{
	*state = new (std::nothrow) Arena(workers, 1);
	return *state ? 0 : -ENOMEM;
}

void fj_teardown(void *state) { delete static_cast<Arena *>(state); }

template <typename F> void in_arena(void *state, const fb_params *p, F f)
{
	params = p;
	static_cast<Arena *>(state)->arena.execute(f);
}

long fib(unsigned n)
{
	long a, b;
	tbb::task_group g;

	if (n < 2)
		return (long)n;
	g.run([&] { a = fib(n - 1); });
	b = fib(n - 2);
	g.wait();
	return a + b;
}

void fib_run(void *state, const fb_params *p, fb_sample *s)
{
	long r = 0;

	fb_region_begin(s);
	in_arena(state, p, [&] { r = fib(p->fib_n); });
	fb_region_end(s);
	fb_fib_check(p->fib_n, r);
}

long queens(const fb_queens &q)
{
	unsigned n = params->nqueens_n;
	long kids[32];
	unsigned k = 0;
	long sum = 0;
	tbb::task_group g;

	if (q.row == n)
		return 1;
	for (uint32_t f = fb_queens_free(&q, n); f; f &= f - 1, k++) {
		fb_queens child = fb_queens_place(&q, f & (0u - f));
		long *out = &kids[k];

		g.run([child, out] { *out = queens(child); });
	}
	g.wait();
	for (unsigned i = 0; i < k; i++)
		sum += kids[i];
	return sum;
}

void nqueens_run(void *state, const fb_params *p, fb_sample *s)
{
	long r = 0;

	fb_region_begin(s);
	in_arena(state, p, [&] { r = queens(fb_queens{0, 0, 0, 0}); });
	fb_region_end(s);
	fb_nqueens_check(p->nqueens_n, r);
}

size_t uts(const fb_uts_tree *t, uint64_t node, unsigned depth)
{
	unsigned k = fb_uts_children(t, node, depth);
	std::vector<size_t> kids(k);
	size_t nodes = 1;
	tbb::task_group g;

	for (unsigned i = 0; i < k; i++) {
		size_t *out = &kids[i];
		uint64_t child = fb_uts_child(node, i);

		g.run([=] { *out = uts(t, child, depth + 1); });
	}
	g.wait();
	for (size_t c : kids)
		nodes += c;
	return nodes;
}

void uts_run(void *state, const fb_params *p, fb_sample *s)
{
	size_t nodes[FB_UTS_TREES];

	fb_region_begin(s);
	in_arena(state, p, [&] {
		for (int i = 0; i < FB_UTS_TREES; i++)
			nodes[i] = uts(&fb_uts_forest(p)[i],
				       fb_uts_forest(p)[i].root, 0);
	});
	fb_region_end(s);
	for (int i = 0; i < FB_UTS_TREES; i++)
		fb_uts_check(&fb_uts_forest(p)[i], nodes[i]);
}

long long skynet(long long num, long long size)
{
	long long kids[10], sum = 0;
	tbb::task_group g;

	if (size == 1)
		return num;
	for (int i = 0; i < 10; i++) {
		long long *out = &kids[i];
		long long sub = num + i * (size / 10);

		g.run([=] { *out = skynet(sub, size / 10); });
	}
	g.wait();
	for (long long k : kids)
		sum += k;
	return sum;
}

void skynet_run(void *state, const fb_params *p, fb_sample *s)
{
	long long sum = 0;

	fb_region_begin(s);
	in_arena(state, p, [&] { sum = skynet(0, p->skynet_leaves); });
	fb_region_end(s);
	fb_skynet_check(p->skynet_leaves, sum);
}

struct MatmulState {
	Arena arena;
	fb_matmul m;
	MatmulState(unsigned workers) : arena(workers, 1) {}
};

void mm(const fb_mm_job &j)
{
	fb_mm_job sub[4];

	if (j.n <= params->matmul_cutoff) {
		fb_mm_kernel(&j);
		return;
	}
	for (int phase = 0; phase < 2; phase++) {
		tbb::task_group g;

		fb_mm_split(&j, phase, sub);
		for (int i = 0; i < 3; i++) {
			const fb_mm_job *q = &sub[i];

			g.run([q] { mm(*q); });
		}
		mm(sub[3]);
		g.wait();
	}
}

int matmul_setup(unsigned workers, const fb_params *p, void **state)
{
	MatmulState *st = new (std::nothrow) MatmulState(workers);

	if (!st)
		return -ENOMEM;
	fb_matmul_init(&st->m, p->matmul_n);
	*state = st;
	return 0;
}

void matmul_run(void *state, const fb_params *p, fb_sample *s)
{
	MatmulState *st = static_cast<MatmulState *>(state);
	fb_mm_job root = fb_matmul_root(&st->m);

	fb_matmul_reset(&st->m);
	fb_region_begin(s);
	in_arena(&st->arena, p, [&] { mm(root); });
	fb_region_end(s);
	fb_matmul_check(&st->m);
}

void matmul_teardown(void *state)
{
	MatmulState *st = static_cast<MatmulState *>(state);

	fb_matmul_free(&st->m);
	delete st;
}

// ---- map: parallel_for over the items, results read in input order -------

void map_run(void *state, const fb_params *p, fb_sample *s)
{
	// Allocated, not touched, as seq and OpenMP do: a std::vector would
	// zero it here and take its page faults out of the timed region.
	size_t n = p->map_items;
	uintptr_t *out = static_cast<uintptr_t *>(
	    fb_xmalloc(n * sizeof(uintptr_t)));
	uint64_t sum = 0;

	fb_region_begin(s);
	in_arena(state, p, [&] {
		tbb::parallel_for(tbb::blocked_range<size_t>(0, n),
				  [&](const tbb::blocked_range<size_t> &r) {
					  for (size_t i = r.begin();
					       i != r.end(); i++)
						  out[i] = fb_map_fn(i);
				  });
	});
	for (size_t i = 0; i < n; i++)
		sum += out[i];
	fb_region_end(s);
	free(out);
	fb_map_check(n, sum);
}

// ---- the pool: task_arena::enqueue from any thread -----------------------

// No count of pending tasks: every bench waits for its own tasks (the
// latch or cell each peer's tasks complete) before it destroys the pool,
// so the pool needs none, and the naive and GLib pools keep none either.
struct Pool {
	Arena arena;
	Pool(unsigned workers) : arena(workers, 0) {}
};

int pool_create(unsigned workers, void **pool)
{
	*pool = new (std::nothrow) Pool(workers);
	return *pool ? 0 : -ENOMEM;
}

int pool_submit(void *pool, void (*fn)(void *), void *arg)
{
	Pool *p = static_cast<Pool *>(pool);

	p->arena.arena.enqueue([fn, arg] { fn(arg); });
	return 0;
}

// Terminates the arena (pool_benches.h: called once every task submitted
// has finished). TBB's threads are not joined: they go back to TBB's
// global pool, where the next arena finds them. A thread still returning
// from the last task is safe: the arena's internals outlive the
// task_arena object until every thread has left them.
void pool_destroy(void *pool) { delete static_cast<Pool *>(pool); }

const fb_pool_ops tbb_pool_ops = {pool_create, pool_submit, pool_destroy,
				  false};

int pool_setup(unsigned workers, const fb_params *p, void **state)
{
	return fb_pool_setup(&tbb_pool_ops, workers, state);
}

} // namespace

extern "C" const struct fb_impl fb_impls_tbb[] = {
    {"fib", "tbb", fj_setup, fib_run, fj_teardown},
    {"nqueens", "tbb", fj_setup, nqueens_run, fj_teardown},
    {"uts", "tbb", fj_setup, uts_run, fj_teardown},
    {"skynet", "tbb", fj_setup, skynet_run, fj_teardown},
    {"matmul", "tbb", matmul_setup, matmul_run, matmul_teardown},
    {"map", "tbb", fj_setup, map_run, fj_teardown},
    FB_POOL_IMPLS("tbb", pool_setup),
    {nullptr, nullptr, nullptr, nullptr, nullptr},
};
