/* petrel check: is the server's newest build what is deployed? */
#include <stdio.h>
#include <stdlib.h>

#include "cli.h"
#include "common/error.h"
#include "common/util.h"
#include "output.h"

static void print_text(const struct petrel_target *t, const struct petrel_check *c)
{
	char newh[13], oldh[13];

	petrel_short_hash(c->remote.sha256, newh);
	if (!c->update) {
		printf("%s: up to date (%s %s)\n", t->name, c->remote.uuid, newh);
		return;
	}
	if (c->have_deployed) {
		petrel_short_hash(c->deployed.build.sha256, oldh);
		printf("%s: update available: %s %s -> %s %s%s\n", t->name, c->deployed.build.uuid,
		       oldh, c->remote.uuid, newh, c->in_store ? " (already fetched)" : "");
	} else {
		printf("%s: update available: nothing deployed -> %s %s%s\n", t->name,
		       c->remote.uuid, newh, c->in_store ? " (already fetched)" : "");
	}
}

static json_t *json_result(const struct petrel_target *t, const struct petrel_check *c, int r)
{
	json_t *o = json_pack("{s:s}", "name", t->name);

	if (r < 0) {
		json_object_set_new(o, "error", json_string(petrel_error_message()));
		json_object_set_new(o, "exit", json_integer(petrel_exit_status(r)));
		return o;
	}
	json_object_set_new(o, "update", json_boolean(c->update));
	json_object_set_new(o, "in_store", json_boolean(c->in_store));
	json_object_set_new(o, "remote", petrel_json_build(&c->remote));
	json_object_set_new(o, "deployed", c->have_deployed ?
			    petrel_json_version(&c->deployed) : json_null());
	return o;
}

int petrel_cmd_check(struct petrel_cli *cli)
{
	json_t *arr = json_array();
	struct petrel_run run;
	int r, status;

	if ((status = petrel_run_begin(cli, &run)) != 0) {
		json_decref(arr);
		return status;
	}
	for (size_t i = 0; i < run.n; i++) {
		struct petrel_check c;

		r = petrel_check_target(&run.e, run.ts[i], &c);
		if (cli->json)
			json_array_append_new(arr, json_result(run.ts[i], &c, r));
		if (r < 0) {
			petrel_cli_error(run.ts[i]->name, r);
			if (status == PETREL_EXIT_OK || status == PETREL_EXIT_UPDATE)
				status = petrel_exit_status(r);
			continue;
		}
		if (!cli->json)
			print_text(run.ts[i], &c);
		if (c.update && status == PETREL_EXIT_OK)
			status = PETREL_EXIT_UPDATE;
	}
	if (cli->json)
		petrel_json_print(json_pack("{s:o}", "targets", arr));
	else
		json_decref(arr);
	petrel_run_end(&run);
	return status;
}
