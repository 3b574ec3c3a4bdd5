/* Unit tests for common/: strings, hex, Base64, numbers, times, names, buffers, fs, fan-out, errors. */
#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <fcntl.h>
#include <ftw.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/buf.h"
#include "common/build.h"
#include "common/error.h"
#include "common/fanout.h"
#include "common/flusher.h"
#include "common/fs.h"
#include "common/log.h"
#include "common/util.h"
#include "fetcher/http.h"

/* Deterministic PRNG (xorshift64*), so a failure reproduces. */
static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static uint64_t rnd(void)
{
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 0x2545f4914f6cdd1dull;
}

static void fill_random(uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (uint8_t)(rnd() >> 56);
}

/* ---------------------------------------------------------------- strings */

/* Text from servers: credentials masked, control characters and bad UTF-8 escaped. */
static void test_text_safe(void **state)
{
	char out[256];

	(void)state;
	petrel_text_safe("plain \xc3\xa9t\xc3\xa9 \xe2\x80\xa6", out, sizeof(out));
	assert_string_equal(out, "plain \xc3\xa9t\xc3\xa9 \xe2\x80\xa6");
	assert_true(petrel_text_is_safe("plain \xc3\xa9t\xc3\xa9"));
	petrel_text_safe("a\x1b]0;pwned\x07" "b\n\tc\r\x7f", out, sizeof(out));
	assert_string_equal(out, "a\\x1b]0;pwned\\x07b\\n\\tc\\r\\x7f");
	assert_false(petrel_text_is_safe("a\x1b"));
	/* C1 (U+009B, CSI) and invalid UTF-8: a lone 0x9b, an overlong, a surrogate */
	petrel_text_safe("\xc2\x9b|\x9b|\xc0\xaf|\xed\xa0\x80|\xc2", out, sizeof(out));
	assert_string_equal(out, "\\xc2\\x9b|\\x9b|\\xc0\\xaf|\\xed\\xa0\\x80|\\xc2");
	assert_false(petrel_text_is_safe("\xc2\x9b"));
	/* cut before a piece that does not fit, never inside an escape */
	petrel_text_safe("ab\x1b", out, 5);
	assert_string_equal(out, "ab");
	petrel_text_safe("x", out, 1);
	assert_string_equal(out, "");
}

static void test_text_mask(void **state)
{
	char out[256];

	(void)state;
	petrel_text_mask("https://alice:s3cret@host:8/p?platform=x&token=abc&v=1#f", out,
			 sizeof(out));
	assert_string_equal(out, "https://***@host:8/p?platform=x&token=***&v=1#f");
	petrel_text_mask("GET http://u@h/a failed; see https://h2/b?API_KEY=k&sig=z", out,
			 sizeof(out));
	assert_string_equal(out, "GET http://***@h/a failed; see https://h2/b?API_KEY=***&sig=***");
	/* an '@' past the host is no userinfo; a quote ends a URL */
	petrel_text_mask("http://h/x@y 'http://a:b@c'@d", out, sizeof(out));
	assert_string_equal(out, "http://h/x@y 'http://***@c'@d");
	petrel_text_mask("no url: a@b, ://@", out, sizeof(out));
	assert_string_equal(out, "no url: a@b, ://***@");
	petrel_mask_url("http://user:pw@h", out, sizeof(out));
	assert_string_equal(out, "http://***@h");
	/* text_safe masks too; a control byte ends a URL and is escaped */
	petrel_text_safe("http://a:b@h/?key=\x1b[2J x\x1b", out, sizeof(out));
	assert_string_equal(out, "http://***@h/?key=***\\x1b[2J x\\x1b");
	assert_false(petrel_text_is_safe("http://h/"));
}

static void test_strlcpy(void **state)
{
	char d[6];

	(void)state;
	assert_int_equal(petrel_strcpy_whole(d, "abcde", sizeof(d)), 0);	/* exactly fits */
	assert_string_equal(d, "abcde");
	assert_int_equal(petrel_strcpy_whole(d, "", sizeof(d)), 0);
	assert_string_equal(d, "");
	assert_int_equal(petrel_strcpy_whole(d, "abcdef", sizeof(d)), -PETREL_ETOOBIG);
	assert_int_equal(d[0], '\0');
	assert_int_equal(petrel_strcpy_whole(d, "a", 1), -PETREL_ETOOBIG);
	assert_int_equal(petrel_strcpy_whole(d, "", 1), 0);
	assert_int_equal(petrel_strcpy_whole(d, "", 0), -PETREL_ETOOBIG);
}

static void test_snprintf(void **state)
{
	char d[6];

	(void)state;
	assert_int_equal(petrel_snprintf(d, sizeof(d), "%s-%d", "ab", 42), 0);
	assert_string_equal(d, "ab-42");
	assert_int_equal(petrel_snprintf(d, sizeof(d), "%s-%d", "ab", 421), -PETREL_ETOOBIG);
	assert_int_equal(petrel_snprintf(d, sizeof(d), "%s", "abcdef"), -PETREL_ETOOBIG);
	assert_int_equal(petrel_snprintf(d, sizeof(d), "%s", ""), 0);
	assert_string_equal(d, "");
}

/* ---------------------------------------------------------------- hex */

static void test_hex(void **state)
{
	static const uint8_t in[] = { 0x00, 0x01, 0x7f, 0x80, 0xab, 0xff };
	uint8_t out[sizeof(in)], big[64], back[64];
	char h[2 * sizeof(big) + 1];

	(void)state;
	petrel_hex(in, sizeof(in), h);
	assert_string_equal(h, "00017f80abff");
	petrel_hex(in, 0, h);
	assert_string_equal(h, "");

	assert_int_equal(petrel_unhex("00017f80abff", 12, out, sizeof(out)), 0);
	assert_memory_equal(out, in, sizeof(in));
	assert_int_equal(petrel_unhex("00017F80ABFF", 12, out, sizeof(out)), 0);	/* either case */
	assert_memory_equal(out, in, sizeof(in));
	assert_int_equal(petrel_unhex("", 0, out, 0), 0);

	assert_int_equal(petrel_unhex("00017f80abf", 11, out, sizeof(out)), -EINVAL);	/* odd */
	assert_int_equal(petrel_unhex("00017f80ab", 10, out, sizeof(out)), -EINVAL);	/* short */
	assert_int_equal(petrel_unhex("00017f80abff00", 14, out, sizeof(out)), -EINVAL);
	assert_int_equal(petrel_unhex("00017f80abfg", 12, out, sizeof(out)), -EINVAL);
	assert_int_equal(petrel_unhex("0x017f80abff", 12, out, sizeof(out)), -EINVAL);
	assert_int_equal(petrel_unhex("00017f80ab f", 12, out, sizeof(out)), -EINVAL);
	assert_int_equal(petrel_unhex("00017f80ab\0f", 12, out, sizeof(out)), -EINVAL);

	fill_random(big, sizeof(big));
	petrel_hex(big, sizeof(big), h);
	assert_int_equal(strlen(h), 2 * sizeof(big));
	assert_int_equal(petrel_unhex(h, strlen(h), back, sizeof(back)), 0);
	assert_memory_equal(back, big, sizeof(big));
}

/* ---------------------------------------------------------------- base64 */

static const struct { const char *plain, *b64; } rfc4648[] = {
	{ "", "" }, { "f", "Zg==" }, { "fo", "Zm8=" }, { "foo", "Zm9v" },
	{ "foob", "Zm9vYg==" }, { "fooba", "Zm9vYmE=" }, { "foobar", "Zm9vYmFy" },
};

static void test_b64_rfc4648(void **state)
{
	(void)state;
	for (size_t i = 0; i < PETREL_ARRAY_SIZE(rfc4648); i++) {
		const char *plain = rfc4648[i].plain, *b64 = rfc4648[i].b64;
		uint8_t out[16];
		char enc[16];
		size_t len = 99;

		petrel_b64_encode((const uint8_t *)plain, strlen(plain), enc);
		assert_string_equal(enc, b64);
		assert_int_equal(petrel_b64_decode(b64, strlen(b64), out, sizeof(out), &len), 0);
		assert_int_equal(len, strlen(plain));
		assert_memory_equal(out, plain, len);
	}
}

static void test_b64_strict(void **state)
{
	static const struct { const char *s; size_t len; } bad[] = {
#define B(lit) { lit, sizeof(lit) - 1 }
		B("Zg="), B("Zg"), B("Z"), B("Zm9vY"),			/* length not a multiple of 4 */
		B(" Zm9v"), B("Zm9v "), B("Zm 9"), B("Zm9v\nYg="),	/* whitespace */
		B("Zm9v\r\nYg=="), B("Zm9\tv"),
		B("Zm9-"), B("Zm9_"), B("Zm9*"), B("Zm9."), B("Zm\xc3\xa9"), /* bad characters */
		B("Zm\0v"),						/* embedded NUL */
		B("Zg==Zg=="), B("Zm8=Zm9v"), B("Zg=A"), B("Z=9v"),	/* '=' in the middle */
		B("=Zm9"), B("===="), B("Z==="), B("Zm=v"),
		B("QR=="), B("Zh=="), B("Zm9="), B("Zm8/Zm9="),		/* non-canonical bits */
#undef B
	};
	uint8_t out[16];
	size_t len;

	(void)state;
	for (size_t i = 0; i < PETREL_ARRAY_SIZE(bad); i++) {
		int r = petrel_b64_decode(bad[i].s, bad[i].len, out, sizeof(out), &len);

		if (r != -EINVAL)
			fail_msg("b64 case %zu \"%s\": got %d, want -EINVAL", i, bad[i].s, r);
	}
	/* the canonical neighbours of the non-canonical ones decode */
	assert_int_equal(petrel_b64_decode("QQ==", 4, out, sizeof(out), &len), 0);
	assert_int_equal(len, 1);
	assert_int_equal(out[0], 'A');
	assert_int_equal(petrel_b64_decode("Zg==", 4, out, sizeof(out), &len), 0);
	assert_int_equal(petrel_b64_decode("Zm8=", 4, out, sizeof(out), &len), 0);
	assert_int_equal(len, 2);
	/* inlen is honoured: bytes past it are not read */
	assert_int_equal(petrel_b64_decode("Zm9vGARBAGE", 4, out, sizeof(out), &len), 0);
	assert_int_equal(len, 3);
}

static void test_b64_capacity(void **state)
{
	uint8_t out[8];
	size_t len = 0;

	(void)state;
	assert_int_equal(petrel_b64_decode("Zm9vYmFy", 8, out, 6, &len), 0);
	assert_int_equal(len, 6);
	assert_int_equal(petrel_b64_decode("Zm9vYmFy", 8, out, 5, &len), -PETREL_ETOOBIG);
	assert_int_equal(petrel_b64_decode("Zm9vYmE=", 8, out, 5, &len), 0);
	assert_int_equal(len, 5);
	assert_int_equal(petrel_b64_decode("Zm9vYmE=", 8, out, 4, &len), -PETREL_ETOOBIG);
	assert_int_equal(petrel_b64_decode("Zg==", 4, out, 1, &len), 0);
	assert_int_equal(petrel_b64_decode("Zg==", 4, out, 0, &len), -PETREL_ETOOBIG);
	assert_int_equal(petrel_b64_decode("", 0, out, 0, &len), 0);
	assert_int_equal(len, 0);
	/* malformed wins over too big only where the bad group comes first */
	assert_int_equal(petrel_b64_decode("Zm9*Zm9v", 8, out, 0, &len), -EINVAL);
}

static void test_b64_roundtrip(void **state)
{
	uint8_t in[100], out[100];
	char enc[4 * 34 + 1];

	(void)state;
	for (int iter = 0; iter < 500; iter++) {
		size_t n = iter <= 100 ? (size_t)iter : (size_t)(rnd() % 101), len = 12345;

		fill_random(in, n);
		petrel_b64_encode(in, n, enc);
		assert_int_equal(strlen(enc), 4 * ((n + 2) / 3));
		assert_int_equal(petrel_b64_decode(enc, strlen(enc), out, n, &len), 0);
		assert_int_equal(len, n);
		assert_memory_equal(out, in, n);
		if (n > 0)
			assert_int_equal(petrel_b64_decode(enc, strlen(enc), out, n - 1, &len),
					 -PETREL_ETOOBIG);
	}
}

/* ---------------------------------------------------------------- numbers */

static void test_parse_u64(void **state)
{
	static const char *const bad[] = {
		"", "-1", "+1", "-0", " 1", "1 ", " ", "1a", "0x10", "1.0", "1e3", "１",
	};
	uint64_t v;

	(void)state;
	assert_int_equal(petrel_parse_u64("0", &v), 0);
	assert_int_equal(v, 0);
	assert_int_equal(petrel_parse_u64("42", &v), 0);
	assert_int_equal(v, 42);
	assert_int_equal(petrel_parse_u64("18446744073709551615", &v), 0);
	assert_true(v == UINT64_MAX);
	assert_int_equal(petrel_parse_u64("18446744073709551616", &v), -ERANGE);
	assert_int_equal(petrel_parse_u64("18446744073709551620", &v), -ERANGE);
	assert_int_equal(petrel_parse_u64("99999999999999999999", &v), -ERANGE);
	assert_int_equal(petrel_parse_u64("184467440737095516150", &v), -ERANGE);
	assert_int_equal(petrel_parse_u64("1844674407370955161", &v), 0);
	assert_true(v == UINT64_MAX / 10);
	for (size_t i = 0; i < PETREL_ARRAY_SIZE(bad); i++) {
		v = 7;
		if (petrel_parse_u64(bad[i], &v) != -EINVAL)
			fail_msg("parse_u64(\"%s\") accepted", bad[i]);
	}
}

/* 2026-05-12T03:04:10Z, from `date -u -d 2026-05-12T03:04:10Z +%s` */
#define T0 INT64_C(1778555050)

static void test_parse_rfc3339(void **state)
{
	static const struct { const char *s; int64_t t; } good[] = {
		{ "2026-05-12T03:04:10-00:00", T0 },
		{ "2026-05-12T03:04:10+00:00", T0 },
		{ "2026-05-12T03:04:10Z", T0 },
		{ "2026-05-12t03:04:10z", T0 },
		{ "2026-05-12T05:04:10+02:00", T0 },
		{ "2026-05-11T21:34:10-05:30", T0 },
		{ "2026-05-12T03:04:10.5Z", T0 },
		{ "2026-05-12T03:04:10.123456789+00:00", T0 },
		{ "2026-05-12T04:04:10.999+01:00", T0 },
		{ "1970-01-01T00:00:00Z", 0 },
		{ "1970-01-01T00:00:00+01:00", -3600 },
		{ "2000-02-29T23:59:59Z", INT64_C(951868799) },
		{ "2026-01-01T00:30:00+23:59", INT64_C(1767141060) },	/* 2025-12-31T00:31:00Z */
	};
	static const char *const bad[] = {
		"", "2026-05-12", "2026-05-12T03:04:10", "2026-05-12T03:04Z",
		"2026-00-12T03:04:10Z", "2026-13-12T03:04:10Z",	/* month */
		"2026-05-00T03:04:10Z", "2026-05-32T03:04:10Z",	/* day */
		"2026-05-12T24:04:10Z", "2026-05-12T03:60:10Z", "2026-05-12T03:04:61Z",
		"2026-05-12T03:04:10+24:00", "2026-05-12T03:04:10+02:60",
		"2026-05-12T03:04:10+0200", "2026-05-12T03:04:10+02", "2026-05-12T03:04:10 +02:00",
		"2026-05-12T03:04:10Zjunk", "2026-05-12T03:04:10+02:00junk",
		"2026-05-12T03:04:10+02:00 ", "2026-05-12T03:04:10Z ", "2026-05-12T03:04:10ZZ",
		"2026-05-12T03:04:10.Z", "2026-05-12T03:04:10.+00:00", "2026-05-12T03:04:10,5Z",
		"26-05-12T03:04:10Z", "2026-5-12T03:04:10Z", "2026-05-12T3:04:10Z",
		"2026/05/12T03:04:10Z", "2026-05-12X03:04:10Z", "+2026-05-12T03:04:10Z",
		"2026-05-12T03:04:1OZ", "2026-05-12T03:04:10UTC",
	};
	int64_t t;

	(void)state;
	for (size_t i = 0; i < PETREL_ARRAY_SIZE(good); i++) {
		t = -42;
		if (petrel_parse_rfc3339(good[i].s, &t) != 0)
			fail_msg("rfc3339 \"%s\" refused", good[i].s);
		if (t != good[i].t)
			fail_msg("rfc3339 \"%s\": got %lld, want %lld", good[i].s, (long long)t,
				 (long long)good[i].t);
	}
	for (size_t i = 0; i < PETREL_ARRAY_SIZE(bad); i++)
		if (petrel_parse_rfc3339(bad[i], &t) != -EINVAL)
			fail_msg("rfc3339 \"%s\" accepted", bad[i]);
}

/* Days that do not exist in their month are refused, not normalised (a fixed bug). */
static void test_parse_rfc3339_mday(void **state)
{
	static const char *const bad[] = {
		"2026-02-30T00:00:00Z", "2026-02-29T00:00:00Z", "2026-04-31T00:00:00Z",
		"2100-02-29T00:00:00Z",
	};
	int64_t t;

	(void)state;
	for (size_t i = 0; i < PETREL_ARRAY_SIZE(bad); i++)
		if (petrel_parse_rfc3339(bad[i], &t) != -EINVAL)
			fail_msg("rfc3339 \"%s\" accepted as %lld", bad[i], (long long)t);
}

static void test_format_time(void **state)
{
	char s[32];
	int64_t t;

	(void)state;
	petrel_format_time(T0, s, sizeof(s));
	assert_string_equal(s, "2026-05-12T03:04:10Z");
	assert_int_equal(petrel_parse_rfc3339(s, &t), 0);
	assert_true(t == T0);
}

/* ---------------------------------------------------------------- names */

static void test_uuid_valid(void **state)
{
	static const char *const good[] = {
		"0e7f6f4e-2b1c-4d3a-9f8e-7a6b5c4d3e2f", "0E7F6F4E-2B1C-4D3A-9F8E-7A6B5C4D3E2F",
		"00000000-0000-0000-0000-000000000000",
	};
	static const char *const bad[] = {
		"", "0e7f6f4e-2b1c-4d3a-9f8e-7a6b5c4d3e2", "0e7f6f4e-2b1c-4d3a-9f8e-7a6b5c4d3e2f0",
		"0e7f6f4e2b1c4d3a9f8e7a6b5c4d3e2f", "0e7f6f4e-2b1c-4d3a-9f8e-7a6b5c4d3e2g",
		"0e7f6f4e-2b1c-4d3a-9f8e_7a6b5c4d3e2f", "0e7f6f4-e2b1c-4d3a-9f8e-7a6b5c4d3e2f",
		"{e7f6f4e-2b1c-4d3a-9f8e-7a6b5c4d3e2}", "0e7f6f4e-2b1c-4d3a-9f8e-7a6b5c4d3e2/",
		"../../../../../../../../../etc/pass", "0e7f6f4e 2b1c 4d3a 9f8e 7a6b5c4d3e2f",
	};

	(void)state;
	for (size_t i = 0; i < PETREL_ARRAY_SIZE(good); i++)
		if (petrel_uuid_valid(good[i]) != 1)
			fail_msg("uuid \"%s\" refused", good[i]);
	for (size_t i = 0; i < PETREL_ARRAY_SIZE(bad); i++)
		if (petrel_uuid_valid(bad[i]) != 0)
			fail_msg("uuid \"%s\" accepted", bad[i]);
}

static void test_name_valid(void **state)
{
	static const char *const good[] = {
		"hello", "a", "a.b_c+d-E9", "hello-1.2.3+x86_64", "...", ".hidden", "x..y",
	};
	static const char *const bad[] = {
		"", ".", "..", "/", "a/b", "../x", "a\\b", "a b", "a\tb", "a\nb", "a:b", "a*",
		"caf\xc3\xa9", "a%2fb", "~", "a$b",
	};
	char name[PETREL_NAME_MAX + 2];

	(void)state;
	for (size_t i = 0; i < PETREL_ARRAY_SIZE(good); i++)
		if (petrel_name_valid(good[i], PETREL_NAME_MAX) != 1)
			fail_msg("name \"%s\" refused", good[i]);
	for (size_t i = 0; i < PETREL_ARRAY_SIZE(bad); i++)
		if (petrel_name_valid(bad[i], PETREL_NAME_MAX) != 0)
			fail_msg("name \"%s\" accepted", bad[i]);
	memset(name, 'a', PETREL_NAME_MAX);
	name[PETREL_NAME_MAX] = '\0';
	assert_int_equal(petrel_name_valid(name, PETREL_NAME_MAX), 1);	/* exactly max */
	name[PETREL_NAME_MAX] = 'a';
	name[PETREL_NAME_MAX + 1] = '\0';
	assert_int_equal(petrel_name_valid(name, PETREL_NAME_MAX), 0);	/* max + 1 */
	assert_int_equal(petrel_name_valid("abc", 2), 0);
	assert_int_equal(petrel_name_valid("ab", 2), 1);
}

/* ---------------------------------------------------------------- buf */

static void test_buf_ceiling(void **state)
{
	struct petrel_buf b;

	(void)state;
	petrel_buf_init(&b, 10);
	assert_null(b.data);
	assert_int_equal(petrel_buf_append(&b, "0123", 4), 0);
	assert_int_equal(petrel_buf_append(&b, "456789", 6), 0);	/* exactly max */
	assert_int_equal(b.len, 10);
	assert_string_equal(b.data, "0123456789");
	assert_int_equal(petrel_buf_append(&b, "x", 1), -PETREL_ETOOBIG);	/* one more */
	assert_int_equal(b.len, 10);
	assert_string_equal(b.data, "0123456789");
	assert_int_equal(petrel_buf_append(&b, "", 0), 0);	/* nothing still fits */
	assert_int_equal(b.len, 10);
	assert_int_equal(petrel_buf_append(&b, "xyzxyzxyzxyz", 12), -PETREL_ETOOBIG);
	assert_string_equal(b.data, "0123456789");
	petrel_buf_release(&b);
	assert_null(b.data);
	assert_int_equal(b.len, 0);
	assert_int_equal(b.max, 10);

	/* one append of max + 1 into an empty buffer */
	petrel_buf_init(&b, 10);
	assert_int_equal(petrel_buf_append(&b, "0123456789A", 11), -PETREL_ETOOBIG);
	assert_int_equal(b.len, 0);
	petrel_buf_release(&b);

	/* max 0: only nothing fits */
	petrel_buf_init(&b, 0);
	assert_int_equal(petrel_buf_append(&b, "", 0), 0);
	assert_int_equal(petrel_buf_append(&b, "a", 1), -PETREL_ETOOBIG);
	assert_int_equal(b.len, 0);
	petrel_buf_release(&b);
}

static void test_buf_grow(void **state)
{
	static uint8_t src[5000];
	struct petrel_buf b;
	size_t off = 0;

	(void)state;
	fill_random(src, sizeof(src));
	for (size_t i = 0; i < sizeof(src); i++)	/* no NUL inside, so strlen checks work */
		src[i] = src[i] ? src[i] : 1;
	petrel_buf_init(&b, sizeof(src));
	while (off < sizeof(src)) {
		size_t n = (size_t)(rnd() % 700);

		if (n > sizeof(src) - off)
			n = sizeof(src) - off;
		assert_int_equal(petrel_buf_append(&b, src + off, n), 0);
		off += n;
		assert_int_equal(b.len, off);
		assert_true(b.cap >= b.len + 1);
		assert_true(b.cap <= b.max + 1);
		assert_int_equal(b.data[b.len], '\0');
		assert_memory_equal(b.data, src, off);
	}
	assert_int_equal(strlen(b.data), sizeof(src));
	assert_int_equal(petrel_buf_append(&b, "x", 1), -PETREL_ETOOBIG);
	assert_memory_equal(b.data, src, sizeof(src));
	petrel_buf_release(&b);
}

static void test_buf_reset_printf(void **state)
{
	struct petrel_buf b;
	char *keep;

	(void)state;
	petrel_buf_init(&b, 16);
	petrel_buf_reset(&b);	/* on an empty buffer: harmless */
	assert_int_equal(b.len, 0);
	assert_int_equal(petrel_buf_printf(&b, "%s=%d", "ab", 12), 0);
	assert_string_equal(b.data, "ab=12");
	assert_int_equal(petrel_buf_printf(&b, "/%03u", 7u), 0);
	assert_string_equal(b.data, "ab=12/007");
	assert_int_equal(b.len, 9);
	keep = b.data;
	petrel_buf_reset(&b);
	assert_int_equal(b.len, 0);
	assert_ptr_equal(b.data, keep);	/* keeps memory */
	assert_string_equal(b.data, "");
	assert_int_equal(petrel_buf_printf(&b, "%s", "0123456789abcdef"), 0);	/* exactly max */
	assert_int_equal(b.len, 16);
	assert_int_equal(petrel_buf_printf(&b, "%c", 'x'), -PETREL_ETOOBIG);
	assert_string_equal(b.data, "0123456789abcdef");
	petrel_buf_reset(&b);
	assert_int_equal(petrel_buf_printf(&b, "%s", "0123456789abcdefg"), -PETREL_ETOOBIG);
	assert_int_equal(b.len, 0);
	assert_string_equal(b.data, "");
	assert_int_equal(petrel_buf_printf(&b, "%s", ""), 0);
	assert_int_equal(b.len, 0);
	petrel_buf_release(&b);
}

/* petrel_buf_printf formats a result longer than 1024 bytes when the buffer's ceiling
 * allows it (it once went through a 1024-byte stack buffer and failed). */
static void test_buf_printf_long(void **state)
{
	static char s[2000];
	struct petrel_buf b;

	(void)state;
	memset(s, 'a', sizeof(s) - 1);
	petrel_buf_init(&b, 4096);
	assert_int_equal(petrel_buf_printf(&b, "%s", s), 0);
	assert_int_equal(b.len, sizeof(s) - 1);
	petrel_buf_release(&b);
}

/* max == SIZE_MAX neither wraps grow()'s cap to 0 nor overflows the heap (it once did:
 * cap = max + 1 == 0, a realloc to 0 bytes, then the memcpy). */
static void test_buf_max_sizemax(void **state)
{
	struct petrel_buf b;

	(void)state;
	petrel_buf_init(&b, SIZE_MAX);
	assert_int_equal(petrel_buf_append(&b, "hello", 5), 0);
	assert_true(b.cap >= 6);
	assert_string_equal(b.data, "hello");
	petrel_buf_release(&b);
}

/* ---------------------------------------------------------------- fs */

struct fsfix {
	char dir[64];
	char path[128];
};

static struct petrel_sysops real_sys;

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb, (void)flag, (void)ftw;
	chmod(path, 0700);
	return remove(path);
}

static int fs_setup(void **state)
{
	struct fsfix *f = calloc(1, sizeof(*f));

	if (!f)
		return -1;
	memcpy(f->dir, "/tmp/petrel-common-XXXXXX", sizeof("/tmp/petrel-common-XXXXXX"));
	if (!mkdtemp(f->dir))
		return -1;
	snprintf(f->path, sizeof(f->path), "%s/file", f->dir);
	real_sys = petrel_sys;
	*state = f;
	return 0;
}

static int fs_teardown(void **state)
{
	struct fsfix *f = *state;

	petrel_sys = real_sys;
	unsetenv("PETREL_FAULT");
	nftw(f->dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	free(f);
	return 0;
}

static void write_file(const char *path, const char *s, mode_t mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, s, strlen(s)), (ssize_t)strlen(s));
	assert_int_equal(close(fd), 0);
}

/* Asserts path holds exactly s. */
static void assert_content(const char *path, const char *s)
{
	char *data = NULL;
	size_t len = 0;

	assert_int_equal(petrel_read_file(path, 1 << 20, &data, &len), 0);
	assert_int_equal(len, strlen(s));
	assert_memory_equal(data, s, len);
	free(data);
}

/* Number of directory entries other than . and ..; *temps gets those with ".petrel-". */
static int count_entries(const char *dir, int *temps)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int n = 0;

	assert_non_null(d);
	*temps = 0;
	while ((e = readdir(d)) != NULL) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		n++;
		if (strstr(e->d_name, ".petrel-"))
			(*temps)++;
	}
	closedir(d);
	return n;
}

static void test_atomic_write(void **state)
{
	struct fsfix *f = *state;
	struct stat st;
	int temps;
	mode_t um = umask(022);

	assert_int_equal(petrel_atomic_write(f->path, "first\n", 6, 0640), 0);
	assert_content(f->path, "first\n");
	assert_int_equal(stat(f->path, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0640);
	assert_int_equal(count_entries(f->dir, &temps), 1);
	assert_int_equal(temps, 0);

	/* replaces: new content, new mode, new inode (a reader's old fd keeps the old file) */
	int fd = open(f->path, O_RDONLY | O_CLOEXEC);
	char old[16] = "";

	assert_true(fd >= 0);
	assert_int_equal(petrel_atomic_write(f->path, "second, longer\n", 15, 0600), 0);
	assert_int_equal(read(fd, old, sizeof(old) - 1), 6);
	assert_string_equal(old, "first\n");
	close(fd);
	assert_content(f->path, "second, longer\n");
	assert_int_equal(stat(f->path, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);
	assert_int_equal(count_entries(f->dir, &temps), 1);
	assert_int_equal(temps, 0);

	/* mode is exact, not filtered by the umask; empty content works */
	umask(077);
	assert_int_equal(petrel_atomic_write(f->path, "", 0, 0644), 0);
	assert_content(f->path, "");
	assert_int_equal(stat(f->path, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0644);
	umask(um);

	/* a missing directory fails cleanly */
	char missing[160];

	snprintf(missing, sizeof(missing), "%s/nodir/file", f->dir);
	assert_int_equal(petrel_atomic_write(missing, "x", 1, 0644), -ENOENT);
	assert_int_equal(count_entries(f->dir, &temps), 1);
}

/*
 * Replacement syscalls for fault injection. Writes are cut to 4 KiB so one file takes
 * several write calls. The fail_k-th call of a kind fails with EIO (fail_k == 0: every
 * call); fail_errno overrides the errno.
 */
static int calls_write, calls_fsync, calls_rename, fail_k, fail_errno;

static int inject(int *calls)
{
	if (fail_k == 0 || ++*calls == fail_k) {
		errno = fail_errno ? fail_errno : EIO;
		return 1;
	}
	return 0;
}

static ssize_t fake_write(int fd, const void *p, size_t n)
{
	if (inject(&calls_write))
		return -1;
	return real_sys.write(fd, p, n > 4096 ? 4096 : n);
}

static int fake_fsync(int fd)
{
	return inject(&calls_fsync) ? -1 : real_sys.fsync(fd);
}

static int fake_rename(const char *from, const char *to)
{
	return inject(&calls_rename) ? -1 : real_sys.rename(from, to);
}

static void arm(int k, int e)
{
	calls_write = calls_fsync = calls_rename = 0;
	fail_k = k;
	fail_errno = e;
}

static char big_new[100000];

/* One atomic write that must fail with want, leaving the old file and no temp file. */
static void check_failed_write(struct fsfix *f, int want)
{
	int temps;

	memset(big_new, 'n', sizeof(big_new));
	assert_int_equal(petrel_atomic_write(f->path, big_new, sizeof(big_new), 0600), want);
	petrel_sys = real_sys;
	assert_content(f->path, "old content\n");
	assert_int_equal(count_entries(f->dir, &temps), 1);
	assert_int_equal(temps, 0);
}

static void test_atomic_write_faults(void **state)
{
	struct fsfix *f = *state;
	struct stat st;
	int temps;

	write_file(f->path, "old content\n", 0644);

	arm(0, 0);	/* every write fails */
	petrel_sys.write = fake_write;
	check_failed_write(f, -EIO);
	arm(5, 0);	/* the 5th write, with 16 KiB of the temp file already written */
	petrel_sys.write = fake_write;
	check_failed_write(f, -EIO);
	assert_int_equal(calls_write, 5);
	arm(0, ENOSPC);	/* the errno travels */
	petrel_sys.write = fake_write;
	check_failed_write(f, -ENOSPC);

	arm(1, 0);	/* the file's fsync */
	petrel_sys.fsync = fake_fsync;
	check_failed_write(f, -EIO);
	assert_int_equal(calls_fsync, 1);

	arm(0, 0);
	petrel_sys.rename = fake_rename;
	check_failed_write(f, -EIO);

	/* EINTR is retried, short writes are completed */
	arm(1, EINTR);
	petrel_sys.write = fake_write;
	assert_int_equal(petrel_atomic_write(f->path, big_new, sizeof(big_new), 0600), 0);
	assert_true(calls_write > 25);
	petrel_sys = real_sys;
	assert_int_equal(stat(f->path, &st), 0);
	assert_int_equal(st.st_size, sizeof(big_new));
	assert_int_equal(count_entries(f->dir, &temps), 1);
	assert_int_equal(temps, 0);

	/* the directory's fsync (2nd) fails after the rename: reported, no temp file left */
	write_file(f->path, "old content\n", 0644);
	arm(2, 0);
	petrel_sys.fsync = fake_fsync;
	assert_int_equal(petrel_atomic_write(f->path, "x", 1, 0600), -EIO);
	assert_int_equal(calls_fsync, 2);
	petrel_sys = real_sys;
	assert_int_equal(count_entries(f->dir, &temps), 1);
	assert_int_equal(temps, 0);
}

/* PETREL_FAULT="fsync:2": exactly the 2nd fsync after petrel_fault_init() fails. The
 * counters are static and count only while armed; no other test arms fsync first. */
static void test_fault_env_fsync(void **state)
{
	struct fsfix *f = *state;
	int fd, r[5];

	fd = open(f->path, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
	assert_true(fd >= 0);
	assert_int_equal(setenv("PETREL_FAULT", "fsync:2", 1), 0);
	assert_int_equal(petrel_fault_init(), 0);
	for (int i = 0; i < 5; i++)
		r[i] = petrel_fsync(fd);
	assert_int_equal(setenv("PETREL_FAULT", "fsync:0", 1), 0);	/* disarm */
	assert_int_equal(petrel_fault_init(), 0);
	close(fd);
	assert_int_equal(r[0], 0);
	assert_int_equal(r[1], -EIO);
	assert_int_equal(r[2], 0);
	assert_int_equal(r[3], 0);
	assert_int_equal(r[4], 0);
}

/* PETREL_FAULT="rename:1" fails an atomic write cleanly. */
static void test_fault_env_rename(void **state)
{
	struct fsfix *f = *state;

	write_file(f->path, "old content\n", 0644);
	assert_int_equal(setenv("PETREL_FAULT", "rename:1", 1), 0);
	assert_int_equal(petrel_fault_init(), 0);
	check_failed_write(f, -EIO);
	/* the fault fired once; the next write goes through */
	assert_int_equal(petrel_atomic_write(f->path, "new\n", 4, 0600), 0);
	assert_int_equal(setenv("PETREL_FAULT", "rename:0", 1), 0);
	assert_int_equal(petrel_fault_init(), 0);
	assert_content(f->path, "new\n");
}

/* petrel_fault_init() resets the call counters: arming the same kind a second time in
 * one process counts from zero and fires (it once counted on and never fired). */
static void test_fault_env_rearm(void **state)
{
	struct fsfix *f = *state;
	int fd, r[3], round;

	fd = open(f->path, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
	assert_true(fd >= 0);
	for (round = 0; round < 2; round++) {
		assert_int_equal(setenv("PETREL_FAULT", "fsync:2", 1), 0);
		assert_int_equal(petrel_fault_init(), 0);
		for (int i = 0; i < 3; i++)
			r[i] = petrel_fsync(fd);
		setenv("PETREL_FAULT", "fsync:0", 1);
		petrel_fault_init();
		if (r[0] != 0 || r[1] != -EIO || r[2] != 0)
			break;
	}
	close(fd);
	assert_int_equal(r[0], 0);
	assert_int_equal(r[1], -EIO);
	assert_int_equal(r[2], 0);
}

static void test_fault_env_bad(void **state)
{
	static const char *const bad[] = {
		"x:1", "write", "write:abc", "write:", ":1", "write:-1", "write:+1", "write: 1",
		"fsync:2x", "fsync:1;rename:1", "WRITE:1", "write:18446744073709551616",
	};

	(void)state;
	for (size_t i = 0; i < PETREL_ARRAY_SIZE(bad); i++) {
		assert_int_equal(setenv("PETREL_FAULT", bad[i], 1), 0);
		if (petrel_fault_init() != -EINVAL)
			fail_msg("PETREL_FAULT=\"%s\" accepted", bad[i]);
	}
	assert_int_equal(setenv("PETREL_FAULT", "", 1), 0);
	assert_int_equal(petrel_fault_init(), 0);
	assert_int_equal(unsetenv("PETREL_FAULT"), 0);
	assert_int_equal(petrel_fault_init(), 0);
	/* the nothing-armed spelling is valid */
	assert_int_equal(setenv("PETREL_FAULT", "write:0,fsync:0,rename:0", 1), 0);
	assert_int_equal(petrel_fault_init(), 0);
}

static void test_read_file(void **state)
{
	struct fsfix *f = *state;
	char *data = (char *)"sentinel", path[160];
	size_t len = 777;
	static char hundred[101];

	memset(hundred, 'h', 100);
	write_file(f->path, hundred, 0600);
	assert_int_equal(petrel_read_file(f->path, 100, &data, &len), 0);	/* exactly max */
	assert_int_equal(len, 100);
	assert_memory_equal(data, hundred, 100);
	assert_int_equal(data[100], '\0');
	free(data);
	data = (char *)"sentinel";
	len = 777;
	assert_int_equal(petrel_read_file(f->path, 99, &data, &len), -PETREL_ETOOBIG);
	assert_string_equal(data, "sentinel");	/* untouched on failure */
	assert_int_equal(len, 777);
	assert_int_equal(petrel_read_file(f->path, 4096, &data, &len), 0);
	assert_int_equal(len, 100);
	free(data);

	/* empty file, max 0 */
	snprintf(path, sizeof(path), "%s/empty", f->dir);
	write_file(path, "", 0600);
	assert_int_equal(petrel_read_file(path, 0, &data, &len), 0);
	assert_int_equal(len, 0);
	assert_string_equal(data, "");
	free(data);

	/* a directory is refused, a missing file is -ENOENT */
	data = (char *)"sentinel";
	assert_int_equal(petrel_read_file(f->dir, 1 << 20, &data, &len), -EINVAL);
	snprintf(path, sizeof(path), "%s/missing", f->dir);
	assert_int_equal(petrel_read_file(path, 1 << 20, &data, &len), -ENOENT);
	assert_string_equal(data, "sentinel");

	/* a symlink to a file is followed (documented) */
	snprintf(path, sizeof(path), "%s/link", f->dir);
	assert_int_equal(symlink(f->path, path), 0);
	assert_int_equal(petrel_read_file(path, 100, &data, &len), 0);
	assert_int_equal(len, 100);
	free(data);

	/* a file whose st_size lies (0 in /proc) is still held to max while reading */
	if (access("/proc/self/status", R_OK) == 0) {
		data = (char *)"sentinel";
		assert_int_equal(petrel_read_file("/proc/self/status", 10, &data, &len),
				 -PETREL_ETOOBIG);
		assert_string_equal(data, "sentinel");
	}
}

static void assert_is_dir(const char *path, mode_t mode)
{
	struct stat st;

	assert_int_equal(stat(path, &st), 0);
	assert_true(S_ISDIR(st.st_mode));
	if (mode)
		assert_int_equal(st.st_mode & 0777, mode);
}

static void test_mkdir_p(void **state)
{
	struct fsfix *f = *state;
	char path[200];
	static char longpath[5000];

	snprintf(path, sizeof(path), "%s/a/b/c", f->dir);
	assert_int_equal(petrel_mkdir_p(path, 0700), 0);
	assert_is_dir(path, 0700);
	snprintf(path, sizeof(path), "%s/a/b", f->dir);
	assert_is_dir(path, 0700);
	snprintf(path, sizeof(path), "%s/a/b/c", f->dir);
	assert_int_equal(petrel_mkdir_p(path, 0700), 0);	/* again: fine */
	snprintf(path, sizeof(path), "%s/a/x/y/", f->dir);	/* trailing slash */
	assert_int_equal(petrel_mkdir_p(path, 0755), 0);
	assert_is_dir(path, 0);
	snprintf(path, sizeof(path), "%s//a//z", f->dir);	/* doubled slashes */
	assert_int_equal(petrel_mkdir_p(path, 0755), 0);
	snprintf(path, sizeof(path), "%s/a/z", f->dir);
	assert_is_dir(path, 0);

	/* a regular file in the way of a parent */
	write_file(f->path, "x", 0600);
	snprintf(path, sizeof(path), "%s/sub/dir", f->path);
	assert_int_equal(petrel_mkdir_p(path, 0700), -ENOTDIR);

	/* over the 4096-byte path limit */
	memset(longpath, 'a', sizeof(longpath) - 1);
	longpath[0] = '/';
	assert_int_equal(petrel_mkdir_p(longpath, 0700), -PETREL_ETOOBIG);
}

/* When the last component exists as a regular file, petrel_mkdir_p fails as mkdir -p
 * does (it once ignored EEXIST without checking for a directory and returned 0). */
static void test_mkdir_p_file(void **state)
{
	struct fsfix *f = *state;

	write_file(f->path, "x", 0600);
	assert_int_not_equal(petrel_mkdir_p(f->path, 0700), 0);
}

static void test_dirname(void **state)
{
	static const struct { const char *in, *out; } cases[] = {
		{ "a/b", "a" }, { "/a/b/c", "/a/b" }, { "/a", "/" }, { "/", "/" }, { "a", "." },
		{ "", "." }, { "./a", "." }, { "../a", ".." }, { "/tmp/x.petrel-1", "/tmp" },
	};
	char out[16];

	(void)state;
	for (size_t i = 0; i < PETREL_ARRAY_SIZE(cases); i++) {
		memset(out, 'z', sizeof(out));
		assert_int_equal(petrel_dirname(cases[i].in, out, sizeof(out)), 0);
		if (strcmp(out, cases[i].out))
			fail_msg("dirname(\"%s\") = \"%s\", want \"%s\"", cases[i].in, out,
				 cases[i].out);
	}
	assert_int_equal(petrel_dirname("abc/d", out, 4), 0);	/* "abc" exactly fits */
	assert_string_equal(out, "abc");
	assert_int_equal(petrel_dirname("abcd/e", out, 4), -PETREL_ETOOBIG);
	assert_int_equal(petrel_dirname("a", out, 1), -PETREL_ETOOBIG);
	assert_int_equal(petrel_dirname("/a", out, 1), -PETREL_ETOOBIG);
}

/* ---------------------------------------------------------------- fanout */

#define SLOT PETREL_FANOUT_SLOT
#define STREAM_MAX (10 * SLOT + 7)
#define FNV_OFFSET 0xcbf29ce484222325ull

static uint8_t *stream;	/* STREAM_MAX random bytes, made by the group setup */

static uint64_t fnv(uint64_t h, const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		h = (h ^ p[i]) * 0x100000001b3ull;
	return h;
}

struct sink {
	uint64_t hash;
	size_t bytes, calls, max_chunk, empty;
	size_t fail_at;		/* 1-based call that returns fail_code; 0: never */
	int fail_code;
	unsigned delay_us;
};

static int sink_fn(void *ctx, const void *p, size_t n)
{
	struct sink *s = ctx;

	if (++s->calls == s->fail_at)
		return s->fail_code;
	s->hash = fnv(s->hash, p, n);
	s->bytes += n;
	if (n > s->max_chunk)
		s->max_chunk = n;
	if (n == 0)
		s->empty++;
	if (s->delay_us)
		usleep(s->delay_us);
	return 0;
}

static void sinks_init(struct sink *s, size_t n, petrel_consume_fn *fns, void **ctxs)
{
	for (size_t i = 0; i < n; i++) {
		memset(&s[i], 0, sizeof(s[i]));
		s[i].hash = FNV_OFFSET;
		fns[i] = sink_fn;
		ctxs[i] = &s[i];
	}
}

static size_t pick_chunk(void)
{
	switch (rnd() % 5) {
	case 0: return (size_t)(rnd() % 16);
	case 1: return (size_t)(rnd() % 4096);
	case 2: return (size_t)(rnd() % (SLOT + 2));
	case 3: return SLOT - 1 + (size_t)(rnd() % 3);
	default: return (size_t)(rnd() % (3 * SLOT));
	}
}

/* Writes stream[0..len) in random chunks to nc consumers; each must see it all, in order. */
static void run_stream(size_t nc, size_t len)
{
	struct petrel_fanout *fo = NULL;
	struct sink s[PETREL_FANOUT_MAX] = { 0 };
	petrel_consume_fn fns[PETREL_FANOUT_MAX] = { 0 };
	void *ctxs[PETREL_FANOUT_MAX] = { 0 };
	uint64_t want = fnv(FNV_OFFSET, stream, len);
	size_t off = 0;

	sinks_init(s, nc, fns, ctxs);
	assert_int_equal(petrel_fanout_new(&fo, nc, fns, ctxs), 0);
	while (off < len) {
		size_t n = pick_chunk();

		if (n > len - off)
			n = len - off;
		assert_int_equal(petrel_fanout_write(fo, stream + off, n), 0);
		off += n;
	}
	assert_int_equal(petrel_fanout_finish(fo), 0);
	petrel_fanout_free(fo);
	for (size_t i = 0; i < nc; i++) {
		if (s[i].bytes != len || s[i].hash != want)
			fail_msg("%zu consumers, %zu bytes: consumer %zu saw %zu bytes, hash %llx, "
				 "want %llx", nc, len, i, s[i].bytes, (unsigned long long)s[i].hash,
				 (unsigned long long)want);
		assert_true(s[i].max_chunk <= SLOT);
		assert_true(s[i].calls >= (len + SLOT - 1) / SLOT);
	}
}

static void test_fanout_streams(void **state)
{
	static const size_t lens[] = { 0, 1, SLOT - 1, SLOT, SLOT + 1, 10 * SLOT + 7 };
	static const size_t ncs[] = { 1, 2, 4 };

	(void)state;
	alarm(300);	/* a hang kills the run instead of blocking prove forever */
	for (size_t i = 0; i < PETREL_ARRAY_SIZE(ncs); i++)
		for (size_t j = 0; j < PETREL_ARRAY_SIZE(lens); j++)
			run_stream(ncs[i], lens[j]);
	alarm(0);
}

/* The last of nc consumers fails at its 3rd chunk of a 64-slot stream. */
static void run_failing(size_t nc)
{
	struct petrel_fanout *fo = NULL;
	struct sink s[PETREL_FANOUT_MAX] = { 0 };
	petrel_consume_fn fns[PETREL_FANOUT_MAX] = { 0 };
	void *ctxs[PETREL_FANOUT_MAX] = { 0 };
	size_t total = 64 * SLOT, off = 0, chunk = 100000;
	int r = 0;

	sinks_init(s, nc, fns, ctxs);
	s[nc - 1].fail_at = 3;
	s[nc - 1].fail_code = -PETREL_EHASH;
	assert_int_equal(petrel_fanout_new(&fo, nc, fns, ctxs), 0);
	while (off < total) {
		size_t n = total - off < chunk ? total - off : chunk;

		r = petrel_fanout_write(fo, stream + off % (STREAM_MAX - chunk), n);
		if (r)
			break;
		off += n;
	}
	assert_int_equal(r, -PETREL_EHASH);
	/* the producer stopped early: at most the ring ahead of the failed 3rd slot */
	assert_true(off <= (3 + PETREL_FANOUT_SLOTS + 1) * SLOT);
	assert_int_equal(petrel_fanout_write(fo, stream, 10), -PETREL_EHASH);	/* dead */
	assert_int_equal(petrel_fanout_finish(fo), -PETREL_EHASH);
	petrel_fanout_free(fo);
	assert_int_equal(s[nc - 1].calls, 3);	/* not called after its error */
	assert_int_equal(s[nc - 1].bytes, 2 * SLOT);
}

static void test_fanout_error(void **state)
{
	struct petrel_fanout *fo = NULL;
	struct sink s[2] = { 0 };
	petrel_consume_fn fns[2] = { 0 };
	void *ctxs[2] = { 0 };

	(void)state;
	alarm(300);
	run_failing(1);
	run_failing(2);
	run_failing(4);

	/* an error on the only (partial) slot shows at finish */
	sinks_init(s, 2, fns, ctxs);
	s[0].fail_at = 1;
	s[0].fail_code = -EIO;
	assert_int_equal(petrel_fanout_new(&fo, 2, fns, ctxs), 0);
	assert_int_equal(petrel_fanout_write(fo, stream, 10), 0);
	assert_int_equal(petrel_fanout_finish(fo), -EIO);
	petrel_fanout_free(fo);
	alarm(0);
}

static void test_fanout_free_unfinished(void **state)
{
	struct petrel_fanout *fo = NULL;
	struct sink s[PETREL_FANOUT_MAX] = { 0 };
	petrel_consume_fn fns[PETREL_FANOUT_MAX] = { 0 };
	void *ctxs[PETREL_FANOUT_MAX] = { 0 };

	(void)state;
	alarm(300);
	/* no data at all */
	sinks_init(s, 4, fns, ctxs);
	assert_int_equal(petrel_fanout_new(&fo, 4, fns, ctxs), 0);
	petrel_fanout_free(fo);
	assert_int_equal(s[0].calls, 0);

	/* slow consumers with a full ring and a partial slot */
	sinks_init(s, 4, fns, ctxs);
	for (int i = 0; i < 4; i++)
		s[i].delay_us = 20000;
	assert_int_equal(petrel_fanout_new(&fo, 4, fns, ctxs), 0);
	assert_int_equal(petrel_fanout_write(fo, stream, 9 * SLOT + 5), 0);
	petrel_fanout_free(fo);
	for (int i = 0; i < 4; i++)
		assert_true(s[i].bytes <= 9 * SLOT);	/* the partial slot never went out */

	petrel_fanout_free(NULL);
	alarm(0);
}

static void test_fanout_bad_args(void **state)
{
	struct petrel_fanout *fo = (struct petrel_fanout *)&fo;
	struct sink s[PETREL_FANOUT_MAX + 1] = { 0 };
	petrel_consume_fn fns[PETREL_FANOUT_MAX + 1] = { 0 };
	void *ctxs[PETREL_FANOUT_MAX + 1] = { 0 };

	(void)state;
	sinks_init(s, PETREL_FANOUT_MAX + 1, fns, ctxs);
	assert_int_equal(petrel_fanout_new(&fo, 0, fns, ctxs), -EINVAL);
	assert_int_equal(petrel_fanout_new(&fo, PETREL_FANOUT_MAX + 1, fns, ctxs), -EINVAL);
	assert_ptr_equal(fo, (struct petrel_fanout *)&fo);
}

/* ---------------------------------------------------------------- flusher */

/* The flusher's fdatasync replaced: counts calls on fd, fails those flagged, and may
 * hold each call until the test lets it go. */
static struct {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	int fd, calls, fail_first, hold, held;
} fl = { PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, -1, 0, 0, 0, 0 };

static int fake_flush(int fd)
{
	int r = 0;

	pthread_mutex_lock(&fl.lock);
	if (fd != fl.fd)
		r = -1;
	fl.calls++;
	fl.held = fl.hold;
	pthread_cond_broadcast(&fl.cond);
	while (fl.hold)
		pthread_cond_wait(&fl.cond, &fl.lock);
	if (fl.calls <= fl.fail_first)
		r = -1;
	pthread_mutex_unlock(&fl.lock);
	if (r < 0)
		errno = EIO;
	return r;
}

static void flusher_fake(int fd, int fail_first, int hold)
{
	pthread_mutex_lock(&fl.lock);
	fl.fd = fd;
	fl.calls = fl.held = 0;
	fl.fail_first = fail_first;
	fl.hold = hold;
	pthread_mutex_unlock(&fl.lock);
	petrel_sys.flush = fake_flush;
}

static int flush_calls(void)
{
	int n;

	pthread_mutex_lock(&fl.lock);
	n = fl.calls;
	pthread_mutex_unlock(&fl.lock);
	return n;
}

/* Kicks f and waits until the n-th flush began. */
static void kick_until(struct petrel_flusher *f, int n)
{
	petrel_flusher_kick(f);
	while (flush_calls() < n)
		usleep(1000);
}

/* Each kick is a flush of the file, made even when stop comes before the thread ran;
 * a stop of NULL is nothing. */
static void test_flusher_flushes(void **state)
{
	struct petrel_flusher *f = NULL;

	(void)state;
	flusher_fake(7, 0, 0);
	assert_int_equal(petrel_flusher_stop(NULL), 0);
	assert_int_equal(petrel_flusher_new(&f, 7), 0);
	assert_int_equal(petrel_flusher_stop(f), 0);
	assert_int_equal(flush_calls(), 0);	/* never asked: never flushed */
	assert_int_equal(petrel_flusher_new(&f, 7), 0);
	petrel_flusher_kick(f);
	assert_int_equal(petrel_flusher_stop(f), 0);	/* asked, then stopped at once */
	assert_int_equal(flush_calls(), 1);
	flusher_fake(7, 0, 0);
	assert_int_equal(petrel_flusher_new(&f, 7), 0);
	kick_until(f, 1);
	kick_until(f, 2);
	assert_int_equal(petrel_flusher_stop(f), 0);
	assert_int_equal(flush_calls(), 2);
}

/* Kicks while a flush runs make one flush after it, not one each. */
static void test_flusher_coalesces(void **state)
{
	struct petrel_flusher *f = NULL;

	(void)state;
	flusher_fake(7, 0, 1);
	assert_int_equal(petrel_flusher_new(&f, 7), 0);
	petrel_flusher_kick(f);
	pthread_mutex_lock(&fl.lock);
	while (!fl.held)
		pthread_cond_wait(&fl.cond, &fl.lock);
	pthread_mutex_unlock(&fl.lock);
	for (int i = 0; i < 5; i++)
		petrel_flusher_kick(f);
	pthread_mutex_lock(&fl.lock);
	fl.hold = 0;	/* the first ends; the five kicks are one more, made before stop returns */
	pthread_cond_broadcast(&fl.cond);
	pthread_mutex_unlock(&fl.lock);
	assert_int_equal(petrel_flusher_stop(f), 0);
	assert_int_equal(flush_calls(), 2);
}

/* A failed flush is kept for stop, though the flushes after it succeed: it may have
 * consumed the file's error, which the last fsync would then not see. */
static void test_flusher_error(void **state)
{
	struct petrel_flusher *f = NULL;

	(void)state;
	flusher_fake(7, 1, 0);
	assert_int_equal(petrel_flusher_new(&f, 7), 0);
	kick_until(f, 1);
	kick_until(f, 2);
	assert_int_equal(petrel_flusher_stop(f), -EIO);
}

/* PETREL_FAULT="flush:2": the 2nd flush fails, and fsync:N does not count flushes. */
static void test_fault_env_flush(void **state)
{
	struct fsfix *f = *state;
	int fd, r[3], s;

	fd = open(f->path, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
	assert_true(fd >= 0);
	assert_int_equal(setenv("PETREL_FAULT", "flush:2,fsync:2", 1), 0);
	assert_int_equal(petrel_fault_init(), 0);
	for (int i = 0; i < 3; i++)
		r[i] = petrel_flush(fd);
	s = petrel_fsync(fd);
	assert_int_equal(setenv("PETREL_FAULT", "flush:0,fsync:0", 1), 0);
	assert_int_equal(petrel_fault_init(), 0);
	close(fd);
	assert_int_equal(r[0], 0);
	assert_int_equal(r[1], -EIO);
	assert_int_equal(r[2], 0);
	assert_int_equal(s, 0);	/* the first fsync; the flushes were not fsyncs */
}

/* ---------------------------------------------------------------- url */

static void test_url_resolve(void **state)
{
	static const struct { const char *base, *ref, *want; } ok[] = {
		{ "http://h.example/a/b/c.txt", "d.txt", "http://h.example/a/b/d.txt" },
		{ "http://h.example/a/b/c.txt", "../x", "http://h.example/a/x" },
		{ "http://h.example/a/b/c.txt", "/root", "http://h.example/root" },
		{ "http://h.example:8080/a/", "b?x=1", "http://h.example:8080/a/b?x=1" },
		{ "http://h.example/a/b", "https://o.example/p?q=1", "https://o.example/p?q=1" },
		{ "https://h.example/a", "//host/x", "https://host/x" },
		{ "http://h.example/a", "//host:81/x", "http://host:81/x" },
	};
	static const struct { const char *base, *ref; } bad[] = {
		{ "not a url", "x" }, { "", "" }, { "http://h.example/a", "http://[::1" },
		{ "http://h.example/a", "http://exa mple/" }, { "", "http://h.example/x y" },
	};
	char out[PETREL_URL_MAX + 1], small[24];

	(void)state;
	for (size_t i = 0; i < PETREL_ARRAY_SIZE(ok); i++) {
		int r = petrel_url_resolve(ok[i].base, ok[i].ref, out, sizeof(out));

		if (r != 0 || strcmp(out, ok[i].want))
			fail_msg("resolve(\"%s\", \"%s\") = %d \"%s\", want \"%s\"", ok[i].base,
				 ok[i].ref, r, r ? "" : out, ok[i].want);
	}
	for (size_t i = 0; i < PETREL_ARRAY_SIZE(bad); i++)
		if (petrel_url_resolve(bad[i].base, bad[i].ref, out, sizeof(out)) !=
		    -PETREL_EMALFORMED)
			fail_msg("resolve(\"%s\", \"%s\") accepted", bad[i].base, bad[i].ref);
	assert_int_equal(petrel_url_resolve("http://h.example/a", "bcdefgh", small, sizeof(small)),
			 -PETREL_ETOOBIG);
	assert_int_equal(petrel_url_resolve("http://h.example/a", "b", small, sizeof(small)), 0);
	assert_string_equal(small, "http://h.example/b");
}

/* ---------------------------------------------------------------- errors */

static int vfail_wrapper(struct petrel_err *err, int code, const char *fmt, ...)
{
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = petrel_vfail(err, code, fmt, ap);
	va_end(ap);
	return r;
}

static void test_error_message(void **state)
{
	struct petrel_err e = PETREL_ERR_INIT;

	(void)state;
	assert_string_equal(e.msg, "");
	assert_int_equal(e.code, 0);
	assert_int_equal(petrel_fail(&e, -PETREL_EHASH, "first %d for %s", 1, "x"), -PETREL_EHASH);
	assert_string_equal(e.msg, "first 1 for x");
	assert_int_equal(e.code, -PETREL_EHASH);
	/* the innermost layer spoke first: a caller's generic failure keeps its message */
	assert_int_equal(petrel_fail(&e, -EIO, "second"), -EIO);	/* returns its code anyway */
	assert_string_equal(e.msg, "first 1 for x");
	assert_int_equal(e.code, -PETREL_EHASH);
	assert_int_equal(vfail_wrapper(&e, -ENOENT, "third %s", "v"), -ENOENT);
	assert_string_equal(e.msg, "first 1 for x");
	petrel_err_reset(&e);
	assert_string_equal(e.msg, "");
	assert_int_equal(e.code, 0);
	assert_int_equal(vfail_wrapper(&e, -ENOENT, "third %s", "v"), -ENOENT);
	assert_string_equal(e.msg, "third v");
	/* NULL: the caller does not want the message; the code still comes back */
	assert_int_equal(petrel_fail(NULL, -PETREL_EDB, "dropped"), -PETREL_EDB);
	petrel_err_prefix(NULL, "nothing: ");
	assert_string_equal(petrel_err_msg(NULL, -PETREL_EDB), "database error");
}

/* Two errs never share a message: what failed second is told by its own err. */
static void test_error_objects(void **state)
{
	struct petrel_err net = PETREL_ERR_INIT, db = PETREL_ERR_INIT, out = PETREL_ERR_INIT;

	(void)state;
	petrel_fail(&net, -PETREL_ENET, "http://h/: connection refused");
	petrel_fail(&db, -PETREL_EDB, "database: disk I/O error");
	assert_string_equal(petrel_err_msg(&db, -PETREL_EDB), "database: disk I/O error");
	assert_string_equal(petrel_err_msg(&net, -PETREL_ENET), "http://h/: connection refused");
	/* without a message, the code's text */
	assert_string_equal(petrel_err_msg(&out, -PETREL_EHASH), "hash mismatch");
	/* forwarding: a recovered-from call's message passed on when it is not recovered */
	assert_int_equal(petrel_err_forward(&out, &db, -PETREL_EDB), -PETREL_EDB);
	assert_string_equal(out.msg, "database: disk I/O error");
	assert_int_equal(out.code, -PETREL_EDB);
	petrel_err_reset(&out);
	assert_int_equal(petrel_err_forward(&out, &(struct petrel_err)PETREL_ERR_INIT,
					    -PETREL_EHASH), -PETREL_EHASH);
	assert_string_equal(out.msg, "hash mismatch");
}

static void test_error_prefix(void **state)
{
	static char longmsg[1100], longpre[600];
	struct petrel_err e = PETREL_ERR_INIT;
	const char *m;

	(void)state;
	petrel_err_prefix(&e, "nothing to prefix: ");
	assert_string_equal(e.msg, "");
	petrel_fail(&e, -PETREL_EHASH, "sha256 mismatch");
	petrel_err_prefix(&e, "%s: ", "hello");
	assert_string_equal(e.msg, "hello: sha256 mismatch");
	petrel_err_prefix(&e, "fetch %d: ", 2);
	assert_string_equal(e.msg, "fetch 2: hello: sha256 mismatch");
	petrel_fail(&e, -EIO, "later");	/* prefixed message still wins */
	assert_string_equal(e.msg, "fetch 2: hello: sha256 mismatch");

	/* a message at the 1023-byte capacity, then a prefix: truncated, prefix first */
	petrel_err_reset(&e);
	memset(longmsg, 'm', sizeof(longmsg) - 1);
	petrel_fail(&e, -EIO, "%s", longmsg);
	assert_int_equal(strlen(e.msg), 1023);
	petrel_err_prefix(&e, "ctx: ");
	m = e.msg;
	assert_int_equal(strlen(m), 1023);
	assert_memory_equal(m, "ctx: mmm", 8);

	/* a prefix longer than its 512-byte buffer is cut, never overflows */
	petrel_err_reset(&e);
	petrel_fail(&e, -EIO, "tail");
	memset(longpre, 'p', sizeof(longpre) - 1);
	petrel_err_prefix(&e, "%s", longpre);
	m = e.msg;
	assert_int_equal(strlen(m), 511 + 4);
	assert_string_equal(m + 511, "tail");
}

/* The one table: every code has a text, an exit status and its class. */
static void test_error_classes(void **state)
{
	(void)state;
	assert_int_equal(petrel_err_exit(0), PETREL_EXIT_OK);
	assert_int_equal(petrel_err_exit(-EIO), PETREL_EXIT_FAIL);
	assert_int_equal(petrel_err_exit(-PETREL_EHASH), PETREL_EXIT_REFUSED);
	assert_int_equal(petrel_err_exit(-PETREL_EPOLICY), PETREL_EXIT_REFUSED);
	assert_int_equal(petrel_err_exit(-PETREL_ENET), PETREL_EXIT_SERVER);
	assert_int_equal(petrel_err_exit(-PETREL_ESIZE), PETREL_EXIT_SERVER);
	assert_int_equal(petrel_err_exit(-PETREL_ECONFIG), PETREL_EXIT_USAGE);
	assert_int_equal(petrel_err_exit(-PETREL_EDEPLOY), PETREL_EXIT_REVERTED);
	assert_int_equal(petrel_err_exit(-PETREL_ECORRUPT), PETREL_EXIT_AUDIT);
	assert_int_equal(petrel_err_exit(-PETREL_ELAST), PETREL_EXIT_FAIL);
	/* a refusal is exactly what exits 3 */
	for (int c = PETREL_EBASE + 1; c < PETREL_ELAST; c++) {
		assert_int_equal(petrel_err_is(-c, PETREL_ERR_REFUSAL),
				 petrel_err_exit(-c) == PETREL_EXIT_REFUSED);
		assert_string_not_equal(petrel_strerror(-c), "unknown error");
	}
	assert_true(petrel_err_is(-PETREL_EHASH, PETREL_ERR_CONDEMNS));
	assert_true(petrel_err_is(-PETREL_ESIZE, PETREL_ERR_CONDEMNS));
	assert_true(petrel_err_is(-PETREL_EBINDING, PETREL_ERR_CONDEMNS));
	assert_false(petrel_err_is(-PETREL_ETHRESHOLD, PETREL_ERR_CONDEMNS));
	assert_true(petrel_err_is(-PETREL_ENET, PETREL_ERR_TRANSIENT));
	assert_true(petrel_err_is(-PETREL_EHTTP, PETREL_ERR_TRANSIENT));
	assert_false(petrel_err_is(-PETREL_EMALFORMED, PETREL_ERR_TRANSIENT));
	assert_false(petrel_err_is(-EIO, PETREL_ERR_REFUSAL | PETREL_ERR_TRANSIENT));
	assert_false(petrel_err_is(0, PETREL_ERR_REFUSAL));
}

static void test_strerror(void **state)
{
	const char *t[PETREL_ELAST - PETREL_EBASE + 1];
	size_t n = 0;

	(void)state;
	assert_non_null(petrel_strerror(0));
	assert_string_equal(petrel_strerror(-ENOENT), strerror(ENOENT));
	t[n++] = petrel_strerror(-ENOENT);
	for (int e = PETREL_EBASE + 1; e < PETREL_ELAST; e++) {
		const char *s = petrel_strerror(-e);

		assert_non_null(s);
		if (!*s || !strcmp(s, "unknown error"))
			fail_msg("petrel_strerror(-%d) = \"%s\"", e, s);
		t[n++] = s;
	}
	for (size_t i = 0; i < n; i++)
		for (size_t j = i + 1; j < n; j++)
			if (!strcmp(t[i], t[j]))
				fail_msg("codes %zu and %zu share the text \"%s\"", i, j, t[i]);
	assert_non_null(petrel_strerror(-PETREL_EBASE));
	assert_non_null(petrel_strerror(-PETREL_ELAST));
	assert_non_null(petrel_strerror(-100000));
	assert_non_null(petrel_strerror(-2000000000));
}

/* ---------------------------------------------------------------- main */

static int group_setup(void **state)
{
	(void)state;
	stream = malloc(STREAM_MAX);
	if (!stream)
		return -1;
	fill_random(stream, STREAM_MAX);
	return 0;
}

static int group_teardown(void **state)
{
	(void)state;
	alarm(0);	/* a failed assertion skips a test's own alarm(0) */
	free(stream);
	return 0;
}

#define FS(t) cmocka_unit_test_setup_teardown(t, fs_setup, fs_teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_strlcpy),
		cmocka_unit_test(test_text_safe),
		cmocka_unit_test(test_text_mask),
		cmocka_unit_test(test_snprintf),
		cmocka_unit_test(test_hex),
		cmocka_unit_test(test_b64_rfc4648),
		cmocka_unit_test(test_b64_strict),
		cmocka_unit_test(test_b64_capacity),
		cmocka_unit_test(test_b64_roundtrip),
		cmocka_unit_test(test_parse_u64),
		cmocka_unit_test(test_parse_rfc3339),
		cmocka_unit_test(test_format_time),
		cmocka_unit_test(test_uuid_valid),
		cmocka_unit_test(test_name_valid),
		cmocka_unit_test(test_buf_ceiling),
		cmocka_unit_test(test_buf_grow),
		cmocka_unit_test(test_buf_reset_printf),
		FS(test_atomic_write),
		FS(test_atomic_write_faults),
		FS(test_fault_env_fsync),
		FS(test_fault_env_rename),
		FS(test_fault_env_bad),
		FS(test_read_file),
		FS(test_mkdir_p),
		cmocka_unit_test(test_dirname),
		cmocka_unit_test(test_fanout_streams),
		cmocka_unit_test(test_fanout_error),
		cmocka_unit_test(test_fanout_free_unfinished),
		cmocka_unit_test(test_fanout_bad_args),
		FS(test_flusher_flushes),
		FS(test_flusher_coalesces),
		FS(test_flusher_error),
		FS(test_fault_env_flush),
		cmocka_unit_test(test_url_resolve),
		cmocka_unit_test(test_error_message),
		cmocka_unit_test(test_error_objects),
		cmocka_unit_test(test_error_classes),
		cmocka_unit_test(test_error_prefix),
		cmocka_unit_test(test_strerror),
		cmocka_unit_test(test_parse_rfc3339_mday),
		cmocka_unit_test(test_buf_printf_long),
		cmocka_unit_test(test_buf_max_sizemax),
		FS(test_fault_env_rearm),
		FS(test_mkdir_p_file),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
