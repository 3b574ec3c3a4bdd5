/* Unit tests for fetcher/builderweb.c: the job listing, build record and Location parsers. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "common/build.h"
#include "common/error.h"
#include "fetcher/builderweb.h"

/* The err of the calls under test; reset where a test needs a fresh one. */
static struct petrel_err terr;

/* Three canonical uuids: U1 is the one asked for, U2 and U3 are its neighbours. */
#define U1 "0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d"
#define U2 "11111111-2222-4333-8444-555555555555"
#define U3 "aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee"
#define U1_UPPER "0A1B2C3D-4E5F-4A6B-8C7D-9E0F1A2B3C4D"

/* sha256("") and an unrelated digest for the neighbours. */
#define HEX1 "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
#define HEX1_UPPER "E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855"
#define HEX2 "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824"

static const uint8_t SHA1[32] = {
	0xe3, 0xb0, 0xc4, 0x42, 0x98, 0xfc, 0x1c, 0x14, 0x9a, 0xfb, 0xf4, 0xc8, 0x99, 0x6f, 0xb9, 0x24,
	0x27, 0xae, 0x41, 0xe4, 0x64, 0x9b, 0x93, 0x4c, 0xa4, 0x95, 0x99, 0x1b, 0x78, 0x52, 0xb8, 0x55,
};

/* The `where` every parser is given; each refusal must name it. */
#define WHERE_LISTING "https://builds.example/job/hello?platform=ubuntu-22.04"
#define WHERE_RECORD "https://builds.example/job/hello/build/" U1

/* 2026-05-12T03:04:10Z and 2026-05-12T03:00:01Z as seconds since the epoch. */
#define FINISH_EPOCH INT64_C(1778555050)
#define START_EPOCH INT64_C(1778554801)

/* The /job/J answer as builder-web sends it (Views.Job.make_json): U1 neither first nor
 * last, unknown extra fields at every level. */
static const char LISTING_REAL[] =
	"{\"builds\":["
	"{\"uuid\":\"" U2 "\",\"main_binary\":{\"filename\":\"hello-key.hvt\","
	"\"sha256\":\"" HEX2 "\",\"size\":1048576}},"
	"{\"uuid\":\"" U1 "\",\"start\":\"2026-05-12T03:00:01-00:00\",\"extra\":[1,{\"x\":null}],"
	"\"main_binary\":{\"filename\":\"hello.hvt\",\"sha256\":\"" HEX1 "\",\"size\":3145728,"
	"\"mime\":\"application/octet-stream\"}},"
	"{\"uuid\":\"" U3 "\",\"main_binary\":{\"filename\":\"hello-old.hvt\","
	"\"sha256\":\"" HEX2 "\",\"size\":7}}"
	"],\"name\":\"hello\",\"platforms\":[\"ubuntu-22.04\"]}";

/* The /job/J/build/UUID answer (Views.Job_build.make_json) with the solo5 keys. */
static const char RECORD_REAL[] =
	"{\"job\":\"hello\",\"uuid\":\"" U1 "\",\"platform\":\"ubuntu-22.04\","
	"\"start_time\":\"2026-05-12T03:00:01-00:00\","
	"\"finish_time\":\"2026-05-12T03:04:10-00:00\",\"main_binary\":true,"
	"\"solo5_manifest\":{\"type\":\"solo5.manifest\",\"version\":1,"
	"\"devices\":[{\"name\":\"service\",\"type\":\"NET_BASIC\"},"
	"{\"name\":\"storage\",\"type\":\"BLOCK_BASIC\"}]},"
	"\"solo5_abi\":{\"type\":\"solo5.abi\",\"target\":\"hvt\",\"version\":2}}";

static void build_init(struct petrel_build *b)
{
	memset(b, 0, sizeof(*b));
	memcpy(b->job, "hello", sizeof("hello"));
	memcpy(b->uuid, U1, sizeof(U1));
}

/* Runs a parser on an exact-length heap copy (no NUL, so an overread shows under ASan). */
typedef int (*parser_fn)(const char *, size_t, const char *, struct petrel_build *,
			 struct petrel_err *);

static int run_parser(parser_fn fn, const char *text, size_t len, const char *where,
		      struct petrel_build *b)
{
	char *copy = malloc(len ? len : 1);
	int r;

	assert_non_null(copy);
	memcpy(copy, text, len);
	r = fn(copy, len, where, b, &terr);
	free(copy);
	return r;
}

/* The refusal contract: -PETREL_EMALFORMED, a message naming where and (if given) what. */
static void expect_refusal(parser_fn fn, const char *text, const char *where, const char *what)
{
	struct petrel_build b;
	int r;

	build_init(&b);
	petrel_err_reset(&terr);
	r = run_parser(fn, text, strlen(text), where, &b);
	if (r != -PETREL_EMALFORMED)
		fail_msg("expected -PETREL_EMALFORMED, got %d for: %s", r, text);
	if (!strstr(terr.msg, where))
		fail_msg("message '%s' does not name '%s' (input %s)", terr.msg, where,
			 text);
	if (what && !strstr(terr.msg, what))
		fail_msg("message '%s' does not say '%s' (input %s)", terr.msg, what,
			 text);
	petrel_err_reset(&terr);
}

static void listing_refused(const char *text, const char *what)
{
	expect_refusal(petrel_bw_parse_listing, text, WHERE_LISTING, what);
}

/* A listing without b->uuid: -PETREL_ENOTFOUND (the caller then matches by hash),
 * with a message naming the uuid. */
static void listing_absent(const char *text)
{
	struct petrel_build b;
	int r;

	build_init(&b);
	petrel_err_reset(&terr);
	r = run_parser(petrel_bw_parse_listing, text, strlen(text), WHERE_LISTING, &b);
	if (r != -PETREL_ENOTFOUND)
		fail_msg("expected -PETREL_ENOTFOUND, got %d for: %s", r, text);
	if (!strstr(terr.msg, U1))
		fail_msg("message '%s' does not name the uuid", terr.msg);
	petrel_err_reset(&terr);
}

static void record_refused(const char *text, const char *what)
{
	expect_refusal(petrel_bw_parse_record, text, WHERE_RECORD, what);
}

/* A platform is a name we print and store: control bytes or slashes are refused. */
static void test_record_platform_name(void **state)
{
	(void)state;
	record_refused("{\"job\":\"hello\",\"uuid\":\"" U1 "\",\"platform\":\"../\\u001b[31mx\","
		       "\"finish_time\":\"2026-05-12T03:04:10Z\",\"main_binary\":true}", "platform");
	record_refused("{\"job\":\"hello\",\"uuid\":\"" U1 "\",\"platform\":\"a b\","
		       "\"finish_time\":\"2026-05-12T03:04:10Z\",\"main_binary\":true}", "platform");
}

/* A listing whose U1 entry has main_binary = mb (raw JSON), behind a valid U2 entry. */
static char *listing_with_mb(const char *mb)
{
	static char out[4096];
	int n = snprintf(out, sizeof(out),
			 "{\"builds\":[{\"uuid\":\"" U2 "\",\"main_binary\":{\"filename\":\"a.hvt\","
			 "\"sha256\":\"" HEX2 "\",\"size\":1}},{\"uuid\":\"" U1
			 "\",\"main_binary\":%s}]}",
			 mb);

	assert_true(n > 0 && (size_t)n < sizeof(out));
	return out;
}

/* A main_binary object with the given raw JSON values (NULL leaves the key out). */
static char *mb_obj(const char *filename, const char *sha256, const char *size)
{
	static char out[2048];
	size_t o = 0;
	int n;

	out[o++] = '{';
	if (filename) {
		n = snprintf(out + o, sizeof(out) - o, "\"filename\":%s,", filename);
		assert_true(n > 0 && (size_t)n < sizeof(out) - o);
		o += (size_t)n;
	}
	if (sha256) {
		n = snprintf(out + o, sizeof(out) - o, "\"sha256\":%s,", sha256);
		assert_true(n > 0 && (size_t)n < sizeof(out) - o);
		o += (size_t)n;
	}
	if (size) {
		n = snprintf(out + o, sizeof(out) - o, "\"size\":%s,", size);
		assert_true(n > 0 && (size_t)n < sizeof(out) - o);
		o += (size_t)n;
	}
	if (out[o - 1] == ',')
		o--;
	assert_true(o + 2 <= sizeof(out));
	out[o++] = '}';
	out[o] = '\0';
	return out;
}

/* A record with the given members after job and uuid (raw JSON, may be ""). */
static char *record_with(const char *job, const char *uuid, const char *rest)
{
	static char out[4096];
	int n = snprintf(out, sizeof(out), "{\"job\":%s,\"uuid\":%s%s%s}", job, uuid,
			 *rest ? "," : "", rest);

	assert_true(n > 0 && (size_t)n < sizeof(out));
	return out;
}

#define GOOD_TIMES "\"start_time\":\"2026-05-12T03:00:01-00:00\"," \
		   "\"finish_time\":\"2026-05-12T03:04:10-00:00\""
#define GOOD_REST "\"platform\":\"ubuntu-22.04\"," GOOD_TIMES ",\"main_binary\":true"

/* ---------------------------------------------------------------- listing */

static void test_listing_real(void **state)
{
	struct petrel_build b;

	(void)state;
	build_init(&b);
	petrel_err_reset(&terr);
	assert_int_equal(run_parser(petrel_bw_parse_listing, LISTING_REAL, strlen(LISTING_REAL),
				    WHERE_LISTING, &b), 0);
	assert_string_equal(b.filename, "hello.hvt");
	assert_memory_equal(b.sha256, SHA1, 32);
	assert_int_equal(b.size, 3145728);
	assert_string_equal(b.job, "hello");	/* untouched */
	assert_string_equal(b.uuid, U1);
	assert_string_equal(terr.msg, "");
}

/* Whatever the order of the entries, the one with b->uuid is chosen. */
static void test_listing_order(void **state)
{
	static const char *const orders[][3] = {
		{ U1, U2, U3 }, { U2, U3, U1 }, { U3, U1, U2 }, { U2, U1, U3 },
	};
	char text[2048], e[3][400];
	struct petrel_build b;

	(void)state;
	for (size_t k = 0; k < sizeof(orders) / sizeof(orders[0]); k++) {
		for (int i = 0; i < 3; i++) {
			int u1 = !strcmp(orders[k][i], U1);

			snprintf(e[i], sizeof(e[i]),
				 "{\"uuid\":\"%s\",\"main_binary\":{\"filename\":\"%s\","
				 "\"sha256\":\"%s\",\"size\":%d}}",
				 orders[k][i], u1 ? "mine.hvt" : "other.hvt", u1 ? HEX1 : HEX2,
				 u1 ? 42 : 9);
		}
		snprintf(text, sizeof(text), "{\"builds\":[%s,%s,%s]}", e[0], e[1], e[2]);
		build_init(&b);
		assert_int_equal(petrel_bw_parse_listing(text, strlen(text), WHERE_LISTING, &b, &terr), 0);
		assert_string_equal(b.filename, "mine.hvt");
		assert_memory_equal(b.sha256, SHA1, 32);
		assert_int_equal(b.size, 42);
	}
	/* a single entry, and a listing where a neighbour without a binary comes first */
	snprintf(text, sizeof(text),
		 "{\"builds\":[{\"uuid\":\"" U2 "\",\"main_binary\":null},{\"uuid\":\"" U1
		 "\",\"main_binary\":{\"size\":5,\"sha256\":\"" HEX1
		 "\",\"filename\":\"x\"}}]}");
	build_init(&b);
	assert_int_equal(petrel_bw_parse_listing(text, strlen(text), WHERE_LISTING, &b, &terr), 0);
	assert_string_equal(b.filename, "x");
	assert_int_equal(b.size, 5);
}

static void test_listing_hex_case_and_limits(void **state)
{
	struct petrel_build b;
	char name[PETREL_FILENAME_MAX + 3], *t;

	(void)state;
	t = listing_with_mb(mb_obj("\"f.hvt\"", "\"" HEX1_UPPER "\"", "0"));
	build_init(&b);
	assert_int_equal(petrel_bw_parse_listing(t, strlen(t), WHERE_LISTING, &b, &terr), 0);
	assert_memory_equal(b.sha256, SHA1, 32);
	assert_int_equal(b.size, 0);

	/* mixed case */
	t = listing_with_mb(mb_obj("\"f.hvt\"",
				   "\"E3b0C44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852B855\"",
				   "9223372036854775807"));
	build_init(&b);
	assert_int_equal(petrel_bw_parse_listing(t, strlen(t), WHERE_LISTING, &b, &terr), 0);
	assert_memory_equal(b.sha256, SHA1, 32);
	assert_int_equal(b.size, INT64_MAX);

	/* every allowed filename character, and a name of exactly PETREL_FILENAME_MAX bytes */
	t = listing_with_mb(mb_obj("\"Az09._+-\"", "\"" HEX1 "\"", "1"));
	build_init(&b);
	assert_int_equal(petrel_bw_parse_listing(t, strlen(t), WHERE_LISTING, &b, &terr), 0);
	assert_string_equal(b.filename, "Az09._+-");

	name[0] = '"';
	memset(name + 1, 'f', PETREL_FILENAME_MAX);
	name[PETREL_FILENAME_MAX + 1] = '"';
	name[PETREL_FILENAME_MAX + 2] = '\0';
	t = listing_with_mb(mb_obj(name, "\"" HEX1 "\"", "1"));
	build_init(&b);
	assert_int_equal(petrel_bw_parse_listing(t, strlen(t), WHERE_LISTING, &b, &terr), 0);
	assert_int_equal(strlen(b.filename), PETREL_FILENAME_MAX);
}

/* The listing matches the uuid without regard to case, as the record does. */
static void test_listing_uuid_case(void **state)
{
	struct petrel_build b;

	(void)state;
	build_init(&b);
	memcpy(b.uuid, U1_UPPER, sizeof(U1_UPPER));
	petrel_err_reset(&terr);
	if (petrel_bw_parse_listing(LISTING_REAL, strlen(LISTING_REAL), WHERE_LISTING, &b, &terr) != 0)
		fail_msg("uppercase uuid not matched in the listing: %s", terr.msg);
	assert_string_equal(b.filename, "hello.hvt");
}

/* Not JSON, not an object, no builds list, uuid absent. */
static void test_listing_refuse_shape(void **state)
{
	(void)state;
	listing_refused("", "malformed JSON");
	listing_refused("hello", "malformed JSON");
	listing_refused("<html><body>Job hello</body></html>", "malformed JSON");
	listing_refused("[]", NULL);
	listing_refused("[{\"builds\":[]}]", NULL);
	listing_refused("\"builds\"", NULL);
	listing_refused("null", NULL);
	listing_refused("42", NULL);
	listing_refused("{}", "builds");
	listing_refused("{\"Builds\":[]}", "builds");
	listing_refused("{\"builds\":null}", "builds");
	listing_refused("{\"builds\":{}}", "builds");
	listing_refused("{\"builds\":{\"uuid\":\"" U1 "\"}}", "builds");
	listing_refused("{\"builds\":\"" U1 "\"}", "builds");
	listing_absent("{\"builds\":[]}");
	listing_absent("{\"builds\":[{\"uuid\":\"" U2 "\",\"main_binary\":null}]}");
	/* a prefix, a suffix or a near miss of the uuid is not the uuid */
	listing_absent("{\"builds\":[{\"uuid\":\"0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4\","
		       "\"main_binary\":null}]}");
	listing_absent("{\"builds\":[{\"uuid\":\"" U1 "0\",\"main_binary\":null}]}");
	listing_absent("{\"builds\":[{\"uuid\":[\"" U1 "\"]}]}");
	listing_absent("{\"builds\":[{\"build\":{\"uuid\":\"" U1 "\"}}]}");
	/* a JSON value followed by more text */
	listing_refused("{\"builds\":[]} {}", "malformed JSON");
	listing_refused("{\"builds\":[]}x", "malformed JSON");
	/* trailing garbage after a valid listing that holds the uuid */
	{
		char t[sizeof(LISTING_REAL) + 4];

		snprintf(t, sizeof(t), "%s]", LISTING_REAL);
		listing_refused(t, "malformed JSON");
	}
}

/* A failed build: main_binary null, false, absent or not an object. */
static void test_listing_refuse_no_binary(void **state)
{
	(void)state;
	listing_refused(listing_with_mb("null"), "main_binary");
	listing_refused(listing_with_mb("false"), "main_binary");
	listing_refused(listing_with_mb("true"), "main_binary");
	listing_refused(listing_with_mb("[]"), "main_binary");
	listing_refused(listing_with_mb("\"hello.hvt\""), "main_binary");
	listing_refused("{\"builds\":[{\"uuid\":\"" U1 "\"}]}", "main_binary");
	listing_refused(listing_with_mb("{}"), "filename");
}

static void test_listing_refuse_filename(void **state)
{
	static const char *const unsafe[] = {
		"\"../x\"", "\"a/b\"", "\"\"", "\"..\"", "\".\"", "\"/etc/passwd\"", "\"a b\"",
		"\"a\\\\b\"", "\"x\\n\"", "\"caf\\u00e9\"", "\"-\\t\"",
	};
	char name[PETREL_FILENAME_MAX + 4];

	(void)state;
	listing_refused(listing_with_mb(mb_obj(NULL, "\"" HEX1 "\"", "1")), "filename");
	listing_refused(listing_with_mb(mb_obj("null", "\"" HEX1 "\"", "1")), "filename");
	listing_refused(listing_with_mb(mb_obj("42", "\"" HEX1 "\"", "1")), "filename");
	listing_refused(listing_with_mb(mb_obj("[\"x\"]", "\"" HEX1 "\"", "1")), "filename");
	listing_refused(listing_with_mb(mb_obj("{}", "\"" HEX1 "\"", "1")), "filename");
	for (size_t i = 0; i < sizeof(unsafe) / sizeof(unsafe[0]); i++)
		listing_refused(listing_with_mb(mb_obj(unsafe[i], "\"" HEX1 "\"", "1")), "filename");
	/* an embedded NUL never reaches the parser's C string */
	listing_refused(listing_with_mb(mb_obj("\"a\\u0000b\"", "\"" HEX1 "\"", "1")), NULL);
	/* one byte over PETREL_FILENAME_MAX */
	name[0] = '"';
	memset(name + 1, 'f', PETREL_FILENAME_MAX + 1);
	name[PETREL_FILENAME_MAX + 2] = '"';
	name[PETREL_FILENAME_MAX + 3] = '\0';
	listing_refused(listing_with_mb(mb_obj(name, "\"" HEX1 "\"", "1")), "filename");
}

static void test_listing_refuse_sha256(void **state)
{
	static const char *const bad[] = {
		/* 63 and 65 digits */
		"\"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b85\"",
		"\"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b8555\"",
		/* 64 characters, one not hex */
		"\"g3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855\"",
		"\"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b85z\"",
		"\"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b85 \"",
		"\" e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b85\"",
		"\"0xb0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855\"",
		/* 128 digits, the sha512 length; and empty */
		"\"" HEX1 HEX1 "\"",
		"\"\"",
		/* Base64 of the digest, as in the ETag */
		"\"47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\"",
	};

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		listing_refused(listing_with_mb(mb_obj("\"f\"", bad[i], "1")), "sha256");
	listing_refused(listing_with_mb(mb_obj("\"f\"", NULL, "1")), "sha256");
	listing_refused(listing_with_mb(mb_obj("\"f\"", "null", "1")), "sha256");
	listing_refused(listing_with_mb(mb_obj("\"f\"", "[1,2]", "1")), "sha256");
	listing_refused(listing_with_mb(mb_obj("\"f\"", "1234", "1")), "sha256");
}

static void test_listing_refuse_size(void **state)
{
	static const char *const bad[] = {
		"-1", "-9223372036854775808", "1.5", "3145728.0", "3e6", "\"3145728\"", "null",
		"true", "[1]", "{}",
	};

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		listing_refused(listing_with_mb(mb_obj("\"f\"", "\"" HEX1 "\"", bad[i])), "size");
	listing_refused(listing_with_mb(mb_obj("\"f\"", "\"" HEX1 "\"", NULL)), "size");
	/* beyond int64: jansson itself refuses it */
	listing_refused(listing_with_mb(mb_obj("\"f\"", "\"" HEX1 "\"", "9223372036854775808")),
			"malformed JSON");
	listing_refused(listing_with_mb(mb_obj("\"f\"", "\"" HEX1 "\"",
					       "18446744073709551616")), "malformed JSON");
}

/* JSON_REJECT_DUPLICATES, at every level. */
static void test_listing_refuse_duplicates(void **state)
{
	(void)state;
	listing_refused("{\"builds\":[],\"builds\":[{\"uuid\":\"" U1 "\"}]}", "duplicate");
	listing_refused("{\"builds\":[{\"uuid\":\"" U2 "\",\"uuid\":\"" U1 "\","
			"\"main_binary\":{\"filename\":\"f\",\"sha256\":\"" HEX1 "\",\"size\":1}}]}",
			"duplicate");
	listing_refused(listing_with_mb("{\"filename\":\"f\",\"filename\":\"g\",\"sha256\":\"" HEX1
					"\",\"size\":1}"), "duplicate");
	listing_refused(listing_with_mb("{\"filename\":\"f\",\"sha256\":\"" HEX2 "\",\"sha256\":\""
					HEX1 "\",\"size\":1}"), "duplicate");
	listing_refused(listing_with_mb("{\"filename\":\"f\",\"sha256\":\"" HEX1
					"\",\"size\":1,\"size\":2}"), "duplicate");
	/* two entries for the same uuid are not duplicate keys: the first wins */
	{
		const char *t = "{\"builds\":[{\"uuid\":\"" U1 "\",\"main_binary\":{\"filename\":"
				"\"first\",\"sha256\":\"" HEX1 "\",\"size\":1}},{\"uuid\":\"" U1
				"\",\"main_binary\":{\"filename\":\"second\",\"sha256\":\"" HEX2
				"\",\"size\":2}}]}";
		struct petrel_build b;

		build_init(&b);
		assert_int_equal(petrel_bw_parse_listing(t, strlen(t), WHERE_LISTING, &b, &terr), 0);
		assert_string_equal(b.filename, "first");
	}
}

/* Every proper prefix of a valid answer is a truncated answer, and refused. */
static void truncations(parser_fn fn, const char *text, const char *where)
{
	size_t len = strlen(text);
	struct petrel_build b;

	build_init(&b);
	assert_int_equal(run_parser(fn, text, len, where, &b), 0);
	for (size_t cut = 0; cut < len; cut++) {
		int r;

		build_init(&b);
		petrel_err_reset(&terr);
		r = run_parser(fn, text, cut, where, &b);
		if (r != -PETREL_EMALFORMED)
			fail_msg("prefix of %zu bytes accepted (%d): %.*s", cut, r, (int)cut, text);
		if (!strstr(terr.msg, where))
			fail_msg("prefix of %zu bytes: message '%s' does not name %s", cut,
				 terr.msg, where);
	}
	petrel_err_reset(&terr);
}

static void test_listing_truncated(void **state)
{
	(void)state;
	truncations(petrel_bw_parse_listing, LISTING_REAL, WHERE_LISTING);
}

/* The length is honoured: bytes after len are never read, a NUL inside len is refused. */
static void test_listing_len(void **state)
{
	char t[sizeof(LISTING_REAL) + 16];
	struct petrel_build b;
	size_t len = strlen(LISTING_REAL);

	(void)state;
	memcpy(t, LISTING_REAL, len);
	memcpy(t + len, "garbage}}]", 11);
	build_init(&b);
	assert_int_equal(petrel_bw_parse_listing(t, len, WHERE_LISTING, &b, &terr), 0);
	assert_string_equal(b.filename, "hello.hvt");

	t[len] = '\0';
	build_init(&b);
	petrel_err_reset(&terr);
	assert_int_equal(petrel_bw_parse_listing(t, len + 1, WHERE_LISTING, &b, &terr), -PETREL_EMALFORMED);
	assert_non_null(strstr(terr.msg, WHERE_LISTING));
	petrel_err_reset(&terr);
}

/* ---------------------------------------------------------------- record */

static void test_record_real(void **state)
{
	struct petrel_build b;

	(void)state;
	build_init(&b);
	petrel_err_reset(&terr);
	assert_int_equal(run_parser(petrel_bw_parse_record, RECORD_REAL, strlen(RECORD_REAL),
				    WHERE_RECORD, &b), 0);
	assert_string_equal(b.platform, "ubuntu-22.04");
	assert_true(b.finish_time == FINISH_EPOCH);
	assert_true(b.start_time == START_EPOCH);
	assert_string_equal(b.job, "hello");
	assert_string_equal(b.uuid, U1);
	assert_string_equal(b.solo5_abi, "hvt");
	assert_string_equal(b.solo5_devices, "net:service block:storage");
	assert_string_equal(terr.msg, "");
}

/* Solo5 fields: absent or null leave them empty; a malformed one is refused. */
static void test_record_solo5(void **state)
{
	struct petrel_build b;
	char *t;

	(void)state;
	t = record_with("\"hello\"", "\"" U1 "\"", GOOD_REST ",\"solo5_abi\":null,"
			"\"solo5_manifest\":{\"devices\":[]}");
	build_init(&b);
	assert_int_equal(petrel_bw_parse_record(t, strlen(t), WHERE_RECORD, &b, &terr), 0);
	assert_string_equal(b.solo5_abi, "");
	assert_string_equal(b.solo5_devices, "");
	t = record_with("\"hello\"", "\"" U1 "\"", GOOD_REST ",\"solo5_manifest\":{\"devices\":"
			"[{\"name\":\"x\",\"type\":\"FUTURE_DEV\"}]}");
	build_init(&b);
	assert_int_equal(petrel_bw_parse_record(t, strlen(t), WHERE_RECORD, &b, &terr), 0);
	assert_string_equal(b.solo5_devices, "future_dev:x");
	record_refused(record_with("\"hello\"", "\"" U1 "\"", GOOD_REST ",\"solo5_abi\":{}"),
		       "solo5_abi");
	record_refused(record_with("\"hello\"", "\"" U1 "\"", GOOD_REST
				   ",\"solo5_abi\":{\"target\":\"../x\"}"), "solo5_abi");
	record_refused(record_with("\"hello\"", "\"" U1 "\"", GOOD_REST
				   ",\"solo5_manifest\":{\"devices\":{}}"), "solo5_manifest");
	record_refused(record_with("\"hello\"", "\"" U1 "\"", GOOD_REST
				   ",\"solo5_manifest\":{\"devices\":[{\"name\":\"a b\","
				   "\"type\":\"NET_BASIC\"}]}"), "device");
	record_refused(record_with("\"hello\"", "\"" U1 "\"", GOOD_REST
				   ",\"solo5_manifest\":{\"devices\":[{\"type\":\"NET_BASIC\"}]}"),
		       "device");
}

/* The entry holding a hash is found whatever its uuid; absent is -PETREL_ENOTFOUND. */
static void test_listing_find_hash(void **state)
{
	struct petrel_build e;
	uint8_t other[32] = { 1 };

	(void)state;
	memset(&e, 0, sizeof(e));
	assert_int_equal(petrel_bw_listing_find_hash(LISTING_REAL, strlen(LISTING_REAL),
						     WHERE_LISTING, SHA1, &e, &terr), 0);
	assert_string_equal(e.uuid, U1);
	assert_string_equal(e.filename, "hello.hvt");
	assert_int_equal(e.size, 3145728);
	assert_int_equal(petrel_bw_listing_find_hash(LISTING_REAL, strlen(LISTING_REAL),
						     WHERE_LISTING, other, &e, &terr), -PETREL_ENOTFOUND);
	assert_int_equal(petrel_bw_listing_find_hash("{\"builds\":[]}", 13, WHERE_LISTING, SHA1,
						     &e, &terr), -PETREL_ENOTFOUND);
	assert_int_equal(petrel_bw_listing_find_hash("{\"builds\":[{\"uuid\":1}]}", 24,
						     WHERE_LISTING, SHA1, &e, &terr), -PETREL_EMALFORMED);
	petrel_err_reset(&terr);
}

static void record_times(const char *finish, int64_t want)
{
	char rest[512];
	struct petrel_build b;
	char *t;

	snprintf(rest, sizeof(rest), "\"main_binary\":true,\"finish_time\":\"%s\"", finish);
	t = record_with("\"hello\"", "\"" U1 "\"", rest);
	build_init(&b);
	petrel_err_reset(&terr);
	if (petrel_bw_parse_record(t, strlen(t), WHERE_RECORD, &b, &terr) != 0)
		fail_msg("finish_time '%s' refused: %s", finish, terr.msg);
	if (b.finish_time != want)
		fail_msg("finish_time '%s': got %lld, want %lld", finish, (long long)b.finish_time,
			 (long long)want);
}

static void test_record_times(void **state)
{
	(void)state;
	record_times("2026-05-12T03:04:10-00:00", FINISH_EPOCH);
	record_times("2026-05-12T03:04:10Z", FINISH_EPOCH);
	record_times("2026-05-12T03:04:10z", FINISH_EPOCH);
	record_times("2026-05-12t03:04:10+00:00", FINISH_EPOCH);
	/* fractional seconds (Ptime prints up to picoseconds) are dropped, not rounded */
	record_times("2026-05-12T03:04:10.5-00:00", FINISH_EPOCH);
	record_times("2026-05-12T03:04:10.999999999999-00:00", FINISH_EPOCH);
	record_times("2026-05-12T03:04:10.000Z", FINISH_EPOCH);
	/* offsets */
	record_times("2026-05-12T05:04:10+02:00", FINISH_EPOCH);
	record_times("2026-05-11T21:34:10-05:30", FINISH_EPOCH);
	record_times("1970-01-01T00:00:00Z", 0);
	record_times("2024-02-29T00:00:00Z", INT64_C(1709164800));
}

/* start_time absent is tolerated; platform not a string is tolerated (left as it was). */
static void test_record_optional(void **state)
{
	struct petrel_build b;
	char *t;

	(void)state;
	t = record_with("\"hello\"", "\"" U1 "\"",
			"\"finish_time\":\"2026-05-12T03:04:10-00:00\",\"main_binary\":true");
	build_init(&b);
	assert_int_equal(petrel_bw_parse_record(t, strlen(t), WHERE_RECORD, &b, &terr), 0);
	assert_true(b.start_time == 0);
	assert_true(b.finish_time == FINISH_EPOCH);
	assert_string_equal(b.platform, "");

	static const char *const plats[] = { "42", "null", "true", "[\"x\"]", "{}" };
	for (size_t i = 0; i < sizeof(plats) / sizeof(plats[0]); i++) {
		char rest[256];

		snprintf(rest, sizeof(rest), "\"platform\":%s," GOOD_TIMES ",\"main_binary\":true",
			 plats[i]);
		t = record_with("\"hello\"", "\"" U1 "\"", rest);
		build_init(&b);
		petrel_err_reset(&terr);
		assert_int_equal(petrel_bw_parse_record(t, strlen(t), WHERE_RECORD, &b, &terr), 0);
		assert_string_equal(b.platform, "");
		assert_true(b.finish_time == FINISH_EPOCH);
		assert_string_equal(terr.msg, "");
	}
}

/* The uuid is compared without regard to case, the job exactly. */
static void test_record_uuid_case(void **state)
{
	struct petrel_build b;
	char *t;

	(void)state;
	t = record_with("\"hello\"", "\"" U1_UPPER "\"", GOOD_REST);
	build_init(&b);
	assert_int_equal(petrel_bw_parse_record(t, strlen(t), WHERE_RECORD, &b, &terr), 0);
	assert_string_equal(b.uuid, U1);	/* b keeps its own spelling */
	assert_true(b.finish_time == FINISH_EPOCH);

	t = record_with("\"hello\"", "\"" U1 "\"", GOOD_REST);
	build_init(&b);
	memcpy(b.uuid, U1_UPPER, sizeof(U1_UPPER));
	assert_int_equal(petrel_bw_parse_record(t, strlen(t), WHERE_RECORD, &b, &terr), 0);
}

static void test_record_refuse_identity(void **state)
{
	(void)state;
	record_refused(record_with("\"hello2\"", "\"" U1 "\"", GOOD_REST), "hello2");
	record_refused(record_with("\"Hello\"", "\"" U1 "\"", GOOD_REST), "asked for");
	record_refused(record_with("\"hell\"", "\"" U1 "\"", GOOD_REST), "asked for");
	record_refused(record_with("\"\"", "\"" U1 "\"", GOOD_REST), "asked for");
	record_refused(record_with("\"hello\"", "\"" U2 "\"", GOOD_REST), U2);
	record_refused(record_with("\"hello\"", "\"" U1 "x\"", GOOD_REST), NULL);
	record_refused(record_with("\"hello\"", "\"0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4\"",
				   GOOD_REST), "asked for");
	record_refused(record_with("\"hello\"", "\"\"", GOOD_REST), "asked for");
	/* missing or not strings */
	record_refused("{\"uuid\":\"" U1 "\"," GOOD_REST "}", "job");
	record_refused("{\"job\":\"hello\"," GOOD_REST "}", "uuid");
	record_refused(record_with("null", "\"" U1 "\"", GOOD_REST), "job");
	record_refused(record_with("[\"hello\"]", "\"" U1 "\"", GOOD_REST), "job");
	record_refused(record_with("\"hello\"", "42", GOOD_REST), "uuid");
	record_refused(record_with("\"hello\"", "null", GOOD_REST), "uuid");
	/* longer than any job or uuid buffer */
	{
		char job[PETREL_NAME_MAX + 8];

		job[0] = '"';
		memset(job + 1, 'j', PETREL_NAME_MAX + 1);
		job[PETREL_NAME_MAX + 2] = '"';
		job[PETREL_NAME_MAX + 3] = '\0';
		record_refused(record_with(job, "\"" U1 "\"", GOOD_REST), "job");
	}
}

static void test_record_refuse_main_binary(void **state)
{
	static const char *const bad[] = { "false", "null", "1", "\"true\"", "{}", "[true]" };
	char rest[512];

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(rest, sizeof(rest), "\"platform\":\"p\"," GOOD_TIMES ",\"main_binary\":%s",
			 bad[i]);
		record_refused(record_with("\"hello\"", "\"" U1 "\"", rest), "main binary");
	}
	record_refused(record_with("\"hello\"", "\"" U1 "\"", "\"platform\":\"p\"," GOOD_TIMES),
		       "main binary");
}

static void test_record_refuse_times(void **state)
{
	static const char *const bad[] = {
		"\"\"", "\"yesterday\"", "\"2026-05-12\"", "\"2026-05-12T03:04:10\"",
		"\"2026-05-12T03:04\"", "\"2026-05-12T03:04:10+0000\"", "\"2026-05-12T03:04:10+00\"",
		"\"2026-05-12T03:04:10Z \"", "\" 2026-05-12T03:04:10Z\"", "\"2026-13-12T03:04:10Z\"",
		"\"2026-00-12T03:04:10Z\"", "\"2026-02-30T03:04:10Z\"", "\"2026-05-12T24:04:10Z\"",
		"\"2026-05-12T03:60:10Z\"", "\"2026-05-12T03:04:61Z\"", "\"2026-05-12T03:04:10.Z\"",
		"\"2026-05-12T03:04:10+24:00\"", "\"26-05-12T03:04:10Z\"", "\"2026-5-12T03:04:10Z\"",
		"\"2026/05/12T03:04:10Z\"", "1778555050", "null", "true", "[\"2026-05-12T03:04:10Z\"]",
	};
	char rest[512];

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(rest, sizeof(rest),
			 "\"platform\":\"p\",\"start_time\":\"2026-05-12T03:00:01Z\","
			 "\"finish_time\":%s,\"main_binary\":true", bad[i]);
		record_refused(record_with("\"hello\"", "\"" U1 "\"", rest), "finish_time");
		/* start_time is optional, but when present it must be a time */
		snprintf(rest, sizeof(rest),
			 "\"platform\":\"p\",\"start_time\":%s,"
			 "\"finish_time\":\"2026-05-12T03:04:10Z\",\"main_binary\":true", bad[i]);
		record_refused(record_with("\"hello\"", "\"" U1 "\"", rest), "start_time");
	}
	record_refused(record_with("\"hello\"", "\"" U1 "\"",
				   "\"platform\":\"p\",\"start_time\":\"2026-05-12T03:00:01Z\","
				   "\"main_binary\":true"), "finish_time");
}

static void test_record_refuse_other(void **state)
{
	char plat[PETREL_NAME_MAX + 160], name[PETREL_NAME_MAX + 2];

	(void)state;
	record_refused("", "malformed JSON");
	record_refused("<!DOCTYPE html><html></html>", "malformed JSON");
	record_refused("[" "{\"job\":\"hello\",\"uuid\":\"" U1 "\"," GOOD_REST "}" "]", NULL);
	record_refused("null", NULL);
	record_refused("\"hello\"", NULL);
	record_refused("{}", "job");
	/* duplicates */
	record_refused("{\"job\":\"other\",\"job\":\"hello\",\"uuid\":\"" U1 "\"," GOOD_REST "}",
		       "duplicate");
	record_refused("{\"job\":\"hello\",\"uuid\":\"" U1 "\"," GOOD_REST ",\"main_binary\":false}",
		       "duplicate");
	record_refused("{\"job\":\"hello\",\"uuid\":\"" U1 "\"," GOOD_REST
		       ",\"finish_time\":\"2030-01-01T00:00:00Z\"}", "duplicate");
	record_refused("{\"job\":\"hello\",\"uuid\":\"" U1 "\"," GOOD_REST
		       ",\"solo5_abi\":{\"target\":\"hvt\",\"target\":\"spt\"}}", "duplicate");
	/* a platform longer than its buffer */
	memset(name, 'p', PETREL_NAME_MAX + 1);
	name[PETREL_NAME_MAX + 1] = '\0';
	assert_true(snprintf(plat, sizeof(plat), "\"platform\":\"%s\"," GOOD_TIMES
			     ",\"main_binary\":true", name) < (int)sizeof(plat));
	record_refused(record_with("\"hello\"", "\"" U1 "\"", plat), "platform");
	/* trailing text */
	{
		char t[sizeof(RECORD_REAL) + 4];

		snprintf(t, sizeof(t), "%s{}", RECORD_REAL);
		record_refused(t, "malformed JSON");
	}
}

static void test_record_truncated(void **state)
{
	(void)state;
	truncations(petrel_bw_parse_record, RECORD_REAL, WHERE_RECORD);
}

/* ---------------------------------------------------------------- build path */

static int path(const char *loc, const char *want_job, char job[PETREL_NAME_MAX + 1],
		char uuid[PETREL_UUID_LEN + 1])
{
	memset(job, 'J', PETREL_NAME_MAX + 1);
	memset(uuid, 'U', PETREL_UUID_LEN + 1);
	return petrel_bw_parse_build_path(loc, want_job, job, uuid);
}

static void path_ok(const char *loc, const char *want_job, const char *job_out,
		    const char *uuid_out)
{
	char job[PETREL_NAME_MAX + 1], uuid[PETREL_UUID_LEN + 1];
	int r = path(loc, want_job, job, uuid);

	if (r != 0)
		fail_msg("Location '%s' (want_job %s) refused: %d", loc, want_job ? want_job : "NULL",
			 r);
	assert_string_equal(job, job_out);
	assert_string_equal(uuid, uuid_out);
}

static void path_refused(const char *loc, const char *want_job)
{
	char job[PETREL_NAME_MAX + 1], uuid[PETREL_UUID_LEN + 1];
	int r = path(loc, want_job, job, uuid);

	if (r != -PETREL_EMALFORMED)
		fail_msg("Location '%s' (want_job %s): expected -PETREL_EMALFORMED, got %d", loc,
			 want_job ? want_job : "NULL", r);
}

static void test_path_ok(void **state)
{
	char loc[512], name[PETREL_NAME_MAX + 1];

	(void)state;
	path_ok("/job/hello/build/" U1, "hello", "hello", U1);
	path_ok("/job/hello/build/" U1 "/", "hello", "hello", U1);
	path_ok("https://h/job/hello/build/" U1, "hello", "hello", U1);
	path_ok("http://builds.robur.coop:8080/job/hello/build/" U1 "/", "hello", "hello", U1);
	path_ok("https://other.example/job/hello/build/" U1, "hello", "hello", U1);
	path_ok("/job/hello/build/" U1_UPPER, "hello", "hello", U1);	/* stored lowercase */
	/* want_job NULL (the /hash lookup): the job is filled from the path */
	path_ok("/job/tlstunnel/build/" U2, NULL, "tlstunnel", U2);
	path_ok("https://h/job/a.b_c+d-e/build/" U3 "/", NULL, "a.b_c+d-e", U3);
	/* a job of exactly PETREL_NAME_MAX bytes */
	memset(name, 'n', PETREL_NAME_MAX);
	name[PETREL_NAME_MAX] = '\0';
	snprintf(loc, sizeof(loc), "/job/%s/build/" U1, name);
	path_ok(loc, NULL, name, U1);
	path_ok(loc, name, name, U1);
}

static void test_path_refused(void **state)
{
	char loc[512];

	(void)state;
	path_refused("", "hello");
	path_refused("", NULL);
	path_refused("/", NULL);
	path_refused("/job/", NULL);
	path_refused("/job/hello", NULL);
	path_refused("/job/hello/", NULL);
	path_refused("/job/hello/build", NULL);
	path_refused("/job/hello/build/", NULL);
	path_refused("/job/hello/build/latest", "hello");
	/* want_job mismatch */
	path_refused("/job/hello/build/" U1, "other");
	path_refused("/job/hello/build/" U1, "Hello");
	path_refused("/job/hello/build/" U1, "hell");
	path_refused("/job/hell/build/" U1, "hello");
	path_refused("/job/hello/build/" U1, "");
	/* bad uuids */
	path_refused("/job/hello/build/0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4", "hello");
	path_refused("/job/hello/build/" U1 "0", "hello");
	path_refused("/job/hello/build/0a1b2c3d04e5f-4a6b-8c7d-9e0f1a2b3c4d", "hello");
	path_refused("/job/hello/build/0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4g", "hello");
	path_refused("/job/hello/build/0a1b2c3d4e5f4a6b8c7d9e0f1a2b3c4d", "hello");
	path_refused("/job/hello/build/" U1 "//", "hello");
	path_refused("/job/hello/build/" U1 "?x=1", "hello");
	path_refused("/job/hello/build/" U1 "#f", "hello");
	/* a path hidden in the query or fragment of an absolute URL */
	path_refused("https://evil?/job/hello/build/" U1, "hello");
	path_refused("https://h#/job/hello/build/" U1, "hello");
	path_refused("/job/hello/build/" U1 " ", "hello");
	/* extra segments */
	path_refused("/job/hello/build/" U1 "/main-binary", "hello");
	path_refused("/job/hello/build/" U1 "/f/bin/hello.hvt", NULL);
	path_refused("/job/hello/extra/build/" U1, NULL);
	path_refused("/job/hello/builds/" U1, NULL);
	path_refused("/jobs/hello/build/" U1, NULL);
	path_refused("/prefix/job/hello/build/" U1, NULL);
	path_refused("job/hello/build/" U1, NULL);
	/* empty, dot and unsafe job names */
	path_refused("/job//build/u", NULL);
	path_refused("/job//build/" U1, NULL);
	path_refused("/job//build/" U1, "");
	path_refused("/job/../build/" U1, NULL);
	path_refused("/job/./build/" U1, NULL);
	path_refused("/job/../../etc/build/" U1, NULL);
	path_refused("../", NULL);
	path_refused("../job/hello/build/" U1, NULL);
	path_refused("/job/he llo/build/" U1, NULL);
	path_refused("/job/he%2Fllo/build/" U1, NULL);
	path_refused("/job/hello;rm/build/" U1, NULL);
	path_refused("/job/h\\x/build/" U1, NULL);
	path_refused("/job/h\xc3\xa9/build/" U1, NULL);
	path_refused("/job/a\tb/build/" U1, NULL);
	/* absolute URLs without a usable path */
	path_refused("https://h", NULL);
	path_refused("https://", NULL);
	path_refused("http://h/", NULL);
	path_refused("https://h/job/hello", NULL);
	path_refused("ftp://h/job/hello/build/" U1, NULL);
	path_refused("//h/job/hello/build/" U1, NULL);
	/* a job one byte over PETREL_NAME_MAX, and far over */
	{
		char name[PETREL_NAME_MAX + 2];

		memset(name, 'n', PETREL_NAME_MAX + 1);
		name[PETREL_NAME_MAX + 1] = '\0';
		snprintf(loc, sizeof(loc), "/job/%s/build/" U1, name);
		path_refused(loc, NULL);
		path_refused(loc, name);
	}
	{
		char *big = malloc(70000);

		assert_non_null(big);
		memcpy(big, "/job/", 5);
		memset(big + 5, 'n', 65000);
		memcpy(big + 65005, "/build/" U1, sizeof("/build/" U1));
		path_refused(big, NULL);
		free(big);
	}
}

/* The parsers leave the pending error message alone on success. */
static void test_no_message_on_success(void **state)
{
	struct petrel_build b;

	(void)state;
	petrel_err_reset(&terr);
	build_init(&b);
	assert_int_equal(petrel_bw_parse_listing(LISTING_REAL, strlen(LISTING_REAL), "w", &b, &terr), 0);
	assert_int_equal(petrel_bw_parse_record(RECORD_REAL, strlen(RECORD_REAL), "w", &b, &terr), 0);
	assert_string_equal(terr.msg, "");
	/* the listing and the record fill different fields of the same build */
	assert_string_equal(b.filename, "hello.hvt");
	assert_int_equal(b.size, 3145728);
	assert_string_equal(b.platform, "ubuntu-22.04");
	assert_true(b.finish_time == FINISH_EPOCH);
}

/* ---------------------------------------------------------------- main */

static int group_setup(void **state)
{
	(void)state;
	petrel_err_reset(&terr);
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_listing_real),
		cmocka_unit_test(test_listing_order),
		cmocka_unit_test(test_listing_hex_case_and_limits),
		cmocka_unit_test(test_listing_uuid_case),
		cmocka_unit_test(test_record_platform_name),
		cmocka_unit_test(test_listing_refuse_shape),
		cmocka_unit_test(test_listing_refuse_no_binary),
		cmocka_unit_test(test_listing_refuse_filename),
		cmocka_unit_test(test_listing_refuse_sha256),
		cmocka_unit_test(test_listing_refuse_size),
		cmocka_unit_test(test_listing_refuse_duplicates),
		cmocka_unit_test(test_listing_truncated),
		cmocka_unit_test(test_listing_len),
		cmocka_unit_test(test_record_real),
		cmocka_unit_test(test_record_solo5),
		cmocka_unit_test(test_listing_find_hash),
		cmocka_unit_test(test_record_times),
		cmocka_unit_test(test_record_optional),
		cmocka_unit_test(test_record_uuid_case),
		cmocka_unit_test(test_record_refuse_identity),
		cmocka_unit_test(test_record_refuse_main_binary),
		cmocka_unit_test(test_record_refuse_times),
		cmocka_unit_test(test_record_refuse_other),
		cmocka_unit_test(test_record_truncated),
		cmocka_unit_test(test_path_ok),
		cmocka_unit_test(test_path_refused),
		cmocka_unit_test(test_no_message_on_success),
	};

	return cmocka_run_group_tests(tests, group_setup, NULL);
}
