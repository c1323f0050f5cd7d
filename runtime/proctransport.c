/* SPDX-License-Identifier: MIT */
/*
 * proctransport.c - how bytes and descriptors move between a process pool
 * and its workers (and its fork server): whole transfers on a stream
 * socket, a message with a descriptor attached (SCM_RIGHTS), and the
 * sealed memfds that carry arguments and results of FILCH_PROCPOOL_SHM_MIN
 * bytes or more instead of the socket.
 *
 * A large buffer crosses as a memfd: the sender creates it, writes the
 * bytes in, and seals it (no shrink, no grow, no write, no more
 * seals), then passes the descriptor; the receiver checks the seals and
 * the size, maps it read-only and closes the descriptor. The mapping is
 * then the only reference: munmap frees the memory. The seals make the
 * mapping safe from the sender: it can no longer change the bytes, nor
 * shrink the file under the mapping (which would make a read SIGBUS).
 * The file is one byte longer than the bytes, and that byte is 0, so that
 * mapped data is NUL-terminated as streamed data is.
 *
 * Every descriptor made or received here is recorded as a pool's
 * (procfds.c), so that a process forked from a pool closes the ones it
 * inherited.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "procfds.h"
#include "procpool.h"

#define PP_SEALS (F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_SEAL)

int filch__pp_xfer(int fd, void *buf, size_t n, bool out)
{
	unsigned char *p = buf;

	while (n) {
		ssize_t r = out ? send(fd, p, n, MSG_NOSIGNAL) : read(fd, p, n);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return -EPIPE;
		p += r;
		n -= (size_t)r;
	}
	return 0;
}

int filch__pp_send_fd(int sock, const struct iovec *iov, int n, int fd)
{
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} u;
	struct msghdr mh = { .msg_iov = (struct iovec *)iov, .msg_iovlen = n };
	ssize_t r;

	if (fd >= 0) {
		memset(&u, 0, sizeof(u));
		mh.msg_control = u.buf;
		mh.msg_controllen = sizeof(u.buf);
		struct cmsghdr *c = CMSG_FIRSTHDR(&mh);

		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(c), &fd, sizeof(int));
	}
	do
		r = sendmsg(sock, &mh, MSG_NOSIGNAL);
	while (r < 0 && errno == EINTR);
	if (r <= 0)
		return -EPIPE;
	/* A stream socket may take part of it: the rest goes plainly (the
	 * descriptor went with the first byte). */
	return filch__pp_send_rest(sock, iov, n, (size_t)r);
}

int filch__pp_send_rest(int sock, const struct iovec *iov, int n,
			size_t sent)
{
	for (int i = 0; i < n; i++) {
		size_t done = sent < iov[i].iov_len ? sent : iov[i].iov_len;

		sent -= done;
		if (filch__pp_xfer(sock, (unsigned char *)iov[i].iov_base + done,
				   iov[i].iov_len - done, true) < 0)
			return -EPIPE;
	}
	return 0;
}

/* One recvmsg on sock into mh, waiting for bytes unless nowait, with
 * MSG_CMSG_CLOEXEC. Each descriptor that came is recorded as a pool's in
 * the same hold of procfds.c's lock as the recvmsg that installs it (a
 * fork meanwhile must not copy it unrecorded): the wait comes before,
 * without the lock, so that the hold never blocks. The wait is a peek at
 * one byte with no room for descriptors (the kernel installs none, and
 * takes nothing off the socket), not a poll: poll fails with EINVAL
 * while RLIMIT_NOFILE is below its one descriptor, and the message would
 * be left unread, for the next receive to take as its own. A descriptor
 * that could not be recorded is closed, and -1 in its place. recvmsg's
 * return, and its errno. */
static ssize_t pp_recvmsg(int sock, struct msghdr *mh, bool nowait)
{
	size_t cap = mh->msg_controllen;
	ssize_t r;
	int e;

	for (;;) {
		char peek;

		if (!nowait && recv(sock, &peek, 1, MSG_PEEK) < 0 &&
		    errno != EINTR)
			return -1;
		mh->msg_controllen = cap;
		filch__ppfd_lock();
		r = recvmsg(sock, mh, MSG_CMSG_CLOEXEC | MSG_DONTWAIT);
		e = errno;
		for (struct cmsghdr *c = r < 0 ? NULL : CMSG_FIRSTHDR(mh); c;
		     c = CMSG_NXTHDR(mh, c)) {
			if (c->cmsg_level != SOL_SOCKET ||
			    c->cmsg_type != SCM_RIGHTS)
				continue;
			size_t k = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);

			for (size_t j = 0; j < k; j++) {
				unsigned char *at =
					CMSG_DATA(c) + j * sizeof(int);
				int fd;

				memcpy(&fd, at, sizeof(fd));
				if (filch__ppfd_keep(fd) < 0)
					fd = -1;
				memcpy(at, &fd, sizeof(fd));
			}
		}
		filch__ppfd_unlock();
		if (r >= 0 || (e != EINTR && (nowait || e != EAGAIN))) {
			errno = e;
			return r;
		}
	}
}

int filch__pp_recv_fd(int sock, void *msg, size_t len, int *fd)
{
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} u;
	struct iovec iov = { msg, len };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1,
			     .msg_control = u.buf,
			     .msg_controllen = sizeof(u.buf) };
	ssize_t r = pp_recvmsg(sock, &mh, false);

	*fd = -1;
	for (struct cmsghdr *c = r < 0 ? NULL : CMSG_FIRSTHDR(&mh); c;
	     c = CMSG_NXTHDR(&mh, c)) {
		if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS &&
		    c->cmsg_len == CMSG_LEN(sizeof(int))) {
			if (*fd >= 0)
				filch__ppfd_close(*fd);
			memcpy(fd, CMSG_DATA(c), sizeof(int));
		}
	}
	if (r > 0 && filch__pp_xfer(sock, (unsigned char *)msg + r,
				    len - (size_t)r, false) == 0)
		return 0;
	if (*fd >= 0)
		filch__ppfd_close(*fd);
	*fd = -1;
	return -EPIPE;
}

int filch__pp_rb_fill(int sock, struct filch__pp_rbuf *rb, bool nowait)
{
	union {
		char buf[CMSG_SPACE(FILCH__PP_RFDS * sizeof(int))];
		struct cmsghdr align;
	} u;
	ssize_t r;

	rb->head = rb->tail = 0; /* it holds no byte (procpool.h) */
	struct iovec iov = { rb->buf, sizeof(rb->buf) };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1,
			     .msg_control = u.buf,
			     .msg_controllen = sizeof(u.buf) };

	r = pp_recvmsg(sock, &mh, nowait);
	for (struct cmsghdr *c = r < 0 ? NULL : CMSG_FIRSTHDR(&mh); c;
	     c = CMSG_NXTHDR(&mh, c)) {
		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
			continue;
		size_t k = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);

		for (size_t j = 0; j < k; j++) {
			int fd;

			memcpy(&fd, CMSG_DATA(c) + j * sizeof(int), sizeof(fd));
			/* At most one per frame, and fewer frames than
			 * FILCH__PP_RFDS are in flight: never full. */
			if (rb->fd_tail - rb->fd_head < FILCH__PP_RFDS)
				rb->fds[rb->fd_tail++ % FILCH__PP_RFDS] = fd;
			else if (fd >= 0)
				filch__ppfd_close(fd);
		}
	}
	if (r < 0 && nowait && (errno == EAGAIN || errno == EWOULDBLOCK))
		return 0;
	if (r <= 0)
		return -EPIPE;
	rb->tail = (size_t)r;
	return 1;
}

int filch__pp_rb_read(int sock, struct filch__pp_rbuf *rb, void *dst,
		      size_t n)
{
	unsigned char *p = dst;

	while (n) {
		size_t k = rb->tail - rb->head;

		if (!k && n >= sizeof(rb->buf) / 2)
			return filch__pp_xfer(sock, p, n, false);
		if (!k && filch__pp_rb_fill(sock, rb, false) < 0)
			return -EPIPE;
		k = rb->tail - rb->head;
		if (k > n)
			k = n;
		memcpy(p, rb->buf + rb->head, k);
		rb->head += k;
		p += k;
		n -= k;
	}
	return 0;
}

int filch__pp_rb_fd(struct filch__pp_rbuf *rb)
{
	if (rb->fd_head == rb->fd_tail)
		return -1;
	return rb->fds[rb->fd_head++ % FILCH__PP_RFDS];
}

void filch__pp_rb_close(struct filch__pp_rbuf *rb)
{
	int fd;

	while (rb->fd_head != rb->fd_tail)
		if ((fd = filch__pp_rb_fd(rb)) >= 0)
			filch__ppfd_close(fd);
	rb->head = rb->tail = 0;
}

int filch__pp_shm_make(const void *data, size_t len)
{
	int e = 0, fd;

	filch__ppfd_lock();
	fd = filch__ppfd_keep(memfd_create(FILCH__PP_MEMFD_PREFIX "procpool",
					   MFD_CLOEXEC | MFD_ALLOW_SEALING));
	filch__ppfd_unlock();
	if (fd < 0)
		return fd;
	if (len == SIZE_MAX || ftruncate(fd, (off_t)(len + 1)) != 0)
		e = len == SIZE_MAX ? -ENOMEM : -errno;
	/* Written, not mapped: the write seal fails while any writable
	 * mapping exists, and a fork of another thread meanwhile would
	 * copy ours into its child. */
	for (size_t done = 0; !e && done < len;) {
		ssize_t r = pwrite(fd, (const char *)data + done, len - done,
				   (off_t)done);

		if (r < 0 && errno != EINTR)
			e = -errno;
		else if (r > 0)
			done += (size_t)r;
	}
	if (!e && fcntl(fd, F_ADD_SEALS, PP_SEALS) != 0)
		e = -errno;
	if (e) {
		filch__ppfd_close(fd);
		return e == -ENOSPC || e == -EFBIG ? -ENOMEM : e;
	}
	return fd;
}

const void *filch__pp_shm_map(int fd, size_t len)
{
	struct stat st;
	void *p;

	if (fcntl(fd, F_GET_SEALS) != PP_SEALS || fstat(fd, &st) != 0 ||
	    len == SIZE_MAX || (uint64_t)st.st_size != (uint64_t)len + 1)
		return NULL;
	p = mmap(NULL, len + 1, PROT_READ, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED)
		return NULL;
	/* Not into the children that another thread forks meanwhile (a
	 * fork-method worker would hold it as long as it lives). */
	madvise(p, len + 1, MADV_DONTFORK);
	return p;
}

void filch__pp_shm_unmap(const void *p, size_t len)
{
	munmap((void *)p, len + 1);
}
