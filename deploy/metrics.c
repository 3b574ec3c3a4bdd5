/* Prometheus text exposition (version 0.0.4) of the store's per-target figures. */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "common/buf.h"
#include "common/error.h"
#include "common/fs.h"
#include "common/util.h"
#include "follow.h"
#include "metrics.h"

struct facts {
	struct petrel_target_facts *v;	/* sorted by target, as the store answers */
	size_t n, cap;
};

static int collect(void *ctx, const struct petrel_target_facts *f)
{
	struct facts *a = ctx;
	void *p;

	if (a->n == a->cap) {
		a->cap = a->cap ? 2 * a->cap : 64;
		if (!(p = realloc(a->v, a->cap * sizeof(*a->v))))
			return -ENOMEM;
		a->v = p;
	}
	a->v[a->n++] = *f;
	return 0;
}

static int by_name(const void *key, const void *elem)
{
	return strcmp(key, ((const struct petrel_target_facts *)elem)->target);
}

/* A label value: backslash, double quote and newline escaped, as the format wants. */
static int label(struct petrel_buf *b, const char *name, const char *value, int first)
{
	int r = petrel_buf_printf(b, "%s%s=\"", first ? "" : ",", name);

	for (const char *p = value; r == 0 && *p; p++) {
		if (*p == '\\' || *p == '"')
			r = petrel_buf_printf(b, "\\%c", *p);
		else if (*p == '\n')
			r = petrel_buf_append(b, "\\n", 2);
		else
			r = petrel_buf_append(b, p, 1);
	}
	return r ?: petrel_buf_append(b, "\"", 1);
}

enum family { DEPLOYED, UPDATE, CHECKED, SUCCEEDED, REFUSED, AUDIT, NFAMILIES };

/* A metric family's name, type and help line. */
struct family_desc {
	const char *name, *type, *help;
};

/* "# HELP" and "# TYPE" of f. */
static int family_header(struct petrel_buf *b, const struct family_desc *f)
{
	return petrel_buf_printf(b, "# HELP %s %s\n# TYPE %s %s\n", f->name, f->help, f->name,
				 f->type);
}

static const struct family_desc families[NFAMILIES] = {
	{ "petrel_deployed_info", "gauge", "The build deployed at the target's path (current generation)." },
	{ "petrel_update_available", "gauge", "1 when the last check found a newer build than the deployed one." },
	{ "petrel_last_check_timestamp_seconds", "gauge", "When the target was last checked against its server." },
	{ "petrel_last_success_timestamp_seconds", "gauge", "When a check, fetch or upgrade of the target last succeeded." },
	{ "petrel_verification_failures_total", "counter", "Builds refused for the target (hash, signature, rollback, policy)." },
	{ "petrel_audit_findings", "gauge", "Findings of the last audit of the target." },
};

/*
 * Fleet inventory (issue 14): petrel_deployed_info's labels say which host runs which
 * build, so that Prometheus federation answers "which hosts run this hash"; the
 * channel families beside it say which release each host follows, where it stands in
 * the ramp and whether it runs a blocked build.
 */
enum chfamily { CH_VERSION, CH_RELEASE, CH_BUCKET, CH_RAMP, CH_BLOCKED, NCHFAMILIES };

static const struct family_desc chfamilies[NCHFAMILIES] = {
	{ "petrel_channel_version", "gauge", "Version of the channel file the target accepted last." },
	{ "petrel_channel_release_info", "gauge", "The release the target's channel names for its job." },
	{ "petrel_channel_bucket", "gauge", "This host's bucket for the release, in [0, 1): it takes the release once the ramp reaches it." },
	{ "petrel_channel_ramp", "gauge", "The share of hosts the release's ramp has reached, in [0, 1]." },
	{ "petrel_channel_deployed_blocked", "gauge", "1 when the deployed build is one the channel blocks." },
};

/* One target's channel as the store holds it (verified again; no network). */
struct chan {
	int have;
	struct petrel_follow f;
	int blocked;
};

static void chan_of(struct petrel_store *s, const struct petrel_config *cfg,
		    const struct petrel_target *t, const struct petrel_target_facts *facts,
		    struct chan *c)
{
	struct petrel_err err = PETREL_ERR_INIT;
	uint8_t sha[32];

	memset(c, 0, sizeof(*c));
	if (!t->channel[0] || petrel_follow_stored_in(s, cfg, t, &c->f, &err) < 0)
		return;
	c->have = 1;
	c->blocked = facts && facts->deployed && petrel_unhex(facts->sha256, 64, sha, 32) == 0 &&
		     petrel_channel_blocks(&c->f.ch, sha);
}

static int render_chfamily(struct petrel_buf *b, enum chfamily fam, const struct chan *cs,
			   const struct petrel_config *cfg)
{
	char hex[65];
	int r;

	r = family_header(b, &chfamilies[fam]);
	for (size_t i = 0; r == 0 && i < cfg->ntargets; i++) {
		const struct chan *c = &cs[i];
		int rel = c->have && c->f.ch.has_release;

		if (!c->have || (!rel && (fam == CH_RELEASE || fam == CH_BUCKET || fam == CH_RAMP)))
			continue;
		if ((r = petrel_buf_printf(b, "%s{", chfamilies[fam].name)) < 0 ||
		    (r = label(b, "target", cfg->targets[i].name, 1)) < 0)
			break;
		if (fam == CH_RELEASE) {
			petrel_hex(c->f.ch.sha256, 32, hex);
			if ((r = label(b, "uuid", c->f.ch.uuid, 0)) < 0 ||
			    (r = label(b, "sha256", hex, 0)) < 0)
				break;
		}
		switch (fam) {
		case CH_VERSION: r = petrel_buf_printf(b, "} %" PRId64 "\n", c->f.ch.version); break;
		case CH_RELEASE: r = petrel_buf_printf(b, "} 1\n"); break;
		case CH_BUCKET: r = petrel_buf_printf(b, "} %.6f\n", c->f.u); break;
		case CH_RAMP: r = petrel_buf_printf(b, "} %.6f\n", c->f.fraction); break;
		default: r = petrel_buf_printf(b, "} %d\n", c->blocked); break;
		}
	}
	return r;
}

/* The channel families, for a configuration where some target follows a channel. */
static int render_channels(struct petrel_buf *b, struct petrel_store *s, const struct facts *a,
			   const struct petrel_config *cfg)
{
	struct chan *cs;
	size_t i, any = 0;
	int r = 0;

	for (i = 0; i < cfg->ntargets; i++)
		any += cfg->targets[i].channel[0] != '\0';
	if (!any)
		return 0;
	if (!(cs = calloc(cfg->ntargets, sizeof(*cs))))
		return -ENOMEM;
	for (i = 0; i < cfg->ntargets; i++)
		chan_of(s, cfg, &cfg->targets[i], a->n ? bsearch(cfg->targets[i].name, a->v, a->n,
								  sizeof(*a->v), by_name) : NULL,
			&cs[i]);
	for (int fam = 0; r == 0 && fam < NCHFAMILIES; fam++)
		r = render_chfamily(b, (enum chfamily)fam, cs, cfg);
	for (i = 0; i < cfg->ntargets; i++)
		petrel_follow_release(&cs[i].f);
	free(cs);
	return r;
}

/* 1 and *value when target has a sample in family fam. */
static int sample(enum family fam, const struct petrel_target_facts *f, int64_t *value)
{
	switch (fam) {
	case DEPLOYED: *value = 1; return f && f->deployed;
	case UPDATE: *value = f ? f->update_available : -1; return *value >= 0;
	case CHECKED: *value = f ? f->last_check : 0; return *value > 0;
	case SUCCEEDED: *value = f ? f->last_success : 0; return *value > 0;
	case REFUSED: *value = f ? f->refusals : 0; return 1;
	case AUDIT: *value = f ? f->audit_findings : -1; return *value >= 0;
	default: return 0;
	}
}

static int render_family(struct petrel_buf *b, enum family fam, const struct facts *a,
			 const struct petrel_config *cfg)
{
	const struct petrel_target_facts *f;
	int64_t value;
	int r;

	r = family_header(b, &families[fam]);
	for (size_t i = 0; r == 0 && i < cfg->ntargets; i++) {
		f = a->n ? bsearch(cfg->targets[i].name, a->v, a->n, sizeof(*a->v), by_name) : NULL;
		if (!sample(fam, f, &value))
			continue;
		if ((r = petrel_buf_printf(b, "%s{", families[fam].name)) < 0 ||
		    (r = label(b, "target", cfg->targets[i].name, 1)) < 0)
			break;
		if (fam == DEPLOYED && ((r = label(b, "job", f->job, 0)) < 0 ||
					(r = label(b, "uuid", f->uuid, 0)) < 0 ||
					(r = label(b, "sha256", f->sha256, 0)) < 0))
			break;
		r = petrel_buf_printf(b, "} %" PRId64 "\n", value);
	}
	return r;
}

int petrel_metrics_render(struct petrel_buf *out, struct petrel_store *s,
			  const struct petrel_config *cfg, struct petrel_err *err)
{
	struct facts a = { 0 };
	int r;

	if ((r = petrel_store_facts(s, collect, &a, err)) == 0)
		for (int fam = 0; r == 0 && fam < NFAMILIES; fam++)
			r = render_family(out, (enum family)fam, &a, cfg);
	if (r == 0)
		r = render_channels(out, s, &a, cfg);
	free(a.v);
	return r;
}

/* What st is, for a message: "a FIFO", "a directory", ... */
static const char *kind_of(const struct stat *st)
{
	return S_ISCHR(st->st_mode) ? "a character device" : S_ISBLK(st->st_mode) ?
	       "a block device" : S_ISFIFO(st->st_mode) ? "a FIFO" : S_ISDIR(st->st_mode) ?
	       "a directory" : S_ISLNK(st->st_mode) ? "a symbolic link" : S_ISSOCK(st->st_mode) ?
	       "a socket" : "not a regular file";
}

int petrel_metrics_usable(const char *file, struct petrel_err *err)
{
	struct stat st;

	if (lstat(file, &st) < 0)
		return errno == ENOENT ? 0 : petrel_fail(err, -PETREL_EUSAGE, "--metrics %s: %s",
							 file, strerror(errno));
	if (!S_ISREG(st.st_mode))
		return petrel_fail(err, -PETREL_EUSAGE, "--metrics %s: exists and is %s; "
				   "refusing to replace it (name a regular file)", file,
				   kind_of(&st));
	return 0;
}

int petrel_metrics_write(const char *file, struct petrel_store *s,
			 const struct petrel_config *cfg, struct petrel_err *err)
{
	struct petrel_buf b;
	int r;

	/* checked again each time: the rename would replace whatever took the name */
	if ((r = petrel_metrics_usable(file, err)) < 0)
		return r;
	petrel_buf_init(&b, PETREL_METRICS_MAX);
	if ((r = petrel_metrics_render(&b, s, cfg, err)) < 0) {
		petrel_fail(err, r, "metrics for %s: %s", file, petrel_strerror(r));
	} else if ((r = petrel_atomic_write(file, b.data ? b.data : "", b.len, 0644)) < 0) {
		petrel_fail(err, r, "writing metrics to %s: %s", file, petrel_strerror(r));
	}
	petrel_buf_release(&b);
	return r;
}
