/* Maintenance windows: parsing and the open/closed decision, across midnight too. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "deploy/target.h"

static void parse_good(void **state)
{
	int s, e;

	(void)state;
	assert_int_equal(petrel_window_parse("02:00-04:30", &s, &e), 0);
	assert_int_equal(s, 120);
	assert_int_equal(e, 270);
	assert_int_equal(petrel_window_parse("22:00-04:00", &s, &e), 0);
	assert_int_equal(s, 1320);
	assert_int_equal(e, 240);
	assert_int_equal(petrel_window_parse("23:00-24:00", &s, &e), 0);
	assert_int_equal(e, 1440);
	assert_int_equal(petrel_window_parse("00:00-24:00", &s, &e), 0);	/* always */
	assert_int_equal(s, -1);
	assert_int_equal(e, -1);
}

static void parse_bad(void **state)
{
	static const char *const bad[] = {
		"", "02:00", "2:00-04:00", "02:00-4:00", "02:00-04:00x", "25:00-03:00",
		"02:60-03:00", "24:00-03:00", "24:01-03:00", "03:00-03:00", "02:00 - 04:00",
		"aa:bb-cc:dd", "02:00-24:30", "-02:00-04:00",
	};
	int s = 7, e = 7;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(petrel_window_parse(bad[i], &s, &e), -1);
		assert_int_equal(s, 7);
		assert_int_equal(e, 7);
	}
}

static void open_closed(void **state)
{
	(void)state;
	assert_true(petrel_window_open(-1, -1, 0));
	assert_true(petrel_window_open(-1, -1, 1439));
	assert_false(petrel_window_open(120, 270, 119));
	assert_true(petrel_window_open(120, 270, 120));
	assert_true(petrel_window_open(120, 270, 269));
	assert_false(petrel_window_open(120, 270, 270));	/* the end is excluded */
	assert_true(petrel_window_open(1320, 240, 1320));	/* across midnight */
	assert_true(petrel_window_open(1320, 240, 0));
	assert_true(petrel_window_open(1320, 240, 239));
	assert_false(petrel_window_open(1320, 240, 240));
	assert_false(petrel_window_open(1320, 240, 720));
	assert_true(petrel_window_open(1380, 1440, 1439));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(parse_good),
		cmocka_unit_test(parse_bad),
		cmocka_unit_test(open_closed),
	};

	return cmocka_run_group_tests_name("window", tests, NULL, NULL);
}
