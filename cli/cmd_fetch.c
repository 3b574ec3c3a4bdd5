/* petrel fetch: download and verify the newest build into the store. */
#include <stdio.h>
#include <stdlib.h>

#include "cli.h"
#include "common/error.h"
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
	printf("%s: fetched %s %s (%s, %llu bytes), trust %s%s%s\n", t->name, v->build.uuid, h,
	       v->build.filename, (unsigned long long)v->build.size, v->trust,
	       v->keyids[0] ? ", signed by " : " (weak: hash from the server only)", v->keyids);
}

static json_t *json_result(const struct petrel_target *t, const struct petrel_version *v,
			   int already, int r)
{
	json_t *o = json_pack("{s:s}", "name", t->name);

	if (r < 0) {
		json_object_set_new(o, "error", json_string(petrel_error_message()));
		json_object_set_new(o, "exit", json_integer(petrel_exit_status(r)));
		return o;
	}
	json_object_set_new(o, "fetched", json_boolean(!already));
	json_object_set_new(o, "version", petrel_json_version(v));
	return o;
}

int petrel_cmd_fetch(struct petrel_cli *cli)
{
	json_t *arr = json_array();
	struct petrel_run run;
	int r, status;

	if ((status = petrel_run_begin(cli, &run)) != 0) {
		json_decref(arr);
		return status;
	}
	if (cli->json)
		petrel_http_set_progress(run.e.http, 0);
	for (size_t i = 0; i < run.n; i++) {
		struct petrel_version v;
		int already = 0;

		r = petrel_fetch_target(&run.e, run.ts[i], NULL, &v, &already);
		if (cli->json)
			json_array_append_new(arr, json_result(run.ts[i], &v, already, r));
		if (r < 0) {
			petrel_cli_error(run.ts[i]->name, r);
			if (status == PETREL_EXIT_OK)
				status = petrel_exit_status(r);
			continue;
		}
		if (!cli->json && petrel_log_level >= PETREL_LOG_INFO)
			print_text(run.ts[i], &v, already);
	}
	if (cli->json)
		petrel_json_print(json_pack("{s:o}", "targets", arr));
	else
		json_decref(arr);
	petrel_run_end(&run);
	return status;
}
