/* The INI configuration: [petrel], [server "name"], [target "name"], checked whole. */
#include <errno.h>
#include <ini.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "cli.h"
#include "common/error.h"
#include "common/fs.h"
#include "common/util.h"
#include "deploy/run.h"
#include "deploy/sigs.h"

#define SERVERS_MAX 64
#define TARGETS_MAX 10000	/* the arrays grow as sections come */
#define CONFIG_MAX (1024 * 1024)
#define LINE_MAX_BYTES 198	/* Debian's inih reads 200 bytes a line, newline and NUL included */

/* Server names of targets, resolved once every section is read. */
struct parse {
	struct petrel_config *cfg;
	char (*server_of)[PETREL_NAME_MAX + 1];
	size_t cap;		/* of cfg->targets and server_of */
	long cur;		/* the pre-pass's current [target], -1 in other sections */
	size_t last;		/* the target section_index found last: the next key's, mostly */
	int at;			/* the line a whole-file check names, 0: the section's */
	char msg[512];
};

/*
 * Sizes the target arrays from the number of "[target" headers in text, so that a
 * large configuration costs one lazily zeroed allocation and no copying.
 */
static int alloc_targets(struct parse *p, const char *text)
{
	size_t n = 1;

	for (const char *l = text; l; l = strchr(l, '\n')) {
		l += *l == '\n';
		l += strspn(l, " \t");
		n += !strncmp(l, "[target", 7);
	}
	p->cfg->targets = calloc(n, sizeof(*p->cfg->targets));
	p->server_of = calloc(n, sizeof(*p->server_of));
	p->cap = n;
	return p->cfg->targets && p->server_of ? 0 : -ENOMEM;
}

/* Keys later issues use: accepted now so that one config serves every version. */
static const char *const reserved_target_keys[] = {
	NULL
};

static int fail(struct parse *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int fail(struct parse *p, const char *fmt, ...)
{
	va_list ap;

	if (p->msg[0])
		return 0;
	va_start(ap, fmt);
	vsnprintf(p->msg, sizeof(p->msg), fmt, ap);
	va_end(ap);
	return 0;	/* inih: stop and report this line */
}

/* "server \"robur\"" → kind "server", name "robur". */
static int split_section(const char *section, char *kind, size_t kn, char *name, size_t nn)
{
	const char *q = strchr(section, '"'), *end;
	size_t klen;

	if (!q)
		return petrel_strcpy_whole(kind, section, kn) < 0 ? -1 : (name[0] = '\0', 0);
	end = strrchr(section, '"');
	klen = (size_t)(q - section);
	while (klen && section[klen - 1] == ' ')
		klen--;
	if (end == q || end[1] != '\0' || klen >= kn || (size_t)(end - q - 1) >= nn)
		return -1;
	memcpy(kind, section, klen);
	kind[klen] = '\0';
	memcpy(name, q + 1, (size_t)(end - q - 1));
	name[end - q - 1] = '\0';
	return 0;
}

static int parse_long(const char *v, long min, long max, long *out)
{
	uint64_t n;

	if (petrel_parse_u64(v, &n) < 0 || n < (uint64_t)min || n > (uint64_t)max)
		return -1;
	*out = (long)n;
	return 0;
}

/* A numeric key: where it goes, its range, and whether it is a duration in seconds
 * (which also takes 30s, 15m, 1h, 2d). */
struct number {
	const char *k;
	long *dst;
	long min, max;
	int secs;
};

static int parse_number(const struct number *num, const char *v)
{
	int64_t secs;

	if (!num->secs)
		return parse_long(v, num->min, num->max, num->dst);
	if (petrel_parse_duration(v, &secs) < 0 || secs < num->min || secs > num->max)
		return -1;
	*num->dst = (long)secs;
	return 0;
}

/* Sets key if nums has it: 1 set, 0 refused (message recorded), -1 not a number key. */
static int set_number(struct parse *p, const char *key, const char *v, const struct number *nums,
		      size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (strcmp(key, nums[i].k))
			continue;
		if (parse_number(&nums[i], v) < 0)
			return fail(p, nums[i].secs ? "%s: '%s' is not a duration in %ld..%ld s "
				    "(90, 90s, 15m, 12h, 2d)" : "%s: '%s' is not a number in %ld..%ld",
				    key, v, nums[i].min, nums[i].max);
		return 1;
	}
	return -1;
}

/* min_free: bytes (a K, M, G or T suffix multiplies by 1024s), or N% of the file system
 * (0 to 99). */
static int set_min_free(struct parse *p, struct petrel_config *c, const char *v)
{
	static const char units[] = "KMGT";
	size_t n = strlen(v);
	const char *u = n ? strchr(units, v[n - 1]) : NULL;
	char num[32];
	long val;

	if (n == 0 || n >= sizeof(num))
		return fail(p, "min_free: '%s' is not a size (bytes, 500M, 2G or 5%%)", v);
	memcpy(num, v, n + 1);
	c->min_free_pct = v[n - 1] == '%';
	if (c->min_free_pct || (u && v[n - 1]))
		num[n - 1] = '\0';
	if (parse_long(num, 0, c->min_free_pct ? 99 : 1L << 50, &val) < 0)
		return fail(p, "min_free: '%s' is not a size (bytes, 500M, 2G or 5%%; a percent "
			    "below 100)", v);
	c->min_free = val;
	for (const char *k = units; u && v[n - 1] && k <= u; k++)
		c->min_free *= 1024;
	return 1;
}

static int set_petrel(struct parse *p, const char *key, const char *v)
{
	struct petrel_config *c = p->cfg;
	int r;

	if (!strcmp(key, "state_dir")) {
		if (v[0] != '/')
			return fail(p, "state_dir '%s' must be an absolute path", v);
		return petrel_strcpy_whole(c->state_dir, v, sizeof(c->state_dir)) < 0 ?
			fail(p, "state_dir too long") : 1;
	}
	if (!strcmp(key, "min_free"))
		return set_min_free(p, c, v);
	if (!strcmp(key, "host_id")) {
		if (!v[0] || petrel_strcpy_whole(c->host_id, v, sizeof(c->host_id)) < 0)
			return fail(p, "host_id must be 1 to %d bytes", PETREL_HOST_ID_MAX);
		return 1;
	}
	struct number nums[] = {
		{ "interval", &c->interval, 1, 365L * 86400, 1 },
		{ "backoff_max", &c->backoff_max, 1, 365L * 86400, 1 },
		{ "lock_timeout", &c->lock_timeout, 0, 86400, 1 },
		{ "max_artifact_size", &c->max_artifact_size, 1, 1L << 50, 0 },
		{ "connect_timeout", &c->limits.connect_timeout, 1, 3600, 1 },
		{ "low_speed_limit", &c->limits.low_speed_limit, 1, 1L << 30, 0 },
		{ "low_speed_time", &c->limits.low_speed_time, 1, 3600, 1 },
		{ "max_time", &c->limits.max_time, 0, 86400, 1 },
		{ "min_rate", &c->limits.min_rate, 1, 1L << 30, 0 },
	};
	if ((r = set_number(p, key, v, nums, PETREL_ARRAY_SIZE(nums))) >= 0)
		return r;
	return fail(p, "unknown key '%s' in [petrel]", key);
}

static struct petrel_server *server_named(struct petrel_config *c, const char *name)
{
	for (size_t i = 0; i < c->nservers; i++)
		if (!strcmp(c->servers[i].name, name))
			return &c->servers[i];
	return NULL;
}

/* A server's URL, or a mirror's: http(s), no query or fragment (paths are appended),
 * without trailing slashes. 0, or -1 with the message recorded. */
static int set_base_url(struct parse *p, const char *server, const char *key, const char *v,
			char *dst, size_t n)
{
	size_t len;

	if (strncmp(v, "http://", 7) && strncmp(v, "https://", 8))
		return fail(p, "server %s: %s must start with http:// or https://", server, key), -1;
	if (strpbrk(v, "?#"))
		return fail(p, "server %s: %s '%s' has a query or fragment (paths are appended "
			    "to it)", server, key, v), -1;
	if (petrel_strcpy_whole(dst, v, n) < 0)
		return fail(p, "server %s: %s too long", server, key), -1;
	len = strlen(dst);
	while (len && dst[len - 1] == '/')
		dst[--len] = '\0';
	return 0;
}

static int split_list(const char *v, char *slots, size_t slotsize, size_t max, size_t *n);

static int set_server(struct parse *p, const char *name, const char *key, const char *v)
{
	struct petrel_server *s = server_named(p->cfg, name);
	size_t first = s->nmirrors;

	if (!strcmp(key, "url"))
		return set_base_url(p, name, "url", v, s->url, sizeof(s->url)) < 0 ? 0 : 1;
	if (strcmp(key, "mirrors"))
		return fail(p, "unknown key '%s' in [server \"%s\"]", key, name);
	if (split_list(v, s->mirrors[0], sizeof(s->mirrors[0]), PETREL_MIRRORS_MAX,
		       &s->nmirrors) < 0)
		return fail(p, "server %s: mirrors: at most %d URLs of at most %d bytes", name,
			    PETREL_MIRRORS_MAX, PETREL_URL_MAX);
	for (size_t i = first; i < s->nmirrors; i++) {
		char given[PETREL_URL_MAX + 1];

		memcpy(given, s->mirrors[i], sizeof(given));
		if (set_base_url(p, name, "a mirror", given, s->mirrors[i],
				 sizeof(s->mirrors[i])) < 0)
			return 0;
	}
	return 1;
}

/*
 * Splits a comma-separated list, trimming white space, into fixed slots after the *n
 * already there: a list may go on over indented continuation lines (inih hands each
 * one over as the same key again; its lines are at most 200 bytes).
 */
static int split_list(const char *v, char *slots, size_t slotsize, size_t max, size_t *n)
{
	const char *p = v;

	while (*p) {
		const char *end = strchr(p, ','), *b = p, *e;

		if (!end)
			end = p + strlen(p);
		e = end;
		while (b < e && (*b == ' ' || *b == '\t'))
			b++;
		while (e > b && (e[-1] == ' ' || e[-1] == '\t'))
			e--;
		if (e > b) {
			if (*n == max || (size_t)(e - b) >= slotsize)
				return -1;
			memcpy(slots + *n * slotsize, b, (size_t)(e - b));
			slots[*n * slotsize + (size_t)(e - b)] = '\0';
			(*n)++;
		}
		p = *end ? end + 1 : end;
	}
	return 0;
}

static int set_enum(struct parse *p, const char *key, const char *v, const char *const *names,
		    int *out)
{
	for (int i = 0; names[i]; i++)
		if (!strcmp(v, names[i]))
			return *out = i, 1;
	return fail(p, "%s: unknown value '%s'", key, v);
}

static int set_string(struct parse *p, const char *key, const char *v, char *dst, size_t n)
{
	return petrel_strcpy_whole(dst, v, n) < 0 ? fail(p, "%s: value too long", key) : 1;
}

/* The trust policy's keys beyond signatures: rebuilders, agree, max_age.
 * 1 set, 0 refused (message recorded), -1 not one of them. */
static int set_trust_key(struct parse *p, struct petrel_target *t, const char *key, const char *v)
{
	int64_t secs;
	long n;

	if (!strcmp(key, "rebuilders"))
		return split_list(v, t->rebuilder_names[0], sizeof(t->rebuilder_names[0]),
				  PETREL_REBUILDERS_MAX, &t->nrebuilders) < 0 ?
			fail(p, "rebuilders: at most %d server names", PETREL_REBUILDERS_MAX) : 1;
	if (!strcmp(key, "agree")) {
		if (parse_long(v, 0, 1000, &n) < 0)
			return fail(p, "agree: '%s' is not a number", v);
		t->agree = (unsigned)n;
		return 1;
	}
	if (!strcmp(key, "max_age")) {
		if (petrel_parse_duration(v, &secs) < 0 || secs < 1 || secs > 100L * 365 * 86400)
			return fail(p, "max_age: '%s' is not a duration (seconds, or a number with "
				    "s, m, h or d, e.g. 30d)", v);
		t->max_age = (long)secs;
		return 1;
	}
	return -1;
}

static int set_target_more(struct parse *p, struct petrel_target *t, const char *key, const char *v)
{
	static const char *const autos[] = { "upgrade", "fetch", "off", NULL };
	static const char *const trusts[] = { "signed", "server", "rebuilt", "signed+rebuilt", NULL };
	static const char *const binds[] = { "strict", "loose", NULL };
	static const char *const yesno[] = { "no", "yes", NULL };
	long n;
	int e = 0, r;

	if (!strcmp(key, "auto"))
		return set_enum(p, key, v, autos, &e) ? (t->autopolicy = e, 1) : 0;
	if (!strcmp(key, "trust"))
		return set_enum(p, key, v, trusts, &e) ? (t->trust = e, 1) : 0;
	if (!strcmp(key, "bind"))
		return set_enum(p, key, v, binds, &e) ? (t->bind = e, 1) : 0;
	if (!strcmp(key, "window"))
		return petrel_window_parse(v, &t->window_start, &t->window_end) < 0 ?
			fail(p, "window: '%s' is not HH:MM-HH:MM (local time, two different times)",
			     v) :
			1;
	if (!strcmp(key, "legacy_signatures"))
		return set_enum(p, key, v, yesno, &t->legacy_signatures);
	struct number nums[] = {
		{ "orchestrator_timeout", &t->orchestrator_timeout, 1, 86400, 1 },
		{ "health_retries", &t->health_retries, 1, 100, 0 },
		{ "health_timeout", &t->health_timeout, 1, 3600, 1 },
		{ "interval", &t->interval, 1, 365L * 86400, 1 },
	};
	if ((r = set_number(p, key, v, nums, PETREL_ARRAY_SIZE(nums))) >= 0)
		return r;
	if (!strcmp(key, "threshold") || !strcmp(key, "keep")) {
		if (parse_long(v, 0, 1000, &n) < 0)
			return fail(p, "%s: '%s' is not a number", key, v);
		*(key[0] == 't' ? &t->threshold : &t->keep) = (unsigned)n;
		t->keep_set |= key[0] == 'k';
		return 1;
	}
	if (!strcmp(key, "keys"))
		return split_list(v, t->keys[0], sizeof(t->keys[0]), PETREL_KEYS_MAX,
				  &t->nkeys) < 0 ?
			fail(p, "keys: at most %d files", PETREL_KEYS_MAX) : 1;
	if (!strcmp(key, "signatures"))
		return split_list(v, t->sigurls[0], sizeof(t->sigurls[0]), PETREL_SIGURLS_MAX,
				  &t->nsigurls) < 0 ?
			fail(p, "signatures: at most %d URL templates", PETREL_SIGURLS_MAX) : 1;
	if (!strcmp(key, "channel")) {
		if (strncmp(v, "http://", 7) && strncmp(v, "https://", 8))
			return fail(p, "channel: '%s' must start with http:// or https://", v);
		return set_string(p, key, v, t->channel, sizeof(t->channel));
	}
	if (!strcmp(key, "channel_keys"))
		return split_list(v, t->channel_keys[0], sizeof(t->channel_keys[0]),
				  PETREL_KEYS_MAX, &t->nchannel_keys) < 0 ?
			fail(p, "channel_keys: at most %d files", PETREL_KEYS_MAX) : 1;
	if ((r = set_trust_key(p, t, key, v)) >= 0)
		return r;
	for (size_t i = 0; reserved_target_keys[i]; i++)
		if (!strcmp(key, reserved_target_keys[i]))
			return 1;
	return fail(p, "unknown key '%s' in [target \"%s\"]", key, t->name);
}

static int set_target(struct parse *p, size_t idx, const char *key, const char *v)
{
	struct petrel_target *t = &p->cfg->targets[idx];

	if (!strcmp(key, "server"))
		return set_string(p, key, v, p->server_of[idx], sizeof(p->server_of[idx]));
	if (!strcmp(key, "job") || !strcmp(key, "platform")) {
		if (!petrel_name_valid(v, PETREL_NAME_MAX))
			return fail(p, "%s: '%s' is not a valid name", key, v);
		return set_string(p, key, v, key[0] == 'j' ? t->job : t->platform, sizeof(t->job));
	}
	if (!strcmp(key, "abi")) {
		if (!petrel_name_valid(v, PETREL_ABI_MAX))
			return fail(p, "abi: '%s' is not a Solo5 target name (hvt, spt, ...)", v);
		return set_string(p, key, v, t->abi, sizeof(t->abi));
	}
	if (!strcmp(key, "path"))
		return set_string(p, key, v, t->path, sizeof(t->path));
	if (!strcmp(key, "orchestrator"))
		return set_string(p, key, v, t->orchestrator, sizeof(t->orchestrator));
	if (!strcmp(key, "health"))
		return set_string(p, key, v, t->health, sizeof(t->health));
	if (!strcmp(key, "preflight"))
		return set_string(p, key, v, t->preflight, sizeof(t->preflight));
	return set_target_more(p, t, key, v);
}

/* Finds or creates the section's object; returns its index or -1 (message set). */
static long section_index(struct parse *p, const char *kind, const char *name)
{
	struct petrel_config *c = p->cfg;
	size_t i;

	if (!petrel_name_valid(name, PETREL_NAME_MAX))
		return fail(p, "[%s \"%s\"]: name must be letters, digits, '.', '_', '+', '-'",
			    kind,
			    name), -1;
	if (!strcmp(kind, "server")) {
		if (server_named(c, name))
			return server_named(c, name) - c->servers;
		if (c->nservers == SERVERS_MAX)
			return fail(p, "more than %d servers", SERVERS_MAX), -1;
		petrel_strcpy_whole(c->servers[c->nservers].name, name, PETREL_NAME_MAX + 1);
		return (long)c->nservers++;
	}
	/* each key line asks: without the hint 1,000 targets cost a million strcmp */
	if (p->last < c->ntargets && !strcmp(c->targets[p->last].name, name))
		return (long)p->last;
	for (i = 0; i < c->ntargets; i++)
		if (!strcmp(c->targets[i].name, name))
			return (long)(p->last = i);
	if (c->ntargets == TARGETS_MAX)
		return fail(p, "more than %d targets", TARGETS_MAX), -1;
	if (c->ntargets == p->cap)	/* alloc_targets counted every header */
		return fail(p, "target %s: no room", name), -1;
	struct petrel_target *t = &c->targets[c->ntargets];
	petrel_strcpy_whole(t->name, name, sizeof(t->name));
	petrel_strcpy_whole(t->orchestrator, "none", sizeof(t->orchestrator));
	t->threshold = 1;
	t->agree = 1;
	t->keep = 5;
	t->orchestrator_timeout = 120;
	t->health_retries = 8;
	t->health_timeout = 5;
	t->window_start = t->window_end = -1;
	p->last = c->ntargets;
	return (long)c->ntargets++;
}

/* The keys set so far, as "SECTION]KEY" (a section may be opened again), and where. */
struct keys_seen {
	char section[PETREL_NAME_MAX + 32];	/* the current one, as written between [] */
	char name[256][PETREL_NAME_MAX + 96];
	int line[256];
	size_t n;
};

/*
 * A key line (not indented: an indented line goes on with the key before it) of the
 * current section: a key set twice in a section is an error, whatever the values.
 */
static int note_key(struct keys_seen *k, const char *line, int n, const char *path,
		    struct petrel_err *err)
{
	size_t len = strcspn(line, "=:");
	char id[sizeof(k->name[0])];

	while (len && (line[len - 1] == ' ' || line[len - 1] == '\t'))
		len--;
	if (!line[strcspn(line, "=:")] || !len ||
	    petrel_snprintf(id, sizeof(id), "%s]%.*s", k->section, (int)len, line) < 0)
		return 0;	/* inih's pass reports it */
	for (size_t i = 0; i < k->n; i++)
		if (!strcmp(k->name[i], id))
			return petrel_fail(err, -PETREL_ECONFIG, "%s:%d: key '%.*s' is set twice in "
					   "[%s] (first at line %d)", path, n, (int)len, line,
					   k->section, k->line[i]);
	if (k->n < PETREL_ARRAY_SIZE(k->name)) {
		memcpy(k->name[k->n], id, sizeof(id));
		k->line[k->n++] = n;
	}
	return 0;
}

/* Remembers where the current target's path and trust are set: the checks made once
 * the whole file is read name those lines. */
static void note_target_key(struct parse *p, const char *line, int n)
{
	size_t len = strcspn(line, "=:");
	struct petrel_target *t;

	if (p->cur < 0 || !line[len])
		return;
	while (len && (line[len - 1] == ' ' || line[len - 1] == '\t'))
		len--;
	t = &p->cfg->targets[p->cur];
	if (len == 4 && !strncmp(line, "path", 4))
		t->path_line = n;
	else if (len == 5 && !strncmp(line, "trust", 5))
		t->trust_line = n;
}

/*
 * Registers every [server]/[target] header with its line before inih reads the keys:
 * a section without keys still exists, and errors found once the whole file is read
 * can name the line of the section they concern.
 */
/* One line of the pre-pass: a key noted, a [server]/[target] header registered. */
static int scan_line(struct parse *p, struct keys_seen *keys, char *cur, int n,
		     const char *path, struct petrel_err *err)
{
	char kind[32], name[PETREL_NAME_MAX + 2], *line = cur + strspn(cur, " \t"), *end;
	long idx;

	if (strlen(cur) > LINE_MAX_BYTES)	/* inih would cut it and misreport */
		return petrel_fail(err, -PETREL_ECONFIG, "%s:%d: line longer than %d bytes; "
				   "continue a long list on indented lines", path, n,
				   LINE_MAX_BYTES);
	if (line == cur && *line && !strchr(";#[", *line)) {
		note_target_key(p, line, n);
		return note_key(keys, line, n, path, err);
	}
	if (*line != '[' || !(end = strchr(line, ']')))
		return 0;
	*end = '\0';
	p->cur = -1;
	petrel_snprintf(keys->section, sizeof(keys->section), "%s", line + 1);
	if (split_section(line + 1, kind, sizeof(kind), name, sizeof(name)) < 0 ||
	    (strcmp(kind, "server") && strcmp(kind, "target")))
		return 0;	/* inih's pass reports it */
	if ((idx = section_index(p, kind, name)) < 0)
		return petrel_fail(err, -PETREL_ECONFIG, "%s:%d: %s", path, n, p->msg);
	if (kind[0] == 's') {
		p->cfg->servers[idx].line = n;
	} else {
		p->cfg->targets[idx].line = n;
		p->cur = idx;
	}
	return 0;
}


/* The 1-based number of the line of text that at lies on. */
static int line_of(const char *text, const char *at)
{
	int n = 1;

	for (const char *c = text; c < at; c++)
		n += *c == '\n';
	return n;
}

static int scan_sections(struct parse *p, const char *path, struct petrel_err *err)
{
	struct keys_seen *keys = calloc(1, sizeof(*keys));	/* 43 KiB: not on the stack */
	char *text = NULL, *save = NULL;
	size_t len;
	int r, n = 0;

	if (!keys)
		return -ENOMEM;
	if ((r = petrel_read_file(path, CONFIG_MAX, &text, &len)) < 0)
		r = r == -PETREL_ETOOBIG ?
			petrel_fail(err, -PETREL_ECONFIG, "%s: larger than %d bytes", path,
				    CONFIG_MAX) :
			petrel_fail(err, -PETREL_ECONFIG, "%s: %s", path, strerror(-r));
	else if (memchr(text, '\0', len))
		r = petrel_fail(err, -PETREL_ECONFIG, "%s:%d: a NUL byte, which would cut the "
				"line's value short there", path, line_of(text, memchr(text, '\0', len)));
	else if (alloc_targets(p, text) < 0)
		r = -ENOMEM;
	for (char *cur = r < 0 ? NULL : text; cur && r == 0; cur = save) {
		save = strchr(cur, '\n');
		if (save)
			*save++ = '\0';
		r = scan_line(p, keys, cur, ++n, path, err);
	}
	free(text);
	free(keys);
	return r;
}

static int on_entry(void *user, const char *section, const char *key, const char *value)
{
	struct parse *p = user;
	char kind[32], name[PETREL_NAME_MAX + 2];
	long idx;

	if (split_section(section, kind, sizeof(kind), name, sizeof(name)) < 0)
		return fail(p, "malformed section [%s]", section);
	if (!strcmp(kind, "petrel") && !name[0])
		return set_petrel(p, key, value);
	if (strcmp(kind, "server") && strcmp(kind, "target"))
		return fail(p, "unknown section [%s]", section);
	if ((idx = section_index(p, kind, name)) < 0)
		return 0;
	if (kind[0] == 's')
		return set_server(p, name, key, value);
	return set_target(p, (size_t)idx, key, value);
}

/* Loads public key files now, so a bad key file is a configuration error before
 * anything talks to a server. */
static int load_key_files(struct parse *p, const struct petrel_target *t, size_t n,
			  const char (*files)[PATH_MAX], struct petrel_pubkey *out)
{
	for (size_t i = 0; i < n; i++) {
		struct petrel_err e = PETREL_ERR_INIT;
		int r = petrel_pubkey_load(files[i], &out[i], &e);

		if (r == 0)
			continue;
		if (!e.msg[0])
			fail(p, "target %s: public key %s: %s", t->name, files[i], strerror(-r));
		else
			fail(p, "target %s: public key %s", t->name, e.msg);
		return -1;
	}
	return 0;
}

static int load_keys(struct parse *p, struct petrel_target *t)
{
	return load_key_files(p, t, t->nkeys, (const char (*)[PATH_MAX])t->keys, t->pubkeys);
}

/* A channel's keys: channel_keys, else the target's keys (checked by then). */
static int check_channel(struct parse *p, struct petrel_target *t)
{
	if (!t->channel[0]) {
		if (!t->nchannel_keys)
			return 0;
		return fail(p, "target %s: channel_keys without a channel would be ignored; "
			    "remove it, or set channel = URL", t->name), -1;
	}
	if (!t->nchannel_keys) {
		if (!t->nkeys)
			return fail(p, "target %s: channel = %s needs channel_keys (or keys) to "
				    "verify it", t->name, t->channel), -1;
		memcpy(t->channel_keys, t->keys, sizeof(t->keys));
		memcpy(t->channel_pubkeys, t->pubkeys, sizeof(t->pubkeys));
		t->nchannel_keys = t->nkeys;
		return 0;
	}
	return load_key_files(p, t, t->nchannel_keys,
			      (const char (*)[PATH_MAX])t->channel_keys, t->channel_pubkeys);
}

/* Every file a target names is absolute: recovery may run from another directory. */
static int check_absolute(struct parse *p, const struct petrel_target *t)
{
	const struct { const char *key, *val; } commands[] = {
		{ "health", t->health }, { "preflight", t->preflight },
		{ "orchestrator", strcmp(t->orchestrator, "none") ? t->orchestrator : "" },
	};

	struct petrel_argv argv;

	if (t->path[0] != '/')
		return fail(p, "target %s: path '%s' must be an absolute path", t->name,
			    t->path), -1;
	/* whether each can run is asked when it is about to (petrel_target_runnable):
	 * status, log or audit need none of them */
	for (size_t i = 0; i < PETREL_ARRAY_SIZE(commands); i++) {
		if (!commands[i].val[0])
			continue;
		if (petrel_argv_split(&argv, commands[i].val, NULL, 0) < 0)
			return fail(p, "target %s: %s '%s': a quote is not closed, or too many "
				    "words", t->name, commands[i].key, commands[i].val), -1;
		if (argv.v[0][0] != '/')
			return fail(p, "target %s: %s '%s' must be an absolute path", t->name,
				    commands[i].key, argv.v[0]), -1;
	}
	for (size_t i = 0; i < t->nkeys; i++)
		if (t->keys[i][0] != '/')
			return fail(p, "target %s: key file '%s' must be an absolute path", t->name,
				    t->keys[i]), -1;
	return 0;
}

/*
 * The albatross adapter names the unikernel after the target by default, and albatross
 * takes only a Vmm_core.Name label: 1 to 63 letters, digits, '-' and '.', no leading '-'.
 * Found here, a bad name is a configuration error instead of a failed deploy.
 */
static int check_albatross_name(struct parse *p, const struct petrel_target *t)
{
	struct petrel_argv argv;
	const char *base;
	size_t len = strlen(t->name);

	if (petrel_argv_split(&argv, t->orchestrator, NULL, 0) < 0)
		return 0;
	base = strrchr(argv.v[0], '/');
	if (strcmp(base ? base + 1 : argv.v[0], "albatross"))
		return 0;
	if (len >= 1 && len <= 63 && t->name[0] != '-' &&
	    strspn(t->name,
		   "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-.") == len)
		return 0;
	return fail(p, "target %s: the albatross adapter needs a valid albatross name: 1 to 63 "
		    "letters, digits, '-' and '.', not starting with '-'", t->name), -1;
}

/* threshold counts distinct key ids: the same key in two files counts once. */
static int check_threshold(struct parse *p, const struct petrel_target *t)
{
	struct petrel_evidence ev;

	memset(&ev, 0, sizeof(ev));
	for (size_t i = 0; i < t->nkeys; i++)
		petrel_evidence_add_key(&ev, t->pubkeys[i].keyid, NULL);
	if (t->threshold < 1 || t->threshold > ev.nkeys)
		return fail(p, "target %s: threshold %u must be between 1 and the %zu distinct "
			    "key%s", t->name, t->threshold, ev.nkeys, ev.nkeys == 1 ? "" : "s"), -1;
	return 0;
}

/* Resolves rebuilder names to [server] sections and checks agree against them. */
static int check_rebuilders(struct parse *p, struct petrel_target *t)
{
	const char *mode = petrel_trust_name(t->trust);

	for (size_t i = 0; i < t->nrebuilders; i++) {
		const char *name = t->rebuilder_names[i];

		if (!(t->rebuilders[i] = server_named(p->cfg, name)))
			return fail(p, "target %s: rebuilder '%s' has no [server \"%s\"] section",
				    t->name, name, name), -1;
		/* by origin, not only by name: one server under two names is still one */
		if (t->rebuilders[i] == t->server ||
		    petrel_same_origin(t->rebuilders[i]->url, t->server->url))
			return fail(p, "target %s: rebuilder '%s' is the target's own server; "
				    "agreement needs other builder-web instances", t->name, name), -1;
		for (size_t j = 0; j < i; j++)
			if (!strcmp(t->rebuilder_names[j], name) ||
			    petrel_same_origin(t->rebuilders[j]->url, t->rebuilders[i]->url))
				return fail(p, "target %s: rebuilder '%s' listed twice (as '%s', "
					    "same server)", t->name, name, t->rebuilder_names[j]), -1;
	}
	if (!petrel_trust_needs_rebuilders(t->trust)) {
		if (t->nrebuilders)
			return fail(p, "target %s: rebuilders are only asked with trust = rebuilt "
				    "or signed+rebuilt (trust is %s)", t->name, mode), -1;
		return 0;
	}
	if (t->nrebuilders == 0)
		return fail(p, "target %s: trust = %s needs rebuilders (names of [server] "
			    "sections)", t->name, mode), -1;
	if (t->agree < 1 || t->agree > t->nrebuilders)
		return fail(p, "target %s: agree %u must be between 1 and the %zu rebuilder%s",
			    t->name, t->agree, t->nrebuilders, t->nrebuilders == 1 ? "" : "s"), -1;
	return 0;
}

/*
 * keys or signatures under a trust mode that checks no signature: whoever wrote them
 * believes they are checked, so they are refused rather than ignored.
 */
static int check_unused_keys(struct parse *p, const struct petrel_target *t)
{
	const char *what = t->nkeys && t->nsigurls ? "keys and signatures" :
			   t->nkeys ? "keys" : "signatures";

	if (!t->nkeys && !t->nsigurls)
		return 0;
	p->at = t->trust_line;
	return fail(p, "target %s: trust = %s checks no signatures, so %s would be "
		    "ignored; remove %s, or set trust = signed", t->name,
		    petrel_trust_name(t->trust), what, what), -1;
}

/* The signature half of a target with trust = signed (or signed+rebuilt). */
static int check_signed(struct parse *p, struct petrel_target *t)
{
	if (t->nkeys == 0 || t->nsigurls == 0)
		return fail(p, "target %s: trust = signed needs keys and signatures "
			    "(or trust = server, which is weak)", t->name), -1;
	for (size_t i = 0; i < t->nsigurls; i++) {
		struct petrel_build probe = { .job = "j", .uuid = "u", .filename = "f" };
		char url[PETREL_URL_MAX + 1];

		if (petrel_sigurl_expand(t->sigurls[i], t->server->url, &probe, url, sizeof(url),
					 NULL) < 0) {
			return fail(p, "target %s: signatures template '%s' has an unknown {placeholder}; "
				    "known: {job} {uuid} {filename} {sha256} {url}", t->name,
				    t->sigurls[i]), -1;
		}
	}
	if (load_keys(p, t) < 0)
		return -1;
	return check_threshold(p, t);
}

/* Checks one target once everything is read. */
static int check_target(struct parse *p, struct petrel_target *t, const char *server)
{
	if (!server[0])
		return fail(p, "target %s: no server", t->name), -1;
	if (!(t->server = server_named(p->cfg, server)))
		return fail(p, "target %s: no [server \"%s\"] section", t->name, server), -1;
	if (!t->job[0] || !t->path[0])
		return fail(p, "target %s: job and path are required", t->name), -1;
	if (check_absolute(p, t) < 0 || check_albatross_name(p, t) < 0 ||
	    check_rebuilders(p, t) < 0)
		return -1;
	if (!t->interval)
		t->interval = p->cfg->interval;
	if ((petrel_trust_needs_signatures(t->trust) ? check_signed(p, t) :
						       check_unused_keys(p, t)) < 0)
		return -1;
	return check_channel(p, t);
}

/* A target's path as compared with the others': normalised (petrel_path_normalise). */
struct canon {
	char *path;				/* owned */
	const struct petrel_target *t;	/* borrowed */
};

static int canon_cmp(const void *a, const void *b)
{
	return strcmp(((const struct canon *)a)->path, ((const struct canon *)b)->path);
}

/* By path, then in the order of the file: of two targets on one path, the later one is
 * the mistake. */
static int canon_order(const void *a, const void *b)
{
	const struct canon *x = a, *y = b;
	int c = canon_cmp(a, b);

	return c ? c : (x->t->line > y->t->line) - (x->t->line < y->t->line);
}

/* 1 when path is state or lies under it (both normalised). */
static int inside(const char *path, const char *state)
{
	size_t n = strlen(state);

	return !strncmp(path, state, n) && (n == 1 || path[n] == '/' || path[n] == '\0');
}

/*
 * One target's path on its own: it names a file (not "/", not a directory, not a
 * path ending in '/', "." or ".."), outside the state directory (where it would
 * replace petrel.db or a blob). Its normalised form into *out (owned by the caller).
 */
static int check_path(struct parse *p, const struct petrel_target *t, const char *state,
		      char **out)
{
	char canon[PATH_MAX];
	size_t len = strlen(t->path);
	struct stat st;
	int r;

	p->at = t->path_line ? t->path_line : t->line;
	if (len && t->path[len - 1] == '/')
		return fail(p, "target %s: path '%s' ends in '/': it must name a file, not a "
			    "directory", t->name, t->path), -1;
	if ((r = petrel_path_normalise(t->path, canon, sizeof(canon))) == -EINVAL)
		return fail(p, "target %s: path '%s' ends in '.' or '..': it must name a file",
			    t->name, t->path), -1;
	if (r < 0)
		return fail(p, "target %s: path '%s': %s", t->name, t->path, strerror(-r)), -1;
	if (stat(canon, &st) == 0 && S_ISDIR(st.st_mode))
		return fail(p, "target %s: path '%s' is a directory", t->name, t->path), -1;
	if (inside(canon, state))
		return fail(p, "target %s: path '%s' is inside the state directory %s", t->name,
			    t->path, p->cfg->state_dir), -1;
	if (!(*out = strdup(canon)))
		return fail(p, "out of memory"), -1;
	p->at = 0;
	return 0;
}

/*
 * Two targets on one file (however spelled), or one target's path being where petrel
 * writes another's next build or keeps its previous one (PATH.petrel-new,
 * PATH.petrel-prev): either would overwrite the other's live file. v is sorted.
 */
static int check_collisions(struct parse *p, const struct canon *v, size_t n)
{
	char sib[PATH_MAX + 32];

	for (size_t i = 1; i < n; i++)
		if (!strcmp(v[i - 1].path, v[i].path)) {
			p->at = v[i].t->path_line;
			return fail(p, "targets %s and %s both deploy to %s (as '%s' and '%s')",
				    v[i - 1].t->name, v[i].t->name, v[i].path, v[i - 1].t->path,
				    v[i].t->path), -1;
		}
	for (size_t i = 0; i < n; i++)
		for (size_t k = 0; petrel_path_suffixes[k]; k++) {
			struct canon key = { .path = sib }, *hit;

			if (petrel_snprintf(sib, sizeof(sib), "%s%s", v[i].path,
					    petrel_path_suffixes[k]) < 0 ||
			    !(hit = bsearch(&key, v, n, sizeof(*v), canon_cmp)))
				continue;
			p->at = hit->t->path_line;
			return fail(p, "target %s: path '%s' is '%s%s', a file petrel writes "
				    "beside target %s's path", hit->t->name, hit->t->path,
				    v[i].t->path, petrel_path_suffixes[k], v[i].t->name), -1;
		}
	return 0;
}

/* Every target's path, alone and against the others. Returns the line to name
 * (message set), 0 when all is well. */
static int check_paths(struct parse *p)
{
	struct petrel_config *c = p->cfg;
	char state[PATH_MAX];
	struct canon *v;
	size_t n = 0;
	int r;

	if ((r = petrel_dir_normalise(c->state_dir, state, sizeof(state))) < 0)
		return fail(p, "state_dir %s: %s", c->state_dir, strerror(-r)), 1;
	if (!(v = calloc(c->ntargets + 1, sizeof(*v))))
		return fail(p, "out of memory"), 1;
	for (r = 0; n < c->ntargets && r == 0; n++) {
		v[n].t = &c->targets[n];
		r = check_path(p, v[n].t, state, &v[n].path);
	}
	if (r == 0) {
		qsort(v, n, sizeof(*v), canon_order);
		r = check_collisions(p, v, n);
	}
	for (size_t i = 0; i < n; i++)
		free(v[i].path);
	free(v);
	return r == 0 ? 0 : p->at ? p->at : 1;
}

/* Whole-file checks; returns the line of the offending section, or 0 when all is well. */
static int finish(struct parse *p)
{
	struct petrel_config *c = p->cfg;

	/* a failure is never line 0, which means success (a section the pre-pass did not
	 * see, say, has no line of its own) */
	for (size_t i = 0; i < c->nservers; i++)
		if (!c->servers[i].url[0])
			return fail(p, "server %s: no url", c->servers[i].name),
			       c->servers[i].line > 0 ? c->servers[i].line : 1;
	for (size_t i = 0; i < c->ntargets; i++)
		if (check_target(p, &c->targets[i], p->server_of[i]) < 0)
			return p->at ? p->at : c->targets[i].line > 0 ? c->targets[i].line : 1;
	return check_paths(p);
}

int petrel_config_load(struct petrel_config *c, const char *path, struct petrel_err *err)
{
	struct parse p = { .cfg = c, .cur = -1 };
	int line, r = 0;

	petrel_config_defaults(c, path);
	c->servers = calloc(SERVERS_MAX, sizeof(*c->servers));
	if (!c->servers) {
		r = -ENOMEM;
		goto out;
	}
	if ((r = scan_sections(&p, path, err)) < 0)
		goto out;
	line = ini_parse(path, on_entry, &p);
	if (line == -1)
		r = petrel_fail(err, -PETREL_ECONFIG, "%s: %s", path,
				strerror(errno ? errno : ENOENT));
	else if (line)
		r = petrel_fail(err, -PETREL_ECONFIG, "%s:%d: %s", path, line,
				p.msg[0] ? p.msg : "syntax error");
	else if ((line = finish(&p)) != 0)
		r = petrel_fail(err, -PETREL_ECONFIG, "%s:%d: %s", path, line, p.msg);
out:
	free(p.server_of);
	if (r < 0)
		petrel_config_release(c);
	return r;
}

void petrel_config_release(struct petrel_config *c)
{
	free(c->servers);
	free(c->targets);
	c->servers = NULL;
	c->targets = NULL;
	c->nservers = c->ntargets = 0;
}

const struct petrel_target *petrel_config_target(const struct petrel_config *c, const char *name)
{
	for (size_t i = 0; i < c->ntargets; i++)
		if (!strcmp(c->targets[i].name, name))
			return &c->targets[i];
	return NULL;
}
