/* Trust policy: trusted comment fields, their binding to a build, and the threshold. */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
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

static int malformed(const struct field *f)
{
	return petrel_fail(-PETREL_ESIG_FORMAT, "trusted comment has a malformed %.*s field",
			   (int)f->keylen, f->key);
}

/* Copies a checked value into dst (capacity max + 1). */
static int copy_value(const struct field *f, char *dst, size_t max)
{
	if (!value_ok(f, max))
		return malformed(f);
	memcpy(dst, f->val, f->vallen);
	dst[f->vallen] = '\0';
	return 0;
}

static int set_timestamp(const struct field *f, struct petrel_tcomment *tc)
{
	char buf[21];
	uint64_t v = 0;

	if (copy_value(f, buf, sizeof(buf) - 1) < 0 || petrel_parse_u64(buf, &v) < 0 ||
	    v > INT64_MAX)
		return malformed(f);
	tc->timestamp = (int64_t)v;
	tc->has_timestamp = 1;
	return 0;
}

static int set_file(const struct field *f, struct petrel_tcomment *tc)
{
	tc->has_file = 1;
	return copy_value(f, tc->file, PETREL_FILENAME_MAX);
}

static int set_job(const struct field *f, struct petrel_tcomment *tc)
{
	tc->has_job = 1;
	return copy_value(f, tc->job, PETREL_NAME_MAX);
}

static int set_uuid(const struct field *f, struct petrel_tcomment *tc)
{
	tc->has_uuid = 1;
	if (copy_value(f, tc->uuid, PETREL_UUID_LEN) < 0 || !petrel_uuid_valid(tc->uuid))
		return malformed(f);
	return 0;
}

static int set_sha256(const struct field *f, struct petrel_tcomment *tc)
{
	tc->has_sha256 = 1;
	if (f->vallen != 64 || petrel_unhex(f->val, 64, tc->sha256, 32) < 0)
		return malformed(f);
	return 0;
}

/* The known keys; seen is the offset of the has_ flag, since a repeated key is ambiguous. */
static const struct {
	const char *key;
	int (*set)(const struct field *f, struct petrel_tcomment *tc);
	size_t seen;
} known[] = {
	{ "timestamp", set_timestamp, offsetof(struct petrel_tcomment, has_timestamp) },
	{ "file", set_file, offsetof(struct petrel_tcomment, has_file) },
	{ "job", set_job, offsetof(struct petrel_tcomment, has_job) },
	{ "uuid", set_uuid, offsetof(struct petrel_tcomment, has_uuid) },
	{ "sha256", set_sha256, offsetof(struct petrel_tcomment, has_sha256) },
};

/* Applies one field; unknown keys and fields without ':' are ignored. */
static int apply_field(const struct field *f, struct petrel_tcomment *tc)
{
	size_t i;

	for (i = 0; i < PETREL_ARRAY_SIZE(known); i++) {
		if (strlen(known[i].key) != f->keylen ||
		    memcmp(known[i].key, f->key, f->keylen) != 0)
			continue;
		if (*(const int *)((const char *)tc + known[i].seen))
			return petrel_fail(-PETREL_ESIG_FORMAT,
					   "trusted comment has more than one %s field",
					   known[i].key);
		return known[i].set(f, tc);
	}
	return 0;
}

int petrel_tcomment_parse(const char *text, struct petrel_tcomment *out)
{
	const char *p = text, *end, *colon;
	struct field f;
	size_t len;
	int r;

	memset(out, 0, sizeof(*out));
	len = strnlen(text, PETREL_TRUSTED_COMMENT_MAX + 1);
	if (len > PETREL_TRUSTED_COMMENT_MAX)
		return petrel_fail(-PETREL_ESIG_FORMAT, "trusted comment too long");
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
			r = apply_field(&f, out);
			if (r < 0) {
				memset(out, 0, sizeof(*out));
				return r;
			}
		}
		p = end + 1;
	}
	return 0;
}

static int missing(const char *field)
{
	return petrel_fail(-PETREL_EBINDING, "signature has no %s field (bind = strict)", field);
}

static int mismatch(const char *field, const char *signed_value, const char *build_value)
{
	return petrel_fail(-PETREL_EBINDING, "signature names %s '%s', build is '%s'", field,
			   signed_value, build_value);
}

int petrel_tcomment_bind(const struct petrel_tcomment *tc, const struct petrel_build *b,
			 enum petrel_bind bind)
{
	char want[65], got[65];

	if (tc->has_file && strcmp(tc->file, b->filename) != 0)
		return mismatch("file", tc->file, b->filename);
	if (tc->has_job && strcmp(tc->job, b->job) != 0)
		return mismatch("job", tc->job, b->job);
	if (!tc->has_job && bind == PETREL_BIND_STRICT)
		return missing("job");
	if (tc->has_uuid && strcasecmp(tc->uuid, b->uuid) != 0)
		return mismatch("uuid", tc->uuid, b->uuid);
	if (tc->has_sha256 && memcmp(tc->sha256, b->sha256, 32) != 0) {
		petrel_hex(tc->sha256, 32, got);
		petrel_hex(b->sha256, 32, want);
		return petrel_fail(-PETREL_EBINDING, "signature names sha256 %s, build has %s",
				   got, want);
	}
	if (!tc->has_sha256 && bind == PETREL_BIND_STRICT)
		return missing("sha256");
	return 0;
}

int petrel_evidence_add_key(struct petrel_evidence *ev, const uint8_t keyid[8])
{
	size_t i;

	for (i = 0; i < ev->nkeys; i++)
		if (memcmp(ev->keyids[i], keyid, 8) == 0)
			return 0;
	if (ev->nkeys >= PETREL_KEYS_MAX)
		return petrel_fail(-PETREL_ETOOBIG, "more than %d signing keys", PETREL_KEYS_MAX);
	memcpy(ev->keyids[ev->nkeys], keyid, 8);
	ev->nkeys++;
	return 0;
}

int petrel_policy_decide(enum petrel_trust trust, unsigned threshold,
			 const struct petrel_evidence *ev)
{
	if (trust == PETREL_TRUST_SERVER)
		return 0;
	if (trust != PETREL_TRUST_SIGNED)
		return petrel_fail(-EINVAL, "unknown trust mode %d", (int)trust);
	/* A threshold of 0 would accept unsigned builds in signed mode: fail closed. */
	if (threshold == 0)
		return petrel_fail(-PETREL_EPOLICY, "signed trust needs a threshold of at least 1");
	if (ev->nkeys < threshold)
		return petrel_fail(-PETREL_ETHRESHOLD,
				   "%zu distinct trusted key%s signed, threshold is %u", ev->nkeys,
				   ev->nkeys == 1 ? "" : "s", threshold);
	return 0;
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
