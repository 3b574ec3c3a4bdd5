/* Unit tests for the journal's reads: rows selected in SQL, a walk that goes on from a tip. */
#include <ftw.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "common/error.h"
#include "store/store.h"

struct fixture {
	char dir[64];
	struct petrel_store s;
};

/* What a read passed on: "id:target:event[!]" for each row, space-separated. */
struct seen {
	char text[512];
};

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb, (void)flag, (void)ftw;
	return remove(path);
}

/* Six chained rows, as petrel appends them: web a, db b, web c, web d, db e, web f. */
static int setup(void **state)
{
	static const char *const rows[][2] = {
		{ "web", "a" }, { "db", "b" }, { "web", "c" }, { "web", "d" }, { "db", "e" },
		{ "web", "f" },
	};
	struct petrel_err err = PETREL_ERR_INIT;
	struct fixture *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	memcpy(f->dir, "/tmp/petrel-journal-XXXXXX", sizeof("/tmp/petrel-journal-XXXXXX"));
	assert_non_null(mkdtemp(f->dir));
	assert_int_equal(petrel_store_open(&f->s, f->dir, &err), 0);
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++)
		assert_int_equal(petrel_store_journal(&f->s, rows[i][0], rows[i][1], "", &err), 0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	petrel_store_close(&f->s);
	nftw(f->dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	free(f);
	return 0;
}

static int note(void *ctx, const struct petrel_journal_row *row)
{
	struct seen *s = ctx;
	size_t n = strlen(s->text);

	snprintf(s->text + n, sizeof(s->text) - n, "%s%lld:%s:%s%s", n ? " " : "",
		 (long long)row->id, row->target, row->event, row->chain_ok ? "" : "!");
	return 0;
}

static void select_rows(struct fixture *f, const char *target, int64_t since, int64_t last,
			int64_t first_broken, const char *want)
{
	struct petrel_journal_query q = { target, since, last };
	struct petrel_err err = PETREL_ERR_INIT;
	struct seen s = { "" };

	assert_int_equal(petrel_store_journal_select(&f->s, &q, first_broken, note, &s, &err), 0);
	assert_string_equal(s.text, want);
}

static void test_select(void **state)
{
	struct fixture *f = *state;

	/* times 100, 200, ...: the chain breaks, which select leaves to first_broken */
	assert_int_equal(sqlite3_exec(f->s.db, "UPDATE journal SET time = id * 100", NULL, NULL,
				      NULL), SQLITE_OK);
	select_rows(f, NULL, 0, -1, 0, "1:web:a 2:db:b 3:web:c 4:web:d 5:db:e 6:web:f");
	select_rows(f, NULL, 0, 2, 0, "5:db:e 6:web:f");
	select_rows(f, "web", 0, 2, 0, "4:web:d 6:web:f");
	select_rows(f, "db", 0, 10, 0, "2:db:b 5:db:e");
	select_rows(f, NULL, 300, -1, 0, "3:web:c 4:web:d 5:db:e 6:web:f");
	select_rows(f, "web", 301, -1, 0, "4:web:d 6:web:f");
	select_rows(f, "web", 200, 1, 0, "6:web:f");
	select_rows(f, NULL, 0, 0, 0, "");
	select_rows(f, "nosuch", 0, -1, 0, "");
	/* chain_ok as the verification said: the row it names and every later one */
	select_rows(f, NULL, 0, 3, 5, "4:web:d 5:db:e! 6:web:f!");
}

static void test_verify_tip_and_after(void **state)
{
	struct fixture *f = *state;
	struct petrel_err err = PETREL_ERR_INIT;
	struct petrel_journal_check c;
	struct seen s = { "" };

	assert_int_equal(petrel_store_journal_verify(&f->s, &c, &err), 0);
	assert_int_equal(c.first_broken, 0);
	assert_int_equal(c.tip.id, 6);
	assert_int_equal(c.tip.chain_ok, 1);
	/* nothing new: nothing passed on, the tip stays */
	assert_int_equal(petrel_store_journal_after(&f->s, NULL, &c.tip, note, &s, &err), 0);
	assert_string_equal(s.text, "");
	assert_int_equal(c.tip.id, 6);
	/* new rows: only those after the tip, only the target's, the chain going on */
	assert_int_equal(petrel_store_journal(&f->s, "db", "g", "", &err), 0);
	assert_int_equal(petrel_store_journal(&f->s, "web", "h", "", &err), 0);
	assert_int_equal(petrel_store_journal_after(&f->s, "web", &c.tip, note, &s, &err), 0);
	assert_string_equal(s.text, "8:web:h");
	assert_int_equal(c.tip.id, 8);
	/* a row whose link does not hold is marked, and so is every row after it */
	assert_int_equal(petrel_store_journal(&f->s, "web", "i", "", &err), 0);
	assert_int_equal(petrel_store_journal(&f->s, "web", "j", "", &err), 0);
	assert_int_equal(sqlite3_exec(f->s.db, "UPDATE journal SET detail = 'x' WHERE id = 9",
				      NULL, NULL, NULL), SQLITE_OK);
	s.text[0] = '\0';
	assert_int_equal(petrel_store_journal_after(&f->s, NULL, &c.tip, note, &s, &err), 0);
	assert_string_equal(s.text, "9:web:i! 10:web:j!");
	assert_int_equal(c.tip.chain_ok, 0);
	/* and the whole walk from the start says the same */
	assert_int_equal(petrel_store_journal_verify(&f->s, &c, &err), 0);
	assert_int_equal(c.first_broken, 9);
	assert_int_equal(c.tip.id, 10);
	assert_int_equal(c.tip.chain_ok, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_select, setup, teardown),
		cmocka_unit_test_setup_teardown(test_verify_tip_and_after, setup, teardown),
	};

	return cmocka_run_group_tests_name("journal", tests, NULL, NULL);
}
