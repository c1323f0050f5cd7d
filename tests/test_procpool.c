/* SPDX-License-Identifier: MIT */
/*
 * test_procpool.c - process workers (filch_procpool_*): results and errors
 * round-trip as bytes, large arguments and results cross in shared memory
 * (and no descriptor or mapping of it is left on any path), a worker that
 * crashes, exits or outlives the time limit fails only its own future and
 * is replaced, terminate stops a running task (also racing its
 * completion: exactly one outcome), workers are recycled after
 * max_tasks_per_child, calls written straight from submit keep their
 * order, a call queued again after a death is pending again, terminate
 * finds the calls a dying worker skipped, a worker inherits no descriptor
 * of the pool, an argument that a worker has no room to map fails once,
 * destroy may run in a callback of a cancelled task, when a running
 * call's reply beats its worker's kill (held back: this program defines
 * kill() and syscall()) the calls written behind it are neither lost nor
 * run after a cancelling shutdown, a replacement started while the
 * process can make no descriptor leaves its slot empty and the next one
 * starts, each shutdown flag does what it says, and no
 * process, zombie or file descriptor is left behind by any path,
 * including the death of the pool's owner.
 *
 * Every scenario runs with each start method (the fork server, then
 * fork), in a child process (tests/isolate.h) under a watchdog; one
 * scenario shows why the fork server is the default: a replacement worker
 * started while another thread holds a lock gets that lock free with it,
 * and held forever with fork. Sizes are smaller under sanitizers (8 MiB instead of 64 MiB,
 * 50 pools instead of 200); the memory limit scenario is skipped under
 * them (their shadow memory does not fit an address-space limit).
 */
#include "config.h"

#include <dirent.h>
#include <dlfcn.h>
#include <fcntl.h>
#include <limits.h>
#include <errno.h>
#include <pthread.h>
#include <semaphore.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <filch.h>

#include "isolate.h"
#include "tap.h"

#if defined(__SANITIZE_THREAD__) || defined(__SANITIZE_ADDRESS__)
#define SANITIZED 1
#define BIG (8u << 20)
#define POOLS 50
#define WATCHDOG_X 3
#else
#define BIG (64u << 20)
#define POOLS 200
#define WATCHDOG_X 1
#endif

#define MS 1000000LL
#define RACE_ROUNDS 600

/* ---- checks inside a child ---- */

static int failures;

TAP_PRINTF(3, 4)
static bool check_at(bool cond, int line, const char *fmt, ...)
{
	va_list ap;

	if (cond)
		return true;
	fprintf(stderr, "test_procpool.c:%d: ", line);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	isolate_note("line %d", line);
	failures++;
	return false;
}

#define check(cond, ...) check_at(!!(cond), __LINE__, __VA_ARGS__)
static bool check_is_at(long long got, long long want, int line,
			const char *what)
{
	return check_at(got == want, line, "%s: got %lld, expected %lld", what,
			got, want);
}

#define check_is(got, want, what) \
	check_is_at((long long)(got), (long long)(want), __LINE__, what)

static unsigned open_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	unsigned n = 0;

	if (!d)
		return 0;
	while (readdir(d))
		n++;
	closedir(d);
	return n;
}

/* No child process of ours, zombie or alive. */
static bool no_children(void)
{
	return waitpid(-1, NULL, WNOHANG) < 0 && errno == ECHILD;
}

/* The start method of the scenario running (main sets it for each run). */
static int method;

static filch_procpool *start(struct filch_procpool_opts *o)
{
	filch_procpool *pp = NULL;
	int rc;

	o->start_method = method;
	rc = filch_procpool_create(&pp, o);

	if (rc) {
		fprintf(stderr, "procpool_create: %s\n", filch_strerror(rc));
		exit(3);
	}
	return pp;
}

static filch_future *submit(filch_procpool *pp, filch_proc_fn fn,
			    const void *arg, size_t len)
{
	filch_future *f = NULL;
	int rc = filch_procpool_submit(pp, fn, arg, len, &f);

	if (rc) {
		fprintf(stderr, "procpool_submit: %s\n", filch_strerror(rc));
		exit(3);
	}
	return f;
}

/* f's outcome: 0 with its bytes in *b, or its code and message. */
static int outcome(filch_future *f, struct filch_bytes **b, const char **msg)
{
	void *r = NULL;
	int code = 0;
	int rc = filch_future_result(f, FILCH_FOREVER, &r);

	*msg = "";
	if (rc > 0) {
		filch_future_error(f, 0, &code, msg);
		if (!*msg)
			*msg = "";
	}
	if (b)
		*b = r;
	return rc;
}

/* The line of /proc/self/maps that holds p, in line (cap bytes), or
 * false. */
static bool map_of(const void *p, char *line, size_t cap)
{
	FILE *m = fopen("/proc/self/maps", "r");
	bool found = false;

	while (m && !found && fgets(line, (int)cap, m)) {
		unsigned long lo, hi;

		found = sscanf(line, "%lx-%lx", &lo, &hi) == 2 &&
			(uintptr_t)p >= lo && (uintptr_t)p < hi;
	}
	if (m)
		fclose(m);
	return found;
}

/* Whether p lies in a mapping of the pool's shared memory. */
static bool in_shm(const void *p)
{
	char line[512];

	return map_of(p, line, sizeof(line)) &&
	       strstr(line, "memfd:filch-procpool");
}

/* Mappings of the pool's shared memory in this process. */
static unsigned shm_maps(void)
{
	FILE *m = fopen("/proc/self/maps", "r");
	char line[512];
	unsigned n = 0;

	while (m && fgets(line, sizeof(line), m))
		n += strstr(line, "memfd:filch-procpool") != NULL;
	if (m)
		fclose(m);
	return n;
}

static bool finish(filch_procpool *pp, unsigned fds0)
{
	check_is(filch_procpool_destroy(pp), 0, "destroy");
	check(no_children(), "a worker process is left");
	check_is(open_fds(), fds0, "open fds after destroy");
	check_is(shm_maps(), 0, "shared memory mapped after destroy");
	return failures == 0;
}

/* ---- tasks (they run in the workers) ---- */

static int t_echo(const void *arg, size_t len, void **out, size_t *out_len)
{
	char *p = malloc(len + 1);

	if (!p)
		return ENOMEM;
	for (size_t i = 0; i < len; i++)
		p[i] = ((const char *)arg)[len - 1 - i];
	*out = p;
	*out_len = len;
	return 0;
}

static int t_fail(const void *arg, size_t len, void **out, size_t *out_len)
{
	char *m = malloc(64);

	if (!m)
		return ENOMEM;
	*out_len = (size_t)snprintf(m, 64, "bad %.*s", (int)len,
				    (const char *)arg);
	*out = m;
	return -EDOM;
}

static int t_segv(const void *arg, size_t len, void **out, size_t *out_len)
{
	(void)arg, (void)len, (void)out, (void)out_len;
	raise(SIGSEGV);
	return 0;
}

static int t_exit(const void *arg, size_t len, void **out, size_t *out_len)
{
	(void)arg, (void)len, (void)out, (void)out_len;
	_exit(3);
}

static int t_forever(const void *arg, size_t len, void **out,
		     size_t *out_len)
{
	(void)arg, (void)len, (void)out, (void)out_len;
	while (pause()) /* pause returns only -1, after a signal */
		;
	return 0;
}

/* Sleeps the milliseconds (a long) that its argument begins with. */
static int t_sleep(const void *arg, size_t len, void **out, size_t *out_len)
{
	long ms;

	(void)out, (void)out_len;
	if (len < sizeof(ms))
		return EINVAL;
	memcpy(&ms, arg, sizeof(ms));
	nanosleep(&(struct timespec){ ms / 1000, (ms % 1000) * MS }, NULL);
	return 0;
}

/* The worker's pid; with the argument "parent", its parent's (the fork
 * server, with it). */
static int t_pid(const void *arg, size_t len, void **out, size_t *out_len)
{
	pid_t *p = malloc(sizeof(*p));

	if (!p)
		return ENOMEM;
	*p = len == 6 && memcmp(arg, "parent", 6) == 0 ? getppid() : getpid();
	*out = p;
	*out_len = sizeof(*p);
	return 0;
}

/* Creates the file named by its argument (a path, not NUL-terminated):
 * a trace that the task ran, seen by the test whatever the start method. */
static int t_touch(const void *arg, size_t len, void **out, size_t *out_len)
{
	char path[256];
	int fd;

	(void)out, (void)out_len;
	if (len >= sizeof(path))
		return EINVAL;
	memcpy(path, arg, len);
	path[len] = '\0';
	fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0)
		return errno;
	close(fd);
	return 0;
}

static unsigned char pattern(size_t i)
{
	return (unsigned char)(i * 131 + (i >> 13));
}

/* Checks a pattern of len bytes, answers the pattern of len + 1 bytes.
 * An argument of FILCH_PROCPOOL_SHM_MIN bytes or more must be mapped
 * shared memory, a smaller one not. */
static int t_big(const void *arg, size_t len, void **out, size_t *out_len)
{
	const unsigned char *a = arg;
	unsigned char *p;

	if (in_shm(arg) != (len >= FILCH_PROCPOOL_SHM_MIN))
		return EXDEV;
	for (size_t i = 0; i < len; i++)
		if (a[i] != pattern(i))
			return EBADMSG;
	if (!(p = malloc(len + 1)))
		return ENOMEM;
	for (size_t i = 0; i <= len; i++)
		p[i] = pattern(i);
	*out = p;
	*out_len = len + 1;
	return 0;
}

/* Where t_alloc's block escapes: clang removes a malloc whose block only
 * goes to memset and free, and the limit would never be met. */
static void *volatile alloc_sink;

static int t_alloc(const void *arg, size_t len, void **out, size_t *out_len)
{
	size_t n;
	char *p;

	(void)out, (void)out_len;
	memcpy(&n, arg, len < sizeof(n) ? len : sizeof(n));
	alloc_sink = p = malloc(n);
	if (!p)
		return ENOMEM;
	memset(p, 1, n);
	free(p);
	return 0;
}

static int init_value;

static int init_set(void *arg, unsigned index)
{
	init_value = 1000 + (int)index + (int)(intptr_t)arg;
	return 0;
}

static int init_fail(void *arg, unsigned index)
{
	(void)arg;
	return index == 1 ? EPERM : 0;
}

static int t_init_value(const void *arg, size_t len, void **out,
			size_t *out_len)
{
	int *p = malloc(sizeof(*p));

	(void)arg, (void)len;
	if (!p)
		return ENOMEM;
	*p = init_value;
	*out = p;
	*out_len = sizeof(*p);
	return 0;
}

/* ---- scenarios ---- */

/* A callback of a process task's future runs in the completion thread:
 * it may submit, but destroying the pool there would join itself. */
struct cb_state {
	filch_procpool *pp;
	int destroy_rc;
	filch_future *next;
	atomic_bool ran; /* release: the fields above before it */
};

static void on_done_cb(filch_future *f, void *arg)
{
	struct cb_state *cs = arg;

	(void)f;
	cs->destroy_rc = filch_procpool_destroy(cs->pp);
	filch_procpool_submit(cs->pp, t_echo, "cb", 2, &cs->next);
	atomic_store_explicit(&cs->ran, true, memory_order_release);
}

static int sc_roundtrip(void *unused)
{
	unsigned fds0 = open_fds();
	struct filch_procpool_opts o = { .workers = 2 };
	filch_procpool *pp = start(&o);
	struct filch_bytes *b;
	const char *msg;
	long ms = 100;

	(void)unused;
	/* Both workers busy, so that z is still pending when its callback
	 * is added. */
	filch_future *s1 = submit(pp, t_sleep, &ms, sizeof(ms));
	filch_future *s2 = submit(pp, t_sleep, &ms, sizeof(ms));
	filch_future *f = submit(pp, t_echo, "hello", 5);
	filch_future *e = submit(pp, t_fail, "input", 5);
	filch_future *z = submit(pp, t_echo, NULL, 0);
	struct cb_state cs = { .pp = pp };

	check_is(filch_future_on_done(z, on_done_cb, &cs), 0, "on_done");
	check(!filch_future_done(z), "z done before its callback was added");
	if (check_is(outcome(f, &b, &msg), 0, "echo")) {
		check_is(b->len, 5, "echo length");
		check(memcmp(b->data, "olleh", 5) == 0, "echo bytes");
	}
	check_is(outcome(e, NULL, &msg), EDOM, "a task's negative code");
	check(strcmp(msg, "bad input") == 0, "message \"%s\"", msg);
	if (check_is(outcome(z, &b, &msg), 0, "empty"))
		check(b->len == 0 && b->data, "empty result: len 0, data");
	/* A waiter may return before the callbacks have run. */
	while (!atomic_load_explicit(&cs.ran, memory_order_acquire))
		usleep(1000);
	check_is(cs.destroy_rc, -EDEADLK, "destroy from a callback");
	if (check(cs.next, "submit from a callback"))
		check_is(outcome(cs.next, &b, &msg), 0, "its task");
	filch_future_release(cs.next);
	filch_future_release(s1);
	filch_future_release(s2);
	/* take_result hands the block over: one free. */
	check_is(filch_future_take_result(f, 0, (void **)&b), 0, "take");
	free(b);
	filch_future_release(f);
	filch_future_release(e);
	filch_future_release(z);
	return !finish(pp, fds0);
}

static int sc_badinput(void *unused)
{
	unsigned fds0 = open_fds();
	filch_procpool *pp = (filch_procpool *)&fds0, *keep = pp;
	filch_future *f = (filch_future *)&fds0, *fkeep = f;

	(void)unused;
	check_is(filch_procpool_create(NULL, NULL), -EINVAL, "NULL pp");
	check_is(filch_procpool_create(&pp, &(struct filch_procpool_opts){
						    .flags = 1u << 31 }),
		 -EINVAL, "unknown flag");
	check_is(filch_procpool_create(&pp, &(struct filch_procpool_opts){
				.flags = FILCH_PROCPOOL_OPT_SPIN,
				.spin_ns = -1 }),
		 -EINVAL, "negative spin");
	check_is(filch_procpool_create(&pp, &(struct filch_procpool_opts){
				.flags = FILCH_PROCPOOL_OPT_SPIN,
				.spin_ns = 1000001 }),
		 -EINVAL, "spin above 1 ms");
	check_is(filch_procpool_create(&pp, &(struct filch_procpool_opts){
						    .start_method = 7 }),
		 -EINVAL, "unknown start method");
	check_is(filch_procpool_create(&pp, &(struct filch_procpool_opts){
						    .time_limit_ns = -1 }),
		 -EINVAL, "negative time limit");
	check_is(filch_procpool_create(&pp, &(struct filch_procpool_opts){
						    .workers = 1025 }),
		 -EINVAL, "too many workers");
	check_is(filch_procpool_create(&pp, &(struct filch_procpool_opts){
						    .workers = 3,
						    .initializer = init_fail }),
		 -EPERM, "a failing initializer");
	/* An exec'd worker finds functions by module and offset: code
	 * outside every loaded module (here, the heap) cannot cross. */
	void *heap = malloc(64);

	check_is(filch_procpool_create(&pp, &(struct filch_procpool_opts){
				.start_method = FILCH_START_SPAWN,
				.initializer = (int (*)(void *, unsigned))heap }),
		 -EINVAL, "spawn: an initializer in no module");
	check(pp == keep, "*pp written on error");
	check(no_children(), "a worker left by a failed create");
	check_is(open_fds(), fds0, "fds after a failed create");

	pp = start(&(struct filch_procpool_opts){ .workers = 1 });
	check_is(filch_procpool_submit(pp, NULL, "x", 1, &f), -EINVAL, "NULL fn");
	check_is(filch_procpool_submit(pp, t_echo, NULL, 1, &f), -EINVAL,
		 "NULL arg with len 1");
	check_is(filch_procpool_submit(pp, t_echo, "x", 1, NULL), -EINVAL,
		 "NULL fut");
	if (method == FILCH_START_SPAWN)
		check_is(filch_procpool_submit(pp, (filch_proc_fn)heap, "x", 1,
					       &f),
			 -EINVAL, "spawn: fn in no module");
	free(heap);
	check(f == fkeep, "*fut written on error");
	check_is(filch_procpool_terminate(pp, NULL), -EINVAL, "terminate NULL");
	check_is(filch_procpool_shutdown(pp, 64), -EINVAL, "unknown flag");
	check_is(filch_procpool_stats(pp, NULL), -EINVAL, "stats NULL");

	/* A future that is not pp's, and one that is done. */
	filch_future *p = NULL;

	filch_promise_create(&p);
	check_is(filch_procpool_terminate(pp, p), -ESRCH, "not pp's future");
	filch_future_release(p);
	f = submit(pp, t_echo, "x", 1);
	filch_future_result(f, FILCH_FOREVER, NULL);
	check_is(filch_procpool_terminate(pp, f), -ESRCH, "a done future");
	filch_future_release(f);

	/* The owner's child of fork() may not use the pool. */
	pid_t c = fork();

	if (c == 0) {
		filch_future *g = NULL;

		_exit(filch_procpool_submit(pp, t_echo, "x", 1, &g) ==
				      -EOWNERDEAD &&
			      filch_procpool_destroy(pp) == -EOWNERDEAD ?
		      0 :
		      1);
	}
	int st = 0;

	waitpid(c, &st, 0);
	check(WIFEXITED(st) && WEXITSTATUS(st) == 0, "-EOWNERDEAD in a child");

	check_is(filch_procpool_shutdown(pp, 0), 0, "shutdown");
	check_is(filch_procpool_submit(pp, t_echo, "x", 1, &f), -ESHUTDOWN,
		 "submit after shutdown");
	check_is(filch_procpool_destroy(NULL), 0, "destroy NULL");
	return !finish(pp, fds0);
}

static int sc_initializer(void *unused)
{
	unsigned fds0 = open_fds();
	struct filch_procpool_opts o = { .workers = 1,
					 .initializer = init_set,
					 .initializer_arg = (void *)5 };
	filch_procpool *pp = start(&o);
	struct filch_bytes *b;
	const char *msg;

	(void)unused;
	filch_future *f = submit(pp, t_init_value, NULL, 0);

	if (check_is(outcome(f, &b, &msg), 0, "task"))
		check_is(*(int *)b->data, 1005, "the initializer's value");
	check_is(init_value, 0, "the parent's copy");
	filch_future_release(f);
	return !finish(pp, fds0);
}

/* Set by main: a spawned worker never runs it. */
static int main_ran;
/* Static data, 7 when the program starts; the scenario sets 9 before it
 * creates the pool. */
static int seed = 7;
static int seed_seen;

static int init_seed(void *arg, unsigned index)
{
	(void)index;
	seed_seen = *(int *)arg;
	return 0;
}

static int t_seed(const void *arg, size_t len, void **out, size_t *out_len)
{
	int *v = malloc(2 * sizeof(*v));

	(void)arg, (void)len;
	if (!v)
		return ENOMEM;
	v[0] = seed_seen;
	v[1] = main_ran;
	*out = v;
	*out_len = 2 * sizeof(*v);
	return 0;
}

/* What a worker starts from: a copy of the program (fork, the fork
 * server: the initializer's argument, static data, reads 9, and main
 * ran), or a fresh exec (spawn: the argument crossed as module and
 * offset and reads the program's initial 7; main never ran). */
static int sc_fresh(void *unused)
{
	unsigned fds0 = open_fds();
	struct filch_procpool_opts o = { .workers = 1,
					 .initializer = init_seed,
					 .initializer_arg = &seed };
	struct filch_bytes *b;
	const char *msg;
	bool spawn = method == FILCH_START_SPAWN;

	(void)unused;
	seed = 9;
	filch_procpool *pp = start(&o);
	filch_future *f = submit(pp, t_seed, NULL, 0);

	if (check_is(outcome(f, &b, &msg), 0, "task") &&
	    check_is(b->len, 2 * sizeof(int), "len")) {
		check_is(((int *)b->data)[0], spawn ? 7 : 9,
			 "the initializer's argument");
		check_is(((int *)b->data)[1], !spawn, "main ran");
	}
	filch_future_release(f);
	return !finish(pp, fds0);
}

static int sc_large(void *unused)
{
	unsigned fds0 = open_fds();
	filch_procpool *pp = start(&(struct filch_procpool_opts){ .workers = 2 });
	unsigned char *a = malloc(BIG);
	struct filch_bytes *b;
	const char *msg;

	(void)unused;
	if (!a)
		return 3;
	for (size_t i = 0; i < BIG; i++)
		a[i] = pattern(i);
	filch_future *f = submit(pp, t_big, a, BIG);
	filch_future *g = submit(pp, t_big, a, BIG / 2);

	free(a); /* the pool has its copy */
	if (check_is(outcome(f, &b, &msg), 0, "big task")) {
		bool same = b->len == BIG + 1;

		for (size_t i = 0; same && i <= BIG; i++)
			same = ((unsigned char *)b->data)[i] == pattern(i);
		check(same, "the big result's bytes");
		check(in_shm(b->data), "a big result is not shared memory");
	}
	if (check_is(outcome(g, &b, &msg), 0, "half task"))
		check_is(b->len, BIG / 2 + 1, "half result length");
	filch_future_release(f);
	filch_future_release(g);
	return !finish(pp, fds0);
}

/* Just under and at the shared-memory threshold: streamed, then mapped
 * (t_big checks the argument's side; the result is one byte longer). */
static int sc_shm_threshold(void *unused)
{
	unsigned fds0 = open_fds();
	filch_procpool *pp = start(&(struct filch_procpool_opts){ .workers = 1 });
	const size_t sizes[] = { FILCH_PROCPOOL_SHM_MIN - 2,
				 FILCH_PROCPOOL_SHM_MIN - 1,
				 FILCH_PROCPOOL_SHM_MIN };
	unsigned char *a = malloc(FILCH_PROCPOOL_SHM_MIN);

	(void)unused;
	if (!a)
		return 3;
	for (size_t i = 0; i < FILCH_PROCPOOL_SHM_MIN; i++)
		a[i] = pattern(i);
	for (size_t k = 0; k < 3; k++) {
		filch_future *f = submit(pp, t_big, a, sizes[k]);
		struct filch_bytes *b;
		const char *msg;

		if (check_is(outcome(f, &b, &msg), 0, "task")) {
			check_is(b->len, sizes[k] + 1, "len");
			check_is(((char *)b->data)[b->len], 0, "the NUL after");
			check_is(in_shm(b->data),
				 sizes[k] + 1 >= FILCH_PROCPOOL_SHM_MIN,
				 "result in shared memory");
		}
		/* Taken: the caller releases it with filch_bytes_free. */
		check_is(filch_future_take_result(f, 0, (void **)&b), 0, "take");
		filch_future_release(f);
		check_is(in_shm(b->data),
			 sizes[k] + 1 >= FILCH_PROCPOOL_SHM_MIN,
			 "taken result still mapped");
		filch_bytes_free(b);
		check_is(shm_maps(), 0, "mapped after filch_bytes_free");
	}
	filch_bytes_free(NULL);
	free(a);
	return !finish(pp, fds0);
}

/* Shared memory on every other path: a worker that crashes holding a
 * mapped argument, a terminated one, a pending one cancelled by
 * shutdown, one discarded by filch_future_cancel. No descriptor or
 * mapping is left (finish). */
static int sc_shm_paths(void *unused)
{
	unsigned fds0 = open_fds();
	filch_procpool *pp = start(&(struct filch_procpool_opts){ .workers = 1 });
	size_t n = 2 * FILCH_PROCPOOL_SHM_MIN;
	unsigned char *a = calloc(1, n);
	const char *msg;

	(void)unused;
	if (!a)
		return 3;
	filch_future *crash = submit(pp, t_segv, a, n);
	filch_future *run = submit(pp, t_forever, a, n);
	filch_future *c1 = submit(pp, t_echo, a, n);
	filch_future *c2 = submit(pp, t_echo, a, n);

	free(a);
	check_is(outcome(crash, NULL, &msg), ECHILD, "the crash");
	while (!filch_future_running(run))
		usleep(1000);
	check(filch_future_cancel(c1), "cancel pending");
	check_is(filch_procpool_shutdown(pp, FILCH_SHUTDOWN_CANCEL_PENDING),
		 0, "shutdown");
	check(filch_future_cancelled(c2), "pending task not cancelled");
	check_is(filch_procpool_terminate(pp, run), 0, "terminate");
	check_is(outcome(run, NULL, &msg), -ECANCELED, "terminated");
	filch_future_release(crash);
	filch_future_release(run);
	filch_future_release(c1);
	filch_future_release(c2);
	return !finish(pp, fds0);
}

/* A task function of a shared library (tests/procpool_module.c), loaded
 * with dlopen before the pool is created (fork, fork server: the workers
 * are copies with it), or after (spawn: the worker loads it by its path,
 * and the function crosses as that module and an offset). */
static int sc_module(void *unused)
{
	unsigned fds0 = open_fds();
	char path[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", path, sizeof(path) - 1);
	char *slash;
	void *h = NULL;
	struct filch_bytes *b;
	const char *msg;
	bool after = method == FILCH_START_SPAWN;

	(void)unused;
	if (n <= 0 || !(slash = memrchr(path, '/', (size_t)n)))
		return 3;
	snprintf(slash, sizeof(path) - (size_t)(slash - path),
		 "/.libs/libprocpool_module.so");
	if (access(path, R_OK) != 0) {
		isolate_note("no shared module (%s): --disable-shared", path);
		return 0;
	}
	if (!after && !check(h = dlopen(path, RTLD_NOW), "dlopen: %s",
			     dlerror()))
		return 1;
	filch_procpool *pp = start(&(struct filch_procpool_opts){ .workers = 1 });

	if (after && !check(h = dlopen(path, RTLD_NOW), "dlopen: %s",
			    dlerror()))
		return 1;
	filch_proc_fn fn = (filch_proc_fn)dlsym(h, "procpool_module_upper");
	filch_future *f = submit(pp, fn, "abc", 3);

	if (check_is(outcome(f, &b, &msg), 0, msg))
		check(b->len == 3 && memcmp(b->data, "ABC", 3) == 0,
		      "the module's answer");
	filch_future_release(f);
	bool ok = finish(pp, fds0);

	dlclose(h);
	return !ok;
}

/* ---- the map over byte items ---- */

/* A map item: "crash" dies, "bad" fails with EDOM, "sleep" sleeps 300 ms;
 * any other answers its worker's pid then its bytes reversed. */
static int t_item(const void *arg, size_t len, void **out, size_t *out_len)
{
	const char *a = arg;
	pid_t pid = getpid();
	char *p;

	if (len == 5 && memcmp(a, "crash", 5) == 0)
		raise(SIGSEGV);
	if (len == 3 && memcmp(a, "bad", 3) == 0)
		return EDOM;
	if (len == 5 && memcmp(a, "sleep", 5) == 0)
		nanosleep(&(struct timespec){ 0, 300 * MS }, NULL);
	if (!(p = malloc(sizeof(pid) + len)))
		return ENOMEM;
	memcpy(p, &pid, sizeof(pid));
	for (size_t i = 0; i < len; i++)
		p[sizeof(pid) + i] = a[len - 1 - i];
	*out = p;
	*out_len = sizeof(pid) + len;
	return 0;
}

static filch_procpool_map_iter *map_start(filch_procpool *pp,
					  const struct filch_bytes *items,
					  size_t n,
					  struct filch_procpool_map_opts o)
{
	filch_procpool_map_iter *it = NULL;
	int rc = filch_procpool_map(&it, pp, t_item, items, n, &o);

	if (rc) {
		fprintf(stderr, "procpool_map: %s\n", filch_strerror(rc));
		exit(3);
	}
	return it;
}

/* Results in input order, several items per round trip: with one task
 * per worker (max_tasks_per_child 1), the items of a chunk share a pid
 * and consecutive chunks do not. Items of every size, 0 and 2 MiB (the
 * chunk then crosses in shared memory) included. */
static int sc_map_order(void *unused)
{
	unsigned fds0 = open_fds();
	struct filch_procpool_opts o = { .workers = 2,
					 .max_tasks_per_child = 1 };
	filch_procpool *pp = start(&o);
	enum { N = 50, CHUNK = 4 };
	struct filch_bytes items[N];
	char text[N][16];
	size_t big = 2 * FILCH_PROCPOOL_SHM_MIN;
	char *bigbuf = malloc(big);
	pid_t pids[N];
	const struct filch_bytes *r;
	size_t got = 0;

	(void)unused;
	if (!bigbuf)
		return 3;
	memset(bigbuf, 'q', big);
	bigbuf[0] = 'a';
	for (size_t i = 0; i < N; i++) {
		items[i].len = (size_t)snprintf(text[i], sizeof(text[i]),
						"item%zu", i) * (i % 7 != 3);
		items[i].data = text[i];
	}
	items[17] = (struct filch_bytes){ big, bigbuf };
	filch_procpool_map_iter *it = map_start(
		pp, items, N,
		(struct filch_procpool_map_opts){ .chunksize = CHUNK,
						  .buffersize = 3 });
	int rc;

	while ((rc = filch_procpool_map_next(it, &r)) == 0 && got < N) {
		bool same = r->len == sizeof(pid_t) + items[got].len &&
			    ((char *)r->data)[r->len] == 0;
		const char *in = items[got].data;

		for (size_t k = 0; same && k < items[got].len; k++)
			same = ((char *)r->data)[sizeof(pid_t) + k] ==
			       in[items[got].len - 1 - k];
		check(same, "result %zu", got);
		memcpy(&pids[got], r->data, sizeof(pid_t));
		got++;
	}
	check_is(rc, FILCH_END, "the end");
	check_is(got, N, "results");
	check_is(filch_procpool_map_next(it, &r), FILCH_END, "after the end");
	for (size_t i = 1; i < got; i++)
		check((pids[i] == pids[i - 1]) == (i % CHUNK != 0),
		      "item %zu: pid %d after %d", i, (int)pids[i],
		      (int)pids[i - 1]);
	filch_procpool_map_close(it);
	free(bigbuf);
	return !finish(pp, fds0);
}

/* An item that fails, one that crashes its worker: the results before
 * it, then its error, then the end; the pool goes on serving. */
static int sc_map_errors(void *unused)
{
	unsigned fds0 = open_fds();
	filch_procpool *pp = start(&(struct filch_procpool_opts){ .workers = 2 });
	const char *words[] = { "a", "b", "c", "bad", "d", "e" };
	struct filch_bytes items[6];
	const struct filch_bytes *r;
	const char *msg;

	(void)unused;
	for (int i = 0; i < 6; i++)
		items[i] = (struct filch_bytes){ strlen(words[i]),
						 (void *)words[i] };
	/* "bad" in the middle of the second chunk. */
	filch_procpool_map_iter *it = map_start(
		pp, items, 6, (struct filch_procpool_map_opts){ .chunksize = 2 });

	for (int i = 0; i < 3; i++)
		check_is(filch_procpool_map_next(it, &r), 0, "before the error");
	check_is(filch_procpool_map_next(it, &r), EDOM, "the item's error");
	check_is(filch_procpool_map_next(it, &r), FILCH_END, "then the end");
	filch_procpool_map_close(it);

	/* "crash" heads the second chunk of two: the first chunk's results,
	 * then ECHILD. */
	static char crash[] = "crash";

	items[2] = (struct filch_bytes){ 5, crash };
	it = map_start(pp, items, 6,
		       (struct filch_procpool_map_opts){ .chunksize = 2 });
	for (int i = 0; i < 2; i++)
		check_is(filch_procpool_map_next(it, &r), 0, "before the crash");
	check_is(filch_procpool_map_next(it, &r), ECHILD, "the crash");
	check_is(filch_procpool_map_next(it, &r), FILCH_END, "then the end");
	filch_procpool_map_close(it);

	filch_future *f = submit(pp, t_echo, "ok", 2);

	check_is(outcome(f, NULL, &msg), 0, "the pool serves on");
	filch_future_release(f);
	return !finish(pp, fds0);
}

/* Empty input, a timeout, an early close, and bad arguments. */
static int sc_map_edges(void *unused)
{
	unsigned fds0 = open_fds();
	filch_procpool *pp = start(&(struct filch_procpool_opts){ .workers = 1 });
	static char sleep5[] = "sleep", x[] = "x", y[] = "y";
	struct filch_bytes items[3] = { { 5, sleep5 }, { 1, x }, { 1, y } };
	struct filch_bytes hole[1] = { { 4, NULL } };
	filch_procpool_map_iter *it, *keep = (filch_procpool_map_iter *)&it;
	const struct filch_bytes *r, *rkeep = items;

	(void)unused;
	it = map_start(pp, NULL, 0, (struct filch_procpool_map_opts){ 0 });
	check_is(filch_procpool_map_next(it, &r), FILCH_END, "empty input");
	filch_procpool_map_close(it);

	/* The whole map's timeout, while the first chunk sleeps. */
	it = map_start(pp, items, 3,
		       (struct filch_procpool_map_opts){
			       .timeout_ns = 50 * MS, .chunksize = 1 });
	r = rkeep;
	check_is(filch_procpool_map_next(it, &r), -ETIMEDOUT, "timeout");
	check(r == rkeep, "*result written on error");
	check_is(filch_procpool_map_next(it, &r), FILCH_END, "after it");
	filch_procpool_map_close(it); /* chunks in flight: none waits */

	/* Closed early, chunks in flight. */
	it = map_start(pp, items + 1, 2, (struct filch_procpool_map_opts){
						   .chunksize = 1 });
	filch_procpool_map_close(it);
	filch_procpool_map_close(NULL);

	it = keep;
	check_is(filch_procpool_map(NULL, pp, t_item, items, 3, NULL), -EINVAL,
		 "NULL it");
	check_is(filch_procpool_map(&it, NULL, t_item, items, 3, NULL),
		 -EINVAL, "NULL pp");
	check_is(filch_procpool_map(&it, pp, NULL, items, 3, NULL), -EINVAL,
		 "NULL fn");
	check_is(filch_procpool_map(&it, pp, t_item, NULL, 3, NULL), -EINVAL,
		 "NULL items");
	check_is(filch_procpool_map(&it, pp, t_item, hole, 1, NULL), -EINVAL,
		 "an item with NULL data");
	check_is(filch_procpool_map(&it, pp, t_item, items, 3,
				    &(struct filch_procpool_map_opts){
					    .flags = FILCH_MAP_CALLER_RUNS }),
		 -EINVAL, "an unknown flag");
	check_is(filch_procpool_map_next(NULL, &r), -EINVAL, "next NULL");
	check(it == keep, "*it written on error");
	filch_procpool_shutdown(pp, 0);
	check_is(filch_procpool_map(&it, pp, t_item, items, 3, NULL),
		 -ESHUTDOWN, "after shutdown");
	check(it == keep, "*it written on error");
	return !finish(pp, fds0);
}

/* A crash fails its future only; the pool replaces the worker. */
static int crash_case(filch_proc_fn fn, const char *want)
{
	unsigned fds0 = open_fds();
	filch_procpool *pp = start(&(struct filch_procpool_opts){ .workers = 1 });
	struct filch_procpool_stats st;
	struct filch_bytes *b;
	const char *msg;
	filch_future *f = submit(pp, fn, NULL, 0);
	filch_future *g = submit(pp, t_echo, "ab", 2);

	check_is(outcome(f, NULL, &msg), ECHILD, "crashed task");
	check(strstr(msg, want), "message \"%s\" lacks \"%s\"", msg, want);
	if (check_is(outcome(g, &b, &msg), 0, "the next task"))
		check(memcmp(b->data, "ba", 2) == 0, "next task's bytes");
	filch_procpool_stats(pp, &st);
	check_is(st.crashes, 1, "crashes");
	check_is(st.started, 2, "workers started");
	filch_future_release(f);
	filch_future_release(g);
	return !finish(pp, fds0);
}

static int sc_segv(void *unused)
{
	(void)unused;
	return crash_case(t_segv, "killed by signal 11 (SIGSEGV)");
}

static int sc_exit(void *unused)
{
	(void)unused;
	return crash_case(t_exit, "exited with status 3");
}

static int sc_time_limit(void *unused)
{
	unsigned fds0 = open_fds();
	struct filch_procpool_opts o = { .workers = 1,
					 .time_limit_ns = 200 * MS };
	filch_procpool *pp = start(&o);
	struct filch_procpool_stats st;
	const char *msg;
	int64_t t0 = tap_now_ns();
	long ms = 20;

	(void)unused;
	filch_future *f = submit(pp, t_forever, NULL, 0);
	filch_future *g = submit(pp, t_sleep, &ms, sizeof(ms));

	check_is(outcome(f, NULL, &msg), ETIMEDOUT, "looping task");
	check((tap_now_ns() - t0) >= 200 * MS, "killed before its limit");
	check(strstr(msg, "time limit of 200 ms"), "message \"%s\"", msg);
	check_is(outcome(g, NULL, &msg), 0, "the next task");
	filch_procpool_stats(pp, &st);
	check_is(st.timeouts, 1, "timeouts");
	check_is(st.crashes, 0, "crashes");
	filch_future_release(f);
	filch_future_release(g);
	return !finish(pp, fds0);
}

static int sc_terminate(void *unused)
{
	unsigned fds0 = open_fds();
	filch_procpool *pp = start(&(struct filch_procpool_opts){ .workers = 1 });
	struct filch_procpool_stats st;
	const char *msg;
	int code;

	(void)unused;
	filch_future *f = submit(pp, t_forever, NULL, 0);
	filch_future *p = submit(pp, t_echo, "x", 1);
	filch_future *q = submit(pp, t_echo, "y", 1);
	filch_future *c = submit(pp, t_echo, "z", 1);

	while (!filch_future_running(f))
		usleep(1000);
	check(filch_future_cancel(c), "filch_future_cancel on a pending task");
	/* A pending task is cancelled like a thread task, by either call. */
	check_is(filch_procpool_terminate(pp, p), 0, "terminate pending");
	check(filch_future_cancelled(p), "terminated pending not cancelled");
	check_is(filch_procpool_terminate(pp, f), 0, "terminate running");
	/* Cancelled, as a thread task cancelled before it ran: the state,
	 * filch_future_result's and filch_future_error's -ECANCELED. */
	check_is(outcome(f, NULL, &msg), -ECANCELED, "terminated task");
	check(filch_future_cancelled(f), "terminated task not cancelled");
	check_is(filch_future_error(f, 0, &code, &msg), -ECANCELED,
		 "filch_future_error of a terminated task");
	check_is(filch_future_state(f), FILCH_CANCELLED, "state");
	check_is(filch_procpool_terminate(pp, f), -ESRCH, "terminate again");
	check_is(outcome(q, NULL, &msg), 0, "the next task");
	filch_procpool_stats(pp, &st);
	check_is(st.terminated, 1, "terminated");
	check_is(st.crashes, 0, "crashes");
	filch_future_release(f);
	filch_future_release(p);
	filch_future_release(q);
	check(filch_future_cancelled(c), "cancelled pending task ran");
	filch_future_release(c);
	return !finish(pp, fds0);
}

static void count_done(filch_future *f, void *arg)
{
	(void)f;
	atomic_fetch_add((atomic_uint *)arg, 1);
}

/* terminate racing completion: each future gets exactly one outcome (a
 * result, or cancelled), and its callbacks run once. */
static int sc_terminate_race(void *unused)
{
	unsigned fds0 = open_fds();
	filch_procpool *pp = start(&(struct filch_procpool_opts){ .workers = 2 });
	unsigned ok_n = 0, cancelled = 0;
	atomic_uint calls = 0;
	int round;

	(void)unused;
	for (round = 0; round < 200 && !failures; round++) {
		filch_future *f = submit(pp, t_echo, "ab", 2);
		struct filch_bytes *b;
		const char *msg;

		filch_future_on_done(f, count_done, &calls);

		if (round & 1)
			while (!filch_future_running(f) &&
			       !filch_future_done(f))
				;
		int trc = filch_procpool_terminate(pp, f);
		int rc = outcome(f, &b, &msg);

		check(trc == 0 || trc == -ESRCH, "terminate: %d", trc);
		if (rc == 0) {
			check(memcmp(b->data, "ba", 2) == 0, "bytes");
			ok_n++;
		} else if (rc == -ECANCELED) {
			check(trc == 0, "cancelled but terminate said %d", trc);
			check(filch_future_cancelled(f), "state %d",
			      (int)filch_future_state(f));
			cancelled++;
		} else {
			check(0, "outcome %d (%s)", rc, msg);
		}
		check(filch_future_done(f), "not done");
		filch_future_release(f);
	}
	fprintf(stderr, "race: %u results, %u cancelled\n", ok_n, cancelled);
	check(finish(pp, fds0), "finish");
	/* The completion thread is joined: every callback has run. */
	check_is(atomic_load(&calls), round, "callbacks");
	return failures != 0;
}

static int sc_recycle(void *unused)
{
	unsigned fds0 = open_fds();
	struct filch_procpool_opts o = { .workers = 1,
					 .max_tasks_per_child = 2 };
	filch_procpool *pp = start(&o);
	pid_t pids[6];
	struct filch_procpool_stats st;

	(void)unused;
	for (int i = 0; i < 6; i++) {
		filch_future *f = submit(pp, t_pid, NULL, 0);
		struct filch_bytes *b;
		const char *msg;

		pids[i] = 0;
		if (check_is(outcome(f, &b, &msg), 0, "pid task"))
			memcpy(&pids[i], b->data, sizeof(pid_t));
		filch_future_release(f);
	}
	for (int i = 0; i < 6; i += 2) {
		check(pids[i] == pids[i + 1], "tasks %d and %d: two workers",
		      i, i + 1);
		check(i == 0 || pids[i] != pids[i - 1],
		      "task %d: worker not recycled", i);
	}
	filch_procpool_stats(pp, &st);
	check_is(st.crashes, 0, "crashes");
	check(st.started >= 3, "started %llu", (unsigned long long)st.started);
	return !finish(pp, fds0);
}

static int sc_memory_limit(void *unused)
{
	unsigned fds0 = open_fds();
	struct filch_procpool_opts o = { .workers = 1,
					 .memory_limit = 256u << 20 };
	filch_procpool *pp = start(&o);
	size_t big = 1u << 30, small = 16u << 20;
	const char *msg;

	(void)unused;
	filch_future *f = submit(pp, t_alloc, &big, sizeof(big));
	filch_future *g = submit(pp, t_alloc, &small, sizeof(small));

	check_is(outcome(f, NULL, &msg), ENOMEM, "1 GiB under a 256 MiB limit");
	check_is(outcome(g, NULL, &msg), 0, "16 MiB under it");
	filch_future_release(f);
	filch_future_release(g);
	return !finish(pp, fds0);
}

static int sc_shutdown_wait(void *unused)
{
	unsigned fds0 = open_fds();
	filch_procpool *pp = start(&(struct filch_procpool_opts){ .workers = 1 });
	filch_future *f[5];
	long ms = 20;

	(void)unused;
	for (int i = 0; i < 5; i++)
		f[i] = submit(pp, t_sleep, &ms, sizeof(ms));
	check_is(filch_procpool_shutdown(pp, FILCH_SHUTDOWN_WAIT), 0, "wait");
	for (int i = 0; i < 5; i++) {
		check(filch_future_done(f[i]), "task %d not done", i);
		check_is(filch_future_result(f[i], 0, NULL), 0, "task result");
		filch_future_release(f[i]);
	}
	check(no_children(), "workers left after WAIT");
	return !finish(pp, fds0);
}

/* A worker that crashes while a WAIT shutdown drains the queue is still
 * replaced: the tasks queued behind it run. */
static int sc_shutdown_wait_crash(void *unused)
{
	unsigned fds0 = open_fds();
	filch_procpool *pp = start(&(struct filch_procpool_opts){ .workers = 1 });
	filch_future *f = submit(pp, t_segv, NULL, 0);
	filch_future *g = submit(pp, t_echo, "ok", 2);
	const char *msg;

	(void)unused;
	check_is(filch_procpool_shutdown(pp, FILCH_SHUTDOWN_WAIT), 0, "wait");
	check_is(outcome(f, NULL, &msg), ECHILD, "the crash");
	check_is(outcome(g, NULL, &msg), 0, "the task queued behind it");
	filch_future_release(f);
	filch_future_release(g);
	return !finish(pp, fds0);
}

static int sc_shutdown_cancel(void *unused)
{
	unsigned fds0 = open_fds();
	filch_procpool *pp = start(&(struct filch_procpool_opts){ .workers = 1 });
	filch_future *f[4];
	long ms = 100;

	(void)unused;
	for (int i = 0; i < 4; i++)
		f[i] = submit(pp, t_sleep, &ms, sizeof(ms));
	while (!filch_future_running(f[0]))
		usleep(1000);
	check_is(filch_procpool_shutdown(pp, FILCH_SHUTDOWN_CANCEL_PENDING), 0,
		 "cancel pending");
	for (int i = 1; i < 4; i++)
		check(filch_future_cancelled(f[i]), "task %d not cancelled", i);
	check_is(filch_future_result(f[0], FILCH_FOREVER, NULL), 0,
		 "the running task finishes");
	for (int i = 0; i < 4; i++)
		filch_future_release(f[i]);
	return !finish(pp, fds0);
}

static int sc_shutdown_kill(void *unused)
{
	unsigned fds0 = open_fds();
	filch_procpool *pp = start(&(struct filch_procpool_opts){ .workers = 2 });
	filch_future *a = submit(pp, t_forever, NULL, 0);
	filch_future *b = submit(pp, t_forever, NULL, 0);
	filch_future *c = submit(pp, t_echo, "x", 1);
	const char *msg;

	(void)unused;
	while (!filch_future_running(a) || !filch_future_running(b))
		usleep(1000);
	check_is(filch_procpool_shutdown(pp, FILCH_PROCPOOL_KILL |
						     FILCH_SHUTDOWN_CANCEL_PENDING |
						     FILCH_SHUTDOWN_WAIT),
		 0, "kill");
	check_is(outcome(a, NULL, &msg), -ECANCELED, "killed task a");
	check_is(outcome(b, NULL, &msg), -ECANCELED, "killed task b");
	check(filch_future_cancelled(a) && filch_future_cancelled(b),
	      "killed tasks not cancelled");
	check(filch_future_cancelled(c), "pending task not cancelled");
	check(no_children(), "workers left after KILL");
	filch_future_release(a);
	filch_future_release(b);
	filch_future_release(c);
	return !finish(pp, fds0);
}

static int sc_many_pools(void *unused)
{
	unsigned fds0 = open_fds();

	(void)unused;
	for (int i = 0; i < POOLS && !failures; i++) {
		filch_procpool *pp =
			start(&(struct filch_procpool_opts){ .workers = 2 });

		if (i % 3 == 0) {
			filch_future *f = submit(pp, i % 2 ? t_segv : t_echo,
						 "z", 1);

			filch_future_result(f, FILCH_FOREVER, NULL);
			filch_future_release(f);
		}
		check_is(filch_procpool_destroy(pp), 0, "destroy");
		check(no_children(), "pool %d left a process", i);
		check_is(open_fds(), fds0, "fds after a pool");
	}
	return failures != 0;
}

/* The owner dies with SIGKILL: its workers die with it. */
static int sc_owner_killed(void *unused)
{
	(void)unused;
	pid_t owner = fork();

	if (owner == 0) {
		filch_procpool *pp =
			start(&(struct filch_procpool_opts){ .workers = 2 });
		/* Two tasks that hold both workers (never released: the
		 * process is killed). */
		submit(pp, t_forever, NULL, 0);
		submit(pp, t_forever, NULL, 0);
		for (;;)
			pause();
	}
	usleep(300 * 1000); /* the pool starts */
	/* Find the owner's descendants: its workers (and the fork server,
	 * whose children they are with FILCH_START_FORKSERVER). */
	pid_t workers[8] = { owner };
	unsigned n = 1;

	for (unsigned level = 0; level < 2; level++) {
		DIR *d = opendir("/proc");
		struct dirent *e;

		while (d && (e = readdir(d)) && n < 8) {
			char stat[64], buf[256];
			int pid = atoi(e->d_name), ppid = 0;
			bool known = false;
			FILE *s;

			for (unsigned k = 0; k < n; k++)
				known |= workers[k] == pid;
			if (pid <= 0 || known)
				continue;
			snprintf(stat, sizeof(stat), "/proc/%d/stat", pid);
			if (!(s = fopen(stat, "r")))
				continue;
			if (fgets(buf, sizeof(buf), s)) {
				char *rp = strrchr(buf, ')');

				for (unsigned k = 0; k < n; k++)
					if (rp && sscanf(rp + 2, "%*c %d",
							 &ppid) == 1 &&
					    ppid == workers[k])
						known = true;
				if (known)
					workers[n++] = pid;
			}
			fclose(s);
		}
		if (d)
			closedir(d);
	}
	/* workers[0] is the owner: the rest are its descendants. */
	n--;
	memmove(workers, workers + 1, n * sizeof(*workers));
	check_is(n, method == FILCH_START_FORKSERVER ? 3 : 2,
		 "descendants found");

	kill(owner, SIGKILL);
	waitpid(owner, NULL, 0);
	for (unsigned i = 0; i < n; i++) {
		int64_t t0 = tap_now_ns();
		bool gone = false;

		while (!gone && tap_now_ns() - t0 < 2000 * MS) {
			char stat[64], buf[256];
			FILE *s;

			snprintf(stat, sizeof(stat), "/proc/%d/stat",
				 (int)workers[i]);
			s = fopen(stat, "r");
			gone = !s || !fgets(buf, sizeof(buf), s) ||
			       strstr(buf, ") Z ");
			if (s)
				fclose(s);
			if (!gone)
				usleep(5000);
		}
		check(gone, "worker %d outlived its owner", (int)workers[i]);
	}
	return failures != 0;
}

/* A lock held by another thread of the program while a replacement
 * worker starts: with the fork server the worker's copy of it is free (the
 * server was forked before the lock was taken); with fork the worker
 * inherits it held, and a task that takes it hangs until the time limit. */
static pthread_mutex_t held = PTHREAD_MUTEX_INITIALIZER;

static int t_lock(const void *arg, size_t len, void **out, size_t *out_len)
{
	(void)arg, (void)len, (void)out, (void)out_len;
	pthread_mutex_lock(&held);
	pthread_mutex_unlock(&held);
	return 0;
}

static void *hold_lock(void *arg)
{
	pthread_mutex_lock(&held);
	sem_post(arg);
	pause();
	return NULL;
}

static int sc_lock_held(void *unused)
{
	struct filch_procpool_opts o = { .workers = 1,
					 .time_limit_ns = 500 * MS };
	filch_procpool *pp = start(&o);
	const char *msg;
	pthread_t th;
	sem_t taken;

	(void)unused;
	sem_init(&taken, 0, 0);
	pthread_create(&th, NULL, hold_lock, &taken);
	sem_wait(&taken);
	/* The first worker dies; its replacement starts while held is
	 * locked by th. */
	filch_future *f = submit(pp, t_segv, NULL, 0);
	filch_future *g = submit(pp, t_lock, NULL, 0);

	check_is(outcome(f, NULL, &msg), ECHILD, "the crash");
	check_is(outcome(g, NULL, &msg),
		 method == FILCH_START_FORK ? ETIMEDOUT : 0,
		 "a task taking the lock in the replacement");
	filch_future_release(f);
	filch_future_release(g);
	check_is(filch_procpool_destroy(pp), 0, "destroy");
	return failures != 0; /* th still holds the lock: the child exits */
}

/* ---- the pipeline: calls written ahead to a worker ---- */

/* A trace file of t_touch for task i of this test process. */
static void trace_path(char *buf, size_t n, int i)
{
	snprintf(buf, n, "/tmp/filch-pp-trace-%d-%d", (int)getpid(), i);
	unlink(buf);
}

static bool traced(int i)
{
	char path[64];

	snprintf(path, sizeof(path), "/tmp/filch-pp-trace-%d-%d", (int)getpid(),
		 i);
	bool ran = access(path, F_OK) == 0;

	unlink(path);
	return ran;
}

/* The pid that a t_pid task answered, or 0. */
static pid_t pid_of(filch_future *f)
{
	struct filch_bytes *b;
	const char *msg;
	pid_t pid = 0;

	if (check_is(outcome(f, &b, &msg), 0, "pid task"))
		memcpy(&pid, b->data, sizeof(pid));
	return pid;
}

/* Appends its argument, "path\0token", 's token to the file path: the
 * order in which a worker ran such tasks. */
static int t_append(const void *arg, size_t len, void **out, size_t *out_len)
{
	const char *path = arg, *tok;
	size_t plen = strnlen(path, len);
	int fd;

	(void)out, (void)out_len;
	if (plen == len)
		return EINVAL;
	tok = path + plen + 1;
	fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0)
		return errno;
	ssize_t w = write(fd, tok, len - plen - 1);

	close(fd);
	return w == (ssize_t)(len - plen - 1) ? 0 : EIO;
}

/* Submits t_append of token to the file path. */
static filch_future *submit_append(filch_procpool *pp, const char *path,
				   const char *token)
{
	char arg[128];
	size_t plen = strlen(path) + 1, tlen = strlen(token);

	memcpy(arg, path, plen);
	memcpy(arg + plen, token, tlen);
	return submit(pp, t_append, arg, plen + tlen);
}

/* Whether the file path holds want (polled up to 5 s). */
static bool holds(const char *path, const char *want)
{
	char got[512];

	for (int i = 0; i < 500; i++) {
		FILE *fp = fopen(path, "r");
		size_t n = fp ? fread(got, 1, sizeof(got) - 1, fp) : 0;

		if (fp)
			fclose(fp);
		got[n] = '\0';
		if (strcmp(got, want) == 0)
			return true;
		if (strncmp(got, want, n) != 0)
			break;
		nanosleep(&(struct timespec){ 0, 10 * MS }, NULL);
	}
	fprintf(stderr, "%s holds \"%s\", expected \"%s\"\n", path, got, want);
	return false;
}

/* A callback that holds the pool's completion thread (which completes
 * the futures) until released; run by the test's thread (the future was
 * done already), it returns at once. */
static sem_t cb_held, cb_release;
static pthread_t tester;

static void hold_completion(filch_future *f, void *arg)
{
	(void)f, (void)arg;
	sem_post(&cb_held);
	if (!pthread_equal(pthread_self(), tester))
		sem_wait(&cb_release);
}

/* Holds the completion thread of pp (one worker) in a callback of a task
 * that sleeps meanwhile; returns that task's future. */
static filch_future *hold(filch_procpool *pp)
{
	long ms = 100;
	filch_future *f = submit(pp, t_sleep, &ms, sizeof(ms));

	tester = pthread_self();
	sem_init(&cb_held, 0, 0);
	sem_init(&cb_release, 0, 0);
	check_is(filch_future_on_done(f, hold_completion, NULL), 0,
		 "on_done");
	sem_wait(&cb_held);
	return f;
}

/* A submission writes its call straight into an idle worker's socket:
 * tasks run while the completion thread is held, in submission order, and
 * the calls beyond the pipeline's depth, queued, follow in order once it
 * is released. */
static int sc_pipe_direct(void *unused)
{
	unsigned fds0 = open_fds();
	filch_procpool *pp = start(&(struct filch_procpool_opts){ .workers = 1 });
	filch_future *f[40];
	char path[64], want[128] = "", tok[8];
	const char *msg;

	(void)unused;
	trace_path(path, sizeof(path), 0);
	filch_future *gate = hold(pp);

	for (int i = 0; i < 40; i++) {
		snprintf(tok, sizeof(tok), "%c", 'A' + i);
		f[i] = submit_append(pp, path, tok);
		if (i < 5)
			strcat(want, tok);
		if (i == 4)
			check(holds(path, want), "direct calls ran, in order, "
						 "with the completion thread "
						 "held");
	}
	for (int i = 5; i < 40; i++) {
		snprintf(tok, sizeof(tok), "%c", 'A' + i);
		strcat(want, tok);
	}
	sem_post(&cb_release);
	for (int i = 0; i < 40; i++) {
		check_is(outcome(f[i], NULL, &msg), 0, "a task");
		filch_future_release(f[i]);
	}
	check(holds(path, want), "every call ran, in submission order");
	check_is(outcome(gate, NULL, &msg), 0, "the gate");
	filch_future_release(gate);
	unlink(path);
	return !finish(pp, fds0);
}

/* A worker crashes with calls written straight into its socket behind
 * the crashing one (while the completion thread is held): those never
 * ran; they are queued again and run, in order, in the replacement. */
static int sc_pipe_direct_crash(void *unused)
{
	unsigned fds0 = open_fds();
	filch_procpool *pp = start(&(struct filch_procpool_opts){ .workers = 1 });
	struct filch_procpool_stats st;
	char path[64];
	const char *msg;

	(void)unused;
	trace_path(path, sizeof(path), 0);
	filch_future *gate = hold(pp);
	filch_future *a = submit_append(pp, path, "a");
	filch_future *crash = submit(pp, t_segv, NULL, 0);
	filch_future *b = submit_append(pp, path, "b");
	filch_future *c = submit_append(pp, path, "c");

	check(holds(path, "a"), "a direct call ran with the completion "
				"thread held");
	sem_post(&cb_release);
	check_is(outcome(crash, NULL, &msg), ECHILD, "the crash");
	check(strstr(msg, "SIGSEGV"), "crash message \"%s\"", msg);
	check_is(outcome(a, NULL, &msg), 0, "the call before");
	check_is(outcome(b, NULL, &msg), 0, "a call behind");
	check_is(outcome(c, NULL, &msg), 0, "a call behind");
	check(holds(path, "abc"), "the calls behind ran once, in order");
	filch_procpool_stats(pp, &st);
	check_is(st.crashes, 1, "crashes");
	check_is(st.started, 2, "workers started");
	filch_future_release(gate);
	filch_future_release(a);
	filch_future_release(crash);
	filch_future_release(b);
	filch_future_release(c);
	unlink(path);
	return !finish(pp, fds0);
}

/* Calls written ahead behind a task that crashes never ran: they are
 * queued again and complete with their own results; the crash alone fails
 * (ECHILD), once. */
static int sc_pipe_crash(void *unused)
{
	unsigned fds0 = open_fds();
	filch_procpool *pp = start(&(struct filch_procpool_opts){ .workers = 1 });
	struct filch_procpool_stats st;
	filch_future *f[10];
	char arg[10][8];
	const char *msg;
	long ms = 100;

	(void)unused;
	/* While the gate sleeps, the rest are written ahead together. */
	filch_future *p0 = submit(pp, t_pid, NULL, 0);
	filch_future *gate = submit(pp, t_sleep, &ms, sizeof(ms));
	filch_future *crash = submit(pp, t_segv, NULL, 0);

	for (int i = 0; i < 10; i++) {
		snprintf(arg[i], sizeof(arg[i]), "a%d", i);
		f[i] = submit(pp, t_echo, arg[i], strlen(arg[i]));
	}
	filch_future *p1 = submit(pp, t_pid, NULL, 0);

	check_is(outcome(gate, NULL, &msg), 0, "the gate");
	check_is(outcome(crash, NULL, &msg), ECHILD, "the crash");
	check(strstr(msg, "SIGSEGV"), "crash message \"%s\"", msg);
	for (int i = 0; i < 10; i++) {
		struct filch_bytes *b;
		char want[8];
		size_t n = strlen(arg[i]);

		for (size_t k = 0; k < n; k++)
			want[k] = arg[i][n - 1 - k];
		if (check_is(outcome(f[i], &b, &msg), 0, "a task behind"))
			check(b->len == n && memcmp(b->data, want, n) == 0,
			      "task %d: its own result", i);
		filch_future_release(f[i]);
	}
	check(pid_of(p0) != pid_of(p1), "the tasks behind ran in the "
					"replacement");
	filch_procpool_stats(pp, &st);
	check_is(st.crashes, 1, "crashes");
	check_is(st.started, 2, "workers started");
	filch_future_release(p0);
	filch_future_release(p1);
	filch_future_release(gate);
	filch_future_release(crash);
	return !finish(pp, fds0);
}

/* terminate and filch_future_cancel of calls written ahead and not
 * started: cancelled, never run, and the worker (its pid) lives on. */
static int sc_pipe_cancel(void *unused)
{
	unsigned fds0 = open_fds();
	filch_procpool *pp = start(&(struct filch_procpool_opts){ .workers = 1 });
	struct filch_procpool_stats st;
	char path[3][64];
	const char *msg;
	long ms = 150;

	(void)unused;
	for (int i = 0; i < 3; i++)
		trace_path(path[i], sizeof(path[i]), i);
	filch_future *p0 = submit(pp, t_pid, NULL, 0);
	filch_future *gate = submit(pp, t_sleep, &ms, sizeof(ms));
	filch_future *a = submit(pp, t_touch, path[0], strlen(path[0]));
	filch_future *b = submit(pp, t_touch, path[1], strlen(path[1]));
	filch_future *c = submit(pp, t_touch, path[2], strlen(path[2]));
	filch_future *p1 = submit(pp, t_pid, NULL, 0);

	while (!filch_future_running(gate))
		usleep(1000);
	usleep(20000); /* the rest written ahead meanwhile */
	check(!filch_future_running(a), "a written-ahead call is pending");
	check_is(filch_procpool_terminate(pp, a), 0, "terminate written ahead");
	check(filch_future_cancelled(a), "terminated call not cancelled");
	check_is(filch_procpool_terminate(pp, a), -ESRCH, "terminate again");
	check(filch_future_cancel(b), "filch_future_cancel written ahead");
	check_is(outcome(gate, NULL, &msg), 0, "the gate");
	check_is(outcome(c, NULL, &msg), 0, "the call after them");
	check_is(pid_of(p1), pid_of(p0), "the worker lived on");
	check(!traced(0), "a terminated call ran");
	check(!traced(1), "a cancelled call ran");
	check(traced(2), "the call after them did not run");
	filch_procpool_stats(pp, &st);
	check_is(st.terminated, 0, "terminated (none killed)");
	check_is(st.started, 1, "workers started");
	filch_future_release(p0);
	filch_future_release(p1);
	filch_future_release(gate);
	filch_future_release(a);
	filch_future_release(b);
	filch_future_release(c);
	return !finish(pp, fds0);
}

/* The time limit counts from each task's own start: tasks queued behind
 * run their full time, and a task that loops with tasks written ahead
 * behind it is killed alone (ETIMEDOUT); those complete. */
static int sc_pipe_time_limit(void *unused)
{
	unsigned fds0 = open_fds();
	filch_procpool *pp = start(&(struct filch_procpool_opts){
		.workers = 1, .time_limit_ns = 400 * MS });
	struct filch_procpool_stats st;
	filch_future *s[3], *after[4];
	const char *msg;
	long ms = 150; /* 450 ms together: past the limit from the first */

	(void)unused;
	for (int i = 0; i < 3; i++)
		s[i] = submit(pp, t_sleep, &ms, sizeof(ms));
	filch_future *loop = submit(pp, t_forever, NULL, 0);

	for (int i = 0; i < 4; i++)
		after[i] = submit(pp, t_pid, NULL, 0);
	for (int i = 0; i < 3; i++) {
		check_is(outcome(s[i], NULL, &msg), 0, "a task under the limit");
		filch_future_release(s[i]);
	}
	check_is(outcome(loop, NULL, &msg), ETIMEDOUT, "the loop");
	for (int i = 0; i < 4; i++) {
		pid_of(after[i]);
		filch_future_release(after[i]);
	}
	filch_procpool_stats(pp, &st);
	check_is(st.timeouts, 1, "timeouts");
	check_is(st.crashes, 0, "crashes");
	filch_future_release(loop);
	return !finish(pp, fds0);
}

/* max_tasks_per_child below the pipeline's depth: no call is written
 * past a worker's quota, so the pid changes exactly every 3 tasks. */
static int sc_pipe_recycle(void *unused)
{
	unsigned fds0 = open_fds();
	filch_procpool *pp = start(&(struct filch_procpool_opts){
		.workers = 1, .max_tasks_per_child = 3 });
	struct filch_procpool_stats st;
	filch_future *f[21];
	pid_t pid[21];

	(void)unused;
	for (int i = 0; i < 21; i++)
		f[i] = submit(pp, t_pid, NULL, 0);
	for (int i = 0; i < 21; i++) {
		pid[i] = pid_of(f[i]);
		filch_future_release(f[i]);
		if (i % 3)
			check(pid[i] == pid[i - 1], "task %d: another worker",
			      i);
		else if (i)
			check(pid[i] != pid[i - 1], "task %d: not recycled", i);
	}
	filch_procpool_stats(pp, &st);
	check_is(st.crashes, 0, "crashes");
	check(st.started >= 7, "started %llu", (unsigned long long)st.started);
	return !finish(pp, fds0);
}

#ifdef SANITIZED
#define MANY 10000
#else
#define MANY 100000
#endif

/* MANY small tasks through 1 and then 2 workers: each completes once,
 * with its own result. */
static int sc_pipe_many(void *unused)
{
	unsigned fds0 = open_fds();
	filch_future **f = calloc(MANY, sizeof(*f));

	(void)unused;
	if (!f)
		return 3;
	for (unsigned workers = 1; workers <= 2; workers++) {
		filch_procpool *pp = start(&(struct filch_procpool_opts){
			.workers = workers });
		unsigned bad = 0;

		for (uint32_t i = 0; i < MANY; i++)
			f[i] = submit(pp, t_echo, &i, sizeof(i));
		for (uint32_t i = 0; i < MANY; i++) {
			struct filch_bytes *b;
			const char *msg;
			unsigned char want[4];

			memcpy(want, &i, 4);
			bad += outcome(f[i], &b, &msg) != 0 || b->len != 4 ||
			       ((unsigned char *)b->data)[0] != want[3] ||
			       ((unsigned char *)b->data)[3] != want[0];
			filch_future_release(f[i]);
		}
		check_is(bad, 0, "tasks without their own result");
		if (!finish(pp, fds0))
			break;
	}
	free(f);
	return failures != 0;
}

/* shutdown CANCEL_PENDING with calls written ahead: cancelled at once,
 * and never run; the running task finishes. */
static int sc_pipe_shutdown(void *unused)
{
	unsigned fds0 = open_fds();
	filch_procpool *pp = start(&(struct filch_procpool_opts){ .workers = 1 });
	filch_future *f[4];
	char path[4][64];
	const char *msg;
	long ms = 150;

	(void)unused;
	filch_future *gate = submit(pp, t_sleep, &ms, sizeof(ms));

	for (int i = 0; i < 4; i++) {
		trace_path(path[i], sizeof(path[i]), i);
		f[i] = submit(pp, t_touch, path[i], strlen(path[i]));
	}
	while (!filch_future_running(gate))
		usleep(1000);
	usleep(20000); /* written ahead meanwhile */
	check_is(filch_procpool_shutdown(pp, FILCH_SHUTDOWN_CANCEL_PENDING), 0,
		 "shutdown");
	for (int i = 0; i < 4; i++)
		check(filch_future_cancelled(f[i]), "call %d not cancelled", i);
	check_is(outcome(gate, NULL, &msg), 0, "the running task finishes");
	check_is(filch_procpool_shutdown(pp, FILCH_SHUTDOWN_WAIT), 0, "wait");
	for (int i = 0; i < 4; i++) {
		check(!traced(i), "cancelled call %d ran", i);
		filch_future_release(f[i]);
	}
	filch_future_release(gate);
	return !finish(pp, fds0);
}

/* Arguments and results just under FILCH_PROCPOOL_SHM_MIN stream
 * through the socket, each larger than its buffer: calls written ahead
 * must not fill the socket while the worker writes a reply that the pool
 * does not read (neither side would move). Small calls between them. */
static int sc_pipe_big(void *unused)
{
	unsigned fds0 = open_fds();
	filch_procpool *pp = start(&(struct filch_procpool_opts){ .workers = 1 });
	size_t n = FILCH_PROCPOOL_SHM_MIN - 1;
	unsigned char *a = malloc(n);
	filch_future *big[6], *small[6];
	const char *msg;

	(void)unused;
	if (!a)
		return 3;
	for (size_t i = 0; i < n; i++)
		a[i] = pattern(i);
	for (int i = 0; i < 6; i++) {
		big[i] = submit(pp, t_echo, a, n);
		small[i] = submit(pp, t_echo, "xy", 2);
	}
	for (int i = 0; i < 6; i++) {
		struct filch_bytes *b;

		if (check_is(outcome(big[i], &b, &msg), 0, "a big echo"))
			check(b->len == n && !in_shm(b->data) &&
				      ((unsigned char *)b->data)[0] ==
					      pattern(n - 1),
			      "big echo %d: streamed, reversed", i);
		check_is(outcome(small[i], NULL, &msg), 0, "a small echo");
		filch_future_release(big[i]);
		filch_future_release(small[i]);
	}
	free(a);
	return !finish(pp, fds0);
}

/* shutdown KILL alone with calls written ahead behind the running task:
 * that task is killed (cancelled), the calls behind it never ran and run
 * in the replacement (a WAIT shutdown runs every queued task). */
static int sc_pipe_kill(void *unused)
{
	unsigned fds0 = open_fds();
	filch_procpool *pp = start(&(struct filch_procpool_opts){ .workers = 1 });
	struct filch_procpool_stats st;
	filch_future *f[4];
	const char *msg;

	(void)unused;
	filch_future *loop = submit(pp, t_forever, NULL, 0);

	for (int i = 0; i < 4; i++)
		f[i] = submit(pp, t_pid, NULL, 0);
	while (!filch_future_running(loop))
		usleep(1000);
	usleep(20000); /* written ahead meanwhile */
	check_is(filch_procpool_shutdown(pp, FILCH_PROCPOOL_KILL |
						     FILCH_SHUTDOWN_WAIT),
		 0, "shutdown KILL | WAIT");
	check_is(outcome(loop, NULL, &msg), -ECANCELED, "the killed task");
	for (int i = 0; i < 4; i++) {
		pid_of(f[i]);
		filch_future_release(f[i]);
	}
	filch_procpool_stats(pp, &st);
	check_is(st.terminated, 1, "terminated");
	check_is(st.crashes, 0, "crashes");
	check_is(st.started, 2, "workers started");
	filch_future_release(loop);
	return !finish(pp, fds0);
}

/* The voluntary context switches of process pid's thread tid (each one
 * a sleep), or -1. */
static long sleeps(pid_t pid, pid_t tid)
{
	char path[64], line[128];
	long n = -1;

	snprintf(path, sizeof(path), "/proc/%d/task/%d/status", (int)pid,
		 (int)tid);
	FILE *f = fopen(path, "r");

	while (f && fgets(line, sizeof(line), f))
		sscanf(line, "voluntary_ctxt_switches: %ld", &n);
	if (f)
		fclose(f);
	return n;
}

/* The sleeps of this process's threads other than the caller: the
 * completion thread's (an isolated scenario starts no other). */
static long pool_sleeps(void)
{
	pid_t self = (pid_t)syscall(SYS_gettid);
	DIR *d = opendir("/proc/self/task");
	struct dirent *e;
	long n = 0;

	while (d && (e = readdir(d)))
		if (atoi(e->d_name) > 0 && atoi(e->d_name) != self)
			n += sleeps(getpid(), atoi(e->d_name));
	if (d)
		closedir(d);
	return n;
}

/* An initializer that takes 400 ms while the file named by the
 * environment's FILCH_TEST_SLOW_INIT exists (the environment reaches the
 * workers with every start method). */
static int init_slow(void *arg, unsigned index)
{
	const char *path = getenv("FILCH_TEST_SLOW_INIT");

	(void)arg, (void)index;
	if (path && access(path, F_OK) == 0)
		nanosleep(&(struct timespec){ 0, 400 * MS }, NULL);
	return 0;
}

/* The call next in its worker is running (promoted), but the worker dies
 * before it starts it (stopped, then killed, while the completion thread
 * is held): the call is queued again and is pending again, so that
 * filch_future_cancel cancels it, and it never runs. */
static int sc_requeued_pending(void *unused)
{
	unsigned fds0 = open_fds();
	char slow[64], path[64];
	struct filch_procpool_stats st;
	const char *msg;
	int fd;

	(void)unused;
	trace_path(slow, sizeof(slow), 5);
	trace_path(path, sizeof(path), 6);
	setenv("FILCH_TEST_SLOW_INIT", slow, 1);
	filch_procpool *pp = start(&(struct filch_procpool_opts){
		.workers = 1, .initializer = init_slow });
	filch_future *p0 = submit(pp, t_pid, NULL, 0);
	pid_t pid = pid_of(p0);
	filch_future *gate = hold(pp);

	kill(pid, SIGSTOP);
	fd = open(slow, O_WRONLY | O_CREAT | O_CLOEXEC, 0600); /* slow
								  replacement */
	if (fd >= 0)
		close(fd);
	filch_future *a = submit(pp, t_touch, path, strlen(path));

	check(filch_future_running(a), "the call next in its worker runs");
	kill(pid, SIGKILL);
	sem_post(&cb_release);
	for (int i = 0; i < 500; i++) {
		filch_procpool_stats(pp, &st);
		if (st.started == 2)
			break;
		usleep(10000);
	}
	check_is(st.started, 2, "workers started");
	check(!filch_future_running(a), "the call queued again is running");
	check(filch_future_cancel(a), "filch_future_cancel of the call queued "
				      "again");
	check_is(outcome(a, NULL, &msg), -ECANCELED, "the cancelled call");
	filch_future *p1 = submit(pp, t_pid, NULL, 0);

	check(pid_of(p1) != pid, "a replacement runs the next task");
	check(!traced(6), "the cancelled call ran");
	filch_procpool_stats(pp, &st);
	check_is(st.crashes, 0, "crashes");
	unlink(slow);
	unsetenv("FILCH_TEST_SLOW_INIT");
	filch_future_release(p0);
	filch_future_release(p1);
	filch_future_release(gate);
	filch_future_release(a);
	return !finish(pp, fds0);
}

/* terminate of a running task races its completion, with calls written
 * ahead behind it: the worker, killed, may skip some of them first. Those
 * never ran and wait for its death to be queued again: terminate of one
 * of them cancels it (it is pending). The call behind sleeps 300 ms, so
 * that it cannot be done when terminate comes 2 ms after the race: it is
 * pending, running or skipped, never unknown (-ESRCH), and it never
 * completes. With the fork server, the server is stopped meanwhile, so
 * that no death is reported: the calls stay where the race left them
 * until the test has asked. (A call that the worker had started when the
 * kill landed fails with ECHILD; terminate may then find it gone.) */
static int sc_terminate_skipped(void *unused)
{
	unsigned fds0 = open_fds();
	filch_procpool *pp = start(&(struct filch_procpool_opts){ .workers = 1 });
	bool server = method == FILCH_START_FORKSERVER;
	filch_future *q = submit(pp, t_pid, "parent", 6);
	pid_t spid = server ? pid_of(q) : 0;
	const char *msg;
	unsigned bad = 0;

	(void)unused;
	for (int i = 0; i < RACE_ROUNDS; i++) {
		long ms = 2, ms_b = 300;
		filch_future *a = submit(pp, t_sleep, &ms, sizeof(ms));
		filch_future *b = submit(pp, t_sleep, &ms_b, sizeof(ms_b));
		filch_future *c = submit(pp, t_echo, "c", 1);

		while (!filch_future_running(a) && !filch_future_done(a))
			;
		if (server)
			kill(spid, SIGSTOP);
		/* Around the end of a's 2 ms. */
		nanosleep(&(struct timespec){ 0, 1800000 + (i % 64) * 8000 },
			  NULL);
		filch_procpool_terminate(pp, a);
		nanosleep(&(struct timespec){ 0, 2 * MS }, NULL);
		int rc = filch_procpool_terminate(pp, b);

		if (server)
			kill(spid, SIGCONT);
		int ra = outcome(a, NULL, &msg), rb = outcome(b, NULL, &msg);

		check(ra == 0 || ra == -ECANCELED, "a: %d", ra);
		check(rb == -ECANCELED || rb == ECHILD, "b: %d", rb);
		bad += rc != 0 && rb != ECHILD;
		check_is(outcome(c, NULL, &msg), 0, "c");
		filch_future_release(a);
		filch_future_release(b);
		filch_future_release(c);
	}
	check_is(bad, 0, "terminate of a pending or running call failed");
	filch_future_release(q);
	return !finish(pp, fds0);
}

/* The target of the /proc/self/fd entry e in link (cap bytes), or false
 * (".", "..", or gone). */
static bool fd_link(const struct dirent *e, char *link, size_t cap)
{
	char path[300];
	ssize_t l;

	snprintf(path, sizeof(path), "/proc/self/fd/%s", e->d_name);
	if (e->d_name[0] == '.' || (l = readlink(path, link, cap - 1)) < 0)
		return false;
	link[l] = '\0';
	return true;
}

/* Lists the worker's descriptors, one "fd target" line each. */
static int t_fds(const void *arg, size_t len, void **out, size_t *out_len)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	char *buf = malloc(16384), link[256];
	size_t n = 0;

	(void)arg, (void)len;
	if (!d || !buf) {
		if (d)
			closedir(d);
		free(buf);
		return ENOMEM;
	}
	while ((e = readdir(d)) && n < 16000) {
		if (!fd_link(e, link, sizeof(link)))
			continue;
		n += (size_t)snprintf(buf + n, 16384 - n, "%s %s\n", e->d_name,
				      link);
	}
	closedir(d);
	*out = buf;
	*out_len = n;
	return 0;
}

/* A worker holds no descriptor of the pool but its socket: a replacement
 * started while a call with a large argument (a memfd that the pool keeps
 * until the call ends) waits to run does not inherit that memfd (nor the
 * pool's epoll, eventfd, pidfds, marks, other sockets), whatever the start
 * method. */
static int sc_worker_fds(void *unused)
{
	unsigned fds0 = open_fds();
	filch_procpool *pp = start(&(struct filch_procpool_opts){ .workers = 1 });
	size_t big = FILCH_PROCPOOL_SHM_MIN;
	long *arg = calloc(1, big);
	struct filch_bytes *b;
	const char *msg;

	(void)unused;
	*arg = 10; /* t_sleep's ms */
	filch_future *crash = submit(pp, t_exit, NULL, 0);
	filch_future *x = submit(pp, t_sleep, arg, big);
	filch_future *l = submit(pp, t_fds, NULL, 0);

	free(arg);
	check_is(outcome(crash, NULL, &msg), ECHILD, "the crash");
	check_is(outcome(x, NULL, &msg), 0, "the large call");
	if (check_is(outcome(l, &b, &msg), 0, "the listing")) {
		const char *text = b->data, *bad[] = {
			"memfd:", "[eventpoll]", "[eventfd]", "[pidfd]",
			"[signalfd]"
		};
		unsigned socks = 0;

		for (const char *p = text; (p = strstr(p, "socket:")); p++)
			socks++;
		check_is(socks, 1, "sockets in the worker");
		for (size_t k = 0; k < sizeof(bad) / sizeof(*bad); k++)
			check(!strstr(text, bad[k]), "the worker holds %s: %s",
			      bad[k], text);
	}
	filch_future_release(crash);
	filch_future_release(x);
	filch_future_release(l);
	return !finish(pp, fds0);
}

/* ---- pools alive at once ---- */

/* A pool of start method m (any, not the scenario's). */
static filch_procpool *start_as(int m, unsigned workers)
{
	int saved = method;
	filch_procpool *pp;

	method = m;
	pp = start(&(struct filch_procpool_opts){ .workers = workers });
	method = saved;
	return pp;
}

static const int all_methods[] = { FILCH_START_FORKSERVER, FILCH_START_FORK,
				   FILCH_START_SPAWN };

static int64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Destroys pp, which must return within 5 s (a pool's destroy that waits
 * for a process that another pool's process keeps alive never does). */
static void destroy_promptly(filch_procpool *pp, const char *what)
{
	int64_t t0 = now_ns();

	check_is(filch_procpool_destroy(pp), 0, what);
	check(now_ns() - t0 < (int64_t)5 * WATCHDOG_X * 1000000000,
	      "%s took %lld ms", what, (long long)((now_ns() - t0) / MS));
}

/* One round trip through pp: whether it answered. */
static bool answers(filch_procpool *pp)
{
	filch_future *f = submit(pp, t_echo, "ab", 2);
	struct filch_bytes *b = NULL;
	const char *msg;
	bool good = outcome(f, &b, &msg) == 0 && b && b->len == 2 &&
		    memcmp(b->data, "ba", 2) == 0;

	filch_future_release(f);
	return good;
}

/* Two pools alive at once, the second of each start method: the first
 * one's destroy returns at once (the second's processes hold none of its
 * descriptors: its fork server sees the end of its requests), then the
 * second's. */
static int sc_two_alive(void *unused)
{
	unsigned fds0 = open_fds();

	(void)unused;
	for (size_t m = 0; m < 3; m++) {
		filch_procpool *a = start_as(method, 2);
		filch_procpool *b = start_as(all_methods[m], 2);

		check(answers(a) && answers(b), "a round trip failed");
		destroy_promptly(a, "destroy of the first pool");
		check(answers(b), "the second pool after the first's end");
		destroy_promptly(b, "destroy of the second pool");
		check(no_children(), "a process is left (second: %d)",
		      all_methods[m]);
		check_is(open_fds(), fds0, "open fds after both");
	}
	return failures != 0;
}

/* The "fd target" lines of this process's descriptors, in buf. */
static void list_fds(char *buf, size_t cap)
{
	void *out = NULL;
	size_t len = 0;

	buf[0] = '\0';
	if (t_fds(NULL, 0, &out, &len) == 0)
		snprintf(buf, cap, "%.*s", (int)len, (const char *)out);
	free(out);
}

/* Whether the line list holds the target (a line's text after its fd). */
static bool lists_target(const char *list, const char *target)
{
	size_t n = strlen(target);

	for (const char *p = list; (p = strchr(p, ' ')); p++)
		if (strncmp(p + 1, target, n) == 0 && p[1 + n] == '\n')
			return true;
	return false;
}

/* A worker of a pool of each start method, made while a pool of the
 * scenario's method is alive (with an argument's memfd pending), holds
 * none of that pool's descriptors: no socket, memfd, epoll, eventfd,
 * pidfd or signalfd but its own socket; no target that the other pool
 * added to this process (sockets and memfds: their inodes tell them
 * apart). A descriptor that the program opened before the pools, not
 * close-on-exec, is still open in the worker. */
static int sc_other_pool_fds(void *unused)
{
	static char before[16384], during[16384];
	unsigned fds0 = open_fds();
	int user[2];
	char user_link[64];

	(void)unused;
	if (!check(pipe(user) == 0, "pipe"))
		return 1;
	snprintf(before, sizeof(before), "/proc/self/fd/%d", user[0]);
	ssize_t l = readlink(before, user_link, sizeof(user_link) - 1);

	user_link[l > 0 ? l : 0] = '\0';
	list_fds(before, sizeof(before));
	for (size_t m = 0; m < 3; m++) {
		filch_procpool *a = start_as(method, 2);
		size_t big = FILCH_PROCPOOL_SHM_MIN;
		long *arg = calloc(1, big);

		*arg = 300; /* t_sleep's ms: a's memfd stays meanwhile */
		filch_future *x = submit(a, t_sleep, arg, big);

		free(arg);
		list_fds(during, sizeof(during));
		filch_procpool *b = start_as(all_methods[m], 1);
		filch_future *f = submit(b, t_fds, NULL, 0);
		struct filch_bytes *r = NULL;
		const char *msg;

		if (check_is(outcome(f, &r, &msg), 0, "the listing")) {
			const char *text = r->data, *bad[] = {
				"memfd:filch-", "[eventpoll]", "[eventfd]",
				"[pidfd]", "[signalfd]"
			};
			unsigned socks = 0;

			for (const char *p = text; (p = strstr(p, "socket:"));
			     p++)
				socks++;
			check_is(socks, 1, "sockets in the worker");
			for (size_t k = 0; k < sizeof(bad) / sizeof(*bad); k++)
				check(!strstr(text, bad[k]),
				      "the worker (%d, beside %d) holds %s: %s",
				      all_methods[m], method, bad[k], text);
			/* What a added to this process: none in the worker. */
			for (const char *p = during; (p = strchr(p, ' '));) {
				char target[256];
				size_t n = strcspn(++p, "\n");

				snprintf(target, sizeof(target), "%.*s",
					 (int)n, p);
				check(lists_target(before, target) ||
					      !strstr(target, "socket:") ||
					      !lists_target(text, target),
				      "the worker holds the other pool's %s",
				      target);
				check(lists_target(before, target) ||
					      !strstr(target, "memfd:") ||
					      !lists_target(text, target),
				      "the worker holds the other pool's %s",
				      target);
			}
			check(lists_target(text, user_link),
			      "the program's %s is gone in the worker: %s",
			      user_link, text);
		}
		filch_future_release(f);
		check_is(outcome(x, NULL, &msg), 0, "the large call");
		filch_future_release(x);
		destroy_promptly(b, "destroy of the listed pool");
		destroy_promptly(a, "destroy of the other pool");
	}
	close(user[0]);
	close(user[1]);
	check(no_children(), "a process is left");
	check_is(open_fds(), fds0, "open fds after the pools");
	return failures != 0;
}

/* Children of this process that are zombies (/proc's stat: state Z). */
static unsigned zombies(void)
{
	DIR *d = opendir("/proc");
	struct dirent *e;
	unsigned n = 0;

	while (d && (e = readdir(d))) {
		char path[300], stat[512];
		int ppid = 0;
		char state = 0;
		FILE *fp;

		if (e->d_name[0] < '0' || e->d_name[0] > '9')
			continue;
		snprintf(path, sizeof(path), "/proc/%s/stat", e->d_name);
		if (!(fp = fopen(path, "r")))
			continue;
		if (fgets(stat, sizeof(stat), fp)) {
			const char *p = strrchr(stat, ')');

			if (p)
				sscanf(p + 1, " %c %d", &state, &ppid);
		}
		fclose(fp);
		n += state == 'Z' && ppid == getpid();
	}
	if (d)
		closedir(d);
	return n;
}

/* 100 pools, each made while the one before is alive and destroyed
 * after the next one is made (start methods in turn, beginning with the
 * scenario's): each destroy returns at once, and leaves no zombie; at
 * the end no process and no descriptor is left. */
static int sc_overlapping_pools(void *unused)
{
	unsigned fds0 = open_fds();
	filch_procpool *prev = NULL;

	(void)unused;
	for (int i = 0; i < 100 && !failures; i++) {
		int m = all_methods[(size_t)(method + i) % 3];
		filch_procpool *pp = start_as(m, 1);

		if (i % 4 == 0)
			check(answers(pp), "pool %d did not answer", i);
		if (prev)
			destroy_promptly(prev, "destroy of the older pool");
		check_is(zombies(), 0, "zombies");
		prev = pp;
	}
	if (prev)
		destroy_promptly(prev, "destroy of the last pool");
	check(no_children(), "a process is left");
	check_is(open_fds(), fds0, "open fds after the pools");
	return failures != 0;
}

/* The program forks while a pool is alive (another thread busy with a
 * call that sends a memfd): the fork returns, and the child makes a pool
 * of its own, which works, and its destroy returns (not under TSan, which
 * kills a child of a threaded fork that starts a thread). */
static int sc_fork_beside_pool(void *unused)
{
	unsigned fds0 = open_fds();
	filch_procpool *a = start_as(method, 1);
	size_t big = FILCH_PROCPOOL_SHM_MIN;
	long *arg = calloc(1, big);
	int st = -1;

	(void)unused;
	*arg = 50;
	filch_future *x = submit(a, t_sleep, arg, big);

	free(arg);
	pid_t c = fork();

	if (c == 0) {
		filch_procpool *b = NULL;

#ifdef __SANITIZE_THREAD__
		_exit(0); /* TSan: no thread after a threaded fork */
#endif
		if (filch_procpool_create(
			    &b, &(struct filch_procpool_opts){
					.workers = 1, .start_method = method }))
			_exit(2);
		bool good = answers(b);

		_exit(filch_procpool_destroy(b) == 0 && good ? 0 : 1);
	}
	waitpid(c, &st, 0);
	check(WIFEXITED(st) && WEXITSTATUS(st) == 0,
	      "a pool in the child of a fork: status %#x", st);
	filch_future_release(x);
	return !finish(a, fds0);
}

/* An initializer that exits at once while the file named by the
 * environment's FILCH_TEST_INIT_EXIT exists. */
static int init_exit(void *arg, unsigned index)
{
	const char *path = getenv("FILCH_TEST_INIT_EXIT");

	(void)arg, (void)index;
	if (path && access(path, F_OK) == 0)
		_exit(0);
	return 0;
}

/* The pids that the pidfds of this process name (fdinfo's Pid), in pids
 * (up to cap): how many. */
static unsigned pidfd_pids(pid_t *pids, unsigned cap)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	unsigned n = 0;

	while (d && (e = readdir(d))) {
		char path[300], link[64], line[128];

		if (!fd_link(e, link, sizeof(link)) || !strstr(link, "[pidfd]"))
			continue;
		snprintf(path, sizeof(path), "/proc/self/fdinfo/%s",
			 e->d_name);
		FILE *fp = fopen(path, "r");
		int pid = 0;

		while (fp && fgets(line, sizeof(line), fp))
			sscanf(line, "Pid: %d", &pid);
		if (fp)
			fclose(fp);
		if (n < cap)
			pids[n] = pid;
		n++;
	}
	if (d)
		closedir(d);
	return n;
}

/* The outcome of ROUNDS empty round trips on a pool of one worker: how
 * many times its worker, and its completion thread, slept meanwhile, and
 * how many round trips took longer than SLOW_NS. */
#define ROUNDS 200
#define SLOW_NS 500000
struct spin_batch {
	long worker, pool, slow;
};

static struct spin_batch spin_rounds(int64_t spin_ns)
{
	unsigned fds0 = open_fds();
	filch_procpool *pp = start(&(struct filch_procpool_opts){
		.workers = 1, .flags = FILCH_PROCPOOL_OPT_SPIN,
		.spin_ns = spin_ns });
	struct spin_batch r = { 0 };
	struct filch_bytes *b;
	const char *msg;
	filch_future *f = submit(pp, t_pid, NULL, 0);
	pid_t pid = 0;

	if (!check_is(outcome(f, &b, &msg), 0, "the worker's pid"))
		exit(3);
	memcpy(&pid, b->data, sizeof(pid));
	filch_future_release(f);
	long w0 = sleeps(pid, pid), p0 = pool_sleeps();

	for (int i = 0; i < ROUNDS; i++) {
		int64_t t0 = tap_now_ns();

		f = submit(pp, t_echo, "x", 1);
		check_is(outcome(f, NULL, &msg), 0, "a round trip");
		filch_future_release(f);
		r.slow += tap_now_ns() - t0 > SLOW_NS;
	}
	r.worker = sleeps(pid, pid) - w0;
	r.pool = pool_sleeps() - p0;
	check(w0 >= 0 && r.worker >= 0, "the worker's status");
	finish(pp, fds0);
	return r;
}

/* FILCH_PROCPOOL_OPT_SPIN: with 1 ms, the worker and the completion
 * thread take the frames of back-to-back round trips while they poll,
 * without sleeping; with 0 they sleep for most (not all: a worker
 * preempted between its reply and its read finds the next call there).
 * A round trip slower than SLOW_NS (a loaded machine, a sanitizer) may
 * cost each poller two sleeps (the wait that outlasted its poll, and the
 * next, which then does not poll): the bound for the pollers allows
 * those and a quarter of the round trips besides, and they must sleep
 * less than half as often as without polling, in the same try; up to
 * SPIN_TRIES tries. spin_ns is read only with the flag. */
#define SPIN_TRIES 5
static int sc_spin(void *unused)
{
	struct spin_batch r, off;
	long most = 0;

	(void)unused;
	for (int i = 0; i < SPIN_TRIES; i++) {
		r = spin_rounds(1000000);
		off = spin_rounds(0);
		most = ROUNDS / 4 + 2 * r.slow;
		if (r.worker <= most && r.pool <= most &&
		    2 * (r.worker + r.pool) < off.worker + off.pool)
			break;
	}
	check(r.worker <= most, "the polling worker slept %ld times in %d "
				"round trips (%ld slow)", r.worker, ROUNDS,
	      r.slow);
	check(r.pool <= most, "the polling completion thread slept %ld times "
			      "in %d round trips (%ld slow)", r.pool, ROUNDS,
	      r.slow);
	check(2 * (r.worker + r.pool) < off.worker + off.pool,
	      "the pollers slept %ld + %ld times, %ld + %ld without polling",
	      r.worker, r.pool, off.worker, off.pool);

	unsigned fds0 = open_fds();
	filch_procpool *pp = start(&(struct filch_procpool_opts){
		.workers = 1, .spin_ns = -1 });
	const char *msg;
	filch_future *f = submit(pp, t_echo, "x", 1);

	check_is(outcome(f, NULL, &msg), 0, "spin_ns without the flag");
	filch_future_release(f);
	return !finish(pp, fds0);
}

/* A replacement whose initializer exits at once: its death is reported
 * (the slot stays empty, the other worker serves), and the pool's pidfds
 * name its live workers and nothing else, whatever the start method
 * (with the fork server, the server made them before it could reap). */
static int sc_init_exits(void *unused)
{
	unsigned fds0 = open_fds();
	char flag[64];
	struct filch_procpool_stats st;
	const char *msg;
	pid_t pids[4];
	int fd;

	(void)unused;
	trace_path(flag, sizeof(flag), 7);
	setenv("FILCH_TEST_INIT_EXIT", flag, 1);
	filch_procpool *pp = start(&(struct filch_procpool_opts){
		.workers = 2, .initializer = init_exit });
	long ms = 200;
	filch_future *a = submit(pp, t_sleep, &ms, sizeof(ms));
	filch_future *p0 = submit(pp, t_pid, NULL, 0);
	pid_t gone = pid_of(p0), live = 0; /* a's worker is busy */

	check_is(pidfd_pids(pids, 4), 2, "pidfds of 2 workers");
	fd = open(flag, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
	if (fd >= 0)
		close(fd);
	filch_future *crash = submit(pp, t_segv, NULL, 0); /* in gone */

	check_is(outcome(crash, NULL, &msg), ECHILD, "the crash");
	for (int i = 0; i < 500; i++) {
		filch_procpool_stats(pp, &st);
		if (st.started == 3 && pidfd_pids(pids, 4) == 1)
			break;
		usleep(10000);
	}
	check_is(st.started, 3, "workers started");
	check_is(outcome(a, NULL, &msg), 0, "the other worker's task");
	for (int i = 0; i < 4; i++) {
		filch_future *p = submit(pp, t_pid, NULL, 0);
		pid_t pid = pid_of(p);

		if (!live)
			live = pid;
		check(pid == live && pid != gone, "the live worker serves");
		filch_future_release(p);
	}
	check_is(pidfd_pids(pids, 4), 1, "pidfds after the replacement died");
	check_is(pids[0], live, "the pidfd names the live worker");
	unlink(flag);
	unsetenv("FILCH_TEST_INIT_EXIT");
	filch_future_release(a);
	filch_future_release(p0);
	filch_future_release(crash);
	return !finish(pp, fds0);
}

/* The worker's address space (VmSize), in bytes. */
static int t_vm(const void *arg, size_t len, void **out, size_t *out_len)
{
	FILE *fp = fopen("/proc/self/status", "r");
	size_t *vm = malloc(sizeof(*vm));
	char line[128];
	unsigned long kb = 0;

	(void)arg, (void)len;
	while (fp && fgets(line, sizeof(line), fp))
		sscanf(line, "VmSize: %lu kB", &kb);
	if (fp)
		fclose(fp);
	if (!vm || !kb) {
		free(vm);
		return EIO;
	}
	*vm = (size_t)kb << 10;
	*out = vm;
	*out_len = sizeof(*vm);
	return 0;
}

/* Creates the file whose NUL-terminated name begins its argument. */
static int t_mark(const void *arg, size_t len, void **out, size_t *out_len)
{
	(void)out, (void)out_len;
	if (!memchr(arg, '\0', len))
		return EINVAL;
	int fd = open(arg, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);

	if (fd < 0)
		return errno;
	close(fd);
	return 0;
}

/* A worker whose memory limit leaves no room to map a call's argument (a
 * memfd of 48 MiB, the limit 16 MiB above the worker's own address space)
 * exits, the call counted as started: it fails once with ECHILD ("exited
 * with status 1"), its function never ran, one replacement is started
 * (not one per retry of the call, each dying alike), and the pool goes on
 * serving calls with small arguments. */
static int sc_arg_map_fails(void *unused)
{
	unsigned fds0 = open_fds();
	filch_procpool *pp = start(&(struct filch_procpool_opts){ .workers = 1 });
	filch_future *v = submit(pp, t_vm, NULL, 0);
	struct filch_procpool_stats st;
	struct filch_bytes *b;
	const char *msg;
	size_t vm = 0, big = 48u << 20;
	char path[64];

	(void)unused;
	if (check_is(outcome(v, &b, &msg), 0, "the worker's VmSize"))
		memcpy(&vm, b->data, sizeof(vm));
	filch_future_release(v);
	check_is(filch_procpool_destroy(pp), 0, "destroy");
	pp = start(&(struct filch_procpool_opts){
		.workers = 1, .memory_limit = vm + (16u << 20) });
	trace_path(path, sizeof(path), 8);
	char *arg = calloc(1, big);

	if (!arg)
		return 3;
	memcpy(arg, path, strlen(path) + 1);
	filch_future *f = submit(pp, t_mark, arg, big);

	free(arg);
	check_is(outcome(f, NULL, &msg), ECHILD, "the call without room");
	check(strstr(msg, "exited with status 1"), "message \"%s\"", msg);
	check(!traced(8), "the function ran");
	filch_future *p = submit(pp, t_echo, "small", 5);

	check_is(outcome(p, NULL, &msg), 0, "a small call after it");
	filch_procpool_stats(pp, &st);
	check_is(st.crashes, 1, "crashes");
	check_is(st.started, 2, "workers started");
	filch_future_release(f);
	filch_future_release(p);
	return !finish(pp, fds0);
}

/* A callback of a future that terminate or shutdown cancels, in the
 * caller's thread, destroys the pool (or shuts it down with WAIT) before
 * that call returns: it returns 0 once the workers are reaped, the call
 * that cancelled returns, and the pool is freed after both. */
struct in_cb {
	filch_procpool *pp;
	unsigned flags; /* 0: destroy, else shutdown with these */
	int rc;
	bool ran;
};

static void end_in_cb(filch_future *f, void *arg)
{
	struct in_cb *c = arg;

	(void)f;
	c->rc = c->flags ? filch_procpool_shutdown(c->pp, c->flags) :
			   filch_procpool_destroy(c->pp);
	c->ran = true;
}

static int sc_end_in_callback(void *unused)
{
	unsigned fds0 = open_fds();
	const char *msg;
	long ms = 100;

	(void)unused;
	for (int how = 0; how < 3; how++) {
		filch_procpool *pp =
			start(&(struct filch_procpool_opts){ .workers = 1 });
		struct in_cb c = { .pp = pp,
				   .flags = how == 2 ? FILCH_SHUTDOWN_WAIT : 0 };
		filch_future *gate = submit(pp, t_sleep, &ms, sizeof(ms));
		filch_future *b = submit(pp, t_pid, NULL, 0);

		check_is(filch_future_on_done(b, end_in_cb, &c), 0, "on_done");
		while (!filch_future_running(gate))
			usleep(1000);
		/* how 0, 2: terminate of a pending task; 1: a cancelling
		 * shutdown. The pool may be gone when either returns. */
		if (how == 1)
			check_is(filch_procpool_shutdown(
					 pp, FILCH_SHUTDOWN_CANCEL_PENDING),
				 0, "shutdown CANCEL_PENDING");
		else
			check_is(filch_procpool_terminate(pp, b), 0,
				 "terminate");
		check(c.ran, "the callback ran (%d)", how);
		check_is(c.rc, 0, how == 2 ? "shutdown WAIT in the callback" :
					     "destroy in the callback");
		check(filch_future_cancelled(b), "the task cancelled");
		check(filch_future_done(gate), "destroy returned before the "
					       "running task was done");
		check_is(outcome(gate, NULL, &msg), 0, "the running task");
		if (how == 2)
			check_is(filch_procpool_destroy(pp), 0, "destroy");
		filch_future_release(gate);
		filch_future_release(b);
		check(no_children(), "a worker process is left");
	}
	check_is(open_fds(), fds0, "open fds after destroy");
	return failures != 0;
}

/* ---- the pool's kills held back ---- */

/*
 * This program defines kill() and syscall(), and the runtime, linked into
 * it, sends a worker its SIGKILL through them: kill() with fork and spawn,
 * pidfd_send_signal with the fork server. While kills_held is set, such a
 * SIGKILL is not sent but kept, as a pidfd of its target, until
 * release_kills() sends it: the worker lives on, runs its call to its end
 * and skips the calls that the pool cancelled in it, as when the
 * completion thread is preempted between its cancels and its kill. Any
 * other call goes to the C library's function.
 */
#define HELD_MAX 8
static pthread_mutex_t held_lock = PTHREAD_MUTEX_INITIALIZER;
/* Set by hold_kills, cleared by release_kills (under held_lock); relaxed:
 * the test sets it before the call that makes the pool kill (whose lock
 * orders it before the kill), and the pidfds kept are under held_lock. */
static atomic_bool kills_held;
static int held_fd[HELD_MAX]; /* under held_lock */
static unsigned nheld;	      /* under held_lock */

typedef long (*syscall_fn)(long, ...);
typedef int (*kill_fn)(pid_t, int);

static syscall_fn libc_syscall(void)
{
	static _Atomic(syscall_fn) fn;
	syscall_fn f = atomic_load_explicit(&fn, memory_order_relaxed);

	if (!f) {
		f = (syscall_fn)(uintptr_t)dlsym(RTLD_NEXT, "syscall");
		atomic_store_explicit(&fn, f, memory_order_relaxed);
	}
	return f;
}

static kill_fn libc_kill(void)
{
	static _Atomic(kill_fn) fn;
	kill_fn f = atomic_load_explicit(&fn, memory_order_relaxed);

	if (!f) {
		f = (kill_fn)(uintptr_t)dlsym(RTLD_NEXT, "kill");
		atomic_store_explicit(&fn, f, memory_order_relaxed);
	}
	return f;
}

/* Keeps pidfd, the target of a SIGKILL, if kills are held: true, else
 * closes it. */
static bool hold_kill(int pidfd)
{
	bool kept = false;

	pthread_mutex_lock(&held_lock);
	if (atomic_load_explicit(&kills_held, memory_order_relaxed) &&
	    nheld < HELD_MAX) {
		held_fd[nheld++] = pidfd;
		kept = true;
	}
	pthread_mutex_unlock(&held_lock);
	if (!kept)
		close(pidfd);
	return kept;
}

int kill(pid_t pid, int sig)
{
	if (sig == SIGKILL && pid > 0 &&
	    atomic_load_explicit(&kills_held, memory_order_relaxed)) {
		int fd = (int)libc_syscall()(SYS_pidfd_open, pid, 0);

		if (fd >= 0 && hold_kill(fd))
			return 0;
	}
	return libc_kill()(pid, sig);
}

/* The six arguments that may follow the number are passed on as longs,
 * as the C library's syscall() reads them. */
long syscall(long n, ...)
{
	va_list ap;
	long a[6];

	va_start(ap, n);
	for (int i = 0; i < 6; i++)
		a[i] = va_arg(ap, long);
	va_end(ap);
	if (n == SYS_pidfd_send_signal && a[1] == SIGKILL &&
	    atomic_load_explicit(&kills_held, memory_order_relaxed)) {
		int fd = fcntl((int)a[0], F_DUPFD_CLOEXEC, 0);

		if (fd >= 0 && hold_kill(fd))
			return 0;
	}
	return libc_syscall()(n, a[0], a[1], a[2], a[3], a[4], a[5]);
}

static void hold_kills(void)
{
	atomic_store_explicit(&kills_held, true, memory_order_relaxed);
}

/* Sends the kills held, and holds no more. */
static void release_kills(void)
{
	pthread_mutex_lock(&held_lock);
	atomic_store_explicit(&kills_held, false, memory_order_relaxed);
	for (unsigned i = 0; i < nheld; i++) {
		libc_syscall()(SYS_pidfd_send_signal, held_fd[i], SIGKILL, NULL,
			       0);
		close(held_fd[i]);
	}
	nheld = 0;
	pthread_mutex_unlock(&held_lock);
}

/* Whether a kill is held (polled up to 5 s). */
static bool wait_held_kill(void)
{
	for (int i = 0; i < 500; i++) {
		pthread_mutex_lock(&held_lock);
		unsigned n = nheld;

		pthread_mutex_unlock(&held_lock);
		if (n)
			return true;
		usleep(10000);
	}
	return false;
}

/* Releases the kills held 200 ms after it starts (a thread). */
static void *release_later(void *arg)
{
	(void)arg;
	nanosleep(&(struct timespec){ 0, 200 * MS }, NULL);
	release_kills();
	return NULL;
}

/* Creates the file path. */
static void create_file(const char *path)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);

	if (fd >= 0)
		close(fd);
}

/* Creates the file "path.run" (path: its argument, not NUL-terminated),
 * then returns once the file path exists, polled each millisecond up to
 * 10 s: a call that the test sees start, and that ends when it says. */
static int t_until(const void *arg, size_t len, void **out, size_t *out_len)
{
	char path[256], run[260];

	(void)out, (void)out_len;
	if (len >= sizeof(path))
		return EINVAL;
	memcpy(path, arg, len);
	path[len] = '\0';
	snprintf(run, sizeof(run), "%s.run", path);
	create_file(run);
	for (int i = 0; i < 10000; i++) {
		if (access(path, F_OK) == 0)
			return 0;
		nanosleep(&(struct timespec){ 0, MS }, NULL);
	}
	return ETIMEDOUT;
}

/* Submits t_until of the file path (from trace_path) and waits until it
 * started in its worker: its future. */
static filch_future *submit_until(filch_procpool *pp, const char *path)
{
	char run[80];
	filch_future *f = submit(pp, t_until, path, strlen(path));

	snprintf(run, sizeof(run), "%s.run", path);
	for (int i = 0; i < 500 && access(run, F_OK) != 0; i++)
		usleep(10000);
	check(unlink(run) == 0, "the call did not start in 5 s");
	return f;
}

/* The running call's reply wins over its worker's kill (shutdown KILL,
 * or terminate then destroy): the worker, its kill held, ends the call
 * and skips the two calls written behind it, cancelled in it as it was
 * doomed. They never ran: the completion thread waits for the worker's
 * death, queues them again, and the replacement runs them (a closing pool
 * runs what is queued) before the shutdown WAIT or destroy returns. The
 * kill is sent 200 ms after the call ended, from another thread: by then
 * the completion thread has read the skips (on a machine slower than that
 * the test would pass without the wait, never fail with it). */
static int sc_kill_reply_wins(void *unused)
{
	unsigned fds0 = open_fds();
	struct filch_procpool_stats st;
	const char *msg;
	char go[64];

	(void)unused;
	for (int how = 0; how < 2; how++) {
		filch_procpool *pp =
			start(&(struct filch_procpool_opts){ .workers = 1 });
		pthread_t rel;

		trace_path(go, sizeof(go), 9);
		filch_future *a = submit_until(pp, go);
		filch_future *b = submit(pp, t_echo, "b", 1);
		filch_future *c = submit(pp, t_echo, "c", 1);

		hold_kills();
		if (how == 0)
			check_is(filch_procpool_shutdown(pp, FILCH_PROCPOOL_KILL),
				 0, "shutdown KILL");
		else
			check_is(filch_procpool_terminate(pp, a), 0,
				 "terminate");
		check(wait_held_kill(), "the pool killed the worker (%d)", how);
		create_file(go);
		check_is(outcome(a, NULL, &msg), 0, "the call whose reply won");
		if (pthread_create(&rel, NULL, release_later, NULL))
			return 3;
		if (how == 0) {
			check_is(filch_procpool_shutdown(pp,
							 FILCH_SHUTDOWN_WAIT),
				 0, "shutdown WAIT");
			filch_procpool_stats(pp, &st);
			check_is(st.started, 2, "workers started");
			check_is(st.crashes + st.terminated, 0,
				 "crashes and calls terminated");
		}
		check_is(filch_procpool_destroy(pp), 0, "destroy");
		pthread_join(rel, NULL);
		if (!check(filch_future_done(b) && filch_future_done(c),
			   "%s returned, a skipped call is %d and %d",
			   how ? "destroy" : "shutdown WAIT",
			   filch_future_state(b), filch_future_state(c)))
			return 1; /* they never complete: the pool is held */
		check_is(outcome(b, NULL, &msg), 0, "a skipped call");
		check_is(outcome(c, NULL, &msg), 0, "a skipped call");
		filch_future_release(a);
		filch_future_release(b);
		filch_future_release(c);
		unlink(go);
	}
	check(no_children(), "a worker process is left");
	check_is(open_fds(), fds0, "open fds after destroy");
	return failures != 0;
}

/* A cancelling shutdown in a callback of a's future, which runs in the
 * completion thread as it reads a's reply: before it reads the next. */
struct cancel_in_cb {
	filch_procpool *pp;
	filch_future *b;
	int rc, b_state;
	bool pool_thread;
	sem_t ran;
};

static void cancel_in_cb(filch_future *f, void *arg)
{
	struct cancel_in_cb *s = arg;

	(void)f;
	s->pool_thread = !pthread_equal(pthread_self(), tester);
	s->b_state = filch_future_state(s->b);
	s->rc = filch_procpool_shutdown(s->pp, FILCH_SHUTDOWN_CANCEL_PENDING);
	sem_post(&s->ran);
}

/* terminate of a running call a whose reply wins over the kill (held):
 * the doomed worker never starts call b, written behind a (it skips it),
 * so b stays pending rather than running when a's reply is read, and a
 * cancelling shutdown right then (in a's callback, before b's skip is
 * read) cancels it: b never runs, and no replacement is started for it. */
static int sc_doomed_next_pending(void *unused)
{
	unsigned fds0 = open_fds();
	filch_procpool *pp = start(&(struct filch_procpool_opts){ .workers = 1 });
	struct cancel_in_cb s = { .pp = pp, .rc = 1, .b_state = -1 };
	struct filch_procpool_stats st;
	const char *msg;
	char go[64], path[64];

	(void)unused;
	trace_path(go, sizeof(go), 10);
	trace_path(path, sizeof(path), 11);
	filch_future *a = submit_until(pp, go);
	filch_future *b = submit(pp, t_touch, path, strlen(path));

	s.b = b;
	tester = pthread_self();
	sem_init(&s.ran, 0, 0);
	check_is(filch_future_on_done(a, cancel_in_cb, &s), 0, "on_done");
	hold_kills();
	check_is(filch_procpool_terminate(pp, a), 0, "terminate");
	check(wait_held_kill(), "terminate killed the worker");
	create_file(go);
	sem_wait(&s.ran);
	check(s.pool_thread, "a's callback ran in the completion thread");
	check_is(s.b_state, FILCH_PENDING, "b, not started, as a's reply won");
	check_is(s.rc, 0, "shutdown CANCEL_PENDING");
	release_kills();
	check_is(filch_procpool_shutdown(pp, FILCH_SHUTDOWN_WAIT), 0,
		 "shutdown WAIT");
	check_is(outcome(a, NULL, &msg), 0, "the call whose reply won");
	check_is(outcome(b, NULL, &msg), -ECANCELED,
		 "b after the cancelling shutdown");
	check(!traced(11), "b ran after the cancelling shutdown");
	filch_procpool_stats(pp, &st);
	check_is(st.started, 1, "workers started");
	sem_destroy(&s.ran);
	unlink(go);
	filch_future_release(a);
	filch_future_release(b);
	return !finish(pp, fds0);
}

/* A replacement started while this process can make no descriptor
 * (RLIMIT_NOFILE lowered to 0; those open stay): with the fork server,
 * the worker's socket comes without its descriptor (the kernel drops it
 * and says MSG_CTRUNC), and so does the pidfd of the server's second
 * answer; with fork and spawn, the socketpair fails. The slot stays
 * empty and the other worker serves. Once descriptors can be made again,
 * the next replacement starts and runs the next call (if the second
 * answer were left unread, that start would read it as its own, and
 * fail: no worker left). No descriptor is left behind. */
static int sc_fd_table_full(void *unused)
{
	unsigned fds0 = open_fds();
	filch_procpool *pp = start(&(struct filch_procpool_opts){ .workers = 2 });
	struct filch_procpool_stats st;
	struct rlimit rl, none;
	const char *msg;

	(void)unused;
	if (getrlimit(RLIMIT_NOFILE, &rl))
		return 3;
	none = rl;
	none.rlim_cur = 0;
	if (setrlimit(RLIMIT_NOFILE, &none))
		return 3;
	filch_future *crash = submit(pp, t_exit, NULL, 0);
	int rc = outcome(crash, NULL, &msg);
	/* Its reply is read once the completion thread is done with the
	 * death before: the replacement's start too. */
	filch_future *p0 = submit(pp, t_pid, NULL, 0);
	pid_t pid0 = pid_of(p0);

	setrlimit(RLIMIT_NOFILE, &rl);
	check_is(rc, ECHILD, "a crash with the descriptor table full");
	filch_procpool_stats(pp, &st);
	check_is(st.started, 2, "workers started (none in the full table)");
	filch_future *crash2 = submit(pp, t_exit, NULL, 0);

	check_is(outcome(crash2, NULL, &msg), ECHILD, "a crash of the other");
	filch_future *p1 = submit(pp, t_pid, NULL, 0);

	pid_t pid1 = pid_of(p1);

	check(pid1 && pid1 != pid0, "a call after both crashes ran in the "
				    "replacement (%d)", (int)pid1);
	filch_procpool_stats(pp, &st);
	check_is(st.started, 3, "workers started");
	check_is(st.crashes, 2, "crashes");
	filch_future_release(crash);
	filch_future_release(crash2);
	filch_future_release(p0);
	filch_future_release(p1);
	return !finish(pp, fds0);
}

static const struct scenario {
	const char *name;
	isolate_fn fn;
	unsigned watchdog_s;
	bool unsanitized_only;
} scenarios[] = {
	{ "results and errors round-trip as bytes", sc_roundtrip, 10, false },
	{ "bad input: -EINVAL, -ESRCH, -ESHUTDOWN, -EOWNERDEAD, no output",
	  sc_badinput, 10, false },
	{ "the initializer runs in the worker", sc_initializer, 10, false },
	{ "a worker is a copy of the program, or a fresh exec (spawn)",
	  sc_fresh, 10, false },
	{ "large arguments and results cross in shared memory", sc_large, 60,
	  false },
	{ "the shared-memory threshold; filch_bytes_free",
	  sc_shm_threshold, 20, false },
	{ "shared memory after a crash, terminate, cancel, shutdown",
	  sc_shm_paths, 20, false },
	{ "a task that segfaults fails with ECHILD, the pool goes on", sc_segv,
	  10, false },
	{ "a task that exits fails with ECHILD, the pool goes on", sc_exit, 10,
	  false },
	{ "a task that loops forever meets the time limit", sc_time_limit, 10,
	  false },
	{ "terminate: a running task is killed, a pending one cancelled",
	  sc_terminate, 10, false },
	{ "terminate racing completion: exactly one outcome",
	  sc_terminate_race, 60, false },
	{ "max_tasks_per_child recycles workers", sc_recycle, 10, false },
	{ "a task function of a shared library", sc_module, 10, false },
	{ "map: results in input order, chunks per round trip",
	  sc_map_order, 20, false },
	{ "map: an item's error, a crash, then the end", sc_map_errors, 10,
	  false },
	{ "map: empty input, timeout, early close, bad arguments",
	  sc_map_edges, 10, false },
	{ "memory_limit fails a large allocation", sc_memory_limit, 10, true },
	{ "shutdown WAIT runs every task", sc_shutdown_wait, 10, false },
	{ "shutdown WAIT: a crash meanwhile, the queued task still runs",
	  sc_shutdown_wait_crash, 10, false },
	{ "shutdown CANCEL_PENDING cancels, the running task finishes",
	  sc_shutdown_cancel, 10, false },
	{ "shutdown KILL kills the running tasks", sc_shutdown_kill, 10,
	  false },
	{ "pools created and destroyed leave no process or fd",
	  sc_many_pools, 120, false },
	{ "the owner killed: its workers die", sc_owner_killed, 10, false },
	{ "a lock held at a replacement's start", sc_lock_held, 10, false },
	{ "pipeline: calls written ahead survive a crash before them",
	  sc_pipe_crash, 10, false },
	{ "pipeline: terminate or cancel of a call written ahead",
	  sc_pipe_cancel, 10, false },
	{ "pipeline: the time limit counts from each task's start",
	  sc_pipe_time_limit, 10, false },
	{ "pipeline: max_tasks_per_child below the depth", sc_pipe_recycle,
	  10, false },
	{ "pipeline: 10^5 small tasks with 1 and 2 workers", sc_pipe_many, 120,
	  false },
	{ "pipeline: shutdown CANCEL_PENDING of calls written ahead",
	  sc_pipe_shutdown, 10, false },
	{ "pipeline: shutdown KILL, the calls behind run in the replacement",
	  sc_pipe_kill, 10, false },
	{ "pipeline: streamed calls and replies larger than the socket",
	  sc_pipe_big, 20, false },
	{ "pipeline: a submission writes to an idle worker directly, in order",
	  sc_pipe_direct, 10, false },
	{ "pipeline: direct calls behind a crash run in the replacement",
	  sc_pipe_direct_crash, 10, false },
	{ "spin: polling workers and completion thread sleep less",
	  sc_spin, 30, false },
	{ "destroy or shutdown WAIT in a callback of a cancelled task",
	  sc_end_in_callback, 10, false },
	{ "a call queued again after its worker died is pending again",
	  sc_requeued_pending, 10, false },
	{ "terminate of a call that a dying worker skipped",
	  sc_terminate_skipped, 60, false },
	{ "a worker holds no descriptor of the pool but its socket",
	  sc_worker_fds, 10, false },
	{ "a replacement whose initializer exits at once; the pidfds",
	  sc_init_exits, 10, false },
	{ "memory_limit leaves no room for the argument: one failure",
	  sc_arg_map_fails, 10, true },
	{ "two pools alive: the first one's destroy returns at once",
	  sc_two_alive, 30, false },
	{ "a worker holds no descriptor of another pool, keeps the program's",
	  sc_other_pool_fds, 30, false },
	{ "100 pools, two alive at once: no zombie, no fd left",
	  sc_overlapping_pools, 120, false },
	{ "a pool in the child of the program's fork beside a pool",
	  sc_fork_beside_pool, 10, false },
	{ "shutdown KILL or terminate: the reply wins, the calls skipped run",
	  sc_kill_reply_wins, 10, false },
	{ "the call behind one whose reply beat its kill stays pending",
	  sc_doomed_next_pending, 10, false },
	{ "a replacement while no descriptor can be made; the next one",
	  sc_fd_table_full, 10, false },
};

static const struct {
	int method;
	const char *name;
} methods[] = {
	{ FILCH_START_FORKSERVER, "forkserver" },
	{ FILCH_START_FORK, "fork" },
	{ FILCH_START_SPAWN, "spawn" },
};

int main(void)
{
	char why[200];

	main_ran = 1;
	for (size_t m = 0; m < sizeof(methods) / sizeof(*methods); m++) {
		method = methods[m].method;
		for (size_t s = 0; s < sizeof(scenarios) / sizeof(*scenarios);
		     s++) {
			const struct scenario *sc = &scenarios[s];

#ifdef SANITIZED
			if (sc->unsanitized_only) {
				skip(1, "%s (%s): a sanitizer's shadow memory "
					"does not fit RLIMIT_AS",
				     sc->name, methods[m].name);
				continue;
			}
#endif
			bool pass = isolate_run(sc->fn, NULL,
						sc->watchdog_s * WATCHDOG_X,
						why, sizeof(why)) == 0;

			ok(pass, "%s (%s): %s", sc->name, methods[m].name,
			   why);
			if (!pass && *isolate_last_note())
				diag("%s", isolate_last_note());
		}
	}
	return tap_done();
}
