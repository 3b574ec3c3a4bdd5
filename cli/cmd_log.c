/* petrel log: the event journal, oldest first, with its hash chain checked. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "commands.h"
#include "common/cancel.h"
#include "common/error.h"
#include "common/log.h"
#include "common/util.h"
#include "output.h"
#include "verify/policy.h"

#define FOLLOW_MS 500	/* --follow looks for new rows twice a second */

struct listing {
	int json, ndjson;	/* --json; one object per line (--follow) */
	int whole;		/* -v: details not cut to the row's width */
	json_t *arr;		/* the rows of the one document (--json without --follow) */
	int64_t rows;
	int64_t broken;		/* the first broken row reported on stderr, 0: none yet */
};

static json_t *row_json(const struct petrel_journal_row *j)
{
	char when[32];

	petrel_format_time(j->time, when, sizeof(when));
	return json_pack("{s:I, s:s, s:o, s:o, s:o, s:s, s:b}", "id", (json_int_t)j->id,
			 "time", when, "target", petrel_json_text(j->target), "event",
			 petrel_json_text(j->event), "detail", petrel_json_text(j->detail),
			 "hash", j->hash, "chain_ok", j->chain_ok);
}

/* One row of text: id, time, '!' when the chain is broken there, target, event, detail;
 * PETREL_TEXT_COLUMNS wide at most unless whole. */
static void print_text(const struct listing *l, const struct petrel_journal_row *j)
{
	char when[32], target[64], event[64], prefix[192], detail[sizeof(j->detail) + 4];
	size_t used;

	petrel_format_time(j->time, when, sizeof(when));
	petrel_fit(j->target, 20, target, sizeof(target));
	petrel_fit(j->event, 16, event, sizeof(event));
	snprintf(prefix, sizeof(prefix), "%6lld %s %c %-12s %-14s ", (long long)j->id, when,
		 j->chain_ok ? ' ' : '!', target, event);
	used = petrel_text_columns(prefix);
	petrel_fit(j->detail, l->whole ? sizeof(detail) :
		   used < PETREL_TEXT_COLUMNS ? PETREL_TEXT_COLUMNS - used : 1, detail,
		   sizeof(detail));
	printf("%s%s\n", prefix, detail);
}

static int row(void *ctx, const struct petrel_journal_row *j)
{
	struct listing *l = ctx;

	l->rows++;
	if (l->ndjson)
		return petrel_json_print(row_json(j));
	if (l->json)
		return json_array_append_new(l->arr, row_json(j)) ? -ENOMEM : 0;
	print_text(l, j);
	return 0;
}

static void report_broken(struct listing *l, int64_t id, const char *why)
{
	if (l->broken)
		return;
	l->broken = id;
	fprintf(stderr, "%spetrel: journal chain broken at row %lld: %s\n",
		petrel_log_priority(PETREL_LOG_ERROR), (long long)id, why);
}

/* A --follow row: printed, and a chain that breaks now said once. */
static int new_row(void *ctx, const struct petrel_journal_row *j)
{
	struct listing *l = ctx;

	if (!j->chain_ok)
		report_broken(l, j->id, "it does not follow from the row before it");
	return row(ctx, j);
}

/* TIME of --since: RFC 3339, a date with or without HH:MM[:SS] (UTC, as log prints
 * times; a trailing Z allowed), or a duration ago with its unit (30m, 2h, 1d). */
static int parse_since(const char *s, int64_t now, int64_t *out)
{
	char buf[32];
	size_t n = strnlen(s, sizeof(buf));
	int64_t ago;

	if (petrel_parse_rfc3339(s, out) == 0)
		return 0;
	if (n > 1 && n < sizeof(buf) && strchr("smhd", s[n - 1]) &&
	    petrel_parse_duration(s, &ago) == 0) {
		*out = now - ago;
		return 0;
	}
	if (n >= sizeof(buf) - 9)
		return -EINVAL;
	memcpy(buf, s, n + 1);
	if (n && (buf[n - 1] == 'Z' || buf[n - 1] == 'z'))
		buf[--n] = '\0';
	if (n == 10)
		memcpy(buf + n, "T00:00:00Z", 11);
	else if (n == 16)
		memcpy(buf + n, ":00Z", 5);
	else if (n == 19)
		memcpy(buf + n, "Z", 2);
	else
		return -EINVAL;
	return petrel_parse_rfc3339(buf, out);
}

/* -n and --since into q; a bad value is a usage error naming the option. */
static int parse_options(const struct petrel_cli *cli, struct petrel_journal_query *q,
			 struct petrel_err *err)
{
	char syn[PETREL_SYNOPSIS_MAX];
	uint64_t n;

	petrel_synopsis(cli->cmd, syn, sizeof(syn));
	q->target = cli->argc == 1 ? cli->argv[0] : NULL;
	q->last = -1;
	if (cli->lines && (petrel_parse_u64(cli->lines, &n) < 0 || n > INT64_MAX))
		return petrel_fail(err, -PETREL_EUSAGE, "option '-n' takes a number of rows, not "
				   "'%s'; usage: %s", cli->lines, syn);
	if (cli->lines)
		q->last = (int64_t)n;
	if (cli->since && parse_since(cli->since, (int64_t)time(NULL), &q->since) < 0)
		return petrel_fail(err, -PETREL_EUSAGE, "option '--since' takes a time "
				   "(2026-12-04T10:00:00Z, '2026-12-04 10:00', 2026-12-04) or a "
				   "duration ago (30m, 2h, 1d), not '%s'; usage: %s", cli->since,
				   syn);
	return 0;
}

/*
 * --follow: new rows as they come, until a signal (dispatch then exits 130 or 143).
 * The store's lock is let go first: a row comes from a command that needs it, and
 * sqlite's WAL gives each read a consistent view without it.
 */
static int follow(struct listing *l, struct petrel_store *s, const char *target,
		  struct petrel_journal_tip *tip, struct petrel_err *err)
{
	int r;

	for (;;) {
		if (fflush(stdout) != 0)
			return petrel_fail(err, -errno, "standard output: %s", strerror(errno));
		if (petrel_sleep_ms(FOLLOW_MS) < 0)
			return 0;
		if ((r = petrel_store_read_again(s, err)) < 0 ||
		    (r = petrel_store_journal_after(s, target, tip, new_row, l, err)) < 0)
			return r;
	}
}

/* The rows asked for, the chain checked over the whole journal; then --follow. */
static int list(const struct petrel_cli *cli, struct listing *l, struct petrel_journal_check *c,
		struct petrel_err *err)
{
	struct petrel_journal_query q = { 0 };
	struct petrel_store s;
	int r;

	if ((r = parse_options(cli, &q, err)) < 0)
		return r;
	if (q.target && !petrel_config_target(&cli->cfg, q.target))
		petrel_log_warn("no target '%s' in %s; showing its journal rows anyway", q.target,
				cli->cfg.path);
	if ((r = petrel_store_open_read(&s, cli->cfg.state_dir, err)) < 0)
		return r;
	if ((r = petrel_store_journal_verify(&s, c, err)) == 0 &&
	    (r = petrel_store_journal_select(&s, &q, c->first_broken, row, l, err)) == 0 &&
	    cli->follow) {
		if (c->first_broken)
			report_broken(l, c->first_broken, c->why);
		r = follow(l, &s, q.target, &c->tip, err);
	}
	petrel_store_close(&s);
	return r;
}

/* Reads the journal from a snapshot, without the lock: never waits for a writer
 * (--follow takes a new snapshot at every look). */
int petrel_cmd_log(struct petrel_cli *cli)
{
	struct petrel_err err = PETREL_ERR_INIT;
	struct listing l = { .json = cli->json, .ndjson = cli->json && cli->follow,
			     .whole = petrel_log_level >= PETREL_LOG_DEBUG };
	struct petrel_journal_check check = { 0 };
	int r;

	if (l.json && !l.ndjson && !(l.arr = json_array()))
		return PETREL_EXIT_FAIL;
	if ((r = list(cli, &l, &check, &err)) < 0) {
		petrel_cli_error(NULL, r, &err);
		json_decref(l.arr);
		return petrel_err_exit(r);
	}
	if (l.arr)
		petrel_json_print(json_pack("{s:{s:b, s:I, s:o}, s:o}", "journal", "ok",
					    !check.first_broken, "rows", (json_int_t)l.rows,
					    "first_broken",
					    check.first_broken ? json_integer(check.first_broken) :
					    json_null(), "events", l.arr));
	if (check.first_broken)
		report_broken(&l, check.first_broken, check.why);
	return PETREL_EXIT_OK;
}
