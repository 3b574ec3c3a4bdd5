/* petrel history: every generation of a target, newest first. */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "common/error.h"
#include "common/util.h"
#include "output.h"

struct listing {
	struct petrel_cli *cli;
	json_t *arr;
	int64_t current, previous;
};

static int row(void *ctx, const struct petrel_generation *g)
{
	struct listing *l = ctx;
	const char *mark = g->number == l->current ? "current" :
			   g->number == l->previous ? "previous" : "";
	char when[32], h[13];
	json_t *o;

	if (l->cli->json) {
		o = petrel_json_generation(g);
		json_object_set_new(o, "current", json_boolean(g->number == l->current));
		json_object_set_new(o, "previous", json_boolean(g->number == l->previous));
		json_array_append_new(l->arr, o);
		return 0;
	}
	petrel_format_time(g->deployed_at, when, sizeof(when));
	petrel_short_hash(g->version.build.sha256, h);
	printf("%5lld  %-8s  %s  %s  %s  %-11s %s\n", (long long)g->number, mark, when,
	       g->version.build.uuid, h, g->state, g->reason);
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
		printf("%5s  %-8s  %-20s  %-36s  %-12s  %s\n", "gen", "", "deployed", "uuid",
		       "sha256", "state");
	r = petrel_store_history(&e->store, t->name, row, &l, err);
	json_object_set_new(o, "generations", l.arr);
	return r;
}

int petrel_cmd_history(struct petrel_cli *cli)
{
	return petrel_each_target_read(cli, one);
}
