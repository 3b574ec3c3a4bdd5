/* Trust policy: trusted comment fields, their binding to a build, and the threshold. */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/error.h"
#include "common/util.h"
#include "verify/minisign.h"
#include "verify/policy.h"

/* One "key:value" field of a trusted comment: views into the caller's text. */
struct field {
	const char *key;
	size_t keylen;
	const char *val;
	size_t vallen;
};

/* Refuses empty, over-long and control-character values (they end up in messages). */
static int value_ok(const struct field *f, size_t max)
{
	size_t i;

	if (f->vallen == 0 || f->vallen > max)
		return 0;
	for (i = 0; i < f->vallen; i++)
		if ((unsigned char)f->val[i] < 0x20 || f->val[i] == 0x7f)
			return 0;
	return 1;
}

static int malformed(const struct field *f, struct petrel_err *err)
{
	return petrel_fail(err, -PETREL_ESIG_FORMAT, "trusted comment has a malformed %.*s field",
			   (int)f->keylen, f->key);
}

/* Copies a checked value into dst (capacity max + 1). */
static int copy_value(const struct field *f, char *dst, size_t max, struct petrel_err *err)
{
	if (!value_ok(f, max))
		return malformed(f, err);
	memcpy(dst, f->val, f->vallen);
	dst[f->vallen] = '\0';
	return 0;
}

static int set_timestamp(const struct field *f, struct petrel_tcomment *tc, struct petrel_err *err)
{
	char buf[21];
	uint64_t v = 0;

	if (copy_value(f, buf, sizeof(buf) - 1, err) < 0 || petrel_parse_u64(buf, &v) < 0 ||
	    v > INT64_MAX)
		return malformed(f, err);
	tc->timestamp = (int64_t)v;
	tc->has_timestamp = 1;
	return 0;
}

static int set_file(const struct field *f, struct petrel_tcomment *tc, struct petrel_err *err)
{
	tc->has_file = 1;
	return copy_value(f, tc->file, PETREL_FILENAME_MAX, err);
}

static int set_job(const struct field *f, struct petrel_tcomment *tc, struct petrel_err *err)
{
	tc->has_job = 1;
	return copy_value(f, tc->job, PETREL_NAME_MAX, err);
}

static int set_uuid(const struct field *f, struct petrel_tcomment *tc, struct petrel_err *err)
{
	tc->has_uuid = 1;
	if (copy_value(f, tc->uuid, PETREL_UUID_LEN, err) < 0 || !petrel_uuid_valid(tc->uuid))
		return malformed(f, err);
	return 0;
}

static int set_sha256(const struct field *f, struct petrel_tcomment *tc, struct petrel_err *err)
{
	tc->has_sha256 = 1;
	if (f->vallen != 64 || petrel_unhex(f->val, 64, tc->sha256, 32) < 0)
		return malformed(f, err);
	return 0;
}

/* The known keys; seen is the offset of the has_ flag, since a repeated key is ambiguous. */
static const struct {
	const char *key;
	int (*set)(const struct field *f, struct petrel_tcomment *tc,
		   struct petrel_err *err);
	size_t seen;
} known[] = {
	{ "timestamp", set_timestamp, offsetof(struct petrel_tcomment, has_timestamp) },
	{ "file", set_file, offsetof(struct petrel_tcomment, has_file) },
	{ "job", set_job, offsetof(struct petrel_tcomment, has_job) },
	{ "uuid", set_uuid, offsetof(struct petrel_tcomment, has_uuid) },
	{ "sha256", set_sha256, offsetof(struct petrel_tcomment, has_sha256) },
};

/* Applies one field; unknown keys and fields without ':' are ignored. */
static int apply_field(const struct field *f, struct petrel_tcomment *tc, struct petrel_err *err)
{
	size_t i;

	for (i = 0; i < PETREL_ARRAY_SIZE(known); i++) {
		if (strlen(known[i].key) != f->keylen ||
		    memcmp(known[i].key, f->key, f->keylen) != 0)
			continue;
		if (*(const int *)((const char *)tc + known[i].seen))
			return petrel_fail(err, -PETREL_ESIG_FORMAT,
					   "trusted comment has more than one %s field",
					   known[i].key);
		return known[i].set(f, tc, err);
	}
	return 0;
}

int petrel_tcomment_parse(const char *text, struct petrel_tcomment *out, struct petrel_err *err)
{
	const char *p = text, *end, *colon;
	struct field f;
	size_t len;
	int r;

	memset(out, 0, sizeof(*out));
	len = strnlen(text, PETREL_TRUSTED_COMMENT_MAX + 1);
	if (len > PETREL_TRUSTED_COMMENT_MAX)
		return petrel_fail(err, -PETREL_ESIG_FORMAT, "trusted comment too long");
	while (p < text + len) {
		end = memchr(p, '\t', (size_t)(text + len - p));
		if (!end)
			end = text + len;
		colon = memchr(p, ':', (size_t)(end - p));
		if (colon) {
			f.key = p;
			f.keylen = (size_t)(colon - p);
			f.val = colon + 1;
			f.vallen = (size_t)(end - colon - 1);
			r = apply_field(&f, out, err);
			if (r < 0) {
				memset(out, 0, sizeof(*out));
				return r;
			}
		}
		p = end + 1;
	}
	return 0;
}

static int missing(const char *field, struct petrel_err *err)
{
	return petrel_fail(err, -PETREL_EBINDING, "signature has no %s field (bind = strict)",
			   field);
}

static int mismatch(const char *field, const char *signed_value, const char *build_value,
		    struct petrel_err *err)
{
	return petrel_fail(err, -PETREL_EBINDING, "signature names %s '%s', build is '%s'", field,
			   signed_value, build_value);
}

int petrel_tcomment_bind(const struct petrel_tcomment *tc, const struct petrel_build *b,
			 enum petrel_bind bind, struct petrel_err *err)
{
	char want[65], got[65];

	if (tc->has_file && strcmp(tc->file, b->filename) != 0)
		return mismatch("file", tc->file, b->filename, err);
	if (tc->has_job && strcmp(tc->job, b->job) != 0)
		return mismatch("job", tc->job, b->job, err);
	if (!tc->has_job && bind == PETREL_BIND_STRICT)
		return missing("job", err);
	if (tc->has_uuid && strcasecmp(tc->uuid, b->uuid) != 0)
		return mismatch("uuid", tc->uuid, b->uuid, err);
	if (tc->has_sha256 && memcmp(tc->sha256, b->sha256, 32) != 0) {
		petrel_hex(tc->sha256, 32, got);
		petrel_hex(b->sha256, 32, want);
		return petrel_fail(err, -PETREL_EBINDING, "signature names sha256 %s, build has %s",
				   got, want);
	}
	if (!tc->has_sha256 && bind == PETREL_BIND_STRICT)
		return missing("sha256", err);
	return 0;
}

int petrel_evidence_add_key(struct petrel_evidence *ev, const uint8_t keyid[8],
			    struct petrel_err *err)
{
	size_t i;

	for (i = 0; i < ev->nkeys; i++)
		if (memcmp(ev->keyids[i], keyid, 8) == 0)
			return 0;
	if (ev->nkeys >= PETREL_KEYS_MAX)
		return petrel_fail(err, -PETREL_ETOOBIG, "more than %d signing keys",
				   PETREL_KEYS_MAX);
	memcpy(ev->keyids[ev->nkeys], keyid, 8);
	ev->nkeys++;
	return 0;
}

int petrel_evidence_add_signer(struct petrel_evidence *ev, const uint8_t keyid[8],
			       int has_ts, int64_t ts, struct petrel_err *err)
{
	size_t i;
	int r;

	if ((r = petrel_evidence_add_key(ev, keyid, err)) < 0)
		return r;
	for (i = 0; memcmp(ev->keyids[i], keyid, 8) != 0; i++)
		;	/* found: add_key just made sure it is there */
	if (has_ts && (!ev->key_has_ts[i] || ts > ev->key_ts[i])) {
		ev->key_has_ts[i] = 1;
		ev->key_ts[i] = ts;
	}
	return 0;
}

static int newest_first(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return x < y ? 1 : x > y ? -1 : 0;
}

/*
 * Why the threshold-th newest: the threshold is the number of keys an attacker must
 * hold to get a build accepted, so it is also the number of signers it takes to move
 * the build's time. With fewer than t = threshold lying signers beside t honest ones,
 * the chosen time stays within the honest signers' timestamps: the t newest include
 * an honest one (the liars cannot push it forward and freeze the target), and the
 * t-th newest is no older than the honest signers' t-th newest (they cannot drag it
 * back and have this build refused as a replay). The median would need half of the
 * signers honest, the minimum lets one signer refuse every build, the maximum lets
 * one signer freeze the target. Times past the moment of verification are cut there
 * by the caller (deploy/fetch.c, store/store.c).
 */
void petrel_evidence_decide_time(struct petrel_evidence *ev, unsigned threshold)
{
	int64_t ts[PETREL_KEYS_MAX];
	size_t i, n = 0, want = threshold ? threshold : 1;

	for (i = 0; i < ev->nkeys && i < PETREL_KEYS_MAX; i++)
		if (ev->key_has_ts[i])
			ts[n++] = ev->key_ts[i];
	ev->has_timestamp = n > 0;
	ev->timestamp = 0;
	if (n == 0)
		return;
	qsort(ts, n, sizeof(ts[0]), newest_first);
	ev->timestamp = ts[(want < n ? want : n) - 1];
}

int petrel_trust_needs_signatures(enum petrel_trust trust)
{
	return trust == PETREL_TRUST_SIGNED || trust == PETREL_TRUST_SIGNED_REBUILT;
}

int petrel_trust_needs_rebuilders(enum petrel_trust trust)
{
	return trust == PETREL_TRUST_REBUILT || trust == PETREL_TRUST_SIGNED_REBUILT;
}

const char *petrel_trust_name(enum petrel_trust trust)
{
	static const char *const names[] = { "signed", "server", "rebuilt", "signed+rebuilt" };

	return (unsigned)trust < PETREL_ARRAY_SIZE(names) ? names[trust] : "?";
}

static int known_trust(enum petrel_trust trust)
{
	return trust == PETREL_TRUST_SERVER || petrel_trust_needs_signatures(trust) ||
	       petrel_trust_needs_rebuilders(trust);
}

int petrel_policy_signatures(enum petrel_trust trust, unsigned threshold,
			 const struct petrel_evidence *ev, struct petrel_err *err)
{
	if (!known_trust(trust))
		return petrel_fail(err, -EINVAL, "unknown trust mode %d", (int)trust);
	if (!petrel_trust_needs_signatures(trust))
		return 0;
	/* A threshold of 0 would accept unsigned builds in signed mode: fail closed. */
	if (threshold == 0)
		return petrel_fail(err, -PETREL_EPOLICY,
				   "signed trust needs a threshold of at least 1");
	if (ev->nkeys < threshold)
		return petrel_fail(err, -PETREL_ETHRESHOLD,
				   "%zu distinct trusted key%s signed, threshold is %u", ev->nkeys,
				   ev->nkeys == 1 ? "" : "s", threshold);
	return 0;
}

/* Appends text to out (size n, NUL-terminated), truncating: these are messages. */
static void append(char *out, size_t n, const char *text)
{
	size_t len = strnlen(out, n), m = strlen(text);

	if (len + 1 >= n)
		return;
	if (m > n - len - 1)
		m = n - len - 1;
	memcpy(out + len, text, m);
	out[len + m] = '\0';
}

int petrel_evidence_add_rebuilder(struct petrel_evidence *ev, const char *name, int agrees,
				  const char *why, struct petrel_err *err)
{
	struct petrel_rebuilder_answer *a;

	if (ev->nrebuilders >= PETREL_REBUILDERS_MAX)
		return petrel_fail(err, -PETREL_ETOOBIG, "more than %d rebuilders",
				   PETREL_REBUILDERS_MAX);
	a = &ev->rebuilders[ev->nrebuilders++];
	memset(a, 0, sizeof(*a));
	petrel_strcpy_whole(a->name, name, sizeof(a->name));
	a->agrees = agrees;
	append(a->why, sizeof(a->why), why ? why : "");
	return 0;
}

/* 1 when an earlier answer of ev already carries a->name (a name counts once). */
static int seen_before(const struct petrel_evidence *ev, size_t i)
{
	for (size_t j = 0; j < i; j++)
		if (ev->rebuilders[j].agrees && !strcmp(ev->rebuilders[j].name,
							ev->rebuilders[i].name))
			return 1;
	return 0;
}

void petrel_evidence_agreed(const struct petrel_evidence *ev, char *out, size_t n)
{
	if (n == 0)
		return;
	out[0] = '\0';
	for (size_t i = 0; i < ev->nrebuilders; i++) {
		if (!ev->rebuilders[i].agrees || seen_before(ev, i))
			continue;
		if (out[0])
			append(out, n, ",");
		append(out, n, ev->rebuilders[i].name);
	}
}

/* Distinct names among the agreeing answers. */
static size_t agreeing(const struct petrel_evidence *ev)
{
	size_t n = 0;

	for (size_t i = 0; i < ev->nrebuilders; i++)
		if (ev->rebuilders[i].agrees && !seen_before(ev, i))
			n++;
	return n;
}

int petrel_policy_rebuilt(enum petrel_trust trust, unsigned agree,
			  const struct petrel_evidence *ev, struct petrel_err *err)
{
	char why[768] = "";
	size_t have;

	if (!petrel_trust_needs_rebuilders(trust))
		return 0;
	if (agree == 0)
		return petrel_fail(err, -PETREL_EPOLICY, "rebuilt trust needs agree of at least 1");
	if ((have = agreeing(ev)) >= agree)
		return 0;
	for (size_t i = 0; i < ev->nrebuilders; i++) {
		if (ev->rebuilders[i].agrees)
			continue;
		append(why, sizeof(why), why[0] ? "; " : " (");
		append(why, sizeof(why), ev->rebuilders[i].name);
		append(why, sizeof(why), ": ");
		append(why, sizeof(why), ev->rebuilders[i].why);
	}
	if (why[0])
		append(why, sizeof(why), ")");
	return petrel_fail(err, -PETREL_EPOLICY, "%zu of %zu rebuilder%s agree, agree = %u%s", have,
			   ev->nrebuilders, ev->nrebuilders == 1 ? "" : "s", agree, why);
}

int petrel_policy_evaluate(const struct petrel_policy *p, const struct petrel_evidence *ev,
			   struct petrel_err *err)
{
	int r;

	if ((r = petrel_policy_signatures(p->trust, p->threshold, ev, err)) < 0)
		return r;
	return petrel_policy_rebuilt(p->trust, p->agree, ev, err);
}

int petrel_policy_frozen(int64_t max_age, int64_t newest, int64_t now, int64_t *age)
{
	*age = now - newest;
	return max_age > 0 && *age > max_age;
}

int petrel_parse_duration(const char *text, int64_t *out)
{
	static const struct { char suffix; int64_t secs; } units[] = {
		{ 's', 1 }, { 'm', 60 }, { 'h', 3600 }, { 'd', 86400 },
	};
	char digits[21];
	size_t len = strnlen(text, 22);
	int64_t mult = 1;
	uint64_t v;

	if (len == 0 || len > 21)
		return -EINVAL;
	for (size_t i = 0; i < PETREL_ARRAY_SIZE(units); i++)
		if (text[len - 1] == units[i].suffix) {
			mult = units[i].secs;
			len--;
			break;
		}
	if (len == 0 || len >= sizeof(digits))
		return -EINVAL;
	memcpy(digits, text, len);
	digits[len] = '\0';
	if (petrel_parse_u64(digits, &v) < 0 || v > (uint64_t)(INT64_MAX / mult))
		return -EINVAL;
	*out = (int64_t)v * mult;
	return 0;
}

void petrel_format_duration(int64_t secs, char *out, size_t n)
{
	if (secs >= 86400 && secs % 86400 >= 3600)
		petrel_snprintf(out, n, "%lldd %lldh", (long long)(secs / 86400),
				(long long)(secs % 86400 / 3600));
	else if (secs >= 86400)
		petrel_snprintf(out, n, "%lldd", (long long)(secs / 86400));
	else if (secs >= 3600 && secs % 3600 == 0)
		petrel_snprintf(out, n, "%lldh", (long long)(secs / 3600));
	else if (secs >= 60 && secs % 60 == 0)
		petrel_snprintf(out, n, "%lldm", (long long)(secs / 60));
	else
		petrel_snprintf(out, n, "%llds", (long long)secs);
}

void petrel_keyid_str(const uint8_t keyid[8], char out[17])
{
	static const char digits[] = "0123456789ABCDEF";
	size_t i;

	for (i = 0; i < 8; i++) {
		out[2 * i] = digits[keyid[7 - i] >> 4];
		out[2 * i + 1] = digits[keyid[7 - i] & 0xf];
	}
	out[16] = '\0';
}
