/* When the daemon polls: a pure function of the plan and a seeded random source. */
#include <errno.h>
#include <sys/random.h>

#include "common/schedule.h"

static uint64_t splitmix64(uint64_t *x)
{
	uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

void petrel_rng_seed(struct petrel_rng *r, uint64_t seed)
{
	for (int i = 0; i < 4; i++)
		r->s[i] = splitmix64(&seed);
}

int petrel_rng_seed_os(struct petrel_rng *r)
{
	uint64_t seed;
	ssize_t n;

	do
		n = getrandom(&seed, sizeof(seed), 0);
	while (n < 0 && errno == EINTR);
	if (n != (ssize_t)sizeof(seed))
		return n < 0 ? -errno : -EIO;
	petrel_rng_seed(r, seed);
	return 0;
}

static uint64_t rotl(uint64_t x, int k)
{
	return (x << k) | (x >> (64 - k));
}

uint64_t petrel_rng_next(struct petrel_rng *r)
{
	uint64_t *s = r->s, out = rotl(s[1] * 5, 7) * 9, t = s[1] << 17;

	s[2] ^= s[0];
	s[3] ^= s[1];
	s[1] ^= s[2];
	s[0] ^= s[3];
	s[2] ^= t;
	s[3] = rotl(s[3], 45);
	return out;
}

uint64_t petrel_rng_below(struct petrel_rng *r, uint64_t n)
{
	uint64_t x, limit;

	if (n == 0)
		return 0;
	limit = UINT64_MAX - UINT64_MAX % n;	/* draws at or above it would bias */
	do
		x = petrel_rng_next(r);
	while (x >= limit);
	return x % n;
}

static int64_t uniform(struct petrel_rng *r, int64_t n)
{
	return n > 0 ? (int64_t)petrel_rng_below(r, (uint64_t)n) : 0;
}

/* The full-jitter step after n >= 1 failures: interval doubling up to the cap. */
static int64_t backoff_step(const struct petrel_poll_plan *p)
{
	int64_t cap = p->backoff_cap > p->interval ? p->backoff_cap : p->interval;
	int64_t step = p->interval;

	for (int n = p->failures; n > 1 && step < cap; n--)
		step = step > cap / 2 ? cap : step * 2;
	return step < cap ? step : cap;
}

static int64_t longest_wait(const struct petrel_poll_plan *p)
{
	int64_t cap = p->backoff_cap > p->interval ? p->backoff_cap : p->interval;

	return cap > PETREL_RETRY_AFTER_MAX_MS ? cap : PETREL_RETRY_AFTER_MAX_MS;
}

/* The first poll after a start, from what the previous daemon recorded. */
static int64_t first_poll(const struct petrel_poll_plan *p, struct petrel_rng *r)
{
	int64_t ahead = p->recorded - p->now;

	if (p->recorded && p->recorded_retry && ahead > 0 && ahead <= longest_wait(p))
		return p->recorded;
	if (p->at_once)
		return p->now;
	/* a regular poll farther ahead was planned with a longer interval than this one */
	if (p->recorded && !p->recorded_retry && ahead > 0 &&
	    ahead <= p->interval + p->interval / 10)
		return p->recorded;
	return p->now + uniform(r, p->interval);
}

int64_t petrel_next_poll(const struct petrel_poll_plan *p, struct petrel_rng *r,
			 int *by_retry)
{
	int64_t at, step, retry;
	int won = 0;

	if (p->failures == PETREL_POLL_START) {
		at = first_poll(p, r);
	} else if (p->failures == 0) {
		at = p->now + p->interval + uniform(r, p->interval / 10);
	} else {
		step = backoff_step(p);
		at = uniform(r, step);
		if (at < PETREL_BACKOFF_FLOOR_MS)
			at = step < PETREL_BACKOFF_FLOOR_MS ? step : PETREL_BACKOFF_FLOOR_MS;
		at += p->now;
	}
	if (p->retry_at) {
		retry = p->retry_at - p->now > PETREL_RETRY_AFTER_MAX_MS ?
			p->now + PETREL_RETRY_AFTER_MAX_MS : p->retry_at;
		if (retry > at) {
			at = retry + uniform(r, p->interval / 10);
			won = 1;
		}
	}
	if (by_retry)
		*by_retry = won;
	return at;
}
