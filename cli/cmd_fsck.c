/* petrel fsck: full re-verification of the store and the database. */
#include <stdio.h>

#include "cli.h"
#include "common/error.h"
#include "common/log.h"
#include "output.h"

static void finding(void *ctx, const char *text)
{
	json_t *arr = ctx;

	if (arr)
		json_array_append_new(arr, petrel_json_text(text));
	else
		printf("%s\n", text);
}

int petrel_cmd_fsck(struct petrel_cli *cli)
{
	struct petrel_err err = PETREL_ERR_INIT;
	json_t *arr = cli->json ? json_array() : NULL;
	struct petrel_engine e;
	int r;

	/* lock and finish an interrupted switch first (as every command does), but leave
	 * tmp/ alone: leftover downloads are findings here */
	if ((r = petrel_engine_init(&e, &cli->cfg, &err)) == 0 &&
	    (r = petrel_engine_lock(&e, PETREL_ENGINE_KEEP_TMP, &err)) == 0)
		r = petrel_store_fsck(&e.store, finding, arr, &err);
	petrel_engine_release(&e);
	if (r < 0) {
		petrel_cli_error(NULL, r, &err);
		json_decref(arr);
		return petrel_err_exit(r);
	}
	if (arr)
		petrel_json_print(json_pack("{s:b, s:o}", "ok", r == 0, "findings", arr));
	else if (r == 0)
		printf("fsck: store %s is consistent\n", cli->cfg.state_dir);
	else
		fprintf(stderr, "%spetrel: fsck: %d finding%s in %s\n",
			petrel_log_priority(PETREL_LOG_ERROR), r, r == 1 ? "" : "s",
			cli->cfg.state_dir);
	return r ? PETREL_EXIT_AUDIT : PETREL_EXIT_OK;
}
