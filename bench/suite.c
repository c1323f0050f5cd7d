/* SPDX-License-Identifier: MIT */
/* suite.c - the benches of filch-bench and how their metrics are computed. */
#include "config.h"

#include "suite.h"

#include <math.h>
#include <string.h>

#include "workloads.h"

/* Instructions per operation, or NaN where they could not be counted. */
static double per_op(double instr, double ops)
{
	return instr < 0 ? NAN : instr / ops;
}

static void derive_deque(const struct fb_params *p, unsigned w,
			 const struct fb_sample *s, const struct fb_sample *seq,
			 double out[])
{
	out[0] = (double)s->ns / p->deque_ops;
	out[1] = per_op(s->instr, p->deque_ops);
	out[2] = s->value[0];
}

static void derive_fib(const struct fb_params *p, unsigned w,
		       const struct fb_sample *s, const struct fb_sample *seq,
		       double out[])
{
	double spawns = fb_fib_spawns(p->fib_n);

	out[0] = (double)s->ns / 1e6;
	out[1] = out[2] = NAN;
	if (!seq)
		return;
	/* Worker time spent beyond the sequential run, per spawn. */
	out[1] = ((double)w * (double)s->ns - (double)seq->ns) / spawns;
	if (s->instr >= 0 && seq->instr >= 0)
		out[2] = (s->instr - seq->instr) / spawns;
}

static void derive_ms(const struct fb_params *p, unsigned w,
		      const struct fb_sample *s, const struct fb_sample *seq,
		      double out[])
{
	out[0] = (double)s->ns / 1e6;
}

static void derive_uts(const struct fb_params *p, unsigned w,
		       const struct fb_sample *s, const struct fb_sample *seq,
		       double out[])
{
	out[0] = (double)s->ns / 1e6;
	out[1] = (double)fb_uts_total_nodes(p) / ((double)s->ns / 1e3);
}

static void derive_skynet(const struct fb_params *p, unsigned w,
			  const struct fb_sample *s,
			  const struct fb_sample *seq, double out[])
{
	out[0] = (double)s->ns / fb_skynet_tasks(p->skynet_leaves);
}

static void derive_matmul(const struct fb_params *p, unsigned w,
			  const struct fb_sample *s,
			  const struct fb_sample *seq, double out[])
{
	out[0] = fb_matmul_flops(p->matmul_n) / (double)s->ns;
}

static void derive_submit(const struct fb_params *p, unsigned w,
			  const struct fb_sample *s,
			  const struct fb_sample *seq, double out[])
{
	out[0] = p->submit_tasks / ((double)s->ns / 1e3);
	out[1] = per_op(s->instr, p->submit_tasks);
}

/* Figures the run measured itself, in order. */
static void derive_values(const struct fb_params *p, unsigned w,
			  const struct fb_sample *s,
			  const struct fb_sample *seq, double out[])
{
	for (int i = 0; i < FB_NVALUES; i++)
		out[i] = s->value[i];
}

static void derive_chain(const struct fb_params *p, unsigned w,
			 const struct fb_sample *s, const struct fb_sample *seq,
			 double out[])
{
	out[0] = (double)s->ns / p->chain_links;
}

static void derive_map(const struct fb_params *p, unsigned w,
		       const struct fb_sample *s, const struct fb_sample *seq,
		       double out[])
{
	out[0] = (double)s->ns / p->map_items;
}

static void derive_as_completed(const struct fb_params *p, unsigned w,
				const struct fb_sample *s,
				const struct fb_sample *seq, double out[])
{
	out[0] = (double)s->ns / p->as_completed_futures;
}

static void derive_blocking(const struct fb_params *p, unsigned w,
			    const struct fb_sample *s,
			    const struct fb_sample *seq, double out[])
{
	out[0] = (double)s->ns / 1e6;
	out[1] = s->value[0];
	out[2] = s->value[1];
}

static void derive_shutdown(const struct fb_params *p, unsigned w,
			    const struct fb_sample *s,
			    const struct fb_sample *seq, double out[])
{
	out[0] = (double)s->ns / 1e3;
	out[1] = s->value[0];
	out[2] = s->value[1];
}

static void derive_procpool(const struct fb_params *p, unsigned w,
			    const struct fb_sample *s,
			    const struct fb_sample *seq, double out[])
{
	out[0] = s->value[0];
	out[1] = s->value[1];
	out[2] = s->ns < 0 ? NAN : (double)s->ns / p->procpool_tasks;
}

#define ROUNDTRIP(name_, what_)                                                \
	{                                                                      \
		.name = name_, .what = what_, .nmetrics = 2,                   \
		.metric = {{"p50_us", "us", false}, {"p99_us", "us", false}}, .primary = 0,  \
		.derive = derive_values,                                       \
	}

const struct fb_bench fb_suite[] = {
    {.name = "deque",
     .what = "owner push+pop pairs; one other thread steals a full deque",
     .one_worker = true,
     .nmetrics = 3,
     .metric = {{"ns_per_push_pop", "ns", false},
		{"instr_per_push_pop", "instr", false},
		{"ns_per_steal", "ns", false}},
     .primary = 0,
     .derive = derive_deque},
    {.name = "fib",
     .what = "fib(n), one task per call, no cutoff",
     .nmetrics = 3,
     .metric = {{"ms", "ms", false},
		{"ns_per_spawn", "ns", .over_seq = true},
		{"instr_per_spawn", "instr", .over_seq = true}},
     .primary = 0,
     .derive = derive_fib},
    {.name = "nqueens",
     .what = "N queens, one task per legal column",
     .nmetrics = 1,
     .metric = {{"ms", "ms", false}},
     .primary = 0,
     .derive = derive_ms},
    {.name = "uts",
     .what = "unbalanced trees (geometric + binomial), one task per node",
     .nmetrics = 2,
     .metric = {{"ms", "ms", false}, {"mnodes_per_s", "Mnodes/s", false}},
     .primary = 0,
     .derive = derive_uts},
    {.name = "skynet",
     .what = "10-way spawn down to the leaves",
     .nmetrics = 1,
     .metric = {{"ns_per_task", "ns", false}},
     .primary = 0,
     .derive = derive_skynet},
    {.name = "matmul",
     .what = "C += A B on doubles, recursive on quadrants, 64^2 leaves",
     .nmetrics = 1,
     .metric = {{"gflops", "GFLOP/s", false}},
     .primary = 0,
     .higher_is_better = true,
     .derive = derive_matmul},
    {.name = "submit",
     .what = "one foreign thread submits empty tasks, waits for all",
     .nmetrics = 2,
     .metric = {{"mtasks_per_s", "Mtasks/s", false}, {"instr_per_task", "instr", false}},
     .primary = 0,
     .higher_is_better = true,
     .derive = derive_submit},
    {.name = "submit2",
     .what = "the same from 2 submitters",
     .nmetrics = 1,
     .metric = {{"mtasks_per_s", "Mtasks/s", false}},
     .primary = 0,
     .higher_is_better = true,
     .derive = derive_submit},
    ROUNDTRIP("roundtrip_spin",
	      "submit one task, wait for its result; the waiter spins"),
    ROUNDTRIP("roundtrip_block",
	      "submit one task, wait for its result; the waiter blocks"),
    ROUNDTRIP("roundtrip_idle",
	      "as roundtrip_block, 1 ms sleep between rounds"),
    {.name = "chain",
     .what = "futures, each done-callback submits the next",
     .nmetrics = 1,
     .metric = {{"ns_per_link", "ns", false}},
     .primary = 0,
     .derive = derive_chain},
    {.name = "map",
     .what = "map over trivial items, results in input order",
     .nmetrics = 1,
     .metric = {{"ns_per_item", "ns", false}},
     .primary = 0,
     .derive = derive_map},
    {.name = "as_completed",
     .what = "futures of varied tiny length, in completion order",
     .nmetrics = 1,
     .metric = {{"ns_per_future", "ns", false}},
     .primary = 0,
     .derive = derive_as_completed},
    {.name = "wait",
     .what = "ALL_COMPLETED and FIRST_COMPLETED over gated futures",
     .nmetrics = 2,
     .metric = {{"us_after_last", "us", false}, {"us_after_first", "us", false}},
     .primary = 0,
     .derive = derive_values},
    {.name = "blocking",
     .what = "tasks each wait for an event signalled 50 us after the last",
     .nmetrics = 3,
     .metric = {{"ms", "ms", false}, {"p50_us_late", "us", false}, {"p99_us_late", "us", false}},
     .primary = 0,
     .derive = derive_blocking},
    {.name = "idle",
     .what = "CPU used by a pool idle after work",
     .nmetrics = 1,
     .metric = {{"cpu_ms_per_s", "ms/s", false}},
     .primary = -1,
     .derive = derive_values},
    {.name = "shutdown",
     .what = "graceful shutdown of an idle pool",
     .nmetrics = 3,
     .metric = {{"us", "us", false},
		{"threads_left", "threads", false},
		{"joins", "1 = yes", false}},
     .primary = 0,
     .joins_metric = 2,
     .derive = derive_shutdown},
    {.name = "timers",
     .what = "arm and cancel 10^5 delayed tasks; lateness of sleeps over 50 ms",
     .nmetrics = 3,
     .metric = {{"ms_1e5_arm_cancel", "ms", false}, {"p50_us_late", "us", false},
		{"p99_us_late", "us", false}},
     .primary = 0,
     .derive = derive_blocking},
    {.name = "procpool",
     .what = "process tasks: empty round trip; 64-byte tasks in flight",
     .nmetrics = 3,
     .metric = {{"p50_us", "us", false}, {"p99_us", "us", false}, {"ns_per_small", "ns", false}},
     .primary = 0,
     .derive = derive_procpool},
    {.name = "procpool_64mib",
     .what = "one process task: 64 MiB argument, 64 MiB result",
     .nmetrics = 1,
     .metric = {{"ms", "ms", false}},
     .primary = 0,
     .derive = derive_ms},
};

const unsigned fb_suite_len = sizeof(fb_suite) / sizeof(fb_suite[0]);

const struct fb_bench *fb_suite_find(const char *name)
{
	for (unsigned i = 0; i < fb_suite_len; i++)
		if (strcmp(fb_suite[i].name, name) == 0)
			return &fb_suite[i];
	return NULL;
}
