/* petrel history: every generation of a target, newest first. */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "common/error.h"
#include "common/log.h"
#include "common/util.h"
#include "output.h"

struct listing {
	struct petrel_cli *cli;
	json_t *arr;
	int64_t current, previous;
};

/* One generation: number, current/previous, when, uuid, short sha256, state; why it
 * failed on a line of its own. PETREL_TEXT_COLUMNS wide at most unless -v. */
static void print_text(const struct petrel_generation *g, const char *mark)
{
	char when[32], h[13], reason[sizeof(g->reason) + 4];
	static const char label[] = "      reason: ";

	petrel_format_time(g->deployed_at, when, sizeof(when));
	petrel_short_hash(g->version.build.sha256, h);
	printf("%4lld %-8s %-20s %-36s %-12s %s\n", (long long)g->number, mark, when,
	       g->version.build.uuid, h, g->state);
	if (!g->reason[0])
		return;
	petrel_fit(g->reason, petrel_log_level >= PETREL_LOG_DEBUG ? sizeof(reason) :
		   PETREL_TEXT_COLUMNS - (sizeof(label) - 1), reason, sizeof(reason));
	printf("%s%s\n", label, reason);
}

static int row(void *ctx, const struct petrel_generation *g)
{
	struct listing *l = ctx;
	const char *mark = g->number == l->current ? "current" :
			   g->number == l->previous ? "previous" : "";
	json_t *o;

	if (l->cli->json) {
		o = petrel_json_generation(g);
		json_object_set_new(o, "current", json_boolean(g->number == l->current));
		json_object_set_new(o, "previous", json_boolean(g->number == l->previous));
		json_array_append_new(l->arr, o);
		return 0;
	}
	print_text(g, mark);
	return 0;
}

static int one(struct petrel_cli *cli, struct petrel_engine *e, const struct petrel_target *t,
	       json_t *o, int *status, struct petrel_err *err)
{
	struct listing l = { .cli = cli, .arr = json_array() };
	int r;

	(void)status;
	if ((r = petrel_store_pointers(&e->store, t->name, &l.current, &l.previous, err)) < 0) {
		json_decref(l.arr);
		return r;
	}
	if (!cli->json)
		printf("%4s %-8s %-20s %-36s %-12s %s\n", "gen", "", "deployed", "uuid",
		       "sha256", "state");
	r = petrel_store_history(&e->store, t->name, row, &l, err);
	json_object_set_new(o, "generations", l.arr);
	return r;
}

int petrel_cmd_history(struct petrel_cli *cli)
{
	return petrel_each_target_read(cli, one);
}
