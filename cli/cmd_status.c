/* petrel status: what is deployed, and the newest verified build in the store. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "common/error.h"
#include "common/util.h"
#include "output.h"

static void print_version(const char *label, const struct petrel_version *v)
{
	char hex[65], when[32];

	petrel_hex(v->build.sha256, 32, hex);
	petrel_format_time(v->verified_at, when, sizeof(when));
	printf("  %s: %s %s\n", label, v->build.job, v->build.uuid);
	printf("    file:     %s, %llu bytes\n", v->build.filename, (unsigned long long)v->build.size);
	printf("    sha256:   %s\n", hex);
	if (!strcmp(v->trust, "server"))
		printf("    trust:    server (WEAK: hash from the server only, no signature)\n");
	else
		printf("    trust:    %s by %s\n", v->trust, v->keyids);
	printf("    verified: %s\n", when);
}

/* One target: 0, or a negative code from the store. */
static int one(struct petrel_store *s, const struct petrel_target *t, int json, json_t *arr)
{
	struct petrel_version v;
	int r, have;

	r = petrel_store_newest_version(s, t->name, &v);
	if (r < 0 && r != -PETREL_ENOTFOUND)
		return r;
	petrel_error_clear();
	have = r == 0;
	if (json) {
		json_array_append_new(arr, json_pack("{s:s, s:s, s:n, s:n, s:o}", "name", t->name,
						     "job", t->job, "current", "previous", "staged",
						     have ? petrel_json_version(&v) : json_null()));
		return 0;
	}
	printf("%s (job %s on %s)\n  deployed: nothing\n", t->name, t->job, t->server->name);
	if (have)
		print_version("newest verified", &v);
	else
		printf("  newest verified: nothing fetched yet\n");
	return 0;
}

int petrel_cmd_status(struct petrel_cli *cli)
{
	const struct petrel_target **ts = calloc(cli->cfg.ntargets + 1, sizeof(*ts));
	json_t *arr = json_array();
	struct petrel_store s;
	size_t n = 0;
	int r = -12;

	if (!ts || (r = petrel_cli_targets(cli, ts, &n)) < 0 ||
	    (r = petrel_store_open(&s, cli->cfg.state_dir)) < 0)
		goto fail;
	for (size_t i = 0; i < n && r == 0; i++)
		r = one(&s, ts[i], cli->json, arr);
	petrel_store_close(&s);
	if (r < 0)
		goto fail;
	if (cli->json)
		petrel_json_print(json_pack("{s:o}", "targets", arr));
	else
		json_decref(arr);
	free(ts);
	return 0;
fail:
	petrel_cli_error(NULL, r);
	json_decref(arr);
	free(ts);
	return petrel_exit_status(r);
}
