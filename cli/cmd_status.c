/* petrel status: what is deployed (current, previous), and the newest verified build. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "common/error.h"
#include "common/util.h"
#include "output.h"

static void print_version(const char *label, const struct petrel_version *v, int64_t gen,
			  int64_t deployed_at)
{
	char hex[65], when[32], trust[PETREL_TRUST_TEXT_MAX];

	petrel_hex(v->build.sha256, 32, hex);
	if (gen)
		printf("  %s: generation %lld, %s %s\n", label, (long long)gen, v->build.job,
		       v->build.uuid);
	else
		printf("  %s: %s %s\n", label, v->build.job, v->build.uuid);
	printf("    file:     %s, %llu bytes\n", v->build.filename,
	       (unsigned long long)v->build.size);
	printf("    sha256:   %s\n", hex);
	petrel_trust_text(v, trust, sizeof(trust));
	printf("    trust:    %s\n", trust);
	petrel_format_time(deployed_at ? deployed_at : v->verified_at, when, sizeof(when));
	printf("    %s %s\n", deployed_at ? "deployed:" : "verified:", when);
}

static int one(struct petrel_cli *cli, struct petrel_engine *e, const struct petrel_target *t,
	       json_t *o, int *status, struct petrel_err *err)
{
	struct petrel_generation cur, prev;
	struct petrel_version v;
	int r, staged;

	(void)status;
	if ((r = petrel_store_current(&e->store, t->name, &cur, &prev, err)) < 0)
		return r;
	r = petrel_store_newest_version(&e->store, t->name, &v, err);
	if (r < 0 && r != -PETREL_ENOTFOUND)
		return r;
	staged = r == 0 && (!cur.number || memcmp(v.build.sha256, cur.version.build.sha256, 32));
	json_object_set_new(o, "job", json_string(t->job));
	json_object_set_new(o, "path", petrel_json_text(t->path));
	json_object_set_new(o, "current", cur.number ? petrel_json_generation(&cur) : json_null());
	json_object_set_new(o, "previous",
			    prev.number ? petrel_json_generation(&prev) : json_null());
	json_object_set_new(o, "staged", staged ? petrel_json_version(&v) : json_null());
	if (cli->json)
		return 0;
	printf("%s (job %s on %s, %s)\n", t->name, t->job, t->server->name, t->path);
	if (cur.number)
		print_version("current", &cur.version, cur.number, cur.deployed_at);
	else
		printf("  current: nothing deployed\n");
	if (prev.number)
		print_version("previous", &prev.version, prev.number, prev.deployed_at);
	if (staged)
		print_version("newest verified, not deployed", &v, 0, 0);
	else if (!cur.number)
		printf("  newest verified: nothing fetched yet\n");
	return 0;
}

int petrel_cmd_status(struct petrel_cli *cli)
{
	return petrel_each_target(cli, one);
}
