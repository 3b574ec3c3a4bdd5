/* petrel upgrade and revert: the switch, through deploy/. */
#include <stdio.h>

#include "cli.h"
#include "common/error.h"
#include "common/log.h"
#include "common/util.h"
#include "deploy/inspect.h"
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

/* upgrade --all: a pinned target is left alone, as apt leaves a held package. */
static int upgrade_any(struct petrel_cli *cli, struct petrel_engine *e,
		       const struct petrel_target *t, json_t *o, int *status,
		       struct petrel_err *err)
{
	struct petrel_pin pin;
	int r = petrel_store_pinned(&e->store, t->name, &pin, err);

	if (r == -PETREL_ENOTFOUND)
		return upgrade_one(cli, e, t, o, status, err);
	if (r < 0)
		return r;
	json_object_set_new(o, "changed", json_false());
	json_object_set_new(o, "pinned", petrel_json_pin(&pin));
	if (!cli->json && petrel_log_level >= PETREL_LOG_INFO)
		printf("%s: pinned at %s; left alone\n", t->name, pin.uuid);
	return 0;
}

static void print_plan(const struct petrel_target *t, const struct petrel_plan *p)
{
	char h[13], size[32], ch[13], url[4 * sizeof(p->url)], why[4 * sizeof(p->rejected_reason)];

	petrel_short_hash(p->build.sha256, h);
	petrel_text_safe(p->url, url, sizeof(url));	/* no credentials shown */
	petrel_text_safe(p->rejected_reason, why, sizeof(why));
	if (p->noop) {
		printf("%s: %s %s is current already; upgrade would do nothing\n", t->name,
		       p->build.uuid, h);
		return;
	}
	petrel_human_size(p->build.size, size, sizeof(size));
	printf("%s: upgrade would deploy %s %s (%s)\n", t->name, p->build.uuid, h, size);
	if (p->in_store)
		printf("  fetch:   none, verified already (trust %s)\n", p->stored.trust);
	else
		printf("  fetch:   %s, %s; then verify sha256 and signatures (threshold %u)%s\n",
		       url, size, t->threshold, p->refused ?
		       " -- it failed verification here before" : "");
	if (p->current.number) {
		petrel_short_hash(p->current.version.build.sha256, ch);
		printf("  switch:  %s, from generation %lld (%s %s)\n", t->path,
		       (long long)p->current.number, p->current.version.build.uuid, ch);
	} else {
		printf("  switch:  %s, first deploy\n", t->path);
	}
	printf("  then:    orchestrator %s%s%s\n", t->orchestrator, t->health[0] ?
	       ", health " : "", t->health);
	if (p->rejected)
		printf("  note:    rejected here before (%s); deployed because named with --to\n",
		       why);
}

static int plan_one(struct petrel_cli *cli, struct petrel_engine *e,
		    const struct petrel_target *t, json_t *o, int *status, struct petrel_err *err)
{
	struct petrel_plan p;
	int r;

	(void)status;
	if ((r = petrel_upgrade_plan(e, t, cli->to_uuid, cli->allow_downgrade, &p, err)) < 0)
		return r;
	json_object_set_new(o, "changed", json_false());
	json_object_set_new(o, "would", json_string(p.noop ? "nothing" : "deploy"));
	json_object_set_new(o, "build", petrel_json_build(&p.build));
	json_object_set_new(o, "download", json_boolean(!p.in_store));
	json_object_set_new(o, "url", p.in_store ? json_null() : petrel_json_text(p.url));
	json_object_set_new(o, "current", p.current.number ?
			    petrel_json_generation(&p.current) : json_null());
	if (!cli->json)
		print_plan(t, &p);
	return 0;
}

int petrel_cmd_upgrade(struct petrel_cli *cli)
{
	struct petrel_err err = PETREL_ERR_INIT;

	if (cli->all == (cli->argc == 1)) {
		petrel_fail(&err, -PETREL_EUSAGE, cli->all ? "upgrade --all names no target" :
			    "upgrade needs a TARGET, or --all");
		petrel_cli_error(NULL, -PETREL_EUSAGE, &err);
		return PETREL_EXIT_USAGE;
	}
	if (cli->dry_run)	/* a read: no lock, nothing written */
		return petrel_each_target_read(cli, plan_one);
	return petrel_each_target(cli, cli->all ? upgrade_any : upgrade_one);
}

int petrel_cmd_revert(struct petrel_cli *cli)
{
	return petrel_each_target(cli, revert_one);
}
