/* fsck: blobs against their names, version rows against blobs, the db, the journal chain. */
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include <sqlite3.h>

#include "common/error.h"
#include "common/util.h"
#include "store/internal.h"
#include "verify/digest.h"
#include "verify/minisign.h"
#include "verify/policy.h"

struct fsck {
	struct petrel_store *s;
	petrel_fsck_fn fn;	/* may be NULL: count only */
	void *ctx;
	int count;
	struct petrel_err *err;	/* of the walk's own failures (not findings) */
};

/* One finding, one line: control characters (from hostile file names) become '?'. */
static void __attribute__((format(printf, 2, 3))) report(struct fsck *f, const char *fmt, ...)
{
	char line[1024];
	va_list ap;
	char *p;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	for (p = line; *p; p++) {
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			*p = '?';
	}
	f->count++;
	if (f->fn)
		f->fn(f->ctx, line);
}

static int is_lower_hex(const char *s, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++) {
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return 0;
	}
	return s[len] == '\0';
}

static int is_dots(const char *name)
{
	return !strcmp(name, ".") || !strcmp(name, "..");
}

/* Calls fn for every entry of DIR/rel except . and ..; a missing directory is a finding. */
static int each_entry(struct fsck *f, const char *rel,
		      int (*fn)(struct fsck *, const char *rel, const char *name))
{
	char path[PATH_MAX];
	struct dirent *e;
	DIR *d;
	int r = 0;

	if (petrel_snprintf(path, sizeof(path), "%s/%s", f->s->dir, rel) < 0)
		return -ENAMETOOLONG;
	d = opendir(path);
	if (!d) {
		if (errno != ENOENT && errno != ENOTDIR)
			return petrel_fail(f->err, -errno, "%s: %s", path, strerror(errno));
		report(f, "%s: missing directory", rel);
		return 0;
	}
	while (r == 0 && (errno = 0, e = readdir(d)) != NULL) {
		if (!is_dots(e->d_name))
			r = fn(f, rel, e->d_name);
	}
	if (r == 0 && errno != 0)
		r = petrel_fail(f->err, -errno, "%s: %s", path, strerror(errno));
	closedir(d);
	return r;
}

/* Re-hashes one blob file and compares with XX + name. */
static int check_blob(struct fsck *f, const char *rel, const char *name)
{
	char path[PATH_MAX], want[PETREL_HASH_HEX + 1], got[PETREL_HASH_HEX + 1];
	const char *xx = rel + strlen(rel) - 2;
	struct stat st;
	uint8_t sum[32];
	uint64_t size;
	int r;

	if (petrel_snprintf(path, sizeof(path), "%s/%s/%s", f->s->dir, rel, name) < 0 ||
	    petrel_snprintf(want, sizeof(want), "%s%s", xx, name) < 0 ||
	    !is_lower_hex(want, PETREL_HASH_HEX) || lstat(path, &st) < 0 || !S_ISREG(st.st_mode)) {
		report(f, "%s/%s: stray file", rel, name);
		return 0;
	}
	if ((r = petrel_sha256_file(path, sum, &size)) < 0) {
		report(f, "%s/%s: cannot read: %s", rel, name, petrel_strerror(r));
		return 0;
	}
	petrel_hex(sum, sizeof(sum), got);
	if (strcmp(want, got) != 0)
		report(f, "%s/%s: sha256 mismatch, content hashes to %s", rel, name, got);
	return 0;
}

/* One entry of objects/sha256: a fan-out directory XX, else a stray. */
static int check_fanout(struct fsck *f, const char *rel, const char *name)
{
	char sub[64], path[PATH_MAX];
	struct stat st;

	if (strlen(name) != 2 || !is_lower_hex(name, 2) ||
	    petrel_snprintf(path, sizeof(path), "%s/%s/%s", f->s->dir, rel, name) < 0 ||
	    lstat(path, &st) < 0 || !S_ISDIR(st.st_mode)) {
		report(f, "%s/%s: stray file", rel, name);
		return 0;
	}
	if (petrel_snprintf(sub, sizeof(sub), "%s/%s", rel, name) < 0)
		return -ENAMETOOLONG;
	return each_entry(f, sub, check_blob);
}

/* objects/ holds only sha256/. */
static int check_objects_entry(struct fsck *f, const char *rel, const char *name)
{
	if (strcmp(name, "sha256") != 0)
		report(f, "%s/%s: stray file", rel, name);
	return 0;
}

static int check_tmp_entry(struct fsck *f, const char *rel, const char *name)
{
	report(f, "%s/%s: leftover download", rel, name);
	return 0;
}

/* One versions row: its blob exists with the recorded size. */
static void check_version_row(struct fsck *f, const struct petrel_sql *q)
{
	int64_t id = petrel_sql_int(q, 0), size = petrel_sql_int(q, 3);
	const char *target = petrel_sql_text(q, 1);
	const char *hex = petrel_sql_text(q, 2);
	char path[PATH_MAX];
	struct stat sb;

	if (strlen(hex) != PETREL_HASH_HEX || !is_lower_hex(hex, PETREL_HASH_HEX) ||
	    petrel_snprintf(path, sizeof(path), "%s/objects/sha256/%.2s/%s", f->s->dir, hex,
			    hex + 2) < 0) {
		report(f, "petrel.db: versions row %" PRId64 " (%s): malformed sha256", id, target);
		return;
	}
	if (lstat(path, &sb) < 0 || !S_ISREG(sb.st_mode))
		report(f, "objects/sha256/%.2s/%s: missing (versions row %" PRId64 ", %s)",
		       hex, hex + 2, id, target);
	else if ((int64_t)sb.st_size != size)
		report(f, "objects/sha256/%.2s/%s: size %lld, versions row %" PRId64
		       " (%s) records %" PRId64, hex, hex + 2, (long long)sb.st_size, id, target,
		       size);
}

static int check_versions(struct fsck *f, struct petrel_err *err)
{
	struct petrel_sql q;
	int r;

	if ((r = petrel_sql_prepare(&q, f->s->db, err,
				    "SELECT id, target, sha256, size FROM versions ORDER BY id", "")) < 0)
		return r;
	while ((r = petrel_sql_step(&q)) > 0)
		check_version_row(f, &q);
	petrel_sql_finalize(&q);
	return r;
}

/* One kept signature: it still parses, by the key its row names, of a version that is. */
static void check_signature_row(struct fsck *f, const struct petrel_sql *q)
{
	int64_t id = petrel_sql_int(q, 0);
	const char *keyid = petrel_sql_text(q, 1);
	const void *text = sqlite3_column_blob(q->st, 2);
	size_t len = (size_t)sqlite3_column_bytes(q->st, 2);
	struct petrel_err why = PETREL_ERR_INIT;
	struct petrel_sig sig;
	char parsed[17];

	if (!petrel_sql_int(q, 3)) {
		report(f, "petrel.db: signature by %s kept for versions row %" PRId64
		       ", which does not exist", keyid, id);
		return;
	}
	if (petrel_sig_parse(text ? text : "", len, &sig, &why) < 0) {
		report(f, "petrel.db: signature by %s of versions row %" PRId64 ": %s", keyid, id,
		       why.msg);
		return;
	}
	petrel_keyid_str(sig.keyid, parsed);
	if (strcmp(parsed, keyid))
		report(f, "petrel.db: signature of versions row %" PRId64 " is kept as key %s's "
		       "but is by key %s", id, keyid, parsed);
}

static int check_signatures(struct fsck *f, struct petrel_err *err)
{
	struct petrel_sql q;
	int r;

	if ((r = petrel_sql_prepare(&q, f->s->db, err,
				    "SELECT s.version, s.keyid, CAST(s.minisig AS BLOB),"
				    " EXISTS (SELECT 1 FROM versions v WHERE v.id = s.version)"
				    " FROM signatures s ORDER BY s.version, s.keyid", "")) < 0)
		return r;
	while ((r = petrel_sql_step(&q)) > 0)
		check_signature_row(f, &q);
	petrel_sql_finalize(&q);
	return r;
}

static int check_integrity(struct fsck *f, struct petrel_err *err)
{
	struct petrel_sql q;
	const char *msg;
	int r;

	if ((r = petrel_sql_prepare(&q, f->s->db, err, "PRAGMA integrity_check", "")) < 0)
		return r;
	while ((r = petrel_sql_step(&q)) > 0) {
		msg = petrel_sql_text(&q, 0);
		if (*msg && strcmp(msg, "ok") != 0)
			report(f, "petrel.db: integrity_check: %s", msg);
	}
	petrel_sql_finalize(&q);
	return r;
}

/*
 * One journal row against the running chain value prev (updated to the row's hash).
 * 1 if the row is intact, 0 if broken, negative on error.
 */
static int journal_row_ok(const struct petrel_sql *q, char prev[PETREL_HASH_HEX + 1])
{
	char want[PETREL_HASH_HEX + 1];
	int r;

	if (strcmp(petrel_sql_text(q, 5), prev) != 0)
		return 0;
	r = petrel_journal_hash(prev, petrel_sql_int(q, 1), petrel_sql_text(q, 2),
				petrel_sql_text(q, 3), petrel_sql_text(q, 4), want);
	if (r < 0)
		return r;
	if (strcmp(want, petrel_sql_text(q, 6)) != 0)
		return 0;
	memcpy(prev, want, sizeof(want));
	return 1;
}

/* The columns fill_row reads, in its order. */
#define JOURNAL_COLUMNS "id, time, target, event, detail, prev, hash"

static void fill_row(const struct petrel_sql *q, struct petrel_journal_row *row, int chain_ok)
{
	memset(row, 0, sizeof(*row));
	row->id = petrel_sql_int(q, 0);
	row->time = petrel_sql_int(q, 1);
	snprintf(row->target, sizeof(row->target), "%s", petrel_sql_text(q, 2));
	snprintf(row->event, sizeof(row->event), "%s", petrel_sql_text(q, 3));
	snprintf(row->detail, sizeof(row->detail), "%s", petrel_sql_text(q, 4));
	snprintf(row->hash, sizeof(row->hash), "%s", petrel_sql_text(q, 6));
	row->chain_ok = chain_ok;
}

/*
 * The one walk of the journal: every row after tip in id order, the chain recomputed
 * from tip over all of them (chain_ok turns 0 at the first broken row and stays 0),
 * fn called for the rows of target (all when NULL). 0 or the first error.
 */
int petrel_store_journal_after(struct petrel_store *s, const char *target,
			       struct petrel_journal_tip *tip, petrel_journal_fn fn, void *ctx,
			       struct petrel_err *err)
{
	static const char sql[] =
		"SELECT " JOURNAL_COLUMNS " FROM journal WHERE id > ? ORDER BY id";
	struct petrel_journal_row row;
	struct petrel_sql q;
	int r, ok;

	if ((r = petrel_sql_prepare(&q, s->db, err, sql, "i", tip->id)) < 0)
		return r;
	while ((r = petrel_sql_step(&q)) > 0) {
		if (tip->chain_ok && (ok = journal_row_ok(&q, tip->hash)) <= 0) {
			if ((r = ok) < 0)
				break;
			tip->chain_ok = 0;
		}
		fill_row(&q, &row, tip->chain_ok);
		tip->id = row.id;
		if ((!target || !strcmp(target, row.target)) && (r = fn(ctx, &row)) != 0)
			break;
	}
	petrel_sql_finalize(&q);
	return r;
}

int petrel_store_journal_each(struct petrel_store *s, const char *target, petrel_journal_fn fn,
			      void *ctx, struct petrel_err *err)
{
	struct petrel_journal_tip tip = { .chain_ok = 1 };

	memcpy(tip.hash, petrel_journal_genesis, sizeof(tip.hash));
	return petrel_store_journal_after(s, target, &tip, fn, ctx, err);
}

int petrel_store_journal_select(struct petrel_store *s, const struct petrel_journal_query *jq,
				int64_t first_broken, petrel_journal_fn fn, void *ctx,
				struct petrel_err *err)
{
	/* newest first under the limit, so only the rows asked for are read; then back in
	 * id order */
	static const char sql[] =
		"SELECT " JOURNAL_COLUMNS " FROM (SELECT " JOURNAL_COLUMNS " FROM journal"
		" WHERE (?1 IS NULL OR target = ?1) AND time >= ?2 ORDER BY id DESC LIMIT ?3)"
		" ORDER BY id";
	struct petrel_journal_row row;
	struct petrel_sql q;
	int r;

	if ((r = petrel_sql_prepare(&q, s->db, err, sql, "tii", jq->target, jq->since,
				    jq->last >= 0 ? jq->last : (int64_t)-1)) < 0)
		return r;
	while ((r = petrel_sql_step(&q)) > 0) {
		fill_row(&q, &row, !first_broken || petrel_sql_int(&q, 0) < first_broken);
		if ((r = fn(ctx, &row)) != 0)
			break;
	}
	petrel_sql_finalize(&q);
	return r;
}

/* The recorded head: 1 with id and hash, 0 when there is none. */
static int journal_head(struct sqlite3 *db, int64_t *id, char hash[PETREL_HASH_HEX + 1],
			struct petrel_err *err)
{
	struct petrel_sql q;
	int r;

	if ((r = petrel_sql_row(&q, db, err, "SELECT id, hash FROM journal_head WHERE one = 1",
				"")) <= 0)
		return r;
	*id = petrel_sql_int(&q, 0);
	snprintf(hash, PETREL_HASH_HEX + 1, "%s", petrel_sql_text(&q, 1));
	petrel_sql_finalize(&q);
	return 1;
}

/* An intact chain of rows ending at (last, tip) against the head: what is missing. */
/* The rows after last up to head are gone, as who (the head row or its anchor) says. */
static void missing_tail(struct petrel_journal_check *c, int64_t last, int64_t head,
			 const char *who)
{
	c->first_broken = last + 1;
	if (last + 1 == head)
		snprintf(c->why, sizeof(c->why), "row %lld, the last one, is missing (%s "
			 "records it)", (long long)head, who);
	else
		snprintf(c->why, sizeof(c->why), "rows %lld to %lld, the last ones, are missing "
			 "(%s records row %lld)", (long long)last + 1, (long long)head, who,
			 (long long)head);
}

static void check_head(struct petrel_journal_check *c, int64_t last, const char *tip,
		       int has_head, int64_t head, const char *head_hash)
{
	if (!has_head && c->rows) {
		c->first_broken = last;
		snprintf(c->why, sizeof(c->why), "the journal's head record is missing");
	} else if (has_head && last < head) {
		missing_tail(c, last, head, "the journal's head");
	} else if (has_head && last > head) {
		c->first_broken = head + 1;
		snprintf(c->why, sizeof(c->why), "rows after %lld were added behind petrel's back",
			 (long long)head);
	} else if (has_head && strcmp(tip, head_hash) != 0) {
		c->first_broken = last;
		snprintf(c->why, sizeof(c->why), "row %lld differs from the recorded head",
			 (long long)last);
	}
}

static int verify_row(void *ctx, const struct petrel_journal_row *row)
{
	struct petrel_journal_check *c = ctx;

	c->rows++;
	if (!row->chain_ok && !c->first_broken) {
		c->first_broken = row->id;
		snprintf(c->why, sizeof(c->why), "row %lld was edited, or a row before it "
			 "deleted or reordered", (long long)row->id);
	}
	return 0;
}

/* The hash of row id into out: 1, or 0 when there is no such row. */
static int row_hash(struct sqlite3 *db, int64_t id, char out[PETREL_HASH_HEX + 1],
		    struct petrel_err *err)
{
	struct petrel_sql q;
	int r;

	if ((r = petrel_sql_row(&q, db, err, "SELECT hash FROM journal WHERE id = ?", "i",
				id)) <= 0)
		return r;
	snprintf(out, PETREL_HASH_HEX + 1, "%s", petrel_sql_text(&q, 0));
	petrel_sql_finalize(&q);
	return 1;
}

/*
 * 1 when the database as committed now -- not the snapshot a reader without the lock
 * may hold, older than an anchor a writer moved since -- has row id with hash.
 */
static int anchored_row_now(struct petrel_store *s, int64_t id, const char *hash)
{
	const char *path = sqlite3_db_filename(s->db, "main");
	struct petrel_err ignored = PETREL_ERR_INIT;
	struct sqlite3 *now = NULL;
	char have[PETREL_HASH_HEX + 1];
	int r = 0;

	if (path && *path && sqlite3_open_v2(path, &now, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK &&
	    sqlite3_busy_timeout(now, 5000) == SQLITE_OK)
		r = row_hash(now, id, have, &ignored) == 1 && strcmp(have, hash) == 0;
	sqlite3_close(now);
	return r;
}

/*
 * An intact chain against the anchor outside the database (STATE/journal.head, see
 * store.c): the anchored row must still be there with its hash. The database may be
 * ahead of the anchor (a crash between a commit and the anchor's write), never behind:
 * deleting the journal and its head row together is found here.
 */
static int check_anchor(struct petrel_store *s, struct petrel_journal_check *c,
			struct petrel_err *err)
{
	char want[PETREL_HASH_HEX + 1], have[PETREL_HASH_HEX + 1];
	int64_t id = 0, last = c->tip.id;
	int r = petrel_journal_anchor_read(s->dir, &id, want);

	if (r == -PETREL_EMALFORMED) {
		c->first_broken = last + 1;
		snprintf(c->why, sizeof(c->why), "journal.head, the journal's anchor, is not "
			 "'ID HASH' (remove it only after restoring petrel.db from a backup)");
		return 0;
	}
	if (r < 0)
		return petrel_fail(err, r, "%s/journal.head: %s", s->dir, petrel_strerror(r));
	if (r == 0)
		return 0;	/* a fresh state directory, or one from before the anchor */
	if (id > last && anchored_row_now(s, id, want))
		return 0;	/* a writer committed after this reader's snapshot */
	if (id > last) {
		missing_tail(c, last, id, "journal.head");
		return 0;
	}
	if ((r = row_hash(s->db, id, have, err)) < 0)
		return r;
	if (r == 0 || strcmp(have, want) != 0) {
		c->first_broken = id;
		snprintf(c->why, sizeof(c->why), "row %lld %s the one journal.head records",
			 (long long)id, r ? "differs from" : "is missing, before the end, and is");
	}
	return 0;
}

int petrel_store_journal_verify(struct petrel_store *s, struct petrel_journal_check *c,
				struct petrel_err *err)
{
	char head_hash[PETREL_HASH_HEX + 1] = "";
	int64_t head = 0;
	int r, has_head;

	memset(c, 0, sizeof(*c));
	c->tip.chain_ok = 1;
	memcpy(c->tip.hash, petrel_journal_genesis, sizeof(c->tip.hash));
	if ((has_head = journal_head(s->db, &head, head_hash, err)) < 0)
		return has_head;
	if ((r = petrel_store_journal_after(s, NULL, &c->tip, verify_row, c, err)) < 0)
		return r;
	if (!c->first_broken)
		check_head(c, c->tip.id, c->tip.hash, has_head, head, head_hash);
	if (!c->first_broken && (r = check_anchor(s, c, err)) < 0)
		return r;
	c->tip.chain_ok = !c->first_broken;	/* what a walk from the tip continues */
	return 0;
}

static int check_journal(struct fsck *f, struct petrel_err *err)
{
	struct petrel_journal_check c;
	int r;

	if ((r = petrel_store_journal_verify(f->s, &c, err)) < 0)
		return r;
	if (c.first_broken)
		report(f, "petrel.db: journal chain broken at row %" PRId64 ": %s", c.first_broken,
		       c.why);
	return 0;
}

int petrel_store_fsck(struct petrel_store *s, petrel_fsck_fn fn, void *ctx, struct petrel_err *err)
{
	struct fsck f = { s, fn, ctx, 0, err };
	int r;

	if ((r = each_entry(&f, "objects", check_objects_entry)) < 0 ||
	    (r = each_entry(&f, "objects/sha256", check_fanout)) < 0 ||
	    (r = each_entry(&f, "tmp", check_tmp_entry)) < 0 ||
	    (r = check_versions(&f, err)) < 0 ||
	    (r = check_signatures(&f, err)) < 0 ||
	    (r = check_integrity(&f, err)) < 0 ||
	    (r = check_journal(&f, err)) < 0)
		return r;
	return f.count;
}
