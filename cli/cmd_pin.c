/* petrel pin and unpin: the operator holds a target at a build, and lets it go. */
#include <stdio.h>

#include "cli.h"
#include "common/error.h"
#include "common/log.h"
#include "common/util.h"
#include "deploy/inspect.h"
#include "output.h"

static int pin_one(struct petrel_cli *cli, struct petrel_engine *e,
		   const struct petrel_target *t, json_t *o, int *status, struct petrel_err *err)
{
	struct petrel_pin pin;
	int r;

	(void)status;
	if ((r = petrel_pin(e, t, cli->to_uuid, &pin, err)) < 0)
		return r;
	json_object_set_new(o, "pinned", petrel_json_pin(&pin));
	if (!cli->json && petrel_log_level >= PETREL_LOG_INFO)
		printf("%s: pinned at %s %.12s; the daemon leaves it alone until "
		       "'petrel unpin %s'\n", t->name, pin.uuid, pin.sha256, t->name);
	return 0;
}

static int unpin_one(struct petrel_cli *cli, struct petrel_engine *e,
		     const struct petrel_target *t, json_t *o, int *status,
		     struct petrel_err *err)
{
	int r = petrel_store_unpin(&e->store, t->name, err);

	(void)status;
	if (r < 0 && r != -PETREL_ENOTFOUND)
		return r;
	json_object_set_new(o, "was_pinned", json_boolean(r == 0));
	if (!cli->json && petrel_log_level >= PETREL_LOG_INFO)
		printf(r == 0 ? "%s: unpinned; the daemon updates it again\n" :
		       "%s: was not pinned\n", t->name);
	return 0;
}

/* pin TARGET [UUID]: the target is argv[0]; petrel_cli_targets must see only it. */
int petrel_cmd_pin(struct petrel_cli *cli)
{
	int argc = cli->argc, r;

	cli->to_uuid = argc > 1 ? cli->argv[1] : NULL;
	cli->argc = 1;
	r = petrel_each_target(cli, pin_one);
	cli->argc = argc;
	return r;
}

int petrel_cmd_unpin(struct petrel_cli *cli)
{
	return petrel_each_target(cli, unpin_one);
}
