/* Private to deploy/: the engine's entry points without their outcome recorded. */
#ifndef PETREL_OUTCOME_H
#define PETREL_OUTCOME_H

#include "engine.h"

/* petrel_fetch_target without petrel_engine_note: for petrel_upgrade, which records
 * the outcome of the whole upgrade once (a refusal is one journal row, not two). */
int petrel_fetch_target_unnoted(struct petrel_engine *e, const struct petrel_target *t,
				const char *uuid, struct petrel_version *out, int *already);

#endif
