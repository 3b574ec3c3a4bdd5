/* petrel gc: retention of versions and blobs per target 'keep'. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "common/error.h"
#include "common/log.h"
#include "common/util.h"
#include "output.h"

/* What the store's callbacks fill in: removed versions per target, strays. */
struct report {
	int json, dry_run;
	json_t *removed;	/* {"TARGET": [VERSION...]} */
	json_t *strays;		/* ["objects/sha256/..."] */
};

static void on_version(void *ctx, const char *target, const struct petrel_version *v)
{
	struct report *rep = ctx;
	json_t *arr = json_object_get(rep->removed, target);
	char when[32], h[13], hex[65];

	petrel_hex(v->build.sha256, 32, hex);
	if (!arr) {
		arr = json_array();
		json_object_set_new(rep->removed, target, arr);
	}
	json_array_append_new(arr, json_pack("{s:o, s:s, s:I, s:I}", "uuid",
					     petrel_json_text(v->build.uuid), "sha256",
					     hex, "size", (json_int_t)v->build.size,
					     "timestamp", (json_int_t)v->timestamp));
	if (rep->json || !rep->dry_run)
		return;
	petrel_format_time(v->timestamp, when, sizeof(when));
	petrel_short_hash(v->build.sha256, h);
	printf("  %s: would remove %s  %s  %s\n", target, v->build.uuid, h, when);
}

static void on_stray(void *ctx, const char *relpath)
{
	struct report *rep = ctx;

	json_array_append_new(rep->strays, petrel_json_text(relpath));
	fprintf(stderr, "%spetrel: gc: %s: not a blob name, left alone (see petrel fsck)\n",
		petrel_log_priority(PETREL_LOG_WARN), relpath);
}

static void print_text(const struct report *rep, const struct petrel_gc_target *ts, size_t n,
		       const struct petrel_gc *g)
{
	const char *verb = rep->dry_run ? "would remove" : "removed";

	for (size_t i = 0; i < n; i++)
		printf("%s: %s %lld version%s (%lld generation%s), kept %lld (keep = %u)\n",
		       ts[i].name, verb, (long long)ts[i].removed, ts[i].removed == 1 ? "" : "s",
		       (long long)ts[i].generations, ts[i].generations == 1 ? "" : "s",
		       (long long)ts[i].kept, ts[i].keep);
	printf("gc: %s %lld blob%s (%lld no version referenced), %lld bytes\n", verb,
	       (long long)g->blobs, g->blobs == 1 ? "" : "s", (long long)g->orphans,
	       (long long)g->bytes);
}

static void print_json(struct report *rep, const struct petrel_gc_target *ts, size_t n,
		       const struct petrel_gc *g)
{
	json_t *arr = json_array();

	for (size_t i = 0; i < n; i++) {
		json_t *list = json_object_get(rep->removed, ts[i].name);

		list = list ? json_incref(list) : json_array();

		json_array_append_new(arr, json_pack(
			"{s:s, s:I, s:I, s:I, s:I, s:I, s:I, s:o}", "name", ts[i].name,
			"keep", (json_int_t)ts[i].keep, "kept", (json_int_t)ts[i].kept,
			"removed_versions", (json_int_t)ts[i].removed,
			"removed_generations", (json_int_t)ts[i].generations,
			"blobs_removed", (json_int_t)ts[i].blobs,
			"bytes_freed", (json_int_t)ts[i].bytes,
			"removed", list));
	}
	petrel_json_print(json_pack("{s:b, s:o, s:I, s:I, s:I, s:O}", "dry_run", rep->dry_run,
				    "targets", arr, "blobs_removed", (json_int_t)g->blobs,
				    "bytes_freed", (json_int_t)g->bytes,
				    "orphans_removed", (json_int_t)g->orphans, "strays", rep->strays));
}

int petrel_cmd_gc(struct petrel_cli *cli)
{
	struct petrel_err err = PETREL_ERR_INIT;
	struct report rep = { .json = cli->json, .dry_run = cli->dry_run };
	struct petrel_gc g = { .on_version = on_version, .on_stray = on_stray, .ctx = &rep };
	struct petrel_gc_target *ts;
	struct petrel_session run;
	int r;

	g.dry_run = rep.dry_run;
	if ((r = petrel_session_open(cli, &run)) != 0)
		return r;
	ts = calloc(run.n + 1, sizeof(*ts));
	rep.removed = json_object();
	rep.strays = json_array();
	r = ts && rep.removed && rep.strays ? 0 : -ENOMEM;
	for (size_t i = 0; r == 0 && i < run.n; i++) {
		ts[i].name = run.ts[i]->name;
		ts[i].keep = run.ts[i]->keep;
	}
	if (r == 0 && (r = petrel_store_gc(&run.e.store, ts, run.n, &g, &err)) == 0)
		cli->json ? print_json(&rep, ts, run.n, &g) : print_text(&rep, ts, run.n, &g);
	if (r < 0)
		petrel_cli_error(NULL, r, &err);
	json_decref(rep.removed);
	json_decref(rep.strays);
	free(ts);
	petrel_session_close(&run);
	return petrel_err_exit(r);
}
