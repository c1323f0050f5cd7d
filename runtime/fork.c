/* SPDX-License-Identifier: MIT */
/*
 * fork.c - fork() safety. Only the thread that calls fork() exists in the
 * child, so an executor created before the fork has no workers there and
 * locks held by other threads stay held forever. The handlers below
 *  - hold every lock a filch call in the child may take (CPU placement,
 *    urcu's registry through filch__fork_rcu_register, urcu's call_rcu
 *    state, frame.c's inspection lock, trace.c's start/stop lock, task.c's
 *    chunk cache) across the fork, so that none is copied locked;
 *  - give the child a working call_rcu thread (urcu's own child hook), so
 *    that the rcu_barrier of a new executor's teardown completes, named
 *    and with its signals blocked as in the parent;
 *  - hold procfds.c's record of the process pools' descriptors, and in
 *    the child of the program's own fork forget it (a pool's fork holds
 *    it itself, and its child closes what it names: procfds.c);
 *  - hold exit.c's lock, and empty its list in the child (the parent's
 *    executors are not the child's to join at exit);
 *  - advance the process generation, which marks every executor of the
 *    parent as inherited (executor.h): public calls on those return
 *    -EOWNERDEAD without touching their threads or memory;
 *  - make the forking thread a foreign thread in the child, even when it
 *    forked from inside a task (a worker of an inherited executor must not
 *    help run that executor's queues).
 *
 *  - remove the parent's workers from urcu's reader registry in the child.
 *
 * The last one is ours because urcu's default flavour (memb, <urcu.h>) has
 * no fork hook for its registry (urcu-bp prunes its own). Left in place, a
 * worker of the parent stays a registered reader in the child: if it was
 * inside a read-side section (a steal) at the instant of fork(), every
 * grace period of the child waits for it forever; and its registry node
 * lies in its thread's static TLS, in a stack that glibc hands to the
 * child's next pthread_create, whose own registration then links the same
 * node twice and makes the registry a cycle (synchronize_rcu spins). Both
 * were seen: a child's first grace period hung. filch knows each of its
 * registered threads, so the child handler unlinks the others' nodes, as
 * urcu-bp does for all of its readers. Readers that the application
 * registered itself, and urcu's own call_rcu thread, are urcu's to prune.
 */
#include "config.h"

#include <pthread.h>
#include <signal.h>

#include <urcu.h>
#include <urcu/list.h>
#include <urcu/static/urcu-memb.h> /* urcu_memb_reader: its registry node */

#include "cpuset.h"
#include "executor.h"
#include "fork.h"
#include "frame.h"
#include "procfds.h"
#include "trace.h"

unsigned filch__fork_generation;

/* A thread that filch registered with urcu. */
struct reader {
	struct cds_list_head link;	 /* in readers */
	struct cds_list_head *urcu_node; /* its node in urcu's registry */
};

/* Held around filch's urcu registrations and across fork(); guards
 * readers, the threads registered through filch__fork_rcu_register. */
static pthread_mutex_t registry_lock = PTHREAD_MUTEX_INITIALIZER;
static CDS_LIST_HEAD(readers);
static_assert(offsetof(struct reader, link) == 0, "link opens the record");

static _Thread_local struct reader self;

void filch__fork_rcu_register(void)
{
	pthread_mutex_lock(&registry_lock);
	rcu_register_thread();
	self.urcu_node = &URCU_TLS(urcu_memb_reader).node;
	cds_list_add(&self.link, &readers);
	pthread_mutex_unlock(&registry_lock);
}

void filch__fork_rcu_unregister(void)
{
	pthread_mutex_lock(&registry_lock);
	cds_list_del(&self.link);
	rcu_unregister_thread();
	pthread_mutex_unlock(&registry_lock);
}

/* In the child, alone: unlinks the registry nodes of filch's threads that
 * did not survive the fork (all but the forking thread, which may be a
 * worker that forked inside a task). Their memory is intact until the
 * child creates a thread. urcu's registry lock is free: filch's own
 * registrations are excluded by registry_lock, and the only other filch
 * user of it, the call_rcu thread's grace periods, is paused. */
static void prune_readers(void)
{
	struct cds_list_head *pos, *next;

	/* By hand rather than cds_list_for_each_entry_safe, whose cast from
	 * char * clang's -Wcast-align rejects; link opens struct reader. */
	for (pos = readers.next; pos != &readers; pos = next) {
		struct reader *r = (struct reader *)(void *)pos;

		next = pos->next;
		if (r == &self)
			continue;
		cds_list_del(r->urcu_node);
		cds_list_del(&r->link);
	}
}

/* Taken in this order, released in the reverse. call_rcu_before_fork
 * returns with urcu's call_rcu lock held and its threads paused between
 * batches (outside any grace period). */
static void before_fork(void)
{
	filch__ppfd_prepare(); /* first: a pool's fork holds it already */
	filch__exit_lock();
	filch__cpuset_lock();
	pthread_mutex_lock(&registry_lock);
	call_rcu_before_fork();
	filch__frames_lock(); /* no inspection runs across the fork */
	filch__trace_lock(); /* no trace start or stop runs across it */
	filch__chunk_cache_lock(); /* last: a leaf lock (task.c) */
}

static void after_fork_parent(void)
{
	filch__chunk_cache_unlock();
	filch__trace_unlock();
	filch__frames_unlock();
	call_rcu_after_fork_parent();
	pthread_mutex_unlock(&registry_lock);
	filch__cpuset_unlock();
	filch__exit_unlock();
	filch__ppfd_parent();
}

/* Set once filch__fork_rcu_thread_start started the call_rcu thread: the
 * child's handler then names the thread urcu starts there. Relaxed: a
 * fork that does not see it yet leaves the child's thread unnamed. */
static _Atomic bool rcu_started;

/* Runs start(), which may create liburcu's default call_rcu thread, with
 * every asynchronous signal blocked (the thread inherits the caller's
 * mask), then names that thread. */
static void rcu_thread_start(void (*start)(void))
{
	sigset_t async, old;

	filch__executor_async_signals(&async);
	pthread_sigmask(SIG_BLOCK, &async, &old);
	start();
	pthread_setname_np(get_call_rcu_thread(get_default_call_rcu_data()),
			   "filch-rcu");
	pthread_sigmask(SIG_SETMASK, &old, NULL);
}

/* get_default_call_rcu_data starts the thread; its answer is not needed. */
static void default_rcu_data(void)
{
	(void)get_default_call_rcu_data();
}

static void after_fork_child(void)
{
	filch__chunk_cache_unlock(); /* the cached chunks stay usable */
	filch__trace_unlock();
	filch__frames_unlock();
	filch__fork_generation++;
	filch__self = NULL;
	prune_readers();
	/* Releases urcu's lock, starts a fresh default call_rcu thread (if
	 * the parent had one) and moves the callbacks queued in the parent
	 * onto it. Only ours gets named: naming asks urcu for the thread,
	 * which would start one where the parent had none. */
	if (filch__load(&rcu_started, relaxed))
		rcu_thread_start(call_rcu_after_fork_child);
	else
		call_rcu_after_fork_child();
	pthread_mutex_unlock(&registry_lock);
	filch__cpuset_unlock();
	filch__exit_forget();
	filch__exit_unlock();
	filch__ppfd_child_of_program();
}

static void register_handlers(void)
{
	/* pthread_atfork fails only with ENOMEM; the executor still works,
	 * fork() is then as unsafe as it was without these handlers. */
	(void)pthread_atfork(before_fork, after_fork_parent, after_fork_child);
}

/*
 * Registered by the first filch_executor_create rather than by a library
 * constructor: that is before any filch thread exists (workers, and urcu's
 * call_rcu thread, which filch starts only through an executor), and a
 * process that links libfilch without using it keeps forks that do not
 * pause urcu's threads.
 */
void filch__fork_init(void)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;

	pthread_once(&once, register_handlers);
}

static void first_rcu_thread(void)
{
	rcu_thread_start(default_rcu_data);
	filch__store(&rcu_started, true, relaxed);
}

void filch__fork_rcu_thread_start(void)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;

	pthread_once(&once, first_rcu_thread);
}
