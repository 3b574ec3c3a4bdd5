/* Opening the state directory: layout, petrel.db pragmas, schema migrations. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sqlite3.h>

#include "common/error.h"
#include "common/fs.h"
#include "common/util.h"
#include "store/internal.h"

/*
 * migrations[i] takes the schema from version i to i + 1; each runs in its own
 * transaction together with the user_version bump. Append only: never edit a
 * migration that has shipped.
 */
static const char *const migrations[] = {
	/* 1: targets, verified versions, the hash-chained journal. */
	"CREATE TABLE targets ("
	"  name TEXT PRIMARY KEY,"
	"  high_water INTEGER NOT NULL DEFAULT 0"
	");"
	"CREATE TABLE versions ("
	"  id INTEGER PRIMARY KEY,"
	"  target TEXT NOT NULL REFERENCES targets(name),"
	"  job TEXT NOT NULL,"
	"  uuid TEXT NOT NULL,"
	"  platform TEXT NOT NULL DEFAULT '',"
	"  filename TEXT NOT NULL,"
	"  sha256 TEXT NOT NULL CHECK (length(sha256) = 64 AND sha256 NOT GLOB '*[^0-9a-f]*'),"
	"  size INTEGER NOT NULL CHECK (size >= 0),"
	"  start_time INTEGER NOT NULL DEFAULT 0,"
	"  finish_time INTEGER NOT NULL DEFAULT 0,"
	"  trust TEXT NOT NULL,"
	"  keyids TEXT NOT NULL DEFAULT '',"
	"  trusted_comment TEXT NOT NULL DEFAULT '',"
	"  timestamp INTEGER NOT NULL,"
	"  verified_at INTEGER NOT NULL,"
	"  url TEXT NOT NULL DEFAULT '',"
	"  UNIQUE (target, uuid, sha256)"
	");"
	"CREATE INDEX versions_by_time ON versions (target, timestamp, id);"
	"CREATE TABLE journal ("
	"  id INTEGER PRIMARY KEY,"
	"  time INTEGER NOT NULL,"
	"  target TEXT NOT NULL,"
	"  event TEXT NOT NULL,"
	"  detail TEXT NOT NULL,"
	"  prev TEXT NOT NULL,"
	"  hash TEXT NOT NULL"
	");",
	/* 2: generations (what was deployed, when, how it ended), the current and previous
	 * pointers, builds rejected per target, and the intent of a switch in progress. */
	"ALTER TABLE targets ADD COLUMN current INTEGER NOT NULL DEFAULT 0;"
	"ALTER TABLE targets ADD COLUMN previous INTEGER NOT NULL DEFAULT 0;"
	"ALTER TABLE targets ADD COLUMN high_water_finish INTEGER NOT NULL DEFAULT 0;"
	"CREATE TABLE generations ("
	"  target TEXT NOT NULL REFERENCES targets(name),"
	"  number INTEGER NOT NULL CHECK (number > 0),"
	"  version INTEGER NOT NULL REFERENCES versions(id),"
	"  parent INTEGER NOT NULL DEFAULT 0,"
	"  deployed_at INTEGER NOT NULL,"
	"  state TEXT NOT NULL,"
	"  reason TEXT NOT NULL DEFAULT '',"
	"  PRIMARY KEY (target, number)"
	");"
	"CREATE TABLE rejected ("
	"  target TEXT NOT NULL REFERENCES targets(name),"
	"  sha256 TEXT NOT NULL,"
	"  uuid TEXT NOT NULL,"
	"  reason TEXT NOT NULL,"
	"  at INTEGER NOT NULL,"
	"  PRIMARY KEY (target, sha256)"
	");"
	"CREATE TABLE intents ("
	"  target TEXT PRIMARY KEY REFERENCES targets(name),"
	"  op TEXT NOT NULL,"
	"  path TEXT NOT NULL,"
	"  from_gen INTEGER NOT NULL, from_prev INTEGER NOT NULL,"
	"  to_gen INTEGER NOT NULL, to_prev INTEGER NOT NULL,"
	"  from_sha256 TEXT NOT NULL, from_size INTEGER NOT NULL,"
	"  to_sha256 TEXT NOT NULL, to_size INTEGER NOT NULL,"
	"  phase TEXT NOT NULL,"
	"  reason TEXT NOT NULL DEFAULT '',"
	"  started_at INTEGER NOT NULL"
	");",
	/* 3: the journal's head (the newest row's id and hash, updated with every append,
	 * so deleting the last rows contradicts it); what monitoring needs to survive a
	 * restart (last check, last success, update available, last audit); an index
	 * for counting refusals per target (metrics) without reading the journal. */
	"CREATE TABLE journal_head ("
	"  one INTEGER PRIMARY KEY CHECK (one = 1),"
	"  id INTEGER NOT NULL,"
	"  hash TEXT NOT NULL"
	");"
	"INSERT INTO journal_head (one, id, hash)"
	"  SELECT 1, id, hash FROM journal ORDER BY id DESC LIMIT 1;"
	"CREATE TABLE target_status ("
	"  target TEXT PRIMARY KEY,"
	"  last_check INTEGER NOT NULL DEFAULT 0,"
	"  last_success INTEGER NOT NULL DEFAULT 0,"
	"  update_available INTEGER NOT NULL DEFAULT -1,"
	"  audit_at INTEGER NOT NULL DEFAULT 0,"
	"  audit_findings INTEGER NOT NULL DEFAULT -1"
	");"
	"CREATE INDEX journal_by_event ON journal (event, target);",

	/* 4: the rebuilders that agreed on a version's hash (trust = rebuilt), comma-separated
	 * [server] names, "" when none were asked. */
	"ALTER TABLE versions ADD COLUMN rebuilders TEXT NOT NULL DEFAULT '';",

	/* 5: every refusal counted (the journal keeps a refusal repeated cycle after cycle
	 * as one row; petrel_verification_failures_total counts them all) */
	"ALTER TABLE target_status ADD COLUMN refusals INTEGER NOT NULL DEFAULT 0;"
	"INSERT OR IGNORE INTO target_status (target)"
	"  SELECT DISTINCT target FROM journal WHERE event = 'refused' AND target <> '';"
	"UPDATE target_status SET refusals = (SELECT count(*) FROM journal j"
	"  WHERE j.event = 'refused' AND j.target = target_status.target);",

	/* 6: the process group of the adapter a switch started, so that recovery after a
	 * crash waits for an adapter the dead petrel left running */
	"ALTER TABLE intents ADD COLUMN adapter_pid INTEGER NOT NULL DEFAULT 0;",

	/* 7: builds that failed verification (retried after retry_at, forgotten once one
	 * verifies: a flipped byte in transit must not block a genuine build for good);
	 * a target held at a build (pin); when the daemon polls a target next. */
	"CREATE TABLE refused ("
	"  target TEXT NOT NULL,"
	"  sha256 TEXT NOT NULL,"
	"  uuid TEXT NOT NULL,"
	"  reason TEXT NOT NULL,"
	"  first_at INTEGER NOT NULL,"
	"  last_at INTEGER NOT NULL,"
	"  count INTEGER NOT NULL DEFAULT 1,"
	"  retry_at INTEGER NOT NULL,"
	"  PRIMARY KEY (target, sha256)"
	");"
	"CREATE TABLE pins ("
	"  target TEXT PRIMARY KEY,"
	"  uuid TEXT NOT NULL,"
	"  sha256 TEXT NOT NULL,"
	"  at INTEGER NOT NULL"
	");"
	"ALTER TABLE target_status ADD COLUMN next_poll INTEGER NOT NULL DEFAULT 0;",

	/* 8: a server's or a signer's time is trusted no further than the moment of
	 * verification: rows stored before petrel capped them would otherwise keep
	 * blocking every later genuine build */
	("UPDATE versions SET timestamp = min(timestamp, verified_at),"
	 "  finish_time = min(finish_time, verified_at) WHERE verified_at > 0;"),

	/* 9: the signatures each version was accepted with (the .minisig text, one per
	 * key), so that trust is checked again against the current keys before the build
	 * goes live; the bytes' BLAKE2b-512 (hex, '' when unknown), so that re-checking
	 * a prehashed signature does not read the blob again */
	("ALTER TABLE versions ADD COLUMN blake2b TEXT NOT NULL DEFAULT ''"
	 "  CHECK (blake2b = '' OR (length(blake2b) = 128 AND blake2b NOT GLOB '*[^0-9a-f]*'));"
	 "CREATE TABLE signatures ("
	 "  version INTEGER NOT NULL REFERENCES versions(id),"
	 "  keyid TEXT NOT NULL CHECK (length(keyid) = 16 AND keyid NOT GLOB '*[^0-9A-F]*'),"
	 "  minisig TEXT NOT NULL CHECK (length(CAST(minisig AS BLOB)) <= 4096),"
	 "  PRIMARY KEY (version, keyid)"
	 ");"),

	/* 10: a version petrel import accepted with --offline-ok: the rebuilders its
	 * target's trust asks for could not be asked (a host without the network), and the
	 * operator took the build on what could be checked offline */
	"ALTER TABLE versions ADD COLUMN offline INTEGER NOT NULL DEFAULT 0"
	"  CHECK (offline IN (0, 1));",

	/* 11: the channel file each target last accepted: its version is the mark an older
	 * file is refused against; its blocks hold without the network */
	"CREATE TABLE channels ("
	"  target TEXT PRIMARY KEY,"
	"  url TEXT NOT NULL,"
	"  version INTEGER NOT NULL,"
	"  accepted_at INTEGER NOT NULL,"
	"  body TEXT NOT NULL,"
	"  minisig TEXT NOT NULL"
	");",
};

_Static_assert(PETREL_ARRAY_SIZE(migrations) == PETREL_SCHEMA_VERSION,
	       "one migration per schema version");

int petrel_db_fail(struct sqlite3 *db, struct petrel_err *err)
{
	return petrel_fail(err, -PETREL_EDB, "database: %s",
			   db ? sqlite3_errmsg(db) : "out of memory");
}

/* Binds ap to st by types ('t' text, 'i' int64_t): 1 when all bound. */
static int bind_va(sqlite3_stmt *st, const char *types, va_list ap)
{
	int ok = 1;

	for (int i = 0; types && types[i] && ok; i++) {
		if (types[i] == 't')
			ok = sqlite3_bind_text(st, i + 1, va_arg(ap, const char *), -1,
					       SQLITE_TRANSIENT) == SQLITE_OK;
		else if (types[i] == 'i')
			ok = sqlite3_bind_int64(st, i + 1, va_arg(ap, int64_t)) == SQLITE_OK;
		else
			ok = 0;
	}
	return ok;
}

static int sql_vprepare(struct petrel_sql *q, struct sqlite3 *db, struct petrel_err *err,
			const char *sql, const char *types, va_list ap)
{
	int r = 0;

	q->db = db;
	q->st = NULL;
	q->err = err;
	if (sqlite3_prepare_v2(db, sql, -1, &q->st, NULL) != SQLITE_OK || !bind_va(q->st, types,
										   ap))
		r = petrel_db_fail(db, err);
	if (r < 0)
		petrel_sql_finalize(q);
	return r;
}

int petrel_sql_prepare(struct petrel_sql *q, struct sqlite3 *db, struct petrel_err *err,
		       const char *sql, const char *types, ...)
{
	va_list ap;
	int r;

	va_start(ap, types);
	r = sql_vprepare(q, db, err, sql, types, ap);
	va_end(ap);
	return r;
}

int petrel_sql_step(struct petrel_sql *q)
{
	int rc = sqlite3_step(q->st);

	if (rc == SQLITE_ROW)
		return 1;
	return rc == SQLITE_DONE ? 0 : petrel_db_fail(q->db, q->err);
}

void petrel_sql_finalize(struct petrel_sql *q)
{
	sqlite3_finalize(q->st);
	q->st = NULL;
}

const char *petrel_sql_text(const struct petrel_sql *q, int i)
{
	const unsigned char *t = sqlite3_column_text(q->st, i);

	return t ? (const char *)t : "";
}

int64_t petrel_sql_int(const struct petrel_sql *q, int i)
{
	return sqlite3_column_int64(q->st, i);
}

/* Prepares, binds and steps once: as petrel_sql_row answers. */
static int sql_vrow(struct petrel_sql *q, struct sqlite3 *db, struct petrel_err *err,
		    const char *sql, const char *types, va_list ap)
{
	int r = sql_vprepare(q, db, err, sql, types, ap);

	if (r == 0 && (r = petrel_sql_step(q)) <= 0)
		petrel_sql_finalize(q);
	return r;
}

int petrel_sql_run(struct sqlite3 *db, struct petrel_err *err, const char *sql,
		   const char *types, ...)
{
	struct petrel_sql q;
	va_list ap;
	int r;

	va_start(ap, types);
	r = sql_vrow(&q, db, err, sql, types, ap);
	va_end(ap);
	if (r > 0) {
		r = petrel_db_fail(db, err);
		petrel_sql_finalize(&q);
	}
	return r;
}

int petrel_sql_row(struct petrel_sql *q, struct sqlite3 *db, struct petrel_err *err,
		   const char *sql, const char *types, ...)
{
	va_list ap;
	int r;

	va_start(ap, types);
	r = sql_vrow(q, db, err, sql, types, ap);
	va_end(ap);
	return r;
}

int petrel_db_exec(struct sqlite3 *db, const char *sql, struct petrel_err *err)
{
	if (sqlite3_exec(db, sql, NULL, NULL, NULL) != SQLITE_OK)
		return petrel_db_fail(db, err);
	return 0;
}

/* IMMEDIATE: take the write lock up front, so busy_timeout applies here and not
 * as SQLITE_BUSY halfway through a read-then-write transaction. */
int petrel_db_begin(struct sqlite3 *db, struct petrel_err *err)
{
	return petrel_db_exec(db, "BEGIN IMMEDIATE", err);
}

int petrel_db_commit(struct sqlite3 *db, struct petrel_err *err)
{
	return petrel_db_exec(db, "COMMIT", err);
}

void petrel_db_rollback(struct sqlite3 *db)
{
	if (sqlite3_get_autocommit(db) == 0)
		sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
}

/* Runs a pragma that answers one row; its first column as text into out (size n). */
static int pragma_text(struct sqlite3 *db, const char *sql, char *out, size_t n,
		       struct petrel_err *err)
{
	struct petrel_sql q;
	int r;

	if ((r = petrel_sql_row(&q, db, err, sql, "")) <= 0)
		return r < 0 ? r : petrel_db_fail(db, err);
	r = 0;
	if (petrel_strcpy_whole(out, petrel_sql_text(&q, 0), n) < 0)
		r = petrel_fail(err, -PETREL_EDB, "database: unexpected answer to %s", sql);
	petrel_sql_finalize(&q);
	return r;
}

static int user_version(struct sqlite3 *db, int *out, struct petrel_err *err)
{
	struct petrel_sql q;
	int r;

	if ((r = petrel_sql_row(&q, db, err, "PRAGMA user_version", "")) <= 0)
		return r < 0 ? r : petrel_db_fail(db, err);
	*out = (int)petrel_sql_int(&q, 0);
	petrel_sql_finalize(&q);
	return 0;
}

/* Durability and integrity settings; WAL must actually be in effect. */
static int configure(struct sqlite3 *db, struct petrel_err *err)
{
	char mode[16];
	int r;

	if (sqlite3_busy_timeout(db, 5000) != SQLITE_OK)
		return petrel_db_fail(db, err);
	if ((r = pragma_text(db, "PRAGMA journal_mode=WAL", mode, sizeof(mode), err)) < 0)
		return r;
	if (strcmp(mode, "wal") != 0)
		return petrel_fail(err, -PETREL_EDB, "database: journal_mode is %s, not wal", mode);
	if ((r = petrel_db_exec(db, "PRAGMA synchronous=FULL", err)) < 0)
		return r;
	return petrel_db_exec(db, "PRAGMA foreign_keys=ON", err);
}

/* Applies migration to (0-based) index i and bumps user_version, atomically. */
/*
 * Takes the schema from version i to i + 1, unless another petrel (opening the same
 * fresh state directory at the same moment) did it first: the version is read again
 * inside the write transaction, which serialises the two.
 */
static int migrate_one(struct sqlite3 *db, int i, struct petrel_err *err)
{
	char sql[64];
	int r, v = 0;

	if ((r = petrel_snprintf(sql, sizeof(sql), "PRAGMA user_version=%d", i + 1)) < 0)
		return r;
	if ((r = petrel_db_begin(db, err)) < 0)
		return r;
	if ((r = user_version(db, &v, err)) < 0 || v > i) {
		petrel_db_rollback(db);
		return r;
	}
	if ((r = petrel_db_exec(db, migrations[i], err)) < 0 ||
	    (r = petrel_db_exec(db, sql, err)) < 0 ||
	    (r = petrel_db_commit(db, err)) < 0) {
		petrel_db_rollback(db);
		return r;
	}
	return 0;
}

static int migrate(struct sqlite3 *db, struct petrel_err *err)
{
	int v = 0, r;

	if ((r = user_version(db, &v, err)) < 0)
		return r;
	if (v > PETREL_SCHEMA_VERSION)
		return petrel_fail(err, -PETREL_EDB,
				   "petrel.db has schema version %d, this petrel knows up to %d",
				   v, PETREL_SCHEMA_VERSION);
	for (; v < PETREL_SCHEMA_VERSION; v++) {
		if ((r = migrate_one(db, v, err)) < 0)
			return r;
	}
	return 0;
}

/* mkdir that accepts an existing directory; *created says whether we made it. */
static int ensure_dir(const char *path, mode_t mode, int *created, struct petrel_err *err)
{
	struct stat st;

	*created = 0;
	if (mkdir(path, mode) == 0) {
		*created = 1;
		return chmod(path, mode) < 0 ? -errno : 0;	/* whatever the umask */
	}
	if (errno != EEXIST)
		return petrel_fail(err, -errno, "%s: cannot create directory: %s", path,
				   strerror(errno));
	if (lstat(path, &st) < 0)
		return -errno;
	if (!S_ISDIR(st.st_mode))
		return petrel_fail(err, -ENOTDIR, "%s: not a directory", path);
	return 0;
}

/*
 * The marker that makes a directory petrel's state directory: written when petrel lays
 * the directory out (or first writes to one an older petrel made, which has petrel.db).
 * Only where it is does petrel remove leftovers in tmp/.
 */
static const char marker_text[] = "petrel state directory\n"
	"# petrel created this directory: it removes leftovers in tmp/ only where this file is\n";

/* 1 when dir holds petrel's marker (a regular file starting with its first line),
 * 0 when not. */
int petrel_store_is_ours(const char *dir)
{
	const size_t first = strlen("petrel state directory\n");
	char path[PATH_MAX], buf[64];
	struct stat st;
	ssize_t n = -1;
	int fd;

	if (petrel_snprintf(path, sizeof(path), "%s/" PETREL_STATE_MARKER, dir) < 0 ||
	    (fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC)) < 0)
		return 0;
	if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode))
		n = read(fd, buf, sizeof(buf));
	close(fd);
	return n >= (ssize_t)first && !memcmp(buf, marker_text, first);
}

static int write_marker(const char *dir, struct petrel_err *err)
{
	char path[PATH_MAX];
	int r;

	if ((r = petrel_snprintf(path, sizeof(path), "%s/" PETREL_STATE_MARKER, dir)) < 0 ||
	    (r = petrel_atomic_write(path, marker_text, sizeof(marker_text) - 1, 0644)) < 0)
		return petrel_fail(err, r, "%s: cannot write: %s", path, petrel_strerror(r));
	return 0;
}

/* 1 when dir holds something besides what petrel makes before its layout (the lock
 * files): someone else's directory. 0, 1 or -errno. */
static int holds_foreign(const char *dir)
{
	static const char *const ours[] = { ".", "..", "lock", "daemon.lock" };
	struct dirent *e;
	DIR *d = opendir(dir);
	int found = 0, known;

	if (!d)
		return -errno;
	while (!found && (e = readdir(d)) != NULL) {
		known = 0;
		for (size_t i = 0; i < PETREL_ARRAY_SIZE(ours); i++)
			known |= !strcmp(e->d_name, ours[i]);
		found = !known;
	}
	closedir(d);
	return found;
}

/*
 * Who may change the state directory decides what petrel deploys: like ssh with a key
 * file, refuse one that others may write to. A writer also refuses one another user
 * owns (root uses its own); a reader changes nothing and refuses only a directory
 * anyone may write to, so that status works for any user who can read it.
 */
static int check_mode(const char *dir, const struct stat *st, int writer,
		      struct petrel_err *err)
{
	mode_t loose = st->st_mode & (writer ? (S_IWGRP | S_IWOTH) : S_IWOTH);

	if (loose)
		return petrel_fail(err, -PETREL_ECONFIG, "%s: state directory is writable by %s "
				   "(mode %04o): refusing it (chmod go-w %s)", dir,
				   loose & S_IWOTH ? "others" : "its group",
				   (unsigned)(st->st_mode & 07777), dir);
	if (writer && st->st_uid != geteuid())
		return petrel_fail(err, -PETREL_ECONFIG, "%s: state directory is owned by uid %u, "
				   "not by uid %u running petrel: refusing it", dir,
				   (unsigned)st->st_uid, (unsigned)geteuid());
	return 0;
}

/*
 * Before a writer touches dir: 1 when petrel's marker must be written (dir is new,
 * empty, or an older petrel's with petrel.db), 0 when it is there, negative (the
 * message in err) for a directory petrel must not use.
 */
static int claim_dir(const char *dir, struct petrel_err *err)
{
	char db[PATH_MAX];
	struct stat st;
	int r;

	if (stat(dir, &st) < 0)
		return errno == ENOENT ? 1 : petrel_fail(err, -errno, "%s: %s", dir,
							 strerror(errno));
	if (!S_ISDIR(st.st_mode))
		return petrel_fail(err, -ENOTDIR, "%s: not a directory", dir);
	if ((r = check_mode(dir, &st, 1, err)) < 0)
		return r;
	if (petrel_store_is_ours(dir))
		return 0;
	if ((r = petrel_snprintf(db, sizeof(db), "%s/petrel.db", dir)) < 0)
		return petrel_fail(err, r, "%s: state directory path too long", dir);
	if (lstat(db, &st) == 0)
		return 1;
	if ((r = holds_foreign(dir)) < 0)
		return petrel_fail(err, r, "%s: %s", dir, strerror(-r));
	if (r)
		return petrel_fail(err, -PETREL_ECONFIG, "%s: not a petrel state directory (no "
				   PETREL_STATE_MARKER ", no petrel.db, not empty): refusing to "
				   "use it", dir);
	return 1;
}

/* Creates sub (relative to dir) and makes its creation durable in parent. */
static int make_subdir(const char *dir, const char *parent, const char *sub, mode_t mode,
		       struct petrel_err *err)
{
	char path[PATH_MAX], up[PATH_MAX];
	int created, r;

	if ((r = petrel_snprintf(path, sizeof(path), "%s/%s", dir, sub)) < 0 ||
	    (r = petrel_snprintf(up, sizeof(up), "%s%s%s", dir, *parent ? "/" : "", parent)) < 0)
		return r;
	if ((r = ensure_dir(path, mode, &created, err)) < 0)
		return r;
	return created ? petrel_fsync_dir(up) : 0;
}

/* The state directory's layout; the marker first, when mark says it is due, so that a
 * layout is never there without it. */
static int make_layout(const char *dir, int mark, struct petrel_err *err)
{
	int r;

	if ((r = petrel_mkdir_p(dir, 0755)) < 0)
		return petrel_fail(err, r, "%s: cannot create state directory: %s", dir,
				   petrel_strerror(r));
	if (mark && (r = write_marker(dir, err)) < 0)
		return r;
	if ((r = make_subdir(dir, "", "objects", 0755, err)) < 0 ||
	    (r = make_subdir(dir, "objects", "objects/sha256", 0755, err)) < 0 ||
	    (r = make_subdir(dir, "", "tmp", 0700, err)) < 0)
		return r;
	return 0;
}

/*
 * Readers need no lock and no write access (petrel status as any user who can read the
 * state directory): the database and its WAL files are 0644 whatever the umask, and the
 * WAL files outlive the last connection (a read-only reader cannot create them).
 */
static void readable_by_all(struct sqlite3 *handle, const char *db)
{
	static const char *const ext[] = { "", "-wal", "-shm" };
	char path[PATH_MAX];
	int persist = 1;

	for (size_t i = 0; i < PETREL_ARRAY_SIZE(ext); i++)
		if (petrel_snprintf(path, sizeof(path), "%s%s", db, ext[i]) == 0)
			(void)chmod(path, 0644);
	(void)sqlite3_file_control(handle, "main", SQLITE_FCNTL_PERSIST_WAL, &persist);
}

int petrel_store_prepare(const char *dir, struct petrel_err *err)
{
	int r;

	if ((r = claim_dir(dir, err)) < 0)
		return r;
	return make_layout(dir, r, err);
}

/* An empty s for dir, closed; path (PATH_MAX) receives dir/petrel.db. */
static int store_init(struct petrel_store *s, const char *dir, char *path,
		      struct petrel_err *err)
{
	memset(s, 0, sizeof(*s));
	s->lockfd = -1;
	if (petrel_strcpy_whole(s->dir, dir, sizeof(s->dir)) < 0 ||
	    petrel_snprintf(path, PATH_MAX, "%s/petrel.db", dir) < 0)
		return petrel_fail(err, -ENAMETOOLONG, "%s: state directory path too long", dir);
	return 0;
}

static int open_store(struct petrel_store *s, const char *dir, long lock_timeout,
		      struct petrel_err *err)
{
	char path[PATH_MAX];
	int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX;
	int r;

	if ((r = store_init(s, dir, path, err)) < 0)
		return r;
	if ((r = petrel_store_prepare(dir, err)) < 0)
		return r;
	/* before sqlite: two petrels creating one database at once would otherwise race
	 * on switching it to WAL, where sqlite answers "locked" without waiting */
	if (lock_timeout >= 0 && (r = petrel_store_lock(s, lock_timeout, err)) < 0)
		return r;
	if (sqlite3_open_v2(path, &s->db, flags | SQLITE_OPEN_NOFOLLOW, NULL) != SQLITE_OK) {
		r = petrel_db_fail(s->db, err);
		goto out;
	}
	sqlite3_extended_result_codes(s->db, 1);
	if ((r = configure(s->db, err)) < 0)
		goto out;
	readable_by_all(s->db, path);
	r = migrate(s->db, err);
out:
	if (r < 0)
		petrel_store_close(s);
	return r;
}

int petrel_store_open(struct petrel_store *s, const char *dir, struct petrel_err *err)
{
	return open_store(s, dir, -1, err);
}

int petrel_store_open_locked(struct petrel_store *s, const char *dir, long lock_timeout,
			     struct petrel_err *err)
{
	return open_store(s, dir, lock_timeout < 0 ? 0 : lock_timeout, err);
}

/* A state directory nothing was ever written to reads as an empty one: the schema in
 * memory, nothing created on disk. */
static int open_empty(struct petrel_store *s, struct petrel_err *err)
{
	if (sqlite3_open_v2(":memory:", &s->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX,
			    NULL) != SQLITE_OK)
		return petrel_db_fail(s->db, err);
	return migrate(s->db, err);
}

static int open_snapshot(struct petrel_store *s, const char *path, struct petrel_err *err)
{
	int v = 0, r;

	if (sqlite3_open_v2(path, &s->db, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX |
			    SQLITE_OPEN_NOFOLLOW, NULL) != SQLITE_OK)
		return petrel_fail(err, -PETREL_EDB, "%s: %s", path,
				   s->db ? sqlite3_errmsg(s->db) : "out of memory");
	sqlite3_extended_result_codes(s->db, 1);
	if (sqlite3_busy_timeout(s->db, 5000) != SQLITE_OK ||
	    (r = petrel_db_exec(s->db, "BEGIN", err)) < 0)	/* one snapshot for every read */
		return petrel_db_fail(s->db, err);
	if ((r = user_version(s->db, &v, err)) < 0)
		return petrel_err_prefix(err, "%s: ", path), r;
	if (v != PETREL_SCHEMA_VERSION)
		return petrel_fail(err, -PETREL_EDB, "%s has schema version %d, this petrel "
				   "reads %d%s", path, v, PETREL_SCHEMA_VERSION,
				   v < PETREL_SCHEMA_VERSION ? " (any writing command, e.g. "
				   "'petrel fsck', brings it up to date)" : "");
	return 0;
}

int petrel_store_open_read(struct petrel_store *s, const char *dir, struct petrel_err *err)
{
	char path[PATH_MAX];
	struct stat st;
	int r;

	if ((r = store_init(s, dir, path, err)) < 0)
		return r;
	if (stat(dir, &st) == 0 && (r = check_mode(dir, &st, 0, err)) < 0)
		return r;
	if (lstat(path, &st) < 0 && errno == ENOENT)
		r = open_empty(s, err);
	else
		r = open_snapshot(s, path, err);
	if (r < 0)
		petrel_store_close(s);
	return r;
}

int petrel_store_read_again(struct petrel_store *s, struct petrel_err *err)
{
	int r;

	if (sqlite3_get_autocommit(s->db) == 0 &&
	    (r = petrel_db_exec(s->db, "COMMIT", err)) < 0)
		return r;
	return petrel_db_exec(s->db, "BEGIN", err);
}

void petrel_store_close(struct petrel_store *s)
{
	petrel_store_unlock(s);
	/* sqlite3_close_v2 defers if a statement leaked; every statement is finalized
	 * on its function's one exit path, so this closes now. */
	sqlite3_close_v2(s->db);
	s->db = NULL;
}
