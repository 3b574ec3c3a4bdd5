/* Streaming SHA-256 and BLAKE2b-512 through OpenSSL's EVP interface. */
/*
 * Why EVP for both: measured on the 2-core EPYC of tests/bench/RESULTS.md, 256 MiB in
 * 512 KiB updates, OpenSSL 3.0 against libsodium 1.0.18 — SHA-256 1.55-1.65 GB/s
 * (EVP_sha256, the SHA-NI code) against 0.31-0.39 (crypto_hash_sha256); BLAKE2b-512
 * 1.10-1.17 GB/s (EVP_blake2b512) against 0.57-0.60 (crypto_generichash, 64 bytes).
 * An explicitly fetched EVP_MD (EVP_MD_fetch) made no difference at these sizes.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "common/error.h"
#include "common/fs.h"
#include "verify/digest.h"

/* Read size for petrel_digest_fd (on the heap): large enough to keep the SHA instructions busy. */
#define PETREL_DIGEST_CHUNK (256 * 1024)

struct petrel_digest {
	EVP_MD_CTX *sha256;	/* NULL when not enabled */
	EVP_MD_CTX *blake2b;	/* NULL when not enabled */
	int finished;		/* set by petrel_digest_final; later use is -EINVAL */
};

/* A context initialised for md, or NULL (out of memory or OpenSSL refused). */
static EVP_MD_CTX *ctx_new(const EVP_MD *md)
{
	EVP_MD_CTX *c = EVP_MD_CTX_new();

	if (c && EVP_DigestInit_ex(c, md, NULL) != 1) {
		EVP_MD_CTX_free(c);
		c = NULL;
	}
	return c;
}

int petrel_digest_new(struct petrel_digest **out, int flags)
{
	struct petrel_digest *d;

	*out = NULL;
	if (flags & ~(PETREL_DIGEST_SHA256 | PETREL_DIGEST_BLAKE2B))
		return -EINVAL;
	d = calloc(1, sizeof(*d));
	if (!d)
		return -ENOMEM;
	if (flags & PETREL_DIGEST_SHA256)
		d->sha256 = ctx_new(EVP_sha256());
	if (flags & PETREL_DIGEST_BLAKE2B)
		d->blake2b = ctx_new(EVP_blake2b512());
	if ((flags & PETREL_DIGEST_SHA256 && !d->sha256) ||
	    (flags & PETREL_DIGEST_BLAKE2B && !d->blake2b)) {
		petrel_digest_free(d);
		return -ENOMEM;
	}
	*out = d;
	return 0;
}

void petrel_digest_free(struct petrel_digest *d)
{
	if (!d)
		return;
	EVP_MD_CTX_free(d->sha256);
	EVP_MD_CTX_free(d->blake2b);
	free(d);
}

int petrel_digest_update(struct petrel_digest *d, const void *p, size_t n)
{
	if (d->finished)
		return -EINVAL;
	if (n == 0)
		return 0;
	if (d->sha256 && EVP_DigestUpdate(d->sha256, p, n) != 1)
		return -EIO;	/* OpenSSL: sha256 update failed */
	if (d->blake2b && EVP_DigestUpdate(d->blake2b, p, n) != 1)
		return -EIO;	/* OpenSSL: blake2b update failed */
	return 0;
}

/* Finishes one context into out (len bytes expected); out may be NULL. */
static int ctx_final(EVP_MD_CTX *c, uint8_t *out, unsigned int len)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int got = 0;
	unsigned int i;

	if (!c)
		return 0;
	if (EVP_DigestFinal_ex(c, md, &got) != 1 || got != len)
		return -EIO;	/* OpenSSL: digest finalisation failed */
	for (i = 0; out && i < len; i++)
		out[i] = md[i];
	return 0;
}

int petrel_digest_final(struct petrel_digest *d, uint8_t sha256[32], uint8_t blake2b[64])
{
	int r;

	if (d->finished)
		return -EINVAL;
	d->finished = 1;
	r = ctx_final(d->sha256, sha256, 32);
	if (r == 0)
		r = ctx_final(d->blake2b, blake2b, 64);
	return r;
}

int petrel_sha256(const void *p, size_t n, uint8_t out[32])
{
	unsigned int len = 0;

	if (EVP_Digest(p, n, out, &len, EVP_sha256(), NULL) != 1 || len != 32)
		return -EIO;	/* OpenSSL: sha256 failed */
	return 0;
}

/* A read failure, said with name when there is one. */
static int read_failed(const char *name, int e, struct petrel_err *err)
{
	return name ? petrel_fail(err, -e, "%s: %s", name, strerror(e)) : -e;
}

/* One read of at most n bytes, retried on EINTR: the count, 0 at the end, or -errno. */
static ssize_t read_some(int fd, uint8_t *buf, size_t n)
{
	ssize_t got;

	do
		got = read(fd, buf, n);
	while (got < 0 && errno == EINTR);
	return got < 0 ? -errno : got;
}

int petrel_digest_fd(struct petrel_digest *d, int fd, const char *name, uint64_t limit,
		     petrel_chunk_fn fn, void *ctx, uint64_t *size, struct petrel_err *err)
{
	uint8_t *buf = malloc(PETREL_DIGEST_CHUNK);
	uint64_t total = 0, left;
	ssize_t n;
	int r = 0;

	if (!buf)
		return -ENOMEM;
	for (;;) {
		/* one byte past the limit is enough to know the file is longer */
		left = limit - total < PETREL_DIGEST_CHUNK ? limit - total + 1 : PETREL_DIGEST_CHUNK;
		if ((n = read_some(fd, buf, (size_t)left)) <= 0) {
			r = n < 0 ? read_failed(name, (int)-n, err) : 0;
			break;
		}
		if ((uint64_t)n > limit - total) {
			r = name ? petrel_fail(err, -EFBIG, "%s: longer than the expected %llu "
					       "bytes", name, (unsigned long long)limit) : -EFBIG;
			break;
		}
		total += (uint64_t)n;
		if ((d && (r = petrel_digest_update(d, buf, (size_t)n)) < 0) ||
		    (fn && (r = fn(ctx, buf, (size_t)n)) < 0))
			break;
	}
	free(buf);
	if (size)
		*size = total;
	return r;
}

int petrel_sha256_file(const char *path, uint8_t out[32], uint64_t *size)
{
	struct petrel_digest *d = NULL;
	uint64_t total = 0;
	struct stat st;
	int fd, r;

	/* no symlink, no FIFO or device; no more than the size fstat said (a file growing
	 * while it is read is -EFBIG) */
	fd = petrel_open_regular(path, 0, &st);
	if (fd < 0)
		return fd;
	r = petrel_digest_new(&d, PETREL_DIGEST_SHA256);
	if (r < 0)
		goto out;
	r = petrel_digest_fd(d, fd, NULL, (uint64_t)st.st_size, NULL, NULL, &total, NULL);
	if (r < 0)
		goto out;
	r = petrel_digest_final(d, out, NULL);
	if (r == 0 && size)
		*size = total;
out:
	petrel_digest_free(d);
	close(fd);
	return r;
}
