/* petrel log: the event journal, oldest first, with its hash chain checked. */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "common/error.h"
#include "common/log.h"
#include "common/util.h"
#include "output.h"

struct listing {
	int json;
	json_t *arr;
	int64_t rows, first_broken;
};

static int row(void *ctx, const struct petrel_journal_row *j)
{
	struct listing *l = ctx;
	char when[32];

	l->rows++;
	if (!j->chain_ok && !l->first_broken)
		l->first_broken = j->id;
	petrel_format_time(j->time, when, sizeof(when));
	if (l->json)
		return json_array_append_new(l->arr,
					     json_pack("{s:I, s:s, s:o, s:o, s:o, s:s, s:b}",
			"id", (json_int_t)j->id, "time", when, "target", petrel_json_text(j->target),
			"event", petrel_json_text(j->event), "detail", petrel_json_text(j->detail),
			"hash", j->hash, "chain_ok", j->chain_ok)) ? -12 : 0;
	printf("%6lld %s %c %-12s %-14s %s\n", (long long)j->id, when, j->chain_ok ? ' ' : '!',
	       j->target, j->event, j->detail);
	return 0;
}

/* Reads the journal from a snapshot, without the lock: never waits for a writer. */
int petrel_cmd_log(struct petrel_cli *cli)
{
	struct petrel_err err = PETREL_ERR_INIT;
	struct listing l = { .json = cli->json, .arr = json_array() };
	struct petrel_journal_check check = { 0 };
	const char *target = NULL;
	struct petrel_store s;
	int r;

	if (cli->argc == 1 && !(target = cli->argv[0], petrel_config_target(&cli->cfg, target)))
		petrel_log_warn("no target '%s' in %s; showing its journal rows anyway", target,
				cli->cfg.path);
	if ((r = petrel_store_open_read(&s, cli->cfg.state_dir, &err)) == 0) {
		if ((r = petrel_store_journal_each(&s, target, row, &l, &err)) == 0 &&
		    (r = petrel_store_journal_verify(&s, &check, &err)) == 0)
			l.first_broken = check.first_broken;	/* also a deleted last row */
		petrel_store_close(&s);
	}
	if (r < 0) {
		petrel_cli_error(NULL, r, &err);
		json_decref(l.arr);
		return petrel_err_exit(r);
	}
	if (cli->json)
		petrel_json_print(json_pack("{s:{s:b, s:I, s:o}, s:o}", "journal", "ok",
					    !l.first_broken, "rows", (json_int_t)l.rows, "first_broken",
					    l.first_broken ? json_integer(l.first_broken) : json_null(),
					    "events", l.arr));
	else
		json_decref(l.arr);
	if (l.first_broken)
		fprintf(stderr, "%spetrel: journal chain broken at row %lld: %s\n",
			petrel_log_priority(PETREL_LOG_ERROR),
			(long long)l.first_broken, check.why);
	return PETREL_EXIT_OK;
}
