/* petrel list: the server's builds of a target's job, marked with what this host knows. */
#include <stdio.h>
#include <time.h>

#include "cli.h"
#include "common/util.h"
#include "deploy/inspect.h"
#include "output.h"

struct listing {
	struct petrel_cli *cli;
	json_t *arr;
	size_t n;
};

static const char *marks_text(const struct petrel_listed *l, char *out, size_t n)
{
	snprintf(out, n, "%s%s%s%s%s", l->deployed ? " deployed" : l->previous ? " previous" : "",
		 l->in_store && !l->deployed && !l->previous ? " in-store" : "",
		 l->rejected ? " rejected" : "", l->refused ? " refused" : "",
		 !l->deployed && !l->previous && !l->in_store && !l->rejected && !l->refused ?
		 " -" : "");
	return out + 1;
}

static int row(void *ctx, const struct petrel_listed *l)
{
	struct listing *s = ctx;
	char when[32] = "?", size[32], h[13], marks[64];
	int64_t t = l->b.start_time;

	if (!s->n++ && !s->cli->json)
		printf("%-36s  %-16s  %9s  %-12s  %s\n", "uuid", "started (UTC)", "size", "sha256",
		       "here");
	if (s->cli->json) {
		json_t *o = petrel_json_build(&l->b);

		json_object_set_new(o, "start_time", petrel_json_time(l->b.start_time));
		/* as history marks generations, and status names rejections and refusals */
		json_object_set_new(o, "current", json_boolean(l->deployed));
		json_object_set_new(o, "previous", json_boolean(l->previous));
		json_object_set_new(o, "in_store", json_boolean(l->in_store));
		json_object_set_new(o, "rejected", !l->rejected ? json_null() :
				    petrel_json_rejection(l->b.uuid, l->b.sha256,
							  l->rejected_reason, l->rejected_at));
		json_object_set_new(o, "refused", l->refused ? petrel_json_refusal(&l->refusal) :
				    json_null());
		return json_array_append_new(s->arr, o) ? -1 : 0;
	}
	if (t > 0) {
		petrel_format_time(t, when, sizeof(when));
		when[16] = '\0';	/* to the minute: the row fits 100 columns */
		when[10] = ' ';
	}
	petrel_human_size(l->b.size, size, sizeof(size));
	petrel_short_hash(l->b.sha256, h);
	printf("%-36s  %-16s  %9s  %s  %s\n", l->b.uuid, when, size, h,
	       marks_text(l, marks, sizeof(marks)));
	return 0;
}

static int one(struct petrel_cli *cli, struct petrel_engine *e, const struct petrel_target *t,
	       json_t *o, int *status, struct petrel_err *err)
{
	struct listing s = { .cli = cli, .arr = json_array() };
	int r;

	(void)status;
	r = petrel_list(e, t, row, &s, err);
	json_object_set_new(o, "job", json_string(t->job));
	json_object_set_new(o, "builds", s.arr);
	if (r == 0 && !cli->json && !s.n)
		printf("(the server lists no build of job %s)\n", t->job);
	return r;
}

/* A read: the server's listing and the store's snapshot, no lock. */
int petrel_cmd_list(struct petrel_cli *cli)
{
	return petrel_each_target_read(cli, one);
}
