/* SPDX-License-Identifier: MIT */
/*
 * probes.h - USDT probes (provider "filch") for tracers such as bpftrace,
 * perf and SystemTap, from <sys/sdt.h> when configure found it
 * (--enable-usdt). A probe is a nop instruction and an ELF note until a
 * tracer attaches; its arguments are only described, not computed into a
 * call. Without <sys/sdt.h> the macros are empty. docs/observability.md
 * lists the probes and their arguments.
 */
#ifndef FILCH_PROBES_H
#define FILCH_PROBES_H

/* -DFILCH_NO_HOOKS leaves out the probes and the trace gates (trace.h):
 * a build for measuring what they cost only (docs/observability.md,
 * "What it costs"), in which tracing records nothing. */
#if defined(FILCH_USDT) && !defined(FILCH_NO_HOOKS)
#include <sys/sdt.h>
#define FILCH__PROBE1(name, a) STAP_PROBE1(filch, name, a)
#define FILCH__PROBE2(name, a, b) STAP_PROBE2(filch, name, a, b)
#define FILCH__PROBE3(name, a, b, c) STAP_PROBE3(filch, name, a, b, c)
#else
#define FILCH__PROBE1(name, a) ((void)0)
#define FILCH__PROBE2(name, a, b) ((void)0)
#define FILCH__PROBE3(name, a, b, c) ((void)0)
#endif

#endif /* FILCH_PROBES_H */
