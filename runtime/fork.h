/* SPDX-License-Identifier: MIT */
/*
 * fork.h - fork() safety: the process generation that tells an executor
 * inherited from the parent apart, and the registration of the fork
 * handlers (fork.c).
 */
#ifndef FILCH_FORK_H
#define FILCH_FORK_H

/*
 * Incremented by the child's fork handler, once per fork(), so that every
 * process of a fork chain has its own value. A plain variable: it is
 * written only in the child, while the child has a single thread (the
 * handler runs before fork() returns there), and every thread that reads
 * it later was created after that write (pthread_create orders it).
 */
extern unsigned filch__fork_generation;

/* Registers the fork handlers, once per process. Any thread; blocks only
 * while another thread registers them. */
void filch__fork_init(void);

/* Wraps rcu_register_thread / rcu_unregister_thread for filch's workers:
 * the fork handlers exclude them, so that no fork() copies urcu's
 * registry lock held by a worker that does not exist in the child. */
void filch__fork_rcu_register(void);
void filch__fork_rcu_unregister(void);

/* Starts liburcu's default call_rcu thread once per process (unless it
 * runs already), from the caller with every asynchronous signal blocked,
 * and names it "filch-rcu": deque.c calls it before its first call_rcu,
 * which would otherwise start the thread as a copy of the calling worker
 * (its name, "filch-0", and its mask). Not at executor creation: under
 * TSan a child of fork() cannot start threads, and urcu's child hook
 * starts one when the parent has it. The child's fork handler names and
 * masks the thread urcu starts there the same way. Any thread. */
void filch__fork_rcu_thread_start(void);

#endif /* FILCH_FORK_H */
