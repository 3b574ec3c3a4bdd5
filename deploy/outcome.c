/* The one place an engine operation's outcome is recorded: refusals, check times. */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "common/error.h"
#include "common/log.h"
#include "common/util.h"
#include "engine.h"
#include "outcome.h"

int petrel_is_refusal(int err)
{
	switch (-err) {
	case PETREL_EHASH: case PETREL_ESIG_INVALID: case PETREL_ESIG_UNTRUSTED:
	case PETREL_ESIG_MISSING: case PETREL_ESIG_FORMAT: case PETREL_ETHRESHOLD:
	case PETREL_EBINDING: case PETREL_EROLLBACK: case PETREL_EPOLICY:
		return 1;
	default:
		return 0;
	}
}

int petrel_engine_note(struct petrel_engine *e, const struct petrel_target *t, const char *op,
		       int r, int update)
{
	char msg[1024], detail[1100];

	snprintf(msg, sizeof(msg), "%s", petrel_error_message());
	if (petrel_is_refusal(r)) {
		snprintf(detail, sizeof(detail), "%s: %s", op, msg[0] ? msg : petrel_strerror(r));
		/* the same refusal again and again (a daemon polling a replaying server) is
		 * one row until something else happens to the target */
		if (petrel_store_count_refusal(&e->store, t->name) < 0 ||
		    (petrel_store_journal_repeats(&e->store, t->name, "refused", detail) != 1 &&
		     petrel_store_journal(&e->store, t->name, "refused", detail) < 0))
			petrel_log_warn("%s: journaling the refusal failed: %s", t->name,
					petrel_error_message());
		petrel_error_clear();
	}
	if (petrel_store_note_check(&e->store, t->name, (int64_t)time(NULL), r == 0,
				    r == 0 ? update : -1) < 0)
		petrel_log_warn("%s: recording the check failed: %s", t->name,
				petrel_error_message());
	petrel_error_clear();
	if (r < 0 && msg[0])
		petrel_fail(r, "%s", msg);
	return r;
}
