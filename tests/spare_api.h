/* SPDX-License-Identifier: MIT */
/*
 * spare_api.h - the spare-worker API of filch.h (FILCH_OPT_STACK_SIZE,
 * FILCH_OPT_MAX_SPARES, filch_executor_spare_counts), as the tests and
 * stress programs use it: option setters that work whether or not the
 * linked filch.h declares it yet.
 *
 * Until filch.h defines FILCH_OPT_STACK_SIZE, the executor has neither
 * knob (the setters leave the options alone) and
 * filch_executor_spare_counts answers -ENOSYS (callers skip their checks on
 * spare counts). Once it does, the block below compiles away.
 */
#ifndef FILCH_TESTS_SPARE_API_H
#define FILCH_TESTS_SPARE_API_H

#include <stddef.h>

#include <filch.h>

#ifndef FILCH_OPT_STACK_SIZE
#define FILCH_OPT_STACK_SIZE 1u
#define FILCH_OPT_MAX_SPARES 2u
struct filch_spare_counts {
	unsigned threads;
	unsigned active;
	unsigned blocked;
	unsigned long long refused;
};
static inline int filch_executor_spare_counts(const filch_executor *ex,
					      struct filch_spare_counts *out)
{
	(void)ex;
	(void)out;
	return -ENOSYS;
}
static inline void opt_stack_size(struct filch_executor_opts *o, size_t bytes)
{
	(void)o;
	(void)bytes;
}
static inline void opt_max_spares(struct filch_executor_opts *o, unsigned n)
{
	(void)o;
	(void)n;
}
#else
/* Sets the worker stack size (FILCH_OPT_STACK_SIZE). */
static inline void opt_stack_size(struct filch_executor_opts *o, size_t bytes)
{
	o->flags |= FILCH_OPT_STACK_SIZE;
	o->stack_size = bytes;
}
/* Sets the bound on spare workers (FILCH_OPT_MAX_SPARES). */
static inline void opt_max_spares(struct filch_executor_opts *o, unsigned n)
{
	o->flags |= FILCH_OPT_MAX_SPARES;
	o->max_spares = n;
}
#endif

/* The default bound on spare workers. */
#define SPARES_DEFAULT 256

#endif /* FILCH_TESTS_SPARE_API_H */
