/* Fleet: the poll schedule (spread, jitter, backoff, Retry-After), host key and buckets. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "common/schedule.h"
#include "common/util.h"
#include "deploy/host.h"
#include "verify/rollout.h"

#define S 1000LL	/* ms */
#define H (3600 * S)

static void rng_seeded(void **state)
{
	struct petrel_rng a, b, c;

	(void)state;
	petrel_rng_seed(&a, 42);
	petrel_rng_seed(&b, 42);
	petrel_rng_seed(&c, 43);
	for (int i = 0; i < 100; i++) {
		uint64_t x = petrel_rng_next(&a);

		assert_true(x == petrel_rng_next(&b));
		assert_false(x == petrel_rng_next(&c));
	}
	assert_int_equal(petrel_rng_below(&a, 0), 0);
	assert_int_equal(petrel_rng_below(&a, 1), 0);
	assert_int_equal(petrel_rng_seed_os(&a), 0);
	assert_int_equal(petrel_rng_seed_os(&b), 0);
	assert_false(petrel_rng_next(&a) == petrel_rng_next(&b));
}

/* Every value of [0, 10) comes up, about equally often, and nothing outside. */
static void rng_uniform(void **state)
{
	struct petrel_rng r;
	unsigned seen[10] = { 0 };

	(void)state;
	petrel_rng_seed(&r, 7);
	for (int i = 0; i < 100000; i++) {
		uint64_t x = petrel_rng_below(&r, 10);

		assert_true(x < 10);
		seen[x]++;
	}
	for (int i = 0; i < 10; i++)
		assert_true(seen[i] > 9500 && seen[i] < 10500);
}

static struct petrel_poll_plan plan(int failures)
{
	return (struct petrel_poll_plan){ .now = 1000 * H, .interval = H,
					  .backoff_cap = 6 * H, .failures = failures };
}

/* The extremes n draws of the plan reach: all in [lo, hi), near both ends. */
static void range(struct petrel_poll_plan p, int64_t lo, int64_t hi)
{
	struct petrel_rng r;
	int64_t min = INT64_MAX, max = INT64_MIN;

	petrel_rng_seed(&r, 1);
	for (int i = 0; i < 20000; i++) {
		int64_t at = petrel_next_poll(&p, &r, NULL) - p.now;

		min = at < min ? at : min;
		max = at > max ? at : max;
	}
	assert_true(min >= lo);
	assert_true(max < hi);
	assert_true(min < lo + (hi - lo) / 100);	/* the whole range is used */
	assert_true(max > hi - (hi - lo) / 100);
}

static void first_poll_spread(void **state)
{
	(void)state;
	range(plan(PETREL_POLL_START), 0, H);
}

static void regular_jitter(void **state)
{
	(void)state;
	range(plan(0), H, H + H / 10);
}

static void full_jitter_backoff(void **state)
{
	(void)state;
	range(plan(1), S, H);		/* floor 1 s */
	range(plan(2), S, 2 * H);
	range(plan(3), S, 4 * H);
	range(plan(4), S, 6 * H);	/* backoff_cap */
	range(plan(60), S, 6 * H);	/* no overflow */
	struct petrel_poll_plan p = plan(9);
	p.backoff_cap = 0;		/* a cap under the interval: the interval */
	range(p, S, H);
	p = plan(1);
	p.interval = 500;		/* a step under the floor: the step */
	struct petrel_rng r;
	petrel_rng_seed(&r, 3);
	assert_true(petrel_next_poll(&p, &r, NULL) == p.now + 500);
}

static void retry_after(void **state)
{
	struct petrel_poll_plan p = plan(1);

	(void)state;
	p.retry_at = p.now + 5 * H;	/* later than any draw of the first backoff */
	range(p, 5 * H, 5 * H + H / 10);
	p.retry_at = p.now + 1;		/* earlier: the backoff wins */
	range(p, S, H);
	p = plan(0);
	p.retry_at = p.now + 3 * H;	/* on a good answer too */
	range(p, 3 * H, 3 * H + H / 10);
	p.retry_at = p.now + 30 * 24 * H;	/* a month: a day at most */
	range(p, PETREL_RETRY_AFTER_MAX_MS, PETREL_RETRY_AFTER_MAX_MS + H / 10);
}

static void restart(void **state)
{
	struct petrel_rng r;
	struct petrel_poll_plan p = plan(PETREL_POLL_START);

	(void)state;
	petrel_rng_seed(&r, 5);
	p.recorded = p.now + H / 2;	/* a regular poll still ahead: kept */
	assert_true(petrel_next_poll(&p, &r, NULL) == p.recorded);
	p.at_once = 1;			/* --now: at once */
	assert_true(petrel_next_poll(&p, &r, NULL) == p.now);
	p.recorded_retry = 1;		/* ... unless the server asked to wait */
	p.recorded = p.now + 5 * H;
	assert_true(petrel_next_poll(&p, &r, NULL) == p.recorded);
	p.at_once = 0;
	assert_true(petrel_next_poll(&p, &r, NULL) == p.recorded);
	p.recorded = p.now + 2 * PETREL_RETRY_AFTER_MAX_MS;	/* the clock jumped: ignored */
	range(p, 0, H);
	p.recorded_retry = 0;
	p.recorded = p.now + 2 * H;	/* regular, but the interval shrank since */
	range(p, 0, H);
	p.recorded = p.now + H + H / 10;	/* the longest regular wait: kept */
	assert_true(petrel_next_poll(&p, &r, NULL) == p.recorded);
	p.recorded = p.now - S;		/* in the past: a fresh draw */
	range(p, 0, H);
	p.recorded_retry = 1;
	range(p, 0, H);
}

/* Vectors from Python's hmac and hashlib, not from this code. */
static void host_key_vectors(void **state)
{
	static const struct {
		const char *id, *hex;
	} v[] = {
		{ "0123456789abcdef0123456789abcdef",
		  "d6b80cd97bf6ef08c0a6ed528a1ac80325a163d159210c1ddb2940e6f9104e87" },
		{ "host-a", "9c7ae117d94ea4420e3f6ad91450859776fb0f9f84f22ce610770d1a7912e655" },
		{ "kkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkk",
		  "9d9e985d57906257f6952a660ba4b86c61d409c884da5c9b628756830f621680" },
	};
	uint8_t key[32];
	char hex[65];

	(void)state;
	for (size_t i = 0; i < PETREL_ARRAY_SIZE(v); i++) {
		assert_int_equal(petrel_host_key(v[i].id, strlen(v[i].id), key), 0);
		petrel_hex(key, 32, hex);
		assert_string_equal(hex, v[i].hex);
	}
}

static void bucket_vector(void **state)
{
	uint8_t key[32], sha[32] = { 0x3f, 0x1a };
	uint64_t u;

	(void)state;
	assert_int_equal(petrel_host_key("0123456789abcdef0123456789abcdef", 32, key), 0);
	assert_int_equal(petrel_rollout_bucket(key, "hello", sha, &u), 0);
	assert_true(u == 0xaa16688439fef011ULL);
	assert_true(petrel_bucket_fraction(u) > 0.664 && petrel_bucket_fraction(u) < 0.665);
	sha[31] = 1;			/* another release: another bucket */
	assert_int_equal(petrel_rollout_bucket(key, "hello", sha, &u), 0);
	assert_false(u == 0xaa16688439fef011ULL);
}

static void takes(void **state)
{
	const uint64_t half = 1ULL << 63;

	(void)state;
	assert_true(petrel_ramp_fraction(99, 100, 10) == 0);
	assert_true(petrel_ramp_fraction(105, 100, 10) == 0.5);
	assert_true(petrel_ramp_fraction(111, 100, 10) == 1);
	assert_true(petrel_ramp_fraction(100, 100, 0) == 1);
	assert_true(petrel_rollout_takes(0, 99, 100, 10));	/* u <= 0 */
	assert_false(petrel_rollout_takes(1, 99, 100, 10));
	assert_false(petrel_rollout_takes(1, 100, 100, 10));
	assert_true(petrel_rollout_takes(half, 105, 100, 10));	/* u == fraction: takes */
	assert_false(petrel_rollout_takes(half + 1, 105, 100, 10));
	assert_true(petrel_rollout_takes(UINT64_MAX, 110, 100, 10));
	assert_true(petrel_rollout_takes(UINT64_MAX, 100, 100, 0));
	assert_false(petrel_rollout_takes(UINT64_MAX, 99, 100, 0));
	/* a third of a day: exact, where a double would round */
	assert_true(petrel_rollout_takes(6148914691236517205ULL, 28800, 0, 86400));
	assert_false(petrel_rollout_takes(6148914691236517206ULL, 28800, 0, 86400));
}

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	fputs(text, f);
	assert_int_equal(fclose(f), 0);
}

static void host_identity(void **state)
{
	char dir[] = "/tmp/petrel-fleet-XXXXXX", path[64], big[400];
	struct petrel_config cfg = { 0 };
	struct petrel_err err = PETREL_ERR_INIT;
	uint8_t key[32], want[32];

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/machine-id", dir);
	assert_int_equal(petrel_host_key_of(&cfg, path, key, &err), -PETREL_ECONFIG);
	assert_non_null(strstr(petrel_err_msg(&err, -PETREL_ECONFIG), "machine-id"));
	assert_non_null(strstr(petrel_err_msg(&err, -PETREL_ECONFIG), "set host_id in [petrel]"));
	write_file(path, "  \n");
	err = (struct petrel_err)PETREL_ERR_INIT;
	assert_int_equal(petrel_host_key_of(&cfg, path, key, &err), -PETREL_ECONFIG);
	assert_non_null(strstr(petrel_err_msg(&err, -PETREL_ECONFIG), "is empty"));
	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	write_file(path, big);
	assert_int_equal(petrel_host_key_of(&cfg, path, key, &err), -PETREL_ECONFIG);
	write_file(path, "0123456789abcdef0123456789abcdef\n");	/* as systemd writes it */
	assert_int_equal(petrel_host_key_of(&cfg, path, key, &err), 0);
	assert_int_equal(petrel_host_key("0123456789abcdef0123456789abcdef", 32, want), 0);
	assert_memory_equal(key, want, 32);
	memcpy(cfg.host_id, "host-a", 7);	/* configured: the file is not read */
	unlink(path);
	assert_int_equal(petrel_host_key_of(&cfg, path, key, &err), 0);
	assert_int_equal(petrel_host_key("host-a", 6, want), 0);
	assert_memory_equal(key, want, 32);
	rmdir(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(rng_seeded),
		cmocka_unit_test(rng_uniform),
		cmocka_unit_test(first_poll_spread),
		cmocka_unit_test(regular_jitter),
		cmocka_unit_test(full_jitter_backoff),
		cmocka_unit_test(retry_after),
		cmocka_unit_test(restart),
		cmocka_unit_test(host_key_vectors),
		cmocka_unit_test(bucket_vector),
		cmocka_unit_test(takes),
		cmocka_unit_test(host_identity),
	};

	return cmocka_run_group_tests_name("fleet", tests, NULL, NULL);
}
