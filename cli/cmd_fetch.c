/* petrel fetch: download and verify the newest build into the store. */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "common/log.h"
#include "output.h"

static void print_text(const struct petrel_target *t, const struct petrel_version *v, int already)
{
	char h[13];

	petrel_short_hash(v->build.sha256, h);
	if (already) {
		printf("%s: %s %s already in the store\n", t->name, v->build.uuid, h);
		return;
	}
	printf("%s: fetched %s %s (%s, %llu bytes), trust %s%s%s%s%s\n", t->name, v->build.uuid,
	       h, v->build.filename, (unsigned long long)v->build.size, v->trust,
	       v->keyids[0] ? ", signed by " : "", v->keyids,
	       v->rebuilders[0] ? ", rebuilt by " : "", v->rebuilders);
	if (!strcmp(v->trust, "server"))
		printf("%s: weak: the hash comes from the server only\n", t->name);
}

static int one(struct petrel_cli *cli, struct petrel_engine *e, const struct petrel_target *t,
	       json_t *o, int *status, struct petrel_err *err)
{
	struct petrel_version v;
	int r, already = 0;

	(void)status;
	e->stage_only = 1;	/* nothing is deployed: the bytes need not stay cached */
	if ((r = petrel_fetch_target(e, t, NULL, &v, &already, err)) < 0)
		return r;
	json_object_set_new(o, "fetched", json_boolean(!already));
	json_object_set_new(o, "version", petrel_json_version(&v));
	if (!cli->json && petrel_log_level >= PETREL_LOG_INFO)
		print_text(t, &v, already);
	return 0;
}

int petrel_cmd_fetch(struct petrel_cli *cli)
{
	return petrel_each_target(cli, one);
}
