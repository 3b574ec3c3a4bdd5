/* petrel upgrade and revert: the switch, through deploy/. */
#include <stdio.h>

#include "cli.h"
#include "common/error.h"
#include "common/log.h"
#include "output.h"

static void print_generation(const char *verb, const struct petrel_target *t,
			     const struct petrel_upgrade_result *res)
{
	char h[13], was[13];

	petrel_short_hash(res->now.version.build.sha256, h);
	if (res->noop) {
		printf("%s: %s %s is already current (generation %lld); nothing to do\n", t->name,
		       res->now.version.build.uuid, h, (long long)res->now.number);
		return;
	}
	if (!res->has_before) {
		printf("%s: %s generation %lld: %s %s at %s\n", t->name, verb,
		       (long long)res->now.number, res->now.version.build.uuid, h, t->path);
		return;
	}
	petrel_short_hash(res->before.version.build.sha256, was);
	printf("%s: %s generation %lld: %s %s at %s (was generation %lld: %s %s)\n", t->name, verb,
	       (long long)res->now.number, res->now.version.build.uuid, h, t->path,
	       (long long)res->before.number, res->before.version.build.uuid, was);
}

static void fill_json(json_t *o, const struct petrel_upgrade_result *res)
{
	json_object_set_new(o, "changed", json_boolean(!res->noop));
	json_object_set_new(o, "current", petrel_json_generation(&res->now));
	json_object_set_new(o, "before", res->has_before && !res->noop ?
			    petrel_json_generation(&res->before) : json_null());
}

static int upgrade_one(struct petrel_cli *cli, struct petrel_engine *e,
		       const struct petrel_target *t, json_t *o, int *status, struct petrel_err *err)
{
	struct petrel_upgrade_result res;
	int r;

	(void)status;
	if ((r = petrel_upgrade(e, t, cli->to_uuid, cli->allow_downgrade, &res, err)) < 0)
		return r;
	fill_json(o, &res);
	if (!cli->json && petrel_log_level >= PETREL_LOG_INFO)
		print_generation("deployed", t, &res);
	return 0;
}

static int revert_one(struct petrel_cli *cli, struct petrel_engine *e,
		      const struct petrel_target *t, json_t *o, int *status, struct petrel_err *err)
{
	struct petrel_upgrade_result res;
	int r;

	(void)status;
	if ((r = petrel_revert(e, t, &res, err)) < 0)
		return r;
	fill_json(o, &res);
	if (!cli->json && petrel_log_level >= PETREL_LOG_INFO)
		print_generation("reverted to", t, &res);
	return 0;
}

int petrel_cmd_upgrade(struct petrel_cli *cli)
{
	return petrel_each_target(cli, upgrade_one);
}

int petrel_cmd_revert(struct petrel_cli *cli)
{
	return petrel_each_target(cli, revert_one);
}
