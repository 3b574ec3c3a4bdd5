/* When the daemon polls: first poll spread, jitter, full-jitter backoff, Retry-After. */
#ifndef PETREL_SCHEDULE_H
#define PETREL_SCHEDULE_H

#include <stdint.h>

/*
 * A source of uniform random numbers (xoshiro256**). The daemon seeds it from the
 * kernel's CSPRNG (petrel_rng_seed_os), so that hosts started in the same second, with
 * the same pid in the same container image, still draw different times; the tests and
 * the fleet simulator seed it with a number (petrel_rng_seed) and get the same run
 * every time. Not for secrets: only for spreading times.
 */
struct petrel_rng {
	uint64_t s[4];
};
/* Any seed, 0 included, gives a usable state (expanded with splitmix64). */
void petrel_rng_seed(struct petrel_rng *r, uint64_t seed);
/* Seeded from getrandom(2). 0 or -errno. */
int petrel_rng_seed_os(struct petrel_rng *r);
uint64_t petrel_rng_next(struct petrel_rng *r);
/* Uniform in [0, n) without modulo bias; 0 when n is 0. */
uint64_t petrel_rng_below(struct petrel_rng *r, uint64_t n);

/* The longest wait a Retry-After may ask for: a server (or something pretending to be
 * it) must not silence a fleet for longer than a day. */
#define PETREL_RETRY_AFTER_MAX_MS (86400LL * 1000)
/* No retry after a failure comes sooner than this (full jitter may draw 0). */
#define PETREL_BACKOFF_FLOOR_MS 1000LL

/* What the next poll of one target depends on. Times in ms on one clock of the
 * caller's choice (the daemon: CLOCK_MONOTONIC; the simulator: simulated time). */
#define PETREL_POLL_START (-1)	/* failures: the first poll after the daemon started */
struct petrel_poll_plan {
	int64_t now;
	int64_t interval;	/* > 0 */
	int64_t backoff_cap;	/* the longest backoff step (the interval when shorter) */
	int failures;		/* PETREL_POLL_START, 0 (the last poll succeeded) or the
				 * number of consecutive failed polls */
	int64_t retry_at;	/* when the last answer's Retry-After said to come back,
				 * 0: none; a time past now + PETREL_RETRY_AFTER_MAX_MS
				 * counts as that */
	/* PETREL_POLL_START only: what a previous daemon left behind */
	int64_t recorded;	/* the next poll it recorded, 0: none */
	int recorded_retry;	/* that was a retry after a failure (backoff or
				 * Retry-After), not a regular poll */
	int at_once;		/* daemon --now: poll at once unless recorded_retry */
};

/*
 * The time of the next poll, never before now:
 *  - PETREL_POLL_START: a recorded retry still ahead (within the longest backoff or
 *    Retry-After) is kept, so a restart never polls a server that asked to be left
 *    alone; else with at_once: now; else a recorded regular poll still ahead (within
 *    1.1 intervals: a shorter interval applies at once) is kept: the previous daemon
 *    drew it at random, so the spread stays; else now + U[0, interval).
 *  - 0 failures: now + interval + U[0, interval / 10).
 *  - n failures: now + U[0, min(max(backoff_cap, interval), interval * 2^(n-1))),
 *    at least PETREL_BACKOFF_FLOOR_MS (or the step, when shorter): full jitter.
 *  - a retry_at later than that wins, plus U[0, interval / 10): hosts told the same
 *    HTTP-date do not all come back in the same second.
 * *by_retry (may be NULL) is set to 1 when retry_at decided the time, else 0.
 * Pure: the same plan and rng state give the same time (the simulator runs this).
 */
int64_t petrel_next_poll(const struct petrel_poll_plan *p, struct petrel_rng *r,
			 int *by_retry);

#endif
