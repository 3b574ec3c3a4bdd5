/* Staged rollouts: host key (HMAC-SHA256) and bucket (SHA-256), exactly as DESIGN.md. */
#include <errno.h>
#include <string.h>

#include "verify/digest.h"
#include "verify/rollout.h"

/* SHA-256 over the pieces p[0..n), each len[i] bytes. */
static int sha256_of(const void *const *p, const size_t *len, size_t n, uint8_t out[32])
{
	struct petrel_digest *d;
	int r;

	if ((r = petrel_digest_new(&d, PETREL_DIGEST_SHA256)) < 0)
		return r;
	for (size_t i = 0; r == 0 && i < n; i++)
		r = petrel_digest_update(d, p[i], len[i]);
	if (r == 0)
		r = petrel_digest_final(d, out, NULL);
	petrel_digest_free(d);
	return r;
}

/* RFC 2104 with SHA-256 (block 64 bytes): a key longer than a block is hashed first. */
static int hmac_sha256(const void *key, size_t klen, const void *msg, size_t mlen,
		       uint8_t out[32])
{
	uint8_t k[64] = { 0 }, ipad[64], opad[64], inner[32];
	int r = 0;

	if (klen > sizeof(k))
		r = petrel_sha256(key, klen, k);
	else if (klen)
		memcpy(k, key, klen);
	for (size_t i = 0; i < sizeof(k); i++) {
		ipad[i] = k[i] ^ 0x36;
		opad[i] = k[i] ^ 0x5c;
	}
	if (r == 0)
		r = sha256_of((const void *const[]){ ipad, msg }, (const size_t[]){ 64, mlen }, 2,
			      inner);
	if (r == 0)
		r = sha256_of((const void *const[]){ opad, inner }, (const size_t[]){ 64, 32 }, 2,
			      out);
	return r;
}

int petrel_host_key(const void *host_id, size_t n, uint8_t key[PETREL_HOST_KEY_LEN])
{
	return hmac_sha256(host_id, n, "petrel", 6, key);
}

int petrel_rollout_bucket(const uint8_t key[PETREL_HOST_KEY_LEN], const char *job,
			  const uint8_t sha256[32], uint64_t *bucket)
{
	const void *p[] = { PETREL_ROLLOUT_DOMAIN, key, job, sha256 };
	const size_t len[] = { strlen(PETREL_ROLLOUT_DOMAIN), PETREL_HOST_KEY_LEN, strlen(job),
			       32 };
	uint8_t h[32];
	int r;

	if ((r = sha256_of(p, len, 4, h)) < 0)
		return r;
	*bucket = 0;
	for (int i = 0; i < 8; i++)
		*bucket = *bucket << 8 | h[i];
	return 0;
}

double petrel_bucket_fraction(uint64_t bucket)
{
	return (double)bucket / 18446744073709551616.0;	/* 2^64 */
}

double petrel_ramp_fraction(int64_t now, int64_t start, int64_t duration)
{
	if (now < start)
		return 0;
	if (duration <= 0 || now - start >= duration)
		return 1;
	return (double)(now - start) / (double)duration;
}

int petrel_rollout_takes(uint64_t bucket, int64_t now, int64_t start, int64_t duration)
{
	if (now < start)
		return bucket == 0;
	if (duration <= 0 || now - start >= duration)
		return 1;
	return (unsigned __int128)bucket * (uint64_t)duration <=
	       (unsigned __int128)(uint64_t)(now - start) << 64;
}
