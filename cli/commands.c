/* petrel's command line, described once: commands, options, help text; and its parser. */
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include "cli.h"
#include "commands.h"
#include "common/error.h"
#include "common/log.h"

#define FIELD(f) offsetof(struct petrel_cli, f)

/* ------------------------------------------------------------------ the tables */

const struct petrel_option petrel_global_options[] = {
	{ "config", .short_name = 'c', .metavar = "FILE", .field = FIELD(config_path),
	  .help = "configuration (default $PETREL_CONFIG, else /etc/petrel/petrel.conf)" },
	{ "json", .field = FIELD(json), .value = 1,
	  .help = "print data as JSON on stdout (every command but help)" },
	{ "quiet", .short_name = 'q', .field = FIELD(log_level), .value = PETREL_LOG_ERROR,
	  .help = "only errors" },
	{ "verbose", .short_name = 'v', .field = FIELD(log_level), .value = PETREL_LOG_DEBUG,
	  .help = "debug messages" },
	{ "help", .short_name = 'h', .field = FIELD(help), .value = 1, .flags = PETREL_OPT_ALONE,
	  .help = "this text; after a command, that command's help" },
	{ "version", .field = FIELD(version), .value = 1, .flags = PETREL_OPT_ALONE,
	  .help = "print the version" },
	{ "man", .field = FIELD(man), .value = 1, .flags = PETREL_OPT_ALONE,
	  .help = "print this manual as a man page (roff)" },
	{ "completion", .metavar = "SHELL", .choices = "bash", .field = FIELD(completion),
	  .flags = PETREL_OPT_ALONE, .help = "print a completion script for SHELL (bash)" },
	{ NULL }
};

static const struct petrel_option no_options[] = { { NULL } };

static const struct petrel_option status_options[] = {
	{ "short", .field = FIELD(short_form), .value = 1,
	  .help = "one line per target: what runs and what waits (like apt list --upgradable)" },
	{ NULL }
};

static const struct petrel_option upgrade_options[] = {
	{ "all", .field = FIELD(all), .value = 1,
	  .help = "every target (a pinned one is left alone); exit with the worst status" },
	{ "dry-run", .field = FIELD(dry_run), .value = 1,
	  .help = "say what would be fetched, verified and switched; change nothing" },
	{ "to", .metavar = "UUID", .field = FIELD(to_uuid),
	  .help = "deploy this build instead of the newest, even one rejected before" },
	{ "allow-downgrade", .field = FIELD(allow_downgrade), .value = 1,
	  .help = "accept a build older than the current one" },
	{ NULL }
};

static const struct petrel_option audit_options[] = {
	{ "online", .field = FIELD(online), .value = 1,
	  .help = "ask every configured server's /hash which build holds the deployed sha256 "
		  "(unknown or down is reported, not a finding)" },
	{ "no-rehash", .alias = "quick", .field = FIELD(no_rehash), .value = 1,
	  .help = "compare sizes only, for monitoring" },
	{ "metrics", .metavar = "FILE", .field = FIELD(metrics),
	  .help = "write Prometheus text for node_exporter's textfile collector (a write "
		  "failure is reported after the findings)" },
	{ NULL }
};

static const struct petrel_option gc_options[] = {
	{ "dry-run", .field = FIELD(dry_run), .value = 1,
	  .help = "print what would go, change nothing" },
	{ NULL }
};

static const struct petrel_option daemon_options[] = {
	{ "once", .field = FIELD(once), .value = 1,
	  .help = "one cycle over every target, exit with its worst status; with --json "
		  "print what it did per target (without --once, --json is a usage error)" },
	{ "now", .field = FIELD(at_once), .value = 1,
	  .help = "poll every target at once instead of at a random moment of its interval "
		  "(after an edit, by hand); a server's Retry-After or a backoff the last "
		  "daemon recorded is still waited for" },
	{ "metrics", .metavar = "FILE", .field = FIELD(metrics),
	  .help = "Prometheus text, written atomically after every cycle" },
	{ NULL }
};

static const struct petrel_option log_options[] = {
	{ "lines", .short_name = 'n', .metavar = "N", .field = FIELD(lines),
	  .help = "only the last N rows (still oldest first)" },
	{ "since", .metavar = "TIME", .field = FIELD(since),
	  .help = "only rows at or after TIME: 2026-12-04T10:00:00Z, '2026-12-04 10:00' or "
		  "2026-12-04 (UTC without a zone, as log prints), or 30m, 2h, 1d ago" },
	{ "follow", .short_name = 'f', .field = FIELD(follow), .value = 1,
	  .help = "then wait for new rows and print them as they come (twice a second, "
		  "without the lock) until SIGINT or SIGTERM; with --json one object per row "
		  "and line" },
	{ NULL }
};

static const struct petrel_option export_options[] = {
	{ "uuid", .metavar = "UUID", .field = FIELD(uuid),
	  .help = "this build of each target (one the store verified for it) instead of its "
		  "current one" },
	{ NULL }
};

static const struct petrel_option import_options[] = {
	{ "offline-ok", .field = FIELD(offline_ok), .value = 1,
	  .help = "for a target with trust = rebuilt or signed+rebuilt: accept what can be "
		  "checked offline (the signatures; under rebuilt the bundle's sha256 alone), "
		  "recorded as such" },
	{ "allow-downgrade", .field = FIELD(allow_downgrade), .value = 1,
	  .help = "accept a build older than the newest the target ever verified" },
	{ NULL }
};

static const struct petrel_option help_options[] = {
	{ "man", .field = FIELD(man), .value = 1, .flags = PETREL_OPT_HIDDEN },
	{ NULL }
};

#define TARGETS PETREL_ARG_TARGET, 0, -1	/* [TARGET...] */
#define ONE_TARGET PETREL_ARG_TARGET, 1, 1	/* TARGET */

const struct petrel_command petrel_commands[] = {
	{ "check", TARGETS, "Ask the server for the newest build of each target (every target "
	  "when none is named); print 'up to date' or the deployed and the new build. Exit 0: "
	  "all up to date, 100: an update is available. A target with a channel (channel = "
	  "URL) asks the channel file instead: its release is the newest once this host's "
	  "bucket is within the ramp.", no_options, petrel_cmd_check },
	{ "fetch", TARGETS, "Download and verify the newest build of each target into the "
	  "store; deploy nothing. A build already in the store is not downloaded again. "
	  "With mirrors (a [server] key) the bytes come from the first mirror that answers "
	  "well; a bad answer (error, length, hash) is a warning and the next mirror, finally "
	  "the server itself, starts over; hashes and signatures come from the server only.",
	  no_options, petrel_cmd_fetch },
	{ "status", TARGETS, "Per target: the current and previous generation (sha256, size, "
	  "trust evidence), the newest verified build not deployed and what it waits for "
	  "(policy, window, pin, a rejection), a build refused by verification and its next "
	  "try, the last check and its result, whether a daemon runs (pid) and when it polls "
	  "next, a switch a crash interrupted, a current, previous or staged build that "
	  "today's keys no longer vouch for (NOT TRUSTED NOW, naming the key; the re-check "
	  "upgrade and revert make, without reading a blob), and the channel (version, "
	  "release, ramp, this host's bucket, blocks). Reads a snapshot without the lock: never waits "
	  "for a running upgrade or daemon, works for any user who can read the state "
	  "directory, changes nothing.", status_options, petrel_cmd_status },
	{ "list", ONE_TARGET, "The server's builds of the target's job (one per distinct "
	  "binary, as builder-web lists them), newest first: uuid, start time, size, sha256 "
	  "and what this host knows of those bytes: deployed, previous, in-store, rejected, "
	  "refused. A read: no lock.", no_options, petrel_cmd_list },
	{ "pin", PETREL_ARG_TARGET, 1, 2, "Hold the target at a build (the "
	  "current one without UUID; else a build the store verified for it): the daemon "
	  "leaves it alone, upgrade refuses it unless named with --to, upgrade --all skips "
	  "it. status shows the pin.", no_options, petrel_cmd_pin },
	{ "unpin", ONE_TARGET, "Let a pinned target move again.", no_options,
	  petrel_cmd_unpin },
	{ "upgrade", PETREL_ARG_TARGET, 0, 1, "Fetch and verify the newest build (or UUID) if the store "
	  "lacks it, replace the target's path atomically, run the orchestrator adapter and "
	  "the health check; if either fails, put the previous generation back, reject the "
	  "build, exit 5. Refuses (exit 3) a build older than the current one without "
	  "--allow-downgrade, a build rejected before unless named with --to, a Solo5 build "
	  "for another abi or needing a device the adapter says the unikernel lacks (before "
	  "downloading), a build the preflight command refuses, a pinned target's newest, and "
	  "a build the store already held (--to, one fetched earlier) whose kept signatures "
	  "no longer meet today's keys and threshold (a key removed from 'keys' because it "
	  "leaked: the message names it), and a hash the target's channel blocks (even named "
	  "with --to). An orchestrator, health "
	  "or preflight command that cannot run is a configuration error (exit 2) before "
	  "anything changes; the build is not rejected for it.",
	  upgrade_options, petrel_cmd_upgrade },
	{ "revert", ONE_TARGET, "One step back to the previous generation, from the store, no "
	  "network; a second revert goes forward again. Going back rejects the build left, so "
	  "the daemon does not redeploy it (in the transaction that completes the revert). "
	  "Refuses (exit 3, nothing changed) a build whose kept signatures no longer meet "
	  "today's keys and threshold, naming the key no longer trusted, and a build the "
	  "channel file accepted last blocks.", no_options, petrel_cmd_revert },
	{ "history", ONE_TARGET, "Every generation of the target, newest first: when, which "
	  "build, how it ended (why a generation failed on a line of its own). A row fits in "
	  "100 columns, a long reason cut with '...' (-v: whole; --json: always whole).",
	  no_options, petrel_cmd_history },
	{ "log", PETREL_ARG_TARGET, 0, 1, "The event journal (fetch, refused, upgrade, revert, "
	  "upgrade-failed, recover, audit, ...), oldest first, of one target or all; each row "
	  "carries the SHA-256 of the one before, and a broken chain (or a missing last row) "
	  "is marked '!' and reported: the whole chain is checked whichever rows are shown. "
	  "A row fits in 100 columns, a long detail cut with '...' (-v: whole; --json: "
	  "always whole).", log_options, petrel_cmd_log },
	{ "audit", TARGETS, "Re-hash each deployed file (mode 0755 too), PATH.petrel-prev and "
	  "the current and previous blobs against the store's record, verify the journal's "
	  "chain and head; show the trust evidence (key ids, rebuilders; trust = server as "
	  "weak). Findings go to stderr (one line each, naming the target) and the journal; "
	  "exit 6 when there is any.", audit_options, petrel_cmd_audit },
	{ "fsck", PETREL_ARG_NONE, 0, 0, "Re-hash every blob in the store, check the database "
	  "(each version's blob; each kept signature parses, by the key its row names, of a "
	  "version that exists), the journal chain and tmp/; exit 6 when anything is wrong.",
	  no_options, petrel_cmd_fsck },
	{ "gc", TARGETS, "Retention: per target, remove the versions beyond the 'keep' newest "
	  "(with the generations that deployed them; the journal keeps every deploy), never "
	  "the current, previous or newest generation's build nor the newest verified one; "
	  "then every blob no version of any target references. One 'gc' journal row per "
	  "target.", gc_options, petrel_cmd_gc },
	{ "daemon", PETREL_ARG_NONE, 0, 0, "Unattended updates, in the foreground, one log "
	  "line per event on stderr. Polls each target first at a random moment of its "
	  "'interval' after the start (so that a fleet started at once does not poll at "
	  "once; a restart keeps the next poll the last daemon recorded), then every "
	  "'interval' s plus up to a tenth of it at random; "
	  "auto = upgrade deploys a new build (as upgrade does), fetch only stages it, off "
	  "skips the target, a pinned one is left alone; outside 'window' upgrade only stages. "
	  "A build that failed its health check is never deployed again, a newer one is; one "
	  "that failed verification is tried again after a backoff (interval, doubling, at "
	  "most a day); never downgrades. Failures back off with full jitter (a random wait "
	  "below the interval, doubling per failure up to backoff_max), per server for "
	  "connection and HTTP errors; an answer's Retry-After (seconds or an HTTP date, at "
	  "most a day) is waited for, also across a restart. SIGTERM/SIGINT: stop at the next safe point "
	  "(a download is dropped, a health check stopped and the switch rolled back, a "
	  "running adapter waited for and one health check decides), exit 0; SIGHUP: re-read "
	  "the configuration. One daemon per state directory (STATE/daemon.lock). With "
	  "NOTIFY_SOCKET: sd_notify READY/RELOADING/STOPPING/WATCHDOG.",
	  daemon_options, petrel_cmd_daemon },
	{ "export", PETREL_ARG_TARGET, 2, -1, "Write a bundle FILE for a host without the "
	  "network: per target its current build (or --uuid's), with its metadata (JSON), "
	  "every signature it was verified with and its blob, re-hashed on the way. A tar, "
	  "compressed as the name says: .tar, .tar.gz (.tgz), .tar.xz, .tar.zst; written to "
	  "FILE.tmp-XXXXXX and renamed when complete. FILE '-' writes an uncompressed tar to "
	  "stdout (never to a terminal). A read: no lock.", export_options, petrel_cmd_export },
	{ "import", PETREL_ARG_FILE, 1, 1, "Read a bundle (FILE, or - for stdin) and verify "
	  "each build for every target of its job exactly as a fetch does: sha256 and size, "
	  "the signatures with this host's keys, threshold and binding, the trust policy, the "
	  "rollback mark; only then are the blobs stored and the versions recorded (journal "
	  "row 'import'). Entries are read as streams, never extracted by name. A hostile or "
	  "broken bundle (links, devices, '..', absolute or duplicate names, too many entries, "
	  "an entry larger than announced, a decompression bomb, a truncated archive, bad "
	  "metadata, a wrong hash, untrusted signatures, a job no target has) is refused with "
	  "exit 3 and nothing written. Rebuilders cannot be asked offline: trust = rebuilt "
	  "or signed+rebuilt refuses unless --offline-ok. Then 'petrel upgrade TARGET --to "
	  "UUID' deploys with no network.", import_options, petrel_cmd_import },
	{ "help", PETREL_ARG_COMMAND, 0, 1, "This text, or the help of COMMAND (as petrel "
	  "COMMAND --help prints it).", help_options, NULL },
	{ NULL }
};

const char petrel_summary[] = "verified updates of deployed binaries from a builder-web server";

const char *const petrel_description[] = {
	"petrel keeps deployed binaries in step with a builder-web build server and never "
	"accepts a byte it has not verified: every build is hashed while it downloads, checked "
	"against the server's sha256 and the publisher's minisign signatures, and kept in a "
	"content-addressed store.",
	"Every command that writes takes the state directory's lock first and rolls back a "
	"switch that a crash interrupted (the file at path and the database then agree "
	"again). The reads (status, history, log, list, upgrade --dry-run, audit --no-rehash) "
	"take no lock: they read a snapshot of the database, never wait for a writer, and "
	"work for any user who can read the state directory.",
	NULL
};

static const struct petrel_help_item exit_items[] = {
	{ "0", "ok" },
	{ "1", "failure" },
	{ "2", "usage or configuration error (also an unknown job or platform, or a server url "
	  "that is no builder-web)" },
	{ "3", "verification refused (hash, signature, binding, rollback, rebuilders, max_age)" },
	{ "4", "server or network error" },
	{ "5", "deploy failed and was reverted" },
	{ "6", "fsck/audit found a mismatch" },
	{ "100", "update available (check)" },
	{ "130, 143", "stopped by SIGINT or SIGTERM (nothing is left half done)" },
	{ NULL }
};

static const struct petrel_help_item config_items[] = {
	{ "[petrel]", "state_dir (/var/lib/petrel), interval (3600 s: daemon polls), "
	  "backoff_max (21600 s), host_id (/etc/machine-id's: for staged rollouts), "
	  "lock_timeout (30 s), connect_timeout (15 s), low_speed_limit "
	  "(1000 B/s) and low_speed_time (30 s): abort a transfer that stays slower, min_rate "
	  "(65536 B/s): a transfer may take its size / min_rate + connect_timeout + "
	  "low_speed_time, no longer, max_time (0: none), max_artifact_size (4 GiB: a build announcing more is refused before any "
	  "download), min_free (0; bytes, 500M, 2G or 5%: left free after a download or "
	  "import, gc runs when that makes the room, else exit 1 before a byte is written)" },
	{ "[server \"N\"]", "url: a builder-web, http:// or https://" },
	{ "[target \"N\"]", "server, job, path (required); platform; abi (hvt, spt, ...: a "
	  "Solo5 build for another target is refused before downloading); trust = signed "
	  "(default: threshold distinct key ids of 'keys' must sign), rebuilt (agree of "
	  "'rebuilders' must lead from /hash to a build whose main binary has the hash, any "
	  "job name), signed+rebuilt (both) or server (hash from the server only, shown as "
	  "weak); keys (minisign .pub files); threshold (1); signatures (URL templates, one per "
	  "signer: {job} {uuid} {filename} {sha256} {url}); rebuilders (names of other "
	  "[server] sections); agree (1); max_age (e.g. 30d; s m h d or seconds): check exits "
	  "3 when the newest build is older; lists are comma-separated and may go on over "
	  "indented lines; bind = strict (trusted comment must name job and sha256) or loose; "
	  "legacy_signatures = no|yes (minisign's non-prehashed 'Ed'); orchestrator = none | "
	  "an adapter run as 'ADAPTER upgrade|revert' with PETREL_TARGET PETREL_PATH "
	  "PETREL_NEW_SHA256 PETREL_OLD_SHA256 PETREL_JOB PETREL_UUID, exit 0 = the "
	  "orchestrator started it (timeout: orchestrator_timeout, 120 s); 'ADAPTER devices' "
	  "lists the Solo5 devices the target has ('net NAME', 'block NAME'): a build whose "
	  "manifest needs another is refused before downloading; health (command, exit 0 = "
	  "healthy; health_retries 8, health_timeout 5 s, attempts spaced 1,1,1,2,3,3,4,5 s); "
	  "preflight (command run with the new file's path before the switch, non-zero "
	  "refuses); auto = upgrade (default) | fetch | off: the daemon's policy; interval (s, "
	  "overrides [petrel]'s); window = HH:MM-HH:MM (local time, may span midnight): outside "
	  "it auto = upgrade only stages; keep (5: versions gc keeps; when set, the daemon "
	  "runs the target's gc after each upgrade)" },
	{ NULL }
};

static const struct petrel_help_item file_items[] = {
	{ "STATE/petrel.db", "the database: versions, generations, the journal" },
	{ "STATE/objects/sha256/XX/REST", "verified blobs, read-only" },
	{ "STATE/tmp/", "downloads in progress" },
	{ "STATE/lock", "the lock every command takes" },
	{ "STATE/daemon.lock", "one daemon per state directory" },
	{ "PATH.petrel-prev", "beside each target's path: the previous generation, for a "
	  "revert by rename" },
	{ "PATH.petrel-new", "beside each target's path, during a switch: the new file" },
	{ NULL }
};

static const struct petrel_help_item env_items[] = {
	{ "PETREL_CONFIG", "configuration file when -c is not given" },
	{ "PETREL_FAULT", "test hook: 'write:N,fsync:N,rename:N,unlink:N' fails the N-th call "
	  "of that kind with EIO" },
	{ NULL }
};

const struct petrel_help_section petrel_help_sections[] = {
	{ "exit status", NULL, exit_items },
	{ "configuration", "INI; sections in any order.", config_items },
	{ "files", NULL, file_items },
	{ "environment", NULL, env_items },
	{ "see also", "README.md for the configuration keys.", NULL },
	{ NULL }
};

const struct petrel_command *petrel_command_find(const char *name)
{
	for (const struct petrel_command *c = petrel_commands; c->name; c++)
		if (!strcmp(c->name, name))
			return c;
	return NULL;
}

const char *petrel_arg_name(enum petrel_arg_kind arg)
{
	return arg == PETREL_ARG_TARGET ? "TARGET" : arg == PETREL_ARG_COMMAND ? "COMMAND" :
	       arg == PETREL_ARG_FILE ? "FILE" : NULL;
}

/* ------------------------------------------------------------------ the synopsis */

struct out {
	char *p;
	size_t size, len;
};

/* Appends s, truncating at the end of the buffer. */
static void put(struct out *o, const char *s)
{
	size_t n = strlen(s);

	if (n >= o->size - o->len)
		n = o->size - o->len - 1;
	memcpy(o->p + o->len, s, n);
	o->len += n;
	o->p[o->len] = '\0';
}

static void put_options(struct out *o, const struct petrel_option *opt)
{
	char name[64];

	for (; opt->name; opt++) {
		if (opt->flags & (PETREL_OPT_HIDDEN | PETREL_OPT_ALONE))
			continue;
		if (opt->short_name)
			snprintf(name, sizeof(name), " [-%c", opt->short_name);
		else
			snprintf(name, sizeof(name), " [--%s", opt->name);
		put(o, name);
		if (opt->metavar) {
			put(o, " ");
			put(o, opt->metavar);
		}
		put(o, "]");
	}
}

/* " TARGET", " [TARGET]", " [TARGET...]" or nothing. */
static void put_args(struct out *o, const struct petrel_command *c)
{
	const char *arg = petrel_arg_name(c->arg);

	/* the one command whose second argument is no target */
	if (c->run == petrel_cmd_pin) {
		put(o, " TARGET [UUID]");
		return;
	}
	if (c->run == petrel_cmd_export) {	/* the last argument is the bundle */
		put(o, " TARGET... FILE");
		return;
	}
	if (!arg || !c->max_args)
		return;
	put(o, c->min_args ? " " : " [");
	put(o, arg);
	put(o, c->max_args < 0 ? "..." : "");
	put(o, c->min_args ? "" : "]");
}

void petrel_synopsis(const struct petrel_command *c, char *buf, size_t size)
{
	struct out o = { buf, size, 0 };

	buf[0] = '\0';
	put(&o, "petrel");
	if (!c) {
		put_options(&o, petrel_global_options);
		put(&o, " COMMAND [ARGS]");
		return;
	}
	put(&o, " ");
	put(&o, c->name);
	put_args(&o, c);
	put_options(&o, c->options);
}

/* ------------------------------------------------------------------ the parser */

/* Every usage error: what is wrong, then the command's synopsis (or where to look). */
static int __attribute__((format(printf, 3, 4)))
usage_error(struct petrel_err *err, const struct petrel_command *c, const char *fmt, ...)
{
	char msg[512], syn[PETREL_SYNOPSIS_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (!c)
		return petrel_fail(err, -PETREL_EUSAGE, "%s; see petrel help", msg);
	petrel_synopsis(c, syn, sizeof(syn));
	return petrel_fail(err, -PETREL_EUSAGE, "%s; usage: %s", msg, syn);
}

static int unknown_command(const char *name, struct petrel_err *err)
{
	char names[PETREL_SYNOPSIS_MAX];
	struct out o = { names, sizeof(names), 0 };

	names[0] = '\0';
	for (const struct petrel_command *c = petrel_commands; c->name; c++) {
		put(&o, c == petrel_commands ? "" : ", ");
		put(&o, c->name);
	}
	return usage_error(err, NULL, "unknown command '%s'; commands: %s", name, names);
}

/* 1 when s is name or name=VALUE (*val then points to VALUE, else is NULL). */
static int long_is(const char *s, const char *name, const char **val)
{
	size_t n = name ? strlen(name) : 0;

	if (!name || strncmp(s, name, n) || (s[n] && s[n] != '='))
		return 0;
	*val = s[n] ? s + n + 1 : NULL;
	return 1;
}

/* The option of opts that arg ("-c", "--name", "--name=VALUE") is, or NULL. */
static const struct petrel_option *match(const struct petrel_option *opts, const char *arg,
					 const char **val)
{
	*val = NULL;
	for (; opts->name; opts++) {
		if (arg[1] == '-' ? long_is(arg + 2, opts->name, val) ||
				    long_is(arg + 2, opts->alias, val) :
				    opts->short_name == arg[1] && !arg[2])
			return opts;
	}
	return NULL;
}

/* Whether s is one of the words of list (separated by spaces). */
static int is_choice(const char *list, const char *s)
{
	size_t n = strlen(s);

	for (const char *p = list; *p; p += strcspn(p, " "), p += *p == ' ')
		if (strcspn(p, " ") == n && !strncmp(p, s, n))
			return 1;
	return 0;
}

static int is_option(const char *s)
{
	return s[0] == '-' && s[1];
}

/* argv[*i] is an option: stores it (and its value, which may be the next argument). */
static int option(struct petrel_cli *cli, const struct petrel_command *c, int argc,
		  char **argv, int *i, struct petrel_err *err)
{
	const char *a = argv[*i], *val;
	const struct petrel_option *o = match(petrel_global_options, a, &val);
	int len = a[1] == '-' ? (int)strcspn(a, "=") : (int)strlen(a);	/* as typed */
	char *field;

	if (!o && c)
		o = match(c->options, a, &val);
	if (!o)
		return c ? usage_error(err, c, "unknown option '%.*s' for %s", len, a, c->name) :
			   usage_error(err, NULL, "unknown option '%.*s'", len, a);
	if (!o->metavar && val)
		return usage_error(err, c, "option '%.*s' takes no value", len, a);
	if (o->metavar && !val && *i + 1 < argc && !is_option(argv[*i + 1]))
		val = argv[++*i];
	if (o->metavar && (!val || !*val))
		return usage_error(err, c, "option '%.*s' needs a value (%s)", len, a, o->metavar);
	if (o->choices && !is_choice(o->choices, val))
		return usage_error(err, c, "option '%.*s' takes %s, not '%s'", len, a, o->choices,
				   val);
	field = (char *)cli + o->field;
	if (o->metavar)
		*(const char **)(void *)field = val;
	else
		*(int *)(void *)field = o->value;
	return 0;
}

/* The number of positional arguments, and help's being commands. */
static int check_args(const struct petrel_cli *cli, struct petrel_err *err)
{
	const struct petrel_command *c = cli->cmd;

	if (cli->argc < c->min_args)
		return usage_error(err, c, "%s needs a %s", c->name, petrel_arg_name(c->arg));
	if (c->max_args >= 0 && cli->argc > c->max_args)
		return usage_error(err, c, "%s: unexpected argument '%s'", c->name,
				   cli->argv[c->max_args]);
	for (int i = 0; c->arg == PETREL_ARG_COMMAND && i < cli->argc; i++)
		if (!petrel_command_find(cli->argv[i]))
			return unknown_command(cli->argv[i], err);
	return 0;
}

int petrel_cli_parse(struct petrel_cli *cli, int argc, char **argv, struct petrel_err *err)
{
	const struct petrel_command *c = NULL;
	int n = 0, options_end = 0, r;

	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];

		if (options_end || !is_option(a)) {
			if (c)
				argv[1 + n++] = argv[i];	/* 1 + n <= i: in place */
			else if (!(c = petrel_command_find(a)))
				return unknown_command(a, err);
		} else if (!strcmp(a, "--")) {
			options_end = 1;
		} else if ((r = option(cli, c, argc, argv, &i, err)) < 0) {
			return r;
		}
	}
	cli->cmd = c;
	cli->argc = n;
	cli->argv = argv + 1;
	return c && !cli->help ? check_args(cli, err) : 0;
}
