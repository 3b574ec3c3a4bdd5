/* Streaming digests: SHA-256 (OpenSSL EVP) and, when asked, BLAKE2b-512 and SHA-512. */
#ifndef PETREL_DIGEST_H
#define PETREL_DIGEST_H

#include <stddef.h>
#include <stdint.h>
#include "common/error.h"

enum {
	PETREL_DIGEST_SHA256 = 1,
	PETREL_DIGEST_BLAKE2B = 2,	/* for minisign "ED" (prehashed) signatures */
};

/* Opaque; memory stays constant however many bytes pass through. */
struct petrel_digest;

/* Allocates a digest computing the algorithms in flags. 0 or -ENOMEM. */
int petrel_digest_new(struct petrel_digest **out, int flags);
void petrel_digest_free(struct petrel_digest *d);
/* Feeds n bytes to every enabled algorithm. 0 or -PETREL_EBASE-range error. */
int petrel_digest_update(struct petrel_digest *d, const void *p, size_t n);
/* Finishes; outputs for algorithms not enabled are left untouched. Either may be NULL. */
int petrel_digest_final(struct petrel_digest *d, uint8_t sha256[32], uint8_t blake2b[64]);

/* One-shot helpers. */
int petrel_sha256(const void *p, size_t n, uint8_t out[32]);
/* Hashes a whole regular file by streaming (for fsck), never through a symlink, a FIFO
 * or a device (-EINVAL), never past the size fstat said (-EFBIG). 0 or -errno, no message. */
int petrel_sha256_file(const char *path, uint8_t out[32], uint64_t *size);

/* Sees each chunk petrel_digest_fd read, after d did: 0 goes on, negative stops. */
typedef int (*petrel_chunk_fn)(void *ctx, const void *p, size_t n);

/* Means "no bound" for petrel_digest_fd's limit. */
#define PETREL_DIGEST_UNBOUNDED UINT64_MAX

/*
 * The one loop reading a file into a digest: reads fd to its end through a heap
 * buffer, feeding each chunk to d (NULL: none) and then to fn (NULL: none). limit is
 * the size the caller expects: never more than limit + 1 bytes are read, and a file
 * longer than limit is -EFBIG. *size (may be NULL) gets the bytes read. 0; -errno
 * (with the message "name: strerror" in err when name is not NULL, else none); or
 * what fn or d answered (their message is theirs).
 */
int petrel_digest_fd(struct petrel_digest *d, int fd, const char *name, uint64_t limit,
		     petrel_chunk_fn fn, void *ctx, uint64_t *size, struct petrel_err *err);

#endif
