/* SPDX-License-Identifier: MIT */
/*
 * hashd.c - a TCP service on one epoll loop that hashes request payloads
 * on filch workers and answers through a completion port.
 *
 *   hashd [--workers N | --inline] [--port N] [--port-file PATH]
 *
 * Listens on 127.0.0.1 (port 0: an ephemeral port, printed and written to
 * PATH). Each request (hashd_proto.h) is hashed on the executor: the loop
 * submits the job, adds its future to the port with the job as tag, and
 * goes on serving other connections; when the port's fd is readable it
 * drains the finished jobs and writes their answers. With --inline the
 * same work runs on the loop thread, as a server without filch would do
 * it. SIGINT or SIGTERM stop it: it stops accepting, closes connections,
 * lets the jobs in flight finish, and exits 0.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* accept4 */
#endif
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <filch.h>

#include "hashd_proto.h"

struct buf {
	uint8_t *data;
	size_t len, cap;
};

struct conn {
	int fd;
	bool closing;	   /* closed: freed once no job refers to it */
	bool watching_out; /* EPOLLOUT is requested: answers wait */
	unsigned jobs;	   /* requests of this connection on filch */
	struct buf in, out;
	struct conn *prev, *next; /* open connections */
	struct conn *next_dead;	  /* freed after the current batch */
};

/* A request hashed on a worker; the tag of its future in the port. */
struct job {
	struct conn *conn;
	uint32_t id, rounds;
	size_t len;
	uint8_t digest[HASHD_DIGEST_SIZE];
	uint8_t payload[];
};

struct server {
	int epfd, listener, sigfd;
	filch_executor *ex; /* NULL: --inline */
	filch_port *port;
	struct conn *open; /* list of open connections */
	struct conn *dead; /* closed, to free after this batch of events */
	size_t in_flight;  /* jobs on filch */
	unsigned long long served;
	unsigned long long port_wakeups, port_events; /* drains, jobs */
	bool stopping;
};

/* epoll tags of the fds that are not connections. */
static char listener_tag, port_tag, signal_tag;

static void die(const char *what, int err)
{
	fprintf(stderr, "hashd: %s: %s\n", what, strerror(err));
	exit(1);
}

static bool buf_reserve(struct buf *b, size_t more)
{
	if (b->cap - b->len >= more)
		return true;
	size_t cap = b->cap ? b->cap : 4096;
	while (cap - b->len < more)
		cap *= 2;
	uint8_t *data = realloc(b->data, cap);
	if (!data)
		return false;
	b->data = data;
	b->cap = cap;
	return true;
}

static void watch(struct server *s, int op, int fd, uint32_t events, void *tag)
{
	struct epoll_event ev = {.events = events, .data.ptr = tag};
	if (epoll_ctl(s->epfd, op, fd, &ev))
		die("epoll_ctl", errno);
}

static void conn_close(struct server *s, struct conn *c)
{
	if (c->closing)
		return;
	c->closing = true;
	epoll_ctl(s->epfd, EPOLL_CTL_DEL, c->fd, NULL);
	close(c->fd);
	if (c->prev)
		c->prev->next = c->next;
	else
		s->open = c->next;
	if (c->next)
		c->next->prev = c->prev;
	if (c->jobs == 0) {
		c->next_dead = s->dead;
		s->dead = c;
	}
}

/* Writes what it can of c's answers; watches for writability if some are
 * left. */
static void conn_flush(struct server *s, struct conn *c)
{
	size_t off = 0;
	while (off < c->out.len) {
		ssize_t w = send(c->fd, c->out.data + off, c->out.len - off,
				 MSG_NOSIGNAL);
		if (w > 0) {
			off += (size_t)w;
		} else if (errno == EAGAIN) {
			break;
		} else if (errno != EINTR) {
			conn_close(s, c);
			return;
		}
	}
	memmove(c->out.data, c->out.data + off, c->out.len - off);
	c->out.len -= off;
	bool want_out = c->out.len > 0;
	if (want_out != c->watching_out) {
		watch(s, EPOLL_CTL_MOD, c->fd,
		      EPOLLIN | EPOLLRDHUP | (want_out ? EPOLLOUT : 0), c);
		c->watching_out = want_out;
	}
}

static void respond(struct server *s, struct conn *c, uint32_t id,
		    const uint8_t digest[HASHD_DIGEST_SIZE])
{
	if (!buf_reserve(&c->out, HASHD_RESPONSE_SIZE)) {
		conn_close(s, c);
		return;
	}
	hashd_put32(c->out.data + c->out.len, id);
	memcpy(c->out.data + c->out.len + 4, digest, HASHD_DIGEST_SIZE);
	c->out.len += HASHD_RESPONSE_SIZE;
	s->served++;
	conn_flush(s, c);
}

/* The task: runs on a worker. */
static int hash_job(void *arg, void **result)
{
	struct job *job = arg;
	hashd_digest(job->payload, job->len, job->rounds, job->digest);
	*result = job;
	return 0;
}

/* Hands the request to filch. False when it could not (no memory, or the
 * executor refused the task): the caller then does the work itself. */
static bool offload(struct server *s, struct conn *c, uint32_t id,
		    uint32_t rounds, const uint8_t *payload, size_t len)
{
	struct job *job = malloc(sizeof *job + len);
	filch_future *f;

	if (!job)
		return false;
	*job = (struct job){c, id, rounds, len, {0}};
	memcpy(job->payload, payload, len);
	if (filch_submit(s->ex, hash_job, job, &f)) {
		free(job);
		return false;
	}
	if (filch_port_add(s->port, f, job) == 0) {
		c->jobs++;
		s->in_flight++;
	} else {
		/* Only for lack of memory: wait for this one job here. */
		filch_future_result(f, FILCH_FOREVER, NULL);
		respond(s, c, id, job->digest);
		free(job);
	}
	filch_future_release(f); /* the port holds its own reference */
	return true;
}

static void handle_request(struct server *s, struct conn *c, uint32_t id,
			   uint32_t rounds, const uint8_t *payload, size_t len)
{
	if (s->ex && offload(s, c, id, rounds, payload, len))
		return;
	uint8_t digest[HASHD_DIGEST_SIZE];
	hashd_digest(payload, len, rounds, digest);
	respond(s, c, id, digest);
}

static void conn_read(struct server *s, struct conn *c)
{
	for (;;) {
		if (!buf_reserve(&c->in, 65536)) {
			conn_close(s, c);
			return;
		}
		ssize_t r =
		    read(c->fd, c->in.data + c->in.len, c->in.cap - c->in.len);
		if (r > 0) {
			c->in.len += (size_t)r;
			continue;
		}
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0 && errno == EAGAIN)
			break;
		conn_close(s, c); /* end of stream or error */
		return;
	}
	size_t off = 0;
	while (!c->closing && c->in.len - off >= HASHD_REQUEST_HEADER) {
		const uint8_t *h = c->in.data + off;
		uint32_t len = hashd_get32(h), rounds = hashd_get32(h + 8);
		if (len > HASHD_MAX_PAYLOAD || rounds > HASHD_MAX_ROUNDS) {
			conn_close(s, c); /* malformed: hang up */
			return;
		}
		if (c->in.len - off < HASHD_REQUEST_HEADER + len)
			break;
		handle_request(s, c, hashd_get32(h + 4), rounds,
			       h + HASHD_REQUEST_HEADER, len);
		off += HASHD_REQUEST_HEADER + len;
	}
	memmove(c->in.data, c->in.data + off, c->in.len - off);
	c->in.len -= off;
}

static void accept_all(struct server *s)
{
	for (;;) {
		int fd = accept4(s->listener, NULL, NULL,
				 SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			return; /* EAGAIN, or out of fds: retry on next wake */
		}
		struct conn *c = calloc(1, sizeof *c);
		if (!c) {
			close(fd);
			continue;
		}
		int one = 1;
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
		c->fd = fd;
		c->next = s->open;
		if (s->open)
			s->open->prev = c;
		s->open = c;
		watch(s, EPOLL_CTL_ADD, fd, EPOLLIN | EPOLLRDHUP, c);
	}
}

/* The port is readable: answer the jobs that finished. */
static void answer_finished(struct server *s)
{
	struct filch_port_event ev[64];
	size_t n;

	if (filch_port_drain(s->port, ev, 64, &n))
		return;
	s->port_wakeups++;
	s->port_events += n;
	for (size_t i = 0; i < n; i++) {
		struct job *job = ev[i].tag;
		struct conn *c = job->conn;
		if (!c->closing)
			respond(s, c, job->id, job->digest);
		s->in_flight--;
		if (--c->jobs == 0 && c->closing) {
			c->next_dead = s->dead;
			s->dead = c;
		}
		free(job);
		filch_future_release(ev[i].future);
	}
}

static void stop(struct server *s)
{
	struct signalfd_siginfo info;
	while (read(s->sigfd, &info, sizeof info) == sizeof info)
		;
	if (s->stopping)
		return;
	s->stopping = true;
	epoll_ctl(s->epfd, EPOLL_CTL_DEL, s->listener, NULL);
	close(s->listener);
	while (s->open)
		conn_close(s, s->open);
}

static void free_dead(struct server *s)
{
	while (s->dead) {
		struct conn *c = s->dead;
		s->dead = c->next_dead;
		free(c->in.data);
		free(c->out.data);
		free(c);
	}
}

static int bound_port(int fd)
{
	struct sockaddr_in addr;
	socklen_t alen = sizeof addr;
	if (getsockname(fd, (struct sockaddr *)&addr, &alen))
		die("getsockname", errno);
	return ntohs(addr.sin_port);
}

/* A listening socket on 127.0.0.1:port (0: ephemeral), whose port number is
 * written to port_file when given. */
static int listen_loopback(int port, const char *port_file)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	int one = 1;
	struct sockaddr_in addr = {.sin_family = AF_INET,
				   .sin_port = htons((uint16_t)port),
				   .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};

	if (fd < 0)
		die("socket", errno);
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	if (bind(fd, (struct sockaddr *)&addr, sizeof addr) || listen(fd, 512))
		die("listen on 127.0.0.1", errno);
	if (port_file) {
		/* Written whole, then renamed: a reader never sees half. */
		char tmp[4096];
		snprintf(tmp, sizeof tmp, "%s.tmp", port_file);
		FILE *f = fopen(tmp, "w");
		if (!f || fprintf(f, "%d\n", bound_port(fd)) < 0 || fclose(f) ||
		    rename(tmp, port_file))
			die(port_file, errno);
	}
	return fd;
}

static void usage(void)
{
	fprintf(stderr, "usage: hashd [--workers N | --inline] [--port N] "
			"[--port-file PATH]\n");
	exit(2);
}

int main(int argc, char **argv)
{
	struct server s = {0};
	struct filch_executor_opts opts = {.name_prefix = "hashd"};
	bool inline_work = false;
	const char *port_file = NULL;
	int port = 0, err;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--inline"))
			inline_work = true;
		else if (!strcmp(argv[i], "--workers") && i + 1 < argc)
			opts.workers = (unsigned)atoi(argv[++i]);
		else if (!strcmp(argv[i], "--port") && i + 1 < argc)
			port = atoi(argv[++i]);
		else if (!strcmp(argv[i], "--port-file") && i + 1 < argc)
			port_file = argv[++i];
		else
			usage();
	}

	/* Block the stop signals before any thread starts, so that every
	 * worker inherits the mask and they reach only the signalfd. */
	sigset_t stop_signals;
	sigemptyset(&stop_signals);
	sigaddset(&stop_signals, SIGINT);
	sigaddset(&stop_signals, SIGTERM);
	sigprocmask(SIG_BLOCK, &stop_signals, NULL);
	s.sigfd = signalfd(-1, &stop_signals, SFD_NONBLOCK | SFD_CLOEXEC);
	s.epfd = epoll_create1(EPOLL_CLOEXEC);
	if (s.sigfd < 0 || s.epfd < 0)
		die("signalfd/epoll", errno);

	if (!inline_work) {
		if ((err = filch_executor_create(&s.ex, &opts)))
			die("filch_executor_create", -err);
		if ((err = filch_port_create(&s.port, 0)))
			die("filch_port_create", -err);
		watch(&s, EPOLL_CTL_ADD, filch_port_fd(s.port), EPOLLIN,
		      &port_tag);
	}
	s.listener = listen_loopback(port, port_file);
	watch(&s, EPOLL_CTL_ADD, s.listener, EPOLLIN, &listener_tag);
	watch(&s, EPOLL_CTL_ADD, s.sigfd, EPOLLIN, &signal_tag);
	if (s.ex)
		printf("hashd: listening on 127.0.0.1:%d, hashing on filch "
		       "with %u workers\n",
		       bound_port(s.listener), filch_executor_workers(s.ex));
	else
		printf("hashd: listening on 127.0.0.1:%d, hashing inline on "
		       "the loop thread\n",
		       bound_port(s.listener));
	fflush(stdout);

	while (!(s.stopping && s.in_flight == 0)) {
		struct epoll_event ev[64];
		int n = epoll_wait(s.epfd, ev, 64, -1);
		if (n < 0 && errno != EINTR)
			die("epoll_wait", errno);
		for (int i = 0; i < n; i++) {
			void *tag = ev[i].data.ptr;
			if (tag == &listener_tag) {
				accept_all(&s);
			} else if (tag == &port_tag) {
				answer_finished(&s);
			} else if (tag == &signal_tag) {
				stop(&s);
			} else {
				struct conn *c = tag;
				if (c->closing)
					continue;
				if (ev[i].events & EPOLLOUT)
					conn_flush(&s, c);
				if (!c->closing &&
				    ev[i].events & (EPOLLIN | EPOLLRDHUP |
						    EPOLLHUP | EPOLLERR))
					conn_read(&s, c);
			}
		}
		free_dead(&s);
	}
	printf("hashd: served %llu requests\n", s.served);
	if (s.ex)
		printf("hashd: %llu jobs came back in %llu port wake-ups\n",
		       s.port_events, s.port_wakeups);
	filch_port_destroy(s.port);
	filch_executor_destroy(s.ex);
	close(s.sigfd);
	close(s.epfd);
	return 0;
}
