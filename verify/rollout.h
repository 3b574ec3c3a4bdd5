/* Staged rollouts: the host key and a host's bucket for a release (DESIGN.md, "Fleet"). */
#ifndef PETREL_ROLLOUT_H
#define PETREL_ROLLOUT_H

#include <stddef.h>
#include <stdint.h>

#define PETREL_HOST_KEY_LEN 32
#define PETREL_ROLLOUT_DOMAIN "petrel-rollout-v1"

/*
 * The host key: HMAC-SHA256 with key = host_id (n bytes, as configured or read from
 * /etc/machine-id) over the 6 bytes "petrel". Nothing else about the host is used, and
 * the key does not reveal host_id. 0 or a negative code.
 */
int petrel_host_key(const void *host_id, size_t n, uint8_t key[PETREL_HOST_KEY_LEN]);

/*
 * The host's bucket for a release of job: the first 8 bytes, big-endian, of
 * SHA-256("petrel-rollout-v1" || host key || job || the release's raw 32-byte sha256).
 * It stands for u = bucket / 2^64 in [0, 1): new for every release, so the first
 * cohort of one release is not the first cohort of the next. 0 or a negative code.
 */
int petrel_rollout_bucket(const uint8_t key[PETREL_HOST_KEY_LEN], const char *job,
			  const uint8_t sha256[32], uint64_t *bucket);

/* bucket / 2^64, for people and metrics (the decision below is exact). */
double petrel_bucket_fraction(uint64_t bucket);

/* clamp((now - start) / duration, 0, 1): the share of hosts a ramp has reached; a
 * duration of 0 or less is a step at start. */
double petrel_ramp_fraction(int64_t now, int64_t start, int64_t duration);

/*
 * 1 when the host with bucket takes the release at now: u <= clamp((now - start) /
 * duration, 0, 1), decided in exact integer arithmetic (u * duration <= (now - start)
 * * 2^64), so two implementations of DESIGN.md never disagree at the border.
 * Before start only a bucket of exactly 0 takes it; from start + duration on, all do.
 */
int petrel_rollout_takes(uint64_t bucket, int64_t now, int64_t start, int64_t duration);

#endif
