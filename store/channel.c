/* The channel file each target last accepted (DESIGN.md "Fleet"): its version is the
 * high-water mark a replayed older file is refused against, and its blocks hold without
 * the network (revert, status). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "internal.h"
#include "store.h"

static char *dup_text(const char *s, size_t *n)
{
	char *p = strdup(s);

	*n = p ? strlen(p) : 0;
	return p;
}

int petrel_store_channel(struct petrel_store *s, const char *target,
			 struct petrel_stored_channel *out, struct petrel_err *err)
{
	struct petrel_sql q;
	int r;

	memset(out, 0, sizeof(*out));
	if ((r = petrel_sql_row(&q, s->db, err, "SELECT url, version, accepted_at, body, minisig"
				" FROM channels WHERE target = ?", "t", target)) <= 0)
		return r < 0 ? r : -PETREL_ENOTFOUND;
	snprintf(out->url, sizeof(out->url), "%s", petrel_sql_text(&q, 0));
	out->version = petrel_sql_int(&q, 1);
	out->accepted_at = petrel_sql_int(&q, 2);
	out->body = dup_text(petrel_sql_text(&q, 3), &out->body_len);
	out->sig = dup_text(petrel_sql_text(&q, 4), &out->sig_len);
	petrel_sql_finalize(&q);
	if (!out->body || !out->sig) {
		petrel_stored_channel_release(out);
		return petrel_fail(err, -ENOMEM, "reading the channel of %s: out of memory", target);
	}
	return 0;
}

void petrel_stored_channel_release(struct petrel_stored_channel *c)
{
	free(c->body);
	free(c->sig);
	c->body = c->sig = NULL;
}

static int accept_body(struct sqlite3 *db, const char *target, const char *url, int64_t version,
		       const char *body, const char *sig, struct petrel_err *err)
{
	char detail[PETREL_URL_MAX + 64];
	int r;

	if ((r = petrel_sql_run(db, err, "INSERT OR REPLACE INTO channels (target, url, version,"
				" accepted_at, body, minisig) VALUES (?, ?, ?, ?, ?, ?)", "ttiitt",
				target, url, version, (int64_t)time(NULL), body, sig)) < 0)
		return r;
	snprintf(detail, sizeof(detail), "version %lld from %s", (long long)version, url);
	return petrel_journal_append(db, target, "channel", detail, err);
}

int petrel_store_accept_channel(struct petrel_store *s, const char *target, const char *url,
				int64_t version, const char *body, const char *sig,
				struct petrel_err *err)
{
	int r;

	if ((r = petrel_db_begin(s->db, err)) < 0)
		return r;
	if ((r = accept_body(s->db, target, url, version, body, sig, err)) < 0 ||
	    (r = petrel_db_commit(s->db, err)) < 0)
		petrel_db_rollback(s->db);
	return r;
}
