/* Streaming SHA-256 and BLAKE2b-512 through OpenSSL's EVP interface. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "common/error.h"
#include "verify/digest.h"

/* Read size for petrel_sha256_file: large enough to keep the SHA instructions busy. */
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

/* Streams fd through d; *size gets the byte count. 0 or -errno. */
static int hash_fd(int fd, struct petrel_digest *d, uint64_t *size)
{
	uint8_t *buf = malloc(PETREL_DIGEST_CHUNK);
	ssize_t n;
	int r = 0;

	if (!buf)
		return -ENOMEM;
	*size = 0;
	for (;;) {
		n = read(fd, buf, PETREL_DIGEST_CHUNK);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			r = -errno;
			break;
		}
		if (n == 0)
			break;
		r = petrel_digest_update(d, buf, (size_t)n);
		if (r < 0)
			break;
		*size += (uint64_t)n;
	}
	free(buf);
	return r;
}

int petrel_sha256_file(const char *path, uint8_t out[32], uint64_t *size)
{
	struct petrel_digest *d = NULL;
	uint64_t total = 0;
	int fd, r;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	r = petrel_digest_new(&d, PETREL_DIGEST_SHA256);
	if (r < 0)
		goto out;
	r = hash_fd(fd, d, &total);
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
