/* SPDX-License-Identifier: MIT */
/*
 * hashd_proto.h - the wire format of hashd (server) and hashd_client, and
 * the work the service does: iterated SHA-256 over a request's payload.
 *
 * Request:  u32 length | u32 id | u32 rounds | payload[length]
 * Response: u32 id | u8 digest[32]
 * Integers are big-endian. digest = hashd_digest(payload, rounds). A
 * connection may pipeline requests; responses carry the request's id and
 * may come back in any order.
 */
#ifndef HASHD_PROTO_H
#define HASHD_PROTO_H

#include <stddef.h>
#include <stdint.h>

#define HASHD_REQUEST_HEADER 12
#define HASHD_RESPONSE_SIZE  36
#define HASHD_DIGEST_SIZE    32
#define HASHD_MAX_PAYLOAD    (1u << 20)
#define HASHD_MAX_ROUNDS     1000u

/* SHA-256 (FIPS 180-4), streaming. */
struct hashd_sha256 {
	uint32_t h[8];
	uint64_t bytes;	   /* message length so far */
	uint8_t block[64]; /* a partial block */
	size_t used;	   /* bytes in block */
};

void hashd_sha256_init(struct hashd_sha256 *s);
void hashd_sha256_update(struct hashd_sha256 *s, const void *data, size_t len);
void hashd_sha256_final(struct hashd_sha256 *s, uint8_t out[HASHD_DIGEST_SIZE]);

/* The service's work: d = SHA-256(payload), then rounds - 1 times
 * d = SHA-256(d || payload). rounds 0 is taken as 1. */
void hashd_digest(const uint8_t *payload, size_t len, uint32_t rounds,
		  uint8_t out[HASHD_DIGEST_SIZE]);

static inline uint32_t hashd_get32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	       (uint32_t)p[2] << 8 | p[3];
}

static inline void hashd_put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

#endif /* HASHD_PROTO_H */
