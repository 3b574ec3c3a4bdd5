/* Channel files: strict parsing, signature, version and expiry (DESIGN.md "Fleet"). */
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "channel.h"
#include "digest.h"
#include "policy.h"
#include "common/util.h"

/* Every message starts with where, the job's entry when it concerns one. */
static int bad(struct petrel_err *err, const char *where, const char *what, const char *field)
{
	return petrel_fail(err, -PETREL_EMALFORMED, "channel file: %s%s%s",
			   where, field ? field : "", what);
}

/* A string member holding an RFC 3339 time. */
static int get_time(json_t *obj, const char *key, int64_t *out, const char *where,
		    struct petrel_err *err)
{
	json_t *v = json_object_get(obj, key);

	if (!json_is_string(v) || petrel_parse_rfc3339(json_string_value(v), out) < 0)
		return petrel_fail(err, -PETREL_EMALFORMED, "channel file: %s'%s' missing or "
				   "not an RFC 3339 time", where, key);
	return 0;
}

/* An integer member in [0, max]. */
static int get_int(json_t *obj, const char *key, int64_t max, int64_t *out, const char *where,
		   struct petrel_err *err)
{
	json_t *v = json_object_get(obj, key);

	if (!json_is_integer(v) || json_integer_value(v) < 0 || json_integer_value(v) > max)
		return petrel_fail(err, -PETREL_EMALFORMED, "channel file: %s'%s' missing or not "
				   "an integer in 0..%lld", where, key, (long long)max);
	*out = json_integer_value(v);
	return 0;
}

/* A string of exactly 64 hex digits. */
static int get_hash(json_t *v, uint8_t out[32])
{
	const char *s = json_is_string(v) ? json_string_value(v) : NULL;

	return s && strlen(s) == 64 && petrel_unhex(s, 64, out, 32) == 0 ? 0 : -1;
}

static int parse_release(json_t *rel, struct petrel_channel *c, const char *where,
			 struct petrel_err *err)
{
	json_t *uuid = json_object_get(rel, "uuid");
	int r;

	if (!json_is_object(rel))
		return bad(err, where, " is not an object", "'release'");
	if (!json_is_string(uuid) || !petrel_uuid_valid(json_string_value(uuid)))
		return bad(err, where, " missing or not a uuid", "release 'uuid'");
	if (get_hash(json_object_get(rel, "sha256"), c->sha256) < 0)
		return bad(err, where, " missing or not 64 hex digits", "release 'sha256'");
	if ((r = get_time(rel, "start", &c->start, where, err)) < 0 ||
	    (r = get_int(rel, "duration", PETREL_CHANNEL_DURATION_MAX, &c->duration, where,
			 err)) < 0)
		return r;
	petrel_strcpy_whole(c->uuid, json_string_value(uuid), sizeof(c->uuid));
	c->has_release = 1;
	return 0;
}

static int parse_blocked(json_t *list, struct petrel_channel *c, const char *where,
			 struct petrel_err *err)
{
	json_t *h;
	size_t i;

	if (!json_is_array(list))
		return bad(err, where, " is not a list", "'blocked'");
	if (json_array_size(list) > PETREL_CHANNEL_BLOCKED_MAX)
		return petrel_fail(err, -PETREL_EMALFORMED, "channel file: %smore than %u blocked "
				   "hashes", where, PETREL_CHANNEL_BLOCKED_MAX);
	c->blocked = calloc(json_array_size(list) + 1, sizeof(*c->blocked));
	if (!c->blocked)
		return petrel_fail(err, -ENOMEM, "channel file: out of memory");
	json_array_foreach(list, i, h) {
		if (get_hash(h, c->blocked[i]) < 0)
			return petrel_fail(err, -PETREL_EMALFORMED, "channel file: %s'blocked' "
					   "entry %zu is not 64 hex digits", where, i + 1);
	}
	c->nblocked = json_array_size(list);
	return 0;
}

/* One job's entry into c (checked whether or not it is the job asked for). */
static int parse_job(const char *name, json_t *entry, struct petrel_channel *c,
		     struct petrel_err *err)
{
	json_t *rel = json_object_get(entry, "release"), *blocked = json_object_get(entry, "blocked");
	char where[PETREL_NAME_MAX + 16];
	int r;

	char shown[80];

	snprintf(where, sizeof(where), "job '%.*s': ", PETREL_NAME_MAX, name);
	if (!petrel_name_valid(name, PETREL_NAME_MAX)) {
		petrel_text_safe(name, shown, sizeof(shown));
		return petrel_fail(err, -PETREL_EMALFORMED, "channel file: a job named '%s' "
				   "is not a job name", shown);
	}
	if (!json_is_object(entry))
		return bad(err, where, "entry is not an object", NULL);
	if (rel && (r = parse_release(rel, c, where, err)) < 0)
		return r;
	if (blocked && (r = parse_blocked(blocked, c, where, err)) < 0)
		return r;
	if (c->has_release && petrel_channel_blocks(c, c->sha256))
		return bad(err, where, "the release is also blocked", NULL);
	return 0;
}

int petrel_channel_parse(const char *text, size_t len, const char *job,
			 struct petrel_channel *out, struct petrel_err *err)
{
	json_t *root, *jobs, *entry;
	json_error_t jerr;
	const char *name;
	int r = 0;

	memset(out, 0, sizeof(*out));
	if (len > PETREL_CHANNEL_MAX)
		return petrel_fail(err, -PETREL_ETOOBIG, "channel file: larger than %u bytes",
				   PETREL_CHANNEL_MAX);
	root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
	if (!json_is_object(root)) {
		r = petrel_fail(err, -PETREL_EMALFORMED, "channel file: malformed JSON: %s",
				root ? "not an object" : jerr.text);
		goto out;
	}
	if ((r = get_int(root, "version", PETREL_CHANNEL_VERSION_MAX, &out->version, "",
			 err)) < 0 ||
	    (r = get_time(root, "expires", &out->expires, "", err)) < 0)
		goto out;
	jobs = json_object_get(root, "jobs");
	if (!json_is_object(jobs)) {
		r = bad(err, "", " missing or not an object", "'jobs'");
		goto out;
	}
	json_object_foreach(jobs, name, entry) {
		struct petrel_channel one = { 0 };

		r = parse_job(name, entry, &one, err);
		if (r == 0 && !strcmp(name, job)) {
			one.version = out->version;
			one.expires = out->expires;
			one.has_job = 1;
			*out = one;
		} else {
			petrel_channel_release(&one);
		}
		if (r < 0)
			break;
	}
out:
	json_decref(root);
	if (r < 0)
		petrel_channel_release(out);
	return r;
}

void petrel_channel_release(struct petrel_channel *c)
{
	free(c->blocked);
	c->blocked = NULL;
	c->nblocked = 0;
}

int petrel_channel_verify(const char *text, size_t len, const char *sigtext, size_t siglen,
			  const struct petrel_pubkey *keys, size_t nkeys, const char *expect_file,
			  struct petrel_err *err)
{
	struct petrel_sig sig;
	struct petrel_tcomment tc;
	struct petrel_digest *d;
	uint8_t b2[64];
	size_t i;
	int r;

	if ((r = petrel_sig_parse(sigtext, siglen, &sig, err)) < 0) {
		petrel_err_prefix(err, "channel signature: ");
		return r;
	}
	for (i = 0; i < nkeys && memcmp(keys[i].keyid, sig.keyid, 8); i++)
		;
	if (i == nkeys) {
		char hex[17];

		petrel_keyid_str(sig.keyid, hex);
		return petrel_fail(err, -PETREL_ESIG_UNTRUSTED, "channel file is signed by key "
				   "%s, which is not among the channel's keys", hex);
	}
	if ((r = petrel_digest_new(&d, PETREL_DIGEST_BLAKE2B)) < 0)
		return petrel_fail(err, r, "channel file: %s", petrel_strerror(r));
	r = petrel_digest_update(d, text, len);
	if (r == 0)
		r = petrel_digest_final(d, NULL, b2);
	petrel_digest_free(d);
	if (r < 0)
		return petrel_fail(err, r, "channel file: hashing: %s", petrel_strerror(r));
	if ((r = petrel_sig_verify(&sig, &keys[i], b2, NULL, 0, err)) < 0) {
		petrel_err_prefix(err, "channel file: ");
		return r;
	}
	if ((r = petrel_tcomment_parse(sig.trusted, &tc, err)) < 0) {
		petrel_err_prefix(err, "channel signature: ");
		return r;
	}
	if (tc.has_file && expect_file && strcmp(tc.file, expect_file)) {
		char shown[PETREL_FILENAME_MAX + 1];

		petrel_text_safe(tc.file, shown, sizeof(shown));
		return petrel_fail(err, -PETREL_EBINDING, "channel signature names file '%s', the "
				   "channel is '%s'", shown, expect_file);
	}
	return 0;
}

int petrel_channel_current(const struct petrel_channel *c, int64_t seen, int64_t now,
			   struct petrel_err *err)
{
	char when[32];

	if (c->version < seen)
		return petrel_fail(err, -PETREL_EROLLBACK, "channel file has version %lld, "
				   "version %lld was already accepted (rollback refused)",
				   (long long)c->version, (long long)seen);
	if (now >= c->expires) {
		petrel_format_time(c->expires, when, sizeof(when));
		return petrel_fail(err, -PETREL_EPOLICY, "channel file (version %lld) expired at "
				   "%s", (long long)c->version, when);
	}
	return 0;
}

int petrel_channel_blocks(const struct petrel_channel *c, const uint8_t sha256[32])
{
	for (size_t i = 0; i < c->nblocked; i++)
		if (!memcmp(c->blocked[i], sha256, 32))
			return 1;
	return 0;
}
