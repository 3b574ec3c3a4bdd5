/* The one place an engine operation's outcome is recorded: refusals, check times. */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "common/error.h"
#include "common/log.h"
#include "common/util.h"
#include "engine.h"

int petrel_engine_note_refusal(struct petrel_engine *e, const struct petrel_target *t,
			       const char *op, int r, const struct petrel_err *err)
{
	struct petrel_err rec = PETREL_ERR_INIT;	/* the recording's own, never r's */
	char detail[PETREL_ERR_MSG_MAX + 32];

	if (!petrel_err_is(r, PETREL_ERR_REFUSAL))
		return r;
	snprintf(detail, sizeof(detail), "%s: %s", op, petrel_err_msg(err, r));
	/* the same refusal again and again (a daemon polling a replaying server) is
	 * one row until something else happens to the target */
	if (petrel_store_count_refusal(&e->store, t->name, &rec) < 0 ||
	    (petrel_store_journal_repeats(&e->store, t->name, "refused", detail, &rec) != 1 &&
	     petrel_store_journal(&e->store, t->name, "refused", detail, &rec) < 0))
		petrel_log_warn("%s: journaling the refusal failed: %s", t->name,
				petrel_err_msg(&rec, -PETREL_EDB));
	return r;
}

int petrel_engine_note(struct petrel_engine *e, const struct petrel_target *t, const char *op,
		       int r, int update, struct petrel_err *err)
{
	struct petrel_err rec = PETREL_ERR_INIT;	/* the recording's own, never r's */

	petrel_engine_note_refusal(e, t, op, r, err);
	if (petrel_store_note_check(&e->store, t->name, (int64_t)time(NULL), r == 0,
				    r == 0 ? update : -1, &rec) < 0)
		petrel_log_warn("%s: recording the check failed: %s", t->name,
				petrel_err_msg(&rec, -PETREL_EDB));
	return r;
}
