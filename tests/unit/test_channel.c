/* Unit tests for verify/channel.c: a publisher's channel file, parsed and verified. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>
#include <sodium.h>

#include "common/error.h"
#include "common/util.h"
#include "verify/channel.h"
#include "verify/digest.h"
#include "verify/rollout.h"

static struct petrel_err terr;

#define H1 "1111111111111111111111111111111111111111111111111111111111111111"
#define H2 "2222222222222222222222222222222222222222222222222222222222222222"
#define U1 "0a1b2c3d-4e5f-6789-abcd-ef0123456789"
#define NOW 1764800000		/* 2025-12-03T22:13:20Z */

#define GOOD "{\"version\": 1764000000, \"expires\": \"2030-12-31T00:00:00Z\"," \
	" \"jobs\": {\"hello\": {\"release\": {\"uuid\": \"" U1 "\", \"sha256\": \"" H1 "\"," \
	" \"start\": \"2025-12-02T00:00:00Z\", \"duration\": 172800}," \
	" \"blocked\": [\"" H2 "\"]}, \"other\": {\"blocked\": []}}}"

static int setup(void **state)
{
	(void)state;
	memset(&terr, 0, sizeof(terr));
	return 0;
}

static void assert_msg(const char *needle)
{
	if (!strstr(terr.msg, needle))
		fail_msg("message '%s' lacks '%s'", terr.msg, needle);
	memset(&terr, 0, sizeof(terr));	/* the first failure's message stays otherwise */
}

static int parse(const char *doc, const char *job, struct petrel_channel *c)
{
	return petrel_channel_parse(doc, strlen(doc), job, c, &terr);
}

static void test_parse_good(void **state)
{
	struct petrel_channel c;
	uint8_t h1[32], h2[32];

	(void)state;
	assert_int_equal(parse(GOOD, "hello", &c), 0);
	assert_int_equal(c.version, 1764000000);
	assert_true(c.has_job && c.has_release);
	assert_string_equal(c.uuid, U1);
	assert_int_equal(petrel_unhex(H1, 64, h1, 32), 0);
	assert_int_equal(petrel_unhex(H2, 64, h2, 32), 0);
	assert_memory_equal(c.sha256, h1, 32);
	assert_int_equal(c.duration, 172800);
	assert_int_equal(c.nblocked, 1);
	assert_true(petrel_channel_blocks(&c, h2));
	assert_false(petrel_channel_blocks(&c, h1));
	petrel_channel_release(&c);

	assert_int_equal(parse(GOOD, "other", &c), 0);
	assert_true(c.has_job);
	assert_false(c.has_release);
	assert_int_equal(c.nblocked, 0);
	petrel_channel_release(&c);

	assert_int_equal(parse(GOOD, "absent", &c), 0);
	assert_false(c.has_job);
	assert_int_equal(c.version, 1764000000);
	petrel_channel_release(&c);
}

/* Each document is refused with a message holding its needle, whatever job is asked. */
static void test_parse_malformed(void **state)
{
	static const struct { const char *doc, *needle; } cases[] = {
		{ "", "malformed JSON" },
		{ "[]", "not an object" },
		{ "{\"version\": 1, \"version\": 2, \"expires\": \"2030-01-01T00:00:00Z\", "
		  "\"jobs\": {}}", "malformed JSON" },
		{ "{\"expires\": \"2030-01-01T00:00:00Z\", \"jobs\": {}}", "'version'" },
		{ "{\"version\": -1, \"expires\": \"2030-01-01T00:00:00Z\", \"jobs\": {}}",
		  "'version'" },
		{ "{\"version\": 1.5, \"expires\": \"2030-01-01T00:00:00Z\", \"jobs\": {}}",
		  "'version'" },
		{ "{\"version\": 9007199254740992, \"expires\": \"2030-01-01T00:00:00Z\", "
		  "\"jobs\": {}}", "'version'" },
		{ "{\"version\": 1, \"jobs\": {}}", "'expires'" },
		{ "{\"version\": 1, \"expires\": \"tomorrow\", \"jobs\": {}}", "'expires'" },
		{ "{\"version\": 1, \"expires\": \"2030-01-01T00:00:00Z\"}", "'jobs'" },
		{ "{\"version\": 1, \"expires\": \"2030-01-01T00:00:00Z\", \"jobs\": []}",
		  "'jobs'" },
		{ "{\"version\": 1, \"expires\": \"2030-01-01T00:00:00Z\", \"jobs\": "
		  "{\"../x\": {}}}", "not a job name" },
		{ "{\"version\": 1, \"expires\": \"2030-01-01T00:00:00Z\", \"jobs\": "
		  "{\"x\": 3}}", "job 'x': entry is not an object" },
		{ "{\"version\": 1, \"expires\": \"2030-01-01T00:00:00Z\", \"jobs\": "
		  "{\"x\": {\"release\": {\"uuid\": \"nope\", \"sha256\": \"" H1 "\", "
		  "\"start\": \"2030-01-01T00:00:00Z\", \"duration\": 0}}}}", "release 'uuid'" },
		{ "{\"version\": 1, \"expires\": \"2030-01-01T00:00:00Z\", \"jobs\": "
		  "{\"x\": {\"release\": {\"uuid\": \"" U1 "\", \"sha256\": \"abc\", "
		  "\"start\": \"2030-01-01T00:00:00Z\", \"duration\": 0}}}}", "release 'sha256'" },
		{ "{\"version\": 1, \"expires\": \"2030-01-01T00:00:00Z\", \"jobs\": "
		  "{\"x\": {\"release\": {\"uuid\": \"" U1 "\", \"sha256\": \"" H1 "\", "
		  "\"duration\": 0}}}}", "'start'" },
		{ "{\"version\": 1, \"expires\": \"2030-01-01T00:00:00Z\", \"jobs\": "
		  "{\"x\": {\"release\": {\"uuid\": \"" U1 "\", \"sha256\": \"" H1 "\", "
		  "\"start\": \"2030-01-01T00:00:00Z\", \"duration\": 99999999}}}}", "'duration'" },
		{ "{\"version\": 1, \"expires\": \"2030-01-01T00:00:00Z\", \"jobs\": "
		  "{\"x\": {\"blocked\": \"" H1 "\"}}}", "'blocked' is not a list" },
		{ "{\"version\": 1, \"expires\": \"2030-01-01T00:00:00Z\", \"jobs\": "
		  "{\"x\": {\"blocked\": [\"" H1 "\", 7]}}}", "entry 2 is not 64 hex" },
		{ "{\"version\": 1, \"expires\": \"2030-01-01T00:00:00Z\", \"jobs\": "
		  "{\"x\": {\"release\": {\"uuid\": \"" U1 "\", \"sha256\": \"" H1 "\", "
		  "\"start\": \"2030-01-01T00:00:00Z\", \"duration\": 0}, \"blocked\": [\"" H1
		  "\"]}}}", "the release is also blocked" },
	};
	struct petrel_channel c;

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		memset(&terr, 0, sizeof(terr));
		/* asked for another job, the file is still refused as a whole */
		if (parse(cases[i].doc, "hello", &c) != -PETREL_EMALFORMED)
			fail_msg("case %zu accepted: %s", i, cases[i].doc);
		assert_msg(cases[i].needle);
		assert_null(c.blocked);
	}
}

static void test_parse_limits(void **state)
{
	static char doc[PETREL_CHANNEL_MAX + 64];
	struct petrel_channel c;
	size_t n;

	(void)state;
	n = (size_t)snprintf(doc, sizeof(doc), "{\"version\": 1, \"expires\": "
			     "\"2030-01-01T00:00:00Z\", \"jobs\": {\"x\": {\"blocked\": [");
	for (int i = 0; i <= PETREL_CHANNEL_BLOCKED_MAX; i++)
		n += (size_t)snprintf(doc + n, sizeof(doc) - n, "%s\"%064x\"", i ? "," : "", i);
	snprintf(doc + n, sizeof(doc) - n, "]}}}");
	assert_int_equal(parse(doc, "x", &c), -PETREL_EMALFORMED);
	assert_msg("more than 1024 blocked");

	memset(doc, ' ', PETREL_CHANNEL_MAX + 1);
	assert_int_equal(petrel_channel_parse(doc, PETREL_CHANNEL_MAX + 1, "x", &c, &terr),
			 -PETREL_ETOOBIG);
}

static void test_current_and_fraction(void **state)
{
	struct petrel_channel c;

	(void)state;
	assert_int_equal(parse(GOOD, "hello", &c), 0);
	assert_int_equal(petrel_channel_current(&c, 1764000000, NOW, &terr), 0);
	assert_int_equal(petrel_channel_current(&c, 1764000001, NOW, &terr), -PETREL_EROLLBACK);
	assert_msg("version 1764000001 was already accepted");
	assert_int_equal(petrel_channel_current(&c, 0, c.expires, &terr), -PETREL_EPOLICY);
	assert_msg("expired at 2030-12-31T00:00:00Z");

	assert_true(petrel_ramp_fraction(c.start - 1, c.start, c.duration) == 0.0);
	assert_true(petrel_ramp_fraction(c.start, c.start, c.duration) == 0.0);
	assert_true(petrel_ramp_fraction(c.start + 86400, c.start, c.duration) == 0.5);
	assert_true(petrel_ramp_fraction(c.start + 172800, c.start, c.duration) == 1.0);
	assert_true(petrel_ramp_fraction(c.start + 999999, c.start, c.duration) == 1.0);
	c.duration = 0;
	assert_true(petrel_ramp_fraction(c.start, c.start, c.duration) == 1.0);
	assert_true(petrel_ramp_fraction(c.start - 1, c.start, c.duration) == 0.0);
	petrel_channel_release(&c);
}

/* ---- signatures made here, as minisign makes them ---- */

struct key {
	uint8_t id[8], pk[32], sk[64];
	struct petrel_pubkey pub;
};

static void key_new(struct key *k, uint8_t idbyte)
{
	memset(k->id, idbyte, 8);
	crypto_sign_keypair(k->pk, k->sk);
	memcpy(k->pub.keyid, k->id, 8);
	memcpy(k->pub.pk, k->pk, 32);
}

static void b64(const uint8_t *bin, size_t n, char *out, size_t outn)
{
	sodium_bin2base64(out, outn, bin, n, sodium_base64_VARIANT_ORIGINAL);
}

/* A .minisig of doc by k with trusted comment tc, into out. */
static size_t sign(const struct key *k, const char *doc, const char *tc, char *out, size_t n)
{
	uint8_t blob[74], global[64], b2[64], gmsg[64 + 256];
	char l2[128], l4[128];
	struct petrel_digest *d = NULL;

	assert_int_equal(petrel_digest_new(&d, PETREL_DIGEST_BLAKE2B), 0);
	assert_int_equal(petrel_digest_update(d, doc, strlen(doc)), 0);
	assert_int_equal(petrel_digest_final(d, NULL, b2), 0);
	petrel_digest_free(d);
	memcpy(blob, "ED", 2);
	memcpy(blob + 2, k->id, 8);
	crypto_sign_detached(blob + 10, NULL, b2, 64, k->sk);
	memcpy(gmsg, blob + 10, 64);
	memcpy(gmsg + 64, tc, strlen(tc));
	crypto_sign_detached(global, NULL, gmsg, 64 + strlen(tc), k->sk);
	b64(blob, sizeof(blob), l2, sizeof(l2));
	b64(global, sizeof(global), l4, sizeof(l4));
	return (size_t)snprintf(out, n, "untrusted comment: channel\n%s\ntrusted comment: %s\n%s\n",
				l2, tc, l4);
}

static void test_verify(void **state)
{
	struct key a, b;
	struct petrel_pubkey both[2];
	char sig[1024];
	size_t n;

	(void)state;
	key_new(&a, 0xa1);
	key_new(&b, 0xb2);
	both[0] = b.pub;
	both[1] = a.pub;
	n = sign(&a, GOOD, "timestamp:1764000000\tfile:channel.json\thashed", sig, sizeof(sig));
	assert_int_equal(petrel_channel_verify(GOOD, strlen(GOOD), sig, n, both, 2,
					       "channel.json", &terr), 0);
	/* no file: in the trusted comment: nothing to bind */
	n = sign(&a, GOOD, "timestamp:1764000000", sig, sizeof(sig));
	assert_int_equal(petrel_channel_verify(GOOD, strlen(GOOD), sig, n, both, 2,
					       "channel.json", &terr), 0);

	/* another file's signature */
	n = sign(&a, GOOD, "timestamp:1764000000\tfile:other.json", sig, sizeof(sig));
	assert_int_equal(petrel_channel_verify(GOOD, strlen(GOOD), sig, n, both, 2,
					       "channel.json", &terr), -PETREL_EBINDING);
	assert_msg("names file 'other.json', the channel is 'channel.json'");

	/* a key the channel does not trust */
	n = sign(&a, GOOD, "file:channel.json", sig, sizeof(sig));
	assert_int_equal(petrel_channel_verify(GOOD, strlen(GOOD), sig, n, &b.pub, 1,
					       "channel.json", &terr), -PETREL_ESIG_UNTRUSTED);
	assert_msg("A1A1A1A1A1A1A1A1, which is not among the channel's keys");

	/* one byte of the document changed */
	{
		char doc[sizeof(GOOD)];

		memcpy(doc, GOOD, sizeof(GOOD));
		doc[20] ^= 1;
		assert_int_equal(petrel_channel_verify(doc, strlen(doc), sig, n, both, 2,
						       "channel.json", &terr), -PETREL_ESIG_INVALID);
	}
	/* a trusted comment changed after signing */
	n = sign(&a, GOOD, "file:channel.json", sig, sizeof(sig));
	sig[strstr(sig, "file:") - sig + 5] = 'C';
	assert_int_equal(petrel_channel_verify(GOOD, strlen(GOOD), sig, n, both, 2,
					       "channel.json", &terr), -PETREL_ESIG_INVALID);
	/* not a signature at all */
	assert_int_equal(petrel_channel_verify(GOOD, strlen(GOOD), "<html>", 6, both, 2,
					       "channel.json", &terr), -PETREL_ESIG_FORMAT);
	assert_msg("channel signature: ");
}

#define T(f) cmocka_unit_test_setup(f, setup)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_parse_good),
		T(test_parse_malformed),
		T(test_parse_limits),
		T(test_current_and_fraction),
		T(test_verify),
	};

	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
