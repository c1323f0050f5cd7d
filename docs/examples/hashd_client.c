/* SPDX-License-Identifier: MIT */
/*
 * hashd_client.c - drives hashd with a bounded load and checks every answer.
 *
 *   hashd_client --port N [--requests N] [--connections C] [--pipeline K]
 *                [--size BYTES] [--rounds R] [--timeout SECONDS]
 *   hashd_client --port N --malformed
 *   hashd_client --self-test
 *
 * Sends N requests over C connections, keeping K requests in flight on
 * each (a closed loop; K = 1 by default), from one epoll thread. Answers
 * are matched to requests by id, since a server may answer a connection's
 * requests in any order. Payloads come from a
 * few seeded variants whose digests are computed before the clock starts,
 * so that checking an answer costs a memcmp. Prints the throughput and the
 * p50/p99 latency (send to answer) and exits 0 only if every answer was
 * right. --malformed sends a request with an oversized length and expects
 * the server to hang up. --self-test checks SHA-256 against FIPS 180-4
 * vectors.
 */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "hashd_proto.h"

enum { VARIANTS = 8, MAX_PIPELINE = 64 };

struct load {
	size_t requests, size;
	unsigned connections, pipeline;
	uint32_t rounds;
	int timeout_s;
	uint8_t *payload[VARIANTS];
	uint8_t digest[VARIANTS][HASHD_DIGEST_SIZE];
	size_t issued, answered, wrong;
	int64_t *latency_ns; /* one per answer */
};

struct outstanding {
	uint32_t id;
	int64_t sent_ns;
};

struct client_conn {
	int fd;
	unsigned n;			      /* requests awaiting answers */
	struct outstanding out[MAX_PIPELINE]; /* in no order */
	uint8_t answer[HASHD_RESPONSE_SIZE];  /* the one being read */
	size_t got;
};

static int64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void die(const char *what)
{
	fprintf(stderr, "hashd_client: %s: %s\n", what, strerror(errno));
	exit(1);
}

static int connect_loopback(int port)
{
	struct sockaddr_in addr = {.sin_family = AF_INET,
				   .sin_port = htons((uint16_t)port),
				   .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1;
	if (fd < 0 || connect(fd, (struct sockaddr *)&addr, sizeof addr))
		die("connect to 127.0.0.1");
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
	return fd;
}

/* Writes all of iov (and consumes it), waiting for room when the socket is
 * full. */
static void send_all(int fd, struct iovec *iov, int n)
{
	while (n > 0) {
		ssize_t w = writev(fd, iov, n);
		if (w < 0) {
			if (errno == EAGAIN) {
				struct pollfd p = {.fd = fd, .events = POLLOUT};
				poll(&p, 1, 1000);
				continue;
			}
			if (errno == EINTR)
				continue;
			die("send");
		}
		size_t done = (size_t)w;
		while (n > 0 && done >= iov->iov_len) {
			done -= iov->iov_len;
			iov++;
			n--;
		}
		if (n > 0) {
			iov->iov_base = (uint8_t *)iov->iov_base + done;
			iov->iov_len -= done;
		}
	}
}

/* Tops c up to l->pipeline requests in flight, while any are left. */
static void send_requests(struct load *l, struct client_conn *c)
{
	while (c->n < l->pipeline && l->issued < l->requests) {
		uint8_t header[HASHD_REQUEST_HEADER];
		uint32_t id = (uint32_t)l->issued++;
		hashd_put32(header, (uint32_t)l->size);
		hashd_put32(header + 4, id);
		hashd_put32(header + 8, l->rounds);
		struct iovec iov[2] = {{header, sizeof header},
				       {l->payload[id % VARIANTS], l->size}};
		c->out[c->n++] = (struct outstanding){id, now_ns()};
		send_all(c->fd, iov, 2);
	}
}

/* Checks the answer just read on c against the request it names. */
static void take_answer(struct load *l, struct client_conn *c)
{
	uint32_t id = hashd_get32(c->answer);
	unsigned k = 0;
	while (k < c->n && c->out[k].id != id)
		k++;
	c->got = 0;
	if (k == c->n) { /* an id this connection is not waiting for */
		l->wrong++;
		return;
	}
	l->latency_ns[l->answered++] = now_ns() - c->out[k].sent_ns;
	l->wrong += memcmp(c->answer + 4, l->digest[id % VARIANTS],
			   HASHD_DIGEST_SIZE) != 0;
	c->out[k] = c->out[--c->n];
}

/* Reads what has arrived on c; true when an answer is complete. */
static bool read_answer(struct client_conn *c)
{
	for (;;) {
		ssize_t r =
		    read(c->fd, c->answer + c->got, sizeof c->answer - c->got);
		if (r > 0) {
			c->got += (size_t)r;
			if (c->got == sizeof c->answer)
				return true;
		} else if (r == 0) {
			errno = ECONNRESET;
			die("server hung up");
		} else if (errno == EAGAIN) {
			return false;
		} else if (errno != EINTR) {
			die("read");
		}
	}
}

static int compare_ns(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
	return (x > y) - (x < y);
}

/* The nearest-rank percentile of sorted values. */
static double percentile_us(const int64_t *sorted, size_t n, unsigned pct)
{
	size_t rank = (n * pct + 99) / 100;
	return n ? (double)sorted[rank ? rank - 1 : 0] / 1000.0 : 0.0;
}

static int run_load(struct load *l, int port)
{
	uint64_t seed = 0x9e3779b97f4a7c15u;
	for (int v = 0; v < VARIANTS; v++) {
		l->payload[v] = malloc(l->size ? l->size : 1);
		for (size_t i = 0; i < l->size; i++) {
			seed ^= seed << 13, seed ^= seed >> 7,
			    seed ^= seed << 17;
			l->payload[v][i] = (uint8_t)seed;
		}
		hashd_digest(l->payload[v], l->size, l->rounds, l->digest[v]);
	}
	l->latency_ns = calloc(l->requests ? l->requests : 1, sizeof(int64_t));
	struct client_conn *conns = calloc(l->connections, sizeof *conns);
	int epfd = epoll_create1(EPOLL_CLOEXEC);
	if (!l->latency_ns || !conns || epfd < 0)
		die("setup");

	int64_t start = now_ns();
	int64_t deadline = start + (int64_t)l->timeout_s * 1000000000;
	for (unsigned i = 0; i < l->connections; i++) {
		struct epoll_event ev = {.events = EPOLLIN,
					 .data.ptr = &conns[i]};
		conns[i].fd = connect_loopback(port);
		if (epoll_ctl(epfd, EPOLL_CTL_ADD, conns[i].fd, &ev))
			die("epoll_ctl");
		send_requests(l, &conns[i]);
	}
	while (l->answered < l->requests && now_ns() < deadline) {
		struct epoll_event ev[64];
		int n = epoll_wait(epfd, ev, 64, 1000);
		for (int i = 0; i < n; i++) {
			struct client_conn *c = ev[i].data.ptr;
			while (read_answer(c))
				take_answer(l, c);
			send_requests(l, c);
		}
	}
	double seconds = (double)(now_ns() - start) / 1e9;

	qsort(l->latency_ns, l->answered, sizeof(int64_t), compare_ns);
	printf("hashd_client: %zu/%zu answers over %u connections (%u in "
	       "flight each), %zu-byte payloads, %u rounds: %.0f req/s, p50 "
	       "%.1f us, p99 %.1f us, %zu wrong\n",
	       l->answered, l->requests, l->connections, l->pipeline, l->size,
	       l->rounds, seconds > 0 ? (double)l->answered / seconds : 0.0,
	       percentile_us(l->latency_ns, l->answered, 50),
	       percentile_us(l->latency_ns, l->answered, 99), l->wrong);
	for (unsigned i = 0; i < l->connections; i++)
		close(conns[i].fd);
	close(epfd);
	free(conns);
	free(l->latency_ns);
	for (int v = 0; v < VARIANTS; v++)
		free(l->payload[v]);
	return l->answered == l->requests && l->wrong == 0 ? 0 : 1;
}

/* Sends a request whose length is over the limit: the server must hang up
 * (read returns 0) rather than wait for a megabyte or crash. */
static int run_malformed(int port)
{
	int fd = connect_loopback(port);
	uint8_t header[HASHD_REQUEST_HEADER];
	hashd_put32(header, HASHD_MAX_PAYLOAD + 1);
	hashd_put32(header + 4, 1);
	hashd_put32(header + 8, 1);
	struct iovec iov = {header, sizeof header};
	send_all(fd, &iov, 1);
	struct pollfd p = {.fd = fd, .events = POLLIN};
	uint8_t byte;
	bool hung_up = poll(&p, 1, 10000) == 1 && read(fd, &byte, 1) == 0;
	printf("hashd_client: malformed request %s\n",
	       hung_up ? "refused (connection closed)" : "NOT refused");
	close(fd);
	return hung_up ? 0 : 1;
}

static int self_test(void)
{
	static const struct {
		const char *message, *digest;
	} vectors[] = {
	    {"abc", "ba7816bf8f01cfea414140de5dae2223"
		    "b00361a396177a9cb410ff61f20015ad"},
	    {"", "e3b0c44298fc1c149afbf4c8996fb924"
		 "27ae41e4649b934ca495991b7852b855"},
	    {"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
	     "248d6a61d20638b8e5c026930c3e6039"
	     "a33ce45964ff2167f6ecedd419db06c1"},
	};
	int bad = 0;
	for (size_t i = 0; i < sizeof vectors / sizeof vectors[0]; i++) {
		uint8_t d[HASHD_DIGEST_SIZE];
		char hex[2 * HASHD_DIGEST_SIZE + 1];
		hashd_digest((const uint8_t *)vectors[i].message,
			     strlen(vectors[i].message), 1, d);
		for (int k = 0; k < HASHD_DIGEST_SIZE; k++)
			snprintf(hex + 2 * k, 3, "%02x", d[k]);
		bad += strcmp(hex, vectors[i].digest) != 0;
	}
	printf("hashd_client: SHA-256 self-test %s\n",
	       bad ? "FAILED" : "passed");
	return bad ? 1 : 0;
}

static void usage(void)
{
	fprintf(stderr,
		"usage: hashd_client --port N [--requests N] [--connections C] "
		"[--pipeline K]\n"
		"                    [--size BYTES] [--rounds R] "
		"[--timeout SECONDS]\n"
		"       hashd_client --port N --malformed\n"
		"       hashd_client --self-test\n");
	exit(2);
}

int main(int argc, char **argv)
{
	struct load l = {.requests = 1000,
			 .connections = 8,
			 .pipeline = 1,
			 .size = 4096,
			 .rounds = 4,
			 .timeout_s = 60};
	int port = 0;
	bool malformed = false;

	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (!strcmp(a, "--self-test"))
			return self_test();
		if (!strcmp(a, "--malformed")) {
			malformed = true;
			continue;
		}
		if (!v)
			usage();
		i++;
		if (!strcmp(a, "--port"))
			port = atoi(v);
		else if (!strcmp(a, "--requests"))
			l.requests = strtoul(v, NULL, 10);
		else if (!strcmp(a, "--pipeline"))
			l.pipeline = (unsigned)atoi(v);
		else if (!strcmp(a, "--connections"))
			l.connections = (unsigned)atoi(v);
		else if (!strcmp(a, "--size"))
			l.size = strtoul(v, NULL, 10);
		else if (!strcmp(a, "--rounds"))
			l.rounds = (uint32_t)atoi(v);
		else if (!strcmp(a, "--timeout"))
			l.timeout_s = atoi(v);
		else
			usage();
	}
	if (port <= 0 || port > 65535 || l.connections == 0 ||
	    l.pipeline == 0 || l.pipeline > MAX_PIPELINE ||
	    l.size > HASHD_MAX_PAYLOAD || l.rounds > HASHD_MAX_ROUNDS)
		usage();
	return malformed ? run_malformed(port) : run_load(&l, port);
}
