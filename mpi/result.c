/* SPDX-License-Identifier: MIT */
/*
 * result.c - the result of an MPI future: a status record, and the set of
 * those alive, so that filch_mpi_status can tell a result of ours from any
 * other pointer without reading through it.
 *
 * The set is a table of chained buckets under one mutex, keyed by the
 * record's address; a record is in it from its allocation to its free
 * (the future's result destructor, or the engine when the future never
 * took it). A caller of filch_mpi_status holds a reference to its future,
 * so the record it looks up cannot be freed meanwhile.
 */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>

#include "mpi/engine.h"

struct filch__mpi_result {
	struct filch__mpi_result *next; /* bucket chain, under lock */
	MPI_Status status;
};

#define BUCKETS 256

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct filch__mpi_result *bucket[BUCKETS];

static struct filch__mpi_result **head(const void *p)
{
	uint64_t h = (uint64_t)(uintptr_t)p * 0x9e3779b97f4a7c15ULL;

	return &bucket[h >> 56];
}

struct filch__mpi_result *filch__mpi_result_new(void)
{
	struct filch__mpi_result *r = calloc(1, sizeof(*r)), **b;

	if (!r)
		return NULL;
	pthread_mutex_lock(&lock);
	b = head(r);
	r->next = *b;
	*b = r;
	pthread_mutex_unlock(&lock);
	return r;
}

void filch__mpi_result_free(void *result, void *arg)
{
	struct filch__mpi_result *r = result, **p;

	(void)arg;
	if (!r)
		return;
	pthread_mutex_lock(&lock);
	for (p = head(r); *p; p = &(*p)->next) {
		if (*p == r) {
			*p = r->next;
			break;
		}
	}
	pthread_mutex_unlock(&lock);
	free(r);
}

void filch__mpi_result_set(struct filch__mpi_result *r, const MPI_Status *st)
{
	r->status = *st;
	r->status.MPI_ERROR = MPI_SUCCESS;
}

int filch__mpi_result_get(const void *result, MPI_Status *status)
{
	const struct filch__mpi_result *r;
	int rc = -EINVAL;

	pthread_mutex_lock(&lock);
	for (r = *head(result); r; r = r->next) {
		if (r == result) {
			*status = r->status;
			rc = 0;
			break;
		}
	}
	pthread_mutex_unlock(&lock);
	return rc;
}
