/* Unit tests for verify/: digests, minisign parsing and verification, trust policy. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <sodium.h>

#include "common/error.h"
#include "common/fs.h"
#include "common/util.h"
#include "verify/digest.h"
#include "verify/minisign.h"
#include "verify/policy.h"

/* The err of the calls under test; reset where a test needs a fresh one. */
static struct petrel_err terr;

/* The known vector from minisign's documentation. */
#define VEC_PK "RWQf6LRCGA9i53mlYecO4IzT51TGPpvWucNSCh1CBM0QTaLn73Y7GFO3"
#define VEC_SIG "RUQf6LRCGA9i559r3g7V1qNyJDApGip8MfqcadIgT9CuhV3EMhHoN1mGTkUidF/z7SrlQgXdy8ofjb7bNJJylDOocrCo8KLzZwo="
#define VEC_TC "timestamp:1556193335\tfile:test"
#define VEC_GLOBAL "y/rUw2y8/hOUYjZU71eHp/Wo1KZ40fGy2VJEDl34XMJM+TX48Ss/17u3IvIfbVR1FkZZSNCisQbuQY+bHwhEBg=="
#define VEC_UC "untrusted comment: signature from minisign secret key"
#define FIX_UUID "0a1b2c3d-4e5f-6789-abcd-ef0123456789"
#define BIG_LEN 300001

static char text[8192];

/* ---- helpers ---- */

static int clear_error(void **state)
{
	(void)state;
	petrel_err_reset(&terr);
	return 0;
}

static void assert_msg(const char *needle)
{
	const char *m = terr.msg;

	if (!strstr(m, needle))
		fail_msg("message \"%s\" does not contain \"%s\"", m, needle);
	petrel_err_reset(&terr);
}

/* Builds a 4-line signature file into text; eol joins lines, last ends the file. */
static size_t sig_file(const char *l1, const char *l2, const char *tc, const char *l4,
		       const char *eol, const char *last)
{
	int n = snprintf(text, sizeof(text), "%s%s%s%strusted comment: %s%s%s%s", l1, eol, l2,
			 eol, tc, eol, l4, last);

	assert_true(n > 0 && (size_t)n < sizeof(text));
	return (size_t)n;
}

static size_t vec_file(void)
{
	return sig_file(VEC_UC, VEC_SIG, VEC_TC, VEC_GLOBAL, "\n", "\n");
}

static void blake2b(const void *p, size_t n, uint8_t out[64])
{
	struct petrel_digest *d = NULL;

	assert_int_equal(petrel_digest_new(&d, PETREL_DIGEST_BLAKE2B), 0);
	assert_int_equal(petrel_digest_update(d, p, n), 0);
	assert_int_equal(petrel_digest_final(d, NULL, out), 0);
	petrel_digest_free(d);
}

static void vec_pubkey(struct petrel_pubkey *pk)
{
	assert_int_equal(petrel_pubkey_parse(VEC_PK, strlen(VEC_PK), pk, &terr), 0);
}

/* Parses text (len bytes) and verifies it with the vector key over "test". */
static int verify_vec_text(size_t len, int allow_legacy)
{
	struct petrel_pubkey pk;
	struct petrel_sig sig;
	uint8_t b2[64];
	int r;

	vec_pubkey(&pk);
	blake2b("test", 4, b2);
	r = petrel_sig_parse(text, len, &sig, &terr);
	if (r < 0)
		return r;
	return petrel_sig_verify(&sig, &pk, b2, NULL, allow_legacy, &terr);
}

static void expect_format(size_t len, const char *needle)
{
	struct petrel_sig sig;

	petrel_err_reset(&terr);
	assert_int_equal(petrel_sig_parse(text, len, &sig, &terr), -PETREL_ESIG_FORMAT);
	assert_msg(needle);
}

/* Encodes bin (n bytes) as base64 into out (capacity 256). */
static void b64(const uint8_t *bin, size_t n, char out[256])
{
	assert_true(4 * ((n + 2) / 3) + 1 <= 256);
	petrel_b64_encode(bin, n, out);
}

static void decode(const char *s, uint8_t *out, size_t want)
{
	size_t got = 0;

	assert_int_equal(petrel_b64_decode(s, strlen(s), out, want, &got), 0);
	assert_int_equal(got, want);
}

static char *fixture(const char *name, size_t *len)
{
	char path[512];
	const char *dir = getenv("PETREL_SRCDIR");
	char *buf = NULL;

	assert_true(snprintf(path, sizeof(path), "%s/tests/fixtures/minisign/%s",
			     dir ? dir : ".", name) < (int)sizeof(path));
	assert_int_equal(petrel_read_file(path, 65536, &buf, len), 0);
	return buf;
}

static void fixture_key(struct petrel_pubkey *pk)
{
	size_t len = 0;
	char *k = fixture("k.pub", &len);

	assert_int_equal(petrel_pubkey_parse(k, len, pk, &terr), 0);
	free(k);
}

static void fixture_sig(const char *name, struct petrel_sig *sig)
{
	size_t len = 0;
	char *s = fixture(name, &len);

	assert_int_equal(petrel_sig_parse(s, len, sig, &terr), 0);
	free(s);
}

/* The 300001-byte file gen.sh signs, rebuilt from the same formula. */
static uint8_t *big_file(void)
{
	uint8_t *p = malloc(BIG_LEN);
	size_t i;

	assert_non_null(p);
	for (i = 0; i < BIG_LEN; i++)
		p[i] = (uint8_t)((i * i + 7 * i + (i >> 9)) & 0xff);
	return p;
}

static void hex_eq(const uint8_t *bin, size_t n, const char *want)
{
	char h[129];

	petrel_hex(bin, n, h);
	assert_string_equal(h, want);
}

/* ---- digests ---- */

static void test_sha256_abc(void **state)
{
	uint8_t out[32];

	(void)state;
	assert_int_equal(petrel_sha256("abc", 3, out), 0);
	hex_eq(out, 32, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
	assert_int_equal(petrel_sha256("", 0, out), 0);
	hex_eq(out, 32, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

static void test_blake2b_abc(void **state)
{
	uint8_t out[64];

	(void)state;
	blake2b("abc", 3, out);
	hex_eq(out, 64, "ba80a53f981c4d0d6a2797b69f12f6e94c212f14685ac4b74b12bb6fdbffa2d1"
			"7d87c5392aab792dc252d5de4533cc9518d38aa8dbf1925ab92386edd4009923");
	blake2b("", 0, out);
	hex_eq(out, 64, "786a02f742015903c6c6fd852552d272912f4740e15847618a86e217f71f5419"
			"d25e1031afee585313896444934eb04b903a685b1448b755d56f701afe9be2ce");
}

static void test_digest_streaming(void **state)
{
	static const size_t chunks[] = { 1, 3, 64, 127, 4093, 65537 };
	uint8_t *big = big_file(), s1[32], s2[32], b1[64], b2[64];
	struct petrel_digest *d = NULL;
	size_t off = 0, i = 0;

	(void)state;
	assert_int_equal(petrel_digest_new(&d, PETREL_DIGEST_SHA256 | PETREL_DIGEST_BLAKE2B), 0);
	while (off < BIG_LEN) {
		size_t n = chunks[i++ % PETREL_ARRAY_SIZE(chunks)];

		n = n > BIG_LEN - off ? BIG_LEN - off : n;
		assert_int_equal(petrel_digest_update(d, big + off, n), 0);
		off += n;
	}
	assert_int_equal(petrel_digest_update(d, NULL, 0), 0);
	assert_int_equal(petrel_digest_final(d, s1, b1), 0);
	assert_int_equal(petrel_digest_final(d, s1, b1), -EINVAL);
	assert_int_equal(petrel_digest_update(d, "x", 1), -EINVAL);
	petrel_digest_free(d);
	assert_int_equal(petrel_sha256(big, BIG_LEN, s2), 0);
	blake2b(big, BIG_LEN, b2);
	assert_memory_equal(s1, s2, 32);
	assert_memory_equal(b1, b2, 64);
	free(big);
}

static void test_digest_only_enabled(void **state)
{
	struct petrel_digest *d = NULL;
	uint8_t s[32], b[64], zero[64] = { 0 };

	(void)state;
	memset(s, 0, sizeof(s));
	assert_int_equal(petrel_digest_new(&d, PETREL_DIGEST_BLAKE2B), 0);
	assert_int_equal(petrel_digest_update(d, "abc", 3), 0);
	assert_int_equal(petrel_digest_final(d, s, b), 0);
	assert_memory_equal(s, zero, 32);
	hex_eq(b, 4, "ba80a53f");
	petrel_digest_free(d);
	assert_int_equal(petrel_digest_new(&d, 4), -EINVAL);
	assert_null(d);
	petrel_digest_free(NULL);
}

static void test_sha256_file(void **state)
{
	char path[] = "/tmp/petrel-test-digest-XXXXXX";
	static char a[1000000];
	uint8_t out[32];
	uint64_t size = 0;
	int fd;

	(void)state;
	memset(a, 'a', sizeof(a));
	fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(petrel_write_all(fd, a, sizeof(a)), 0);
	assert_int_equal(close(fd), 0);
	assert_int_equal(petrel_sha256_file(path, out, &size), 0);
	assert_int_equal(size, 1000000);
	hex_eq(out, 32, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
	assert_int_equal(unlink(path), 0);
	assert_int_equal(petrel_sha256_file(path, out, &size), -ENOENT);
}

/* A petrel_digest_fd callback: counts calls and bytes, stops at stop_after bytes. */
struct chunks {
	int calls;
	uint64_t bytes, stop_after;
};

static int count_chunk(void *ctx, const void *p, size_t n)
{
	struct chunks *c = ctx;

	(void)p;
	c->calls++;
	c->bytes += n;
	return c->stop_after && c->bytes >= c->stop_after ? -ECANCELED : 0;
}

static void test_digest_fd_bound_and_callback(void **state)
{
	char path[] = "/tmp/petrel-test-digest-XXXXXX";
	static char a[1000000];
	struct petrel_digest *d = NULL;
	struct chunks c = { 0 };
	uint8_t out[32];
	uint64_t size = 0;
	int fd;

	(void)state;
	memset(a, 'a', sizeof(a));
	fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(petrel_write_all(fd, a, sizeof(a)), 0);

	/* the exact expected size: hashed whole, the callback sees every byte */
	assert_int_equal(lseek(fd, 0, SEEK_SET), 0);
	assert_int_equal(petrel_digest_new(&d, PETREL_DIGEST_SHA256), 0);
	assert_int_equal(petrel_digest_fd(d, fd, NULL, sizeof(a), count_chunk, &c, &size, &terr), 0);
	assert_int_equal(petrel_digest_final(d, out, NULL), 0);
	petrel_digest_free(d);
	hex_eq(out, 32, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
	assert_int_equal(size, sizeof(a));
	assert_int_equal(c.bytes, sizeof(a));
	assert_true(c.calls > 1);

	/* longer than expected: -EFBIG after reading at most one byte past the bound */
	assert_int_equal(lseek(fd, 0, SEEK_SET), 0);
	memset(&c, 0, sizeof(c));
	petrel_err_reset(&terr);
	assert_int_equal(petrel_digest_fd(NULL, fd, "blob", 1000, count_chunk, &c, &size, &terr),
			 -EFBIG);
	assert_true(size <= 1000);
	assert_true(c.bytes <= 1000);
	assert_int_equal(lseek(fd, 0, SEEK_CUR), 1001);
	assert_non_null(strstr(terr.msg, "blob: longer than the expected 1000"));

	/* the callback stops the loop with its own answer; no digest needed */
	assert_int_equal(lseek(fd, 0, SEEK_SET), 0);
	memset(&c, 0, sizeof(c));
	c.stop_after = 1;
	assert_int_equal(petrel_digest_fd(NULL, fd, NULL, PETREL_DIGEST_UNBOUNDED, count_chunk,
					  &c, NULL, &terr), -ECANCELED);
	assert_int_equal(c.calls, 1);

	/* a read failure: -errno, with a message only when given a name */
	assert_int_equal(close(fd), 0);
	assert_int_equal(unlink(path), 0);
	petrel_err_reset(&terr);
	assert_int_equal(petrel_digest_fd(NULL, fd, NULL, 10, NULL, NULL, NULL, &terr), -EBADF);
	assert_int_equal(petrel_digest_fd(NULL, fd, "gone", 10, NULL, NULL, NULL, &terr), -EBADF);
	assert_non_null(strstr(terr.msg, "gone: "));
}

/* ---- minisign: the known vector ---- */

static void test_vector_verifies(void **state)
{
	struct petrel_sig sig;
	size_t len = vec_file();

	(void)state;
	assert_int_equal(verify_vec_text(len, 0), 0);
	assert_int_equal(petrel_sig_parse(text, len, &sig, &terr), 0);
	assert_memory_equal(sig.alg, "ED", 2);
	assert_string_equal(sig.trusted, VEC_TC);
	assert_int_equal(sig.trusted_len, strlen(VEC_TC));
	/* the final newline is optional */
	assert_int_equal(verify_vec_text(len - 1, 0), 0);
}

static void test_vector_keyid(void **state)
{
	struct petrel_pubkey pk;
	char id[17];

	(void)state;
	vec_pubkey(&pk);
	petrel_keyid_str(pk.keyid, id);
	assert_string_equal(id, "E7620F1842B4E81F");
}

static void test_vector_wrong_message(void **state)
{
	struct petrel_pubkey pk;
	struct petrel_sig sig;
	uint8_t b2[64];

	(void)state;
	vec_pubkey(&pk);
	assert_int_equal(petrel_sig_parse(text, vec_file(), &sig, &terr), 0);
	blake2b("tesT", 4, b2);
	assert_int_equal(petrel_sig_verify(&sig, &pk, b2, NULL, 1, &terr), -PETREL_ESIG_INVALID);
	assert_msg("file signature does not verify");
	assert_int_equal(petrel_sig_verify(&sig, &pk, NULL, NULL, 1, &terr), -EINVAL);
}

/* Every bit of the file signature, key id and global signature matters. */
static void test_vector_bitflips(void **state)
{
	struct petrel_pubkey pk;
	struct petrel_sig sig, bad;
	uint8_t b2[64];
	size_t i;
	int bit;

	(void)state;
	vec_pubkey(&pk);
	blake2b("test", 4, b2);
	assert_int_equal(petrel_sig_parse(text, vec_file(), &sig, &terr), 0);
	for (i = 0; i < 64; i++) {
		for (bit = 0; bit < 8; bit++) {
			bad = sig;
			bad.sig[i] ^= (uint8_t)(1 << bit);
			assert_int_equal(petrel_sig_verify(&bad, &pk, b2, NULL, 0, &terr),
					 -PETREL_ESIG_INVALID);
			assert_msg("file signature does not verify");
			bad = sig;
			bad.global_sig[i] ^= (uint8_t)(1 << bit);
			assert_int_equal(petrel_sig_verify(&bad, &pk, b2, NULL, 0, &terr),
					 -PETREL_ESIG_INVALID);
			assert_msg("trusted comment signature does not verify");
		}
	}
	for (i = 0; i < 8; i++) {
		bad = sig;
		bad.keyid[i] ^= 1;
		assert_int_equal(petrel_sig_verify(&bad, &pk, b2, NULL, 0, &terr), -PETREL_ESIG_UNTRUSTED);
		assert_msg("E7620F1842B4E81F");
	}
	for (i = 0; i < sig.trusted_len; i++) {
		bad = sig;
		bad.trusted[i] ^= 0x20;
		assert_int_equal(petrel_sig_verify(&bad, &pk, b2, NULL, 0, &terr), -PETREL_ESIG_INVALID);
		assert_msg("trusted comment signature does not verify");
	}
	bad = sig;
	bad.trusted_len--;	/* a truncated comment */
	bad.trusted[bad.trusted_len] = '\0';
	assert_int_equal(petrel_sig_verify(&bad, &pk, b2, NULL, 0, &terr), -PETREL_ESIG_INVALID);
	assert_msg("trusted comment signature does not verify");
}

/* Same key id, different key bytes: the signature must not verify. */
static void test_vector_key_bitflips(void **state)
{
	struct petrel_pubkey pk, bad;
	struct petrel_sig sig;
	uint8_t b2[64];
	size_t i;

	(void)state;
	vec_pubkey(&pk);
	blake2b("test", 4, b2);
	assert_int_equal(petrel_sig_parse(text, vec_file(), &sig, &terr), 0);
	for (i = 0; i < 32 * 8; i++) {
		bad = pk;
		bad.pk[i / 8] ^= (uint8_t)(1 << (i % 8));
		assert_int_equal(petrel_sig_verify(&sig, &bad, b2, NULL, 0, &terr), -PETREL_ESIG_INVALID);
		petrel_err_reset(&terr);
	}
}

static void test_vector_wrong_key(void **state)
{
	struct petrel_pubkey pk;
	struct petrel_sig sig;
	uint8_t b2[64];

	(void)state;
	fixture_key(&pk);
	blake2b("test", 4, b2);
	assert_int_equal(petrel_sig_parse(text, vec_file(), &sig, &terr), 0);
	assert_int_equal(petrel_sig_verify(&sig, &pk, b2, NULL, 1, &terr), -PETREL_ESIG_UNTRUSTED);
	assert_msg("signature made by key E7620F1842B4E81F, not by 93BC4FF7F66C5744");
}

/* "ED" -> "Ed" is a single bit: it must not slip through as anything valid. */
static void test_vector_alg_flip(void **state)
{
	uint8_t bin[74];
	char line[256];

	(void)state;
	decode(VEC_SIG, bin, sizeof(bin));
	bin[1] ^= 0x20;
	b64(bin, sizeof(bin), line);
	assert_int_equal(verify_vec_text(sig_file(VEC_UC, line, VEC_TC, VEC_GLOBAL, "\n", "\n"), 0),
			 -PETREL_ESIG_INVALID);
	assert_msg("legacy signature (Ed) refused; set legacy_signatures = yes to accept");
	petrel_err_reset(&terr);
	bin[1] = 'X';
	b64(bin, sizeof(bin), line);
	expect_format(sig_file(VEC_UC, line, VEC_TC, VEC_GLOBAL, "\n", "\n"), "unknown algorithm");
	bin[0] = 'e';
	bin[1] = 'D';
	b64(bin, sizeof(bin), line);
	expect_format(sig_file(VEC_UC, line, VEC_TC, VEC_GLOBAL, "\n", "\n"), "unknown algorithm");
}

/* ---- minisign: malformed files ---- */

static void test_sig_crlf(void **state)
{
	(void)state;
	expect_format(sig_file(VEC_UC, VEC_SIG, VEC_TC, VEC_GLOBAL, "\r\n", "\r\n"),
		      "carriage return");
	expect_format(sig_file(VEC_UC, VEC_SIG, VEC_TC, VEC_GLOBAL, "\n", "\r\n"),
		      "carriage return");
	expect_format(sig_file(VEC_UC, VEC_SIG, VEC_TC "\r", VEC_GLOBAL, "\n", "\n"),
		      "carriage return");
}

static void test_sig_line_count(void **state)
{
	int n;

	(void)state;
	n = snprintf(text, sizeof(text), "%s\n%s\ntrusted comment: %s\n", VEC_UC, VEC_SIG, VEC_TC);
	expect_format((size_t)n, "exactly 4 lines");
	expect_format(sig_file(VEC_UC, VEC_SIG, VEC_TC, VEC_GLOBAL, "\n", "\n\n"),
		      "exactly 4 lines");
	expect_format(sig_file(VEC_UC, VEC_SIG, VEC_TC, VEC_GLOBAL, "\n", "\nextra\n"),
		      "exactly 4 lines");
	expect_format(sig_file(VEC_UC, VEC_SIG, VEC_TC, VEC_GLOBAL, "\n\n", "\n"),
		      "exactly 4 lines");
	expect_format(0, "exactly 4 lines");
	text[0] = '\n';
	expect_format(1, "exactly 4 lines");
}

static void test_sig_overlong(void **state)
{
	char uc[1100], tc[1100];

	(void)state;
	memset(uc, 'u', sizeof(uc));
	memcpy(uc, "untrusted comment: ", 19);
	uc[PETREL_MINISIGN_LINE_MAX + 1] = '\0';
	expect_format(sig_file(uc, VEC_SIG, VEC_TC, VEC_GLOBAL, "\n", "\n"), "line too long");
	uc[PETREL_MINISIGN_LINE_MAX] = '\0';	/* exactly at the limit: fine */
	assert_int_equal(verify_vec_text(sig_file(uc, VEC_SIG, VEC_TC, VEC_GLOBAL, "\n", "\n"), 0),
			 0);
	memset(tc, 't', sizeof(tc));
	tc[PETREL_MINISIGN_LINE_MAX - 17 + 1] = '\0';
	expect_format(sig_file(VEC_UC, VEC_SIG, tc, VEC_GLOBAL, "\n", "\n"),
		      "trusted comment too long");
	tc[PETREL_MINISIGN_LINE_MAX - 17] = '\0';	/* parses; the signature then fails */
	assert_int_equal(verify_vec_text(sig_file(VEC_UC, VEC_SIG, tc, VEC_GLOBAL, "\n", "\n"), 0),
			 -PETREL_ESIG_INVALID);
	assert_msg("trusted comment signature does not verify");
}

static void test_sig_file_too_large(void **state)
{
	size_t len = vec_file();

	(void)state;
	memset(text + len, '\n', PETREL_MINISIGN_FILE_MAX + 1 - len);
	expect_format(PETREL_MINISIGN_FILE_MAX + 1, "too large");
}

static void test_sig_nul(void **state)
{
	size_t len;

	(void)state;
	len = vec_file();
	text[40] = '\0';	/* inside the untrusted comment */
	expect_format(len, "NUL byte");
	len = vec_file();
	text[len - 1] = '\0';
	expect_format(len, "NUL byte");
	len = sig_file(VEC_UC, VEC_SIG, VEC_TC, VEC_GLOBAL, "\n", "\n");
	memcpy(strstr(text, "file:test"), "file\0tes", 8);
	expect_format(len, "NUL byte");
}

static void test_sig_prefixes(void **state)
{
	(void)state;
	expect_format(sig_file("untrusted comment:x", VEC_SIG, VEC_TC, VEC_GLOBAL, "\n", "\n"),
		      "untrusted comment");
	expect_format(sig_file("Untrusted comment: x", VEC_SIG, VEC_TC, VEC_GLOBAL, "\n", "\n"),
		      "untrusted comment");
	expect_format(sig_file("", VEC_SIG, VEC_TC, VEC_GLOBAL, "\n", "\n"), "untrusted comment");
	snprintf(text, sizeof(text), "%s\n%s\ntrusted comment:%s\n%s\n", VEC_UC, VEC_SIG, VEC_TC,
		 VEC_GLOBAL);
	expect_format(strlen(text), "trusted comment");
	snprintf(text, sizeof(text), "%s\n%s\nuntrusted comment: %s\n%s\n", VEC_UC, VEC_SIG,
		 VEC_TC, VEC_GLOBAL);
	expect_format(strlen(text), "trusted comment");
	/* lines swapped */
	snprintf(text, sizeof(text), "%s\ntrusted comment: %s\n%s\n%s\n", VEC_UC, VEC_TC, VEC_SIG,
		 VEC_GLOBAL);
	expect_format(strlen(text), "base64");
}

static void test_sig_base64(void **state)
{
	char s[256], g[256];

	(void)state;
	/* non-canonical trailing bits */
	snprintf(s, sizeof(s), "%.*swp=", (int)strlen(VEC_SIG) - 3, VEC_SIG);
	expect_format(sig_file(VEC_UC, s, VEC_TC, VEC_GLOBAL, "\n", "\n"), "signature");
	snprintf(g, sizeof(g), "%.*sBh==", (int)strlen(VEC_GLOBAL) - 4, VEC_GLOBAL);
	expect_format(sig_file(VEC_UC, VEC_SIG, VEC_TC, g, "\n", "\n"), "global signature");
	/* missing padding */
	snprintf(s, sizeof(s), "%.*s", (int)strlen(VEC_SIG) - 1, VEC_SIG);
	expect_format(sig_file(VEC_UC, s, VEC_TC, VEC_GLOBAL, "\n", "\n"), "signature");
	snprintf(g, sizeof(g), "%.*s", (int)strlen(VEC_GLOBAL) - 2, VEC_GLOBAL);
	expect_format(sig_file(VEC_UC, VEC_SIG, VEC_TC, g, "\n", "\n"), "global signature");
	/* too much padding, padding inside, whitespace, foreign alphabet */
	snprintf(g, sizeof(g), "%s=", VEC_GLOBAL);
	expect_format(sig_file(VEC_UC, VEC_SIG, VEC_TC, g, "\n", "\n"), "global signature");
	snprintf(g, sizeof(g), "%s====", VEC_GLOBAL);
	expect_format(sig_file(VEC_UC, VEC_SIG, VEC_TC, g, "\n", "\n"), "global signature");
	snprintf(s, sizeof(s), "%s", VEC_SIG);
	s[10] = '=';
	expect_format(sig_file(VEC_UC, s, VEC_TC, VEC_GLOBAL, "\n", "\n"), "signature");
	snprintf(s, sizeof(s), "%s ", VEC_SIG);
	expect_format(sig_file(VEC_UC, s, VEC_TC, VEC_GLOBAL, "\n", "\n"), "signature");
	snprintf(s, sizeof(s), " %s", VEC_SIG);
	expect_format(sig_file(VEC_UC, s, VEC_TC, VEC_GLOBAL, "\n", "\n"), "signature");
	snprintf(g, sizeof(g), "%s", VEC_GLOBAL);
	g[4] = '-';	/* base64url */
	expect_format(sig_file(VEC_UC, VEC_SIG, VEC_TC, g, "\n", "\n"), "global signature");
	g[4] = '\t';
	expect_format(sig_file(VEC_UC, VEC_SIG, VEC_TC, g, "\n", "\n"), "global signature");
	expect_format(sig_file(VEC_UC, "", VEC_TC, VEC_GLOBAL, "\n", "\n"), "signature");
	expect_format(sig_file(VEC_UC, VEC_SIG, VEC_TC, "", "\n", "\n"), "global signature");
}

static void test_sig_lengths(void **state)
{
	uint8_t bin[80] = { 'E', 'D' };
	char line[256];

	(void)state;
	b64(bin, 73, line);
	expect_format(sig_file(VEC_UC, line, VEC_TC, VEC_GLOBAL, "\n", "\n"), "wrong length");
	b64(bin, 75, line);
	expect_format(sig_file(VEC_UC, line, VEC_TC, VEC_GLOBAL, "\n", "\n"), "wrong length");
	b64(bin, 63, line);
	expect_format(sig_file(VEC_UC, VEC_SIG, VEC_TC, line, "\n", "\n"), "wrong length");
	b64(bin, 65, line);
	expect_format(sig_file(VEC_UC, VEC_SIG, VEC_TC, line, "\n", "\n"), "wrong length");
}

static void test_sig_failed_parse_clears(void **state)
{
	struct petrel_sig sig;

	(void)state;
	memset(&sig, 0x55, sizeof(sig));
	assert_int_equal(petrel_sig_parse(text, sig_file(VEC_UC, VEC_SIG, VEC_TC, "", "\n", "\n"),
					  &sig, &terr), -PETREL_ESIG_FORMAT);
	assert_int_equal(sig.trusted_len, 0);
	assert_int_equal(sig.alg[0], 0);
}

/* ---- minisign: public keys ---- */

static void test_pubkey_forms(void **state)
{
	struct petrel_pubkey a, b;

	(void)state;
	vec_pubkey(&a);
	snprintf(text, sizeof(text), "%s\n", VEC_PK);
	assert_int_equal(petrel_pubkey_parse(text, strlen(text), &b, &terr), 0);
	assert_memory_equal(&a, &b, sizeof(a));
	snprintf(text, sizeof(text), "untrusted comment: minisign public key E7620F1842B4E81F\n%s\n",
		 VEC_PK);
	assert_int_equal(petrel_pubkey_parse(text, strlen(text), &b, &terr), 0);
	assert_memory_equal(&a, &b, sizeof(a));
	assert_int_equal(petrel_pubkey_parse(text, strlen(text) - 1, &b, &terr), 0);
	assert_memory_equal(&a, &b, sizeof(a));
}

static void expect_pk_format(const char *needle)
{
	struct petrel_pubkey pk;

	petrel_err_reset(&terr);
	assert_int_equal(petrel_pubkey_parse(text, strlen(text), &pk, &terr), -PETREL_ESIG_FORMAT);
	assert_msg(needle);
}

static void test_pubkey_malformed(void **state)
{
	uint8_t bin[50] = { 0 };
	char line[256];

	(void)state;
	text[0] = '\0';
	expect_pk_format("public key");
	snprintf(text, sizeof(text), "comment\n%s\n", VEC_PK);
	expect_pk_format("untrusted comment");
	snprintf(text, sizeof(text), "untrusted comment: x\r\n%s\r\n", VEC_PK);
	expect_pk_format("carriage return");
	snprintf(text, sizeof(text), "untrusted comment: x\n%s\n\n", VEC_PK);
	expect_pk_format("public key must be");
	snprintf(text, sizeof(text), "untrusted comment: x\n\n%s\n", VEC_PK);
	expect_pk_format("public key must be");
	snprintf(text, sizeof(text), "%sA", VEC_PK);
	expect_pk_format("public key");
	snprintf(text, sizeof(text), "%.*s", (int)strlen(VEC_PK) - 4, VEC_PK);
	expect_pk_format("wrong length");
	decode(VEC_PK, bin, 42);
	bin[1] = 'D';
	b64(bin, 42, line);
	snprintf(text, sizeof(text), "%s", line);
	expect_pk_format("unknown algorithm");
	b64(bin, 45, line);
	snprintf(text, sizeof(text), "%s", line);
	expect_pk_format("wrong length");
	memset(text, 'A', 1100);
	text[1100] = '\0';
	expect_pk_format("too long");
}

static void test_pubkey_load(void **state)
{
	struct petrel_pubkey pk;
	char id[17];

	(void)state;
	fixture_key(&pk);
	petrel_keyid_str(pk.keyid, id);
	assert_string_equal(id, "93BC4FF7F66C5744");
	assert_int_equal(petrel_pubkey_load("/nonexistent/petrel/k.pub", &pk, &terr), -ENOENT);
}

/* ---- minisign: legacy ("Ed") and prehashed fixtures made by Debian's minisign ---- */

/* A legacy signature over the whole message, as deploy/ hands it the mapped file. */
static int legacy_verify(const struct petrel_sig *sig, const struct petrel_pubkey *pk,
			 const void *msg, size_t n, int allow)
{
	struct petrel_msg file = { msg, n };

	return petrel_sig_verify(sig, pk, NULL, &file, allow, &terr);
}

static void test_legacy_small(void **state)
{
	struct petrel_pubkey pk;
	struct petrel_sig sig;
	size_t len = 0;
	char *msg = fixture("small.txt", &len);

	(void)state;
	fixture_key(&pk);
	fixture_sig("small-legacy.minisig", &sig);
	assert_memory_equal(sig.alg, "Ed", 2);
	assert_int_equal(legacy_verify(&sig, &pk, msg, len, 1), 0);
	assert_int_equal(legacy_verify(&sig, &pk, msg, len, 0), -PETREL_ESIG_INVALID);
	assert_msg("legacy signature (Ed) refused; set legacy_signatures = yes to accept");
	assert_int_equal(legacy_verify(&sig, &pk, msg, len - 1, 1), -PETREL_ESIG_INVALID);
	assert_msg("file signature does not verify");
	msg[3] ^= 1;
	assert_int_equal(legacy_verify(&sig, &pk, msg, len, 1), -PETREL_ESIG_INVALID);
	assert_msg("file signature does not verify");
	free(msg);
}

static void test_legacy_needs_file(void **state)
{
	struct petrel_pubkey pk;
	struct petrel_sig sig;
	struct petrel_msg none = { NULL, 3 };
	size_t len = 0;
	char *msg = fixture("small.txt", &len);

	(void)state;
	fixture_key(&pk);
	fixture_sig("small-legacy.minisig", &sig);
	/* verifying twice gives the same answer */
	assert_int_equal(legacy_verify(&sig, &pk, msg, len, 1), 0);
	assert_int_equal(legacy_verify(&sig, &pk, msg, len, 1), 0);
	/* without the file (or with a length but no bytes) it is a caller error */
	assert_int_equal(petrel_sig_verify(&sig, &pk, NULL, NULL, 1, &terr), -EINVAL);
	assert_msg("legacy signature needs the whole file");
	assert_int_equal(petrel_sig_verify(&sig, &pk, NULL, &none, 1, &terr), -EINVAL);
	assert_msg("legacy signature needs the whole file");
	/* refused before anything else when legacy signatures are not enabled */
	assert_int_equal(petrel_sig_verify(&sig, &pk, NULL, NULL, 0, &terr), -PETREL_ESIG_INVALID);
	assert_msg("legacy signature (Ed) refused");
	free(msg);
}

/* A forgery: another key's legacy signature of the same file, wearing the fixture key's
 * id and a valid global signature by that other key. */
static void test_legacy_forged(void **state)
{
	uint8_t sk[64], gm[64 + 4];
	struct petrel_pubkey pk, other;
	struct petrel_sig sig, forged;
	size_t len = 0;
	char *msg = fixture("small.txt", &len);

	(void)state;
	assert_true(sodium_init() >= 0);
	fixture_key(&pk);
	fixture_sig("small-legacy.minisig", &sig);
	crypto_sign_keypair(other.pk, sk);
	forged = sig;
	crypto_sign_detached(forged.sig, NULL, (const uint8_t *)msg, len, sk);
	memcpy(gm, forged.sig, 64);
	memcpy(gm + 64, "t:ok", 4);
	memcpy(forged.trusted, "t:ok", 5);
	forged.trusted_len = 4;
	crypto_sign_detached(forged.global_sig, NULL, gm, sizeof(gm), sk);
	assert_int_equal(legacy_verify(&forged, &pk, msg, len, 1), -PETREL_ESIG_INVALID);
	assert_msg("file signature does not verify");
	/* the genuine file signature with a trusted comment it was not signed with */
	forged = sig;
	memcpy(forged.trusted, "t:ok", 5);
	forged.trusted_len = 4;
	assert_int_equal(legacy_verify(&forged, &pk, msg, len, 1), -PETREL_ESIG_INVALID);
	assert_msg("trusted comment signature does not verify");
	/* and the genuine one still verifies */
	assert_int_equal(legacy_verify(&sig, &pk, msg, len, 1), 0);
	free(msg);
}

/* The big file streamed in odd chunk sizes through the digest (prehashed), and whole
 * through the legacy check. */
static void test_big_fixtures_streamed(void **state)
{
	static const size_t chunks[] = { 1, 7, 4093, 65537, 13, 262147 };
	struct petrel_sig pre, leg;
	struct petrel_pubkey pk;
	struct petrel_digest *d = NULL;
	uint8_t *big = big_file(), sha[32], b2[64];
	size_t off = 0, i = 0;

	(void)state;
	fixture_key(&pk);
	fixture_sig("big-prehashed.minisig", &pre);
	fixture_sig("big-legacy.minisig", &leg);
	assert_int_equal(petrel_digest_new(&d, PETREL_DIGEST_SHA256 | PETREL_DIGEST_BLAKE2B), 0);
	while (off < BIG_LEN) {
		size_t n = chunks[i++ % PETREL_ARRAY_SIZE(chunks)];

		n = n > BIG_LEN - off ? BIG_LEN - off : n;
		assert_int_equal(petrel_digest_update(d, big + off, n), 0);
		off += n;
	}
	assert_int_equal(petrel_digest_final(d, sha, b2), 0);
	assert_int_equal(petrel_sig_verify(&pre, &pk, b2, NULL, 0, &terr), 0);
	assert_int_equal(legacy_verify(&leg, &pk, big, BIG_LEN, 1), 0);
	assert_int_equal(legacy_verify(&leg, &pk, big, BIG_LEN, 0), -PETREL_ESIG_INVALID);
	assert_msg("legacy signature (Ed) refused");
	big[BIG_LEN / 2] ^= 0x80;
	assert_int_equal(legacy_verify(&leg, &pk, big, BIG_LEN, 1), -PETREL_ESIG_INVALID);
	assert_msg("file signature does not verify");
	hex_eq(sha, 4, "e6478c5e");
	petrel_digest_free(d);
	free(big);
}

/* minisign's trusted comment, parsed and bound to the build it names. */
static void test_big_fixture_binding(void **state)
{
	struct petrel_build b;
	struct petrel_tcomment tc;
	struct petrel_sig sig;
	uint8_t *big = big_file();

	(void)state;
	fixture_sig("big-prehashed.minisig", &sig);
	assert_int_equal(petrel_tcomment_parse(sig.trusted, &tc, &terr), 0);
	assert_true(tc.has_timestamp && tc.has_file && tc.has_job && tc.has_uuid && tc.has_sha256);
	assert_int_equal(tc.timestamp, 1700000000);
	memset(&b, 0, sizeof(b));
	snprintf(b.job, sizeof(b.job), "hello");
	snprintf(b.uuid, sizeof(b.uuid), FIX_UUID);
	snprintf(b.filename, sizeof(b.filename), "big.bin");
	assert_int_equal(petrel_sha256(big, BIG_LEN, b.sha256), 0);
	assert_int_equal(petrel_tcomment_bind(&tc, &b, PETREL_BIND_STRICT, &terr), 0);
	free(big);
}

static void test_prehashed_small_refuses_legacy_path(void **state)
{
	struct petrel_pubkey pk;
	struct petrel_sig sig;
	size_t len = 0;
	char *msg = fixture("small.txt", &len);
	uint8_t b2[64];

	(void)state;
	fixture_key(&pk);
	fixture_sig("small-prehashed.minisig", &sig);
	blake2b(msg, len, b2);
	assert_int_equal(petrel_sig_verify(&sig, &pk, b2, NULL, 0, &terr), 0);
	/* the same Ed25519 signature read as legacy (raw file) must not verify */
	sig.alg[1] = 'd';
	assert_int_equal(legacy_verify(&sig, &pk, msg, len, 1), -PETREL_ESIG_INVALID);
	assert_msg("file signature does not verify");
	free(msg);
}

/* (Re)makes the global signature, so a test reaches the file signature's verdict. */
static void sign_global(struct petrel_sig *sig, const uint8_t *sk)
{
	uint8_t gm[64 + 4];

	memcpy(sig->trusted, "t:ok", 5);
	sig->trusted_len = 4;
	memcpy(gm, sig->sig, 64);
	memcpy(gm + 64, "t:ok", 4);
	crypto_sign_detached(sig->global_sig, NULL, gm, sizeof(gm), sk);
}

/* A signature made by libsodium, wrapped as a minisign "Ed" signature. */
static void make_legacy(struct petrel_sig *sig, struct petrel_pubkey *pk, const uint8_t *sk,
			const uint8_t *msg, size_t n)
{
	memset(sig, 0, sizeof(*sig));
	memcpy(sig->alg, "Ed", 2);
	memcpy(sig->keyid, pk->keyid, 8);
	crypto_sign_detached(sig->sig, NULL, msg, n, sk);
	sign_global(sig, sk);
}

/* The legacy check agrees with crypto_sign_verify_detached, mutations included. */
static void test_legacy_matches_libsodium(void **state)
{
	uint8_t sk[64], msg[300];
	struct petrel_pubkey pk;
	struct petrel_sig sig, bad;
	size_t n, i;

	(void)state;
	assert_true(sodium_init() >= 0);
	memset(&pk, 0, sizeof(pk));
	crypto_sign_keypair(pk.pk, sk);
	randombytes_buf(pk.keyid, 8);
	for (n = 0; n < sizeof(msg); n += 37) {
		randombytes_buf(msg, n);
		make_legacy(&sig, &pk, sk, msg, n);
		assert_int_equal(legacy_verify(&sig, &pk, msg, n, 1), 0);
		for (i = 0; i < 64; i++) {
			int want;

			bad = sig;
			bad.sig[i] ^= (uint8_t)(1u << (i % 8));
			sign_global(&bad, sk);
			want = crypto_sign_verify_detached(bad.sig, msg, n, pk.pk) == 0 ? 0
							: -PETREL_ESIG_INVALID;
			assert_int_equal(legacy_verify(&bad, &pk, msg, n, 1), want);
			assert_int_equal(want, -PETREL_ESIG_INVALID);
			assert_msg("file signature does not verify");
		}
	}
}

/* S + L encodes the same scalar: malleable, so refused (libsodium refuses it too). */
static void test_legacy_noncanonical_s(void **state)
{
	static const uint8_t L[32] = {
		0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58, 0xd6, 0x9c, 0xf7, 0xa2, 0xde, 0xf9,
		0xde, 0x14, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10 };
	uint8_t sk[64], msg[5] = "hello";
	struct petrel_pubkey pk;
	struct petrel_sig sig;
	unsigned carry = 0;
	size_t i;

	(void)state;
	assert_true(sodium_init() >= 0);
	memset(&pk, 0, sizeof(pk));
	crypto_sign_keypair(pk.pk, sk);
	make_legacy(&sig, &pk, sk, msg, sizeof(msg));
	for (i = 0; i < 32; i++) {
		carry += (unsigned)sig.sig[32 + i] + L[i];
		sig.sig[32 + i] = (uint8_t)carry;
		carry >>= 8;
	}
	sign_global(&sig, sk);
	assert_int_not_equal(crypto_sign_verify_detached(sig.sig, msg, sizeof(msg), pk.pk), 0);
	assert_int_equal(legacy_verify(&sig, &pk, msg, sizeof(msg), 1), -PETREL_ESIG_INVALID);
	assert_msg("file signature does not verify");
}

/* Small-order keys and R values (the identity here) are refused. */
static void test_legacy_small_order(void **state)
{
	static const uint8_t identity[32] = { 1 };
	uint8_t sk[64], msg[3] = "abc";
	struct petrel_pubkey pk, weak;
	struct petrel_sig sig, bad;

	(void)state;
	assert_true(sodium_init() >= 0);
	memset(&pk, 0, sizeof(pk));
	crypto_sign_keypair(pk.pk, sk);
	make_legacy(&sig, &pk, sk, msg, sizeof(msg));
	weak = pk;
	memcpy(weak.pk, identity, 32);
	bad = sig;
	memset(bad.sig + 32, 0, 32);	/* S = 0: [S]B is the identity */
	memcpy(bad.sig, identity, 32);	/* R = identity: R + [k]identity = identity */
	sign_global(&bad, sk);
	assert_int_equal(legacy_verify(&bad, &weak, msg, sizeof(msg), 1), -PETREL_ESIG_INVALID);
	assert_msg("file signature does not verify");
	assert_int_equal(legacy_verify(&bad, &pk, msg, sizeof(msg), 1), -PETREL_ESIG_INVALID);
	assert_msg("file signature does not verify");
}

/*
 * R = identity with S = k*a satisfies [S]B == R + [k]A for a real key: libsodium refuses
 * small-order R, and so must we (this one only the R check catches).
 */
static void test_legacy_identity_r(void **state)
{
	static const uint8_t identity[32] = { 1 };
	uint8_t sk[64], h[64], a[32], k[32], msg[3] = "abc";
	struct petrel_pubkey pk;
	struct petrel_sig sig;
	crypto_hash_sha512_state st;

	(void)state;
	assert_true(sodium_init() >= 0);
	memset(&pk, 0, sizeof(pk));
	crypto_sign_keypair(pk.pk, sk);
	crypto_hash_sha512(h, sk, 32);	/* the secret scalar: clamped SHA-512 of the seed */
	h[0] &= 248;
	h[31] &= 127;
	h[31] |= 64;
	memset(h + 32, 0, 32);
	crypto_core_ed25519_scalar_reduce(a, h);
	crypto_hash_sha512_init(&st);
	crypto_hash_sha512_update(&st, identity, 32);
	crypto_hash_sha512_update(&st, pk.pk, 32);
	crypto_hash_sha512_update(&st, msg, sizeof(msg));
	crypto_hash_sha512_final(&st, h);
	crypto_core_ed25519_scalar_reduce(k, h);
	make_legacy(&sig, &pk, sk, msg, sizeof(msg));
	memcpy(sig.sig, identity, 32);
	crypto_core_ed25519_scalar_mul(sig.sig + 32, k, a);
	sign_global(&sig, sk);
	assert_int_not_equal(crypto_sign_verify_detached(sig.sig, msg, sizeof(msg), pk.pk), 0);
	assert_int_equal(legacy_verify(&sig, &pk, msg, sizeof(msg), 1), -PETREL_ESIG_INVALID);
	assert_msg("file signature does not verify");
}

/* ---- trusted comments ---- */

static void test_tcomment_all_fields(void **state)
{
	struct petrel_tcomment tc;
	char s[512];

	(void)state;
	snprintf(s, sizeof(s), "timestamp:1700000000\tfile:hello.hvt\tjob:hello\tuuid:%s\t"
		 "sha256:BA7816BF8F01CFEA414140DE5DAE2223B00361A396177A9CB410FF61F20015AD\t"
		 "hashed\tfuture:1:2\t\t", FIX_UUID);
	assert_int_equal(petrel_tcomment_parse(s, &tc, &terr), 0);
	assert_true(tc.has_timestamp && tc.has_file && tc.has_job && tc.has_uuid && tc.has_sha256);
	assert_int_equal(tc.timestamp, 1700000000);
	assert_string_equal(tc.file, "hello.hvt");
	assert_string_equal(tc.job, "hello");
	assert_string_equal(tc.uuid, FIX_UUID);
	hex_eq(tc.sha256, 32, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

static void test_tcomment_sparse(void **state)
{
	struct petrel_tcomment tc;

	(void)state;
	assert_int_equal(petrel_tcomment_parse("", &tc, &terr), 0);
	assert_false(tc.has_timestamp || tc.has_file || tc.has_job || tc.has_uuid ||
		     tc.has_sha256);
	assert_int_equal(petrel_tcomment_parse(VEC_TC, &tc, &terr), 0);
	assert_true(tc.has_timestamp && tc.has_file);
	assert_false(tc.has_job || tc.has_uuid || tc.has_sha256);
	assert_int_equal(tc.timestamp, 1556193335);
	assert_string_equal(tc.file, "test");
	assert_int_equal(petrel_tcomment_parse("just words, no fields", &tc, &terr), 0);
	assert_int_equal(petrel_tcomment_parse("Job:x\tJOB:y\t job:z", &tc, &terr), 0);
	assert_false(tc.has_job);
	assert_int_equal(petrel_tcomment_parse("timestamp:0", &tc, &terr), 0);
	assert_int_equal(petrel_tcomment_parse("timestamp:9223372036854775807", &tc, &terr), 0);
	assert_int_equal(tc.timestamp, INT64_MAX);
}

static void expect_tc_format(const char *s, const char *needle)
{
	struct petrel_tcomment tc;

	petrel_err_reset(&terr);
	assert_int_equal(petrel_tcomment_parse(s, &tc, &terr), -PETREL_ESIG_FORMAT);
	assert_false(tc.has_timestamp || tc.has_file || tc.has_job || tc.has_uuid ||
		     tc.has_sha256);
	assert_msg(needle);
}

static void test_tcomment_malformed(void **state)
{
	char s[1200];

	(void)state;
	expect_tc_format("timestamp:", "timestamp");
	expect_tc_format("timestamp:12a", "timestamp");
	expect_tc_format("timestamp:-1", "timestamp");
	expect_tc_format("timestamp:+1", "timestamp");
	expect_tc_format("timestamp: 1", "timestamp");
	expect_tc_format("timestamp:9223372036854775808", "timestamp");
	expect_tc_format("timestamp:99999999999999999999999", "timestamp");
	expect_tc_format("sha256:abc", "sha256");
	expect_tc_format("sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015a",
			 "sha256");
	expect_tc_format("sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015adf",
			 "sha256");
	expect_tc_format("sha256:ga7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
			 "sha256");
	expect_tc_format("uuid:0a1b2c3d4e5f6789abcdef0123456789", "uuid");
	expect_tc_format("uuid:0a1b2c3d-4e5f-6789-abcd-ef012345678g", "uuid");
	expect_tc_format("uuid:0a1b2c3d-4e5f-6789-abcd-ef01234567890", "uuid");
	expect_tc_format("job:", "job");
	expect_tc_format("file:", "file");
	expect_tc_format("job:a\001b", "job");
	expect_tc_format("file:a\x1b[31mred", "file");
	expect_tc_format("job:a\tjob:a", "more than one job");
	expect_tc_format("timestamp:1\tfile:x\ttimestamp:1", "more than one timestamp");
	memset(s, 'j', sizeof(s));
	memcpy(s, "job:", 4);
	s[4 + PETREL_NAME_MAX + 1] = '\0';
	expect_tc_format(s, "job");
	memset(s, 'f', sizeof(s));
	memcpy(s, "file:", 5);
	s[5 + PETREL_FILENAME_MAX + 1] = '\0';
	expect_tc_format(s, "file");
	memset(s, 'x', sizeof(s));
	s[PETREL_TRUSTED_COMMENT_MAX + 1] = '\0';
	expect_tc_format(s, "too long");
}

static void test_tcomment_limits_exact(void **state)
{
	struct petrel_tcomment tc;
	char s[PETREL_TRUSTED_COMMENT_MAX + 1];

	(void)state;
	memset(s, 'j', sizeof(s));
	memcpy(s, "job:", 4);
	s[4 + PETREL_NAME_MAX] = '\0';
	assert_int_equal(petrel_tcomment_parse(s, &tc, &terr), 0);
	assert_int_equal(strlen(tc.job), PETREL_NAME_MAX);
	memset(s, 'x', sizeof(s));
	s[PETREL_TRUSTED_COMMENT_MAX] = '\0';
	assert_int_equal(petrel_tcomment_parse(s, &tc, &terr), 0);
}

/* ---- binding ---- */

static void build_hello(struct petrel_build *b)
{
	memset(b, 0, sizeof(*b));
	snprintf(b->job, sizeof(b->job), "hello");
	snprintf(b->uuid, sizeof(b->uuid), FIX_UUID);
	snprintf(b->filename, sizeof(b->filename), "hello.hvt");
	assert_int_equal(petrel_sha256("abc", 3, b->sha256), 0);
}

static int bind_str(const char *s, enum petrel_bind mode)
{
	struct petrel_tcomment tc;
	struct petrel_build b;

	build_hello(&b);
	assert_int_equal(petrel_tcomment_parse(s, &tc, &terr), 0);
	petrel_err_reset(&terr);
	return petrel_tcomment_bind(&tc, &b, mode, &terr);
}

#define SHA_ABC "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
#define SHA_EMPTY "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

static void test_bind_match(void **state)
{
	(void)state;
	assert_int_equal(bind_str("timestamp:1\tfile:hello.hvt\tjob:hello\tuuid:" FIX_UUID
				  "\tsha256:" SHA_ABC, PETREL_BIND_STRICT), 0);
	assert_int_equal(bind_str("job:hello\tsha256:" SHA_ABC, PETREL_BIND_STRICT), 0);
	assert_int_equal(bind_str("uuid:0A1B2C3D-4E5F-6789-ABCD-EF0123456789\tjob:hello\tsha256:"
				  SHA_ABC, PETREL_BIND_STRICT), 0);
	assert_int_equal(bind_str("", PETREL_BIND_LOOSE), 0);
	assert_int_equal(bind_str("timestamp:5\tfile:hello.hvt", PETREL_BIND_LOOSE), 0);
}

static void test_bind_mismatch(void **state)
{
	(void)state;
	assert_int_equal(bind_str("job:other", PETREL_BIND_LOOSE), -PETREL_EBINDING);
	assert_msg("signature names job 'other', build is 'hello'");
	assert_int_equal(bind_str("file:other.hvt", PETREL_BIND_LOOSE), -PETREL_EBINDING);
	assert_msg("signature names file 'other.hvt', build is 'hello.hvt'");
	assert_int_equal(bind_str("uuid:0a1b2c3d-4e5f-6789-abcd-ef0123456780", PETREL_BIND_LOOSE),
			 -PETREL_EBINDING);
	assert_msg("signature names uuid '0a1b2c3d-4e5f-6789-abcd-ef0123456780', build is '"
		   FIX_UUID "'");
	assert_int_equal(bind_str("sha256:" SHA_EMPTY, PETREL_BIND_LOOSE), -PETREL_EBINDING);
	assert_msg("signature names sha256 " SHA_EMPTY ", build has " SHA_ABC);
	assert_int_equal(bind_str("job:hello\tsha256:" SHA_EMPTY, PETREL_BIND_STRICT),
			 -PETREL_EBINDING);
	assert_msg("signature names sha256 e3b0");
	assert_int_equal(bind_str("job:Hello\tsha256:" SHA_ABC, PETREL_BIND_STRICT),
			 -PETREL_EBINDING);
	assert_msg("signature names job 'Hello'");
}

static void test_bind_strict_missing(void **state)
{
	(void)state;
	assert_int_equal(bind_str("sha256:" SHA_ABC, PETREL_BIND_STRICT), -PETREL_EBINDING);
	assert_msg("signature has no job field (bind = strict)");
	assert_int_equal(bind_str("job:hello", PETREL_BIND_STRICT), -PETREL_EBINDING);
	assert_msg("signature has no sha256 field (bind = strict)");
	assert_int_equal(bind_str(VEC_TC, PETREL_BIND_STRICT), -PETREL_EBINDING);
	assert_msg("signature names file 'test', build is 'hello.hvt'");
	assert_int_equal(bind_str("timestamp:1", PETREL_BIND_STRICT), -PETREL_EBINDING);
	assert_msg("no job field");
}

/* ---- evidence and the decision ---- */

static void test_policy_threshold(void **state)
{
	struct petrel_evidence ev;
	uint8_t a[8] = { 1 }, b[8] = { 2 };

	(void)state;
	memset(&ev, 0, sizeof(ev));
	assert_int_equal(petrel_policy_signatures(PETREL_TRUST_SIGNED, 1, &ev, &terr), -PETREL_ETHRESHOLD);
	assert_msg("0 distinct trusted keys signed, threshold is 1");
	assert_int_equal(petrel_policy_signatures(PETREL_TRUST_SERVER, 1, &ev, &terr), 0);
	assert_int_equal(petrel_evidence_add_key(&ev, a, &terr), 0);
	assert_int_equal(petrel_policy_signatures(PETREL_TRUST_SIGNED, 1, &ev, &terr), 0);
	assert_int_equal(petrel_policy_signatures(PETREL_TRUST_SIGNED, 2, &ev, &terr), -PETREL_ETHRESHOLD);
	assert_msg("1 distinct trusted key signed, threshold is 2");
	assert_int_equal(petrel_evidence_add_key(&ev, a, &terr), 0);	/* same key twice: one */
	assert_int_equal(ev.nkeys, 1);
	assert_int_equal(petrel_policy_signatures(PETREL_TRUST_SIGNED, 2, &ev, &terr), -PETREL_ETHRESHOLD);
	petrel_err_reset(&terr);
	assert_int_equal(petrel_evidence_add_key(&ev, b, &terr), 0);
	assert_int_equal(ev.nkeys, 2);
	assert_int_equal(petrel_policy_signatures(PETREL_TRUST_SIGNED, 2, &ev, &terr), 0);
	assert_int_equal(petrel_policy_signatures(PETREL_TRUST_SIGNED, 3, &ev, &terr), -PETREL_ETHRESHOLD);
	petrel_err_reset(&terr);
	assert_int_equal(petrel_policy_signatures(PETREL_TRUST_SIGNED, 0, &ev, &terr), -PETREL_EPOLICY);
	assert_msg("threshold of at least 1");
	assert_int_equal(petrel_policy_signatures((enum petrel_trust)7, 1, &ev, &terr), -EINVAL);
	petrel_err_reset(&terr);
}

/* Builds evidence from n signers (key i+1 signed ts[i]; 0 means no timestamp) and
 * decides its time with threshold t. */
static struct petrel_evidence signers(const int64_t *ts, size_t n, unsigned t)
{
	struct petrel_evidence ev;
	uint8_t id[8] = { 0 };
	size_t i;

	memset(&ev, 0, sizeof(ev));
	for (i = 0; i < n; i++) {
		id[0] = (uint8_t)(i + 1);
		assert_int_equal(petrel_evidence_add_signer(&ev, id, ts[i] != 0, ts[i], &terr), 0);
	}
	petrel_evidence_decide_time(&ev, t);
	return ev;
}

/* The build's time is the threshold-th newest signer's: fewer liars than the threshold
 * move it neither into the future (freeze) nor into the past (refused as a replay). */
static void test_evidence_time(void **state)
{
	static const int64_t future = 4102444800;	/* 2100 */
	static const int64_t past = 1000;
	const int64_t honest_liar[] = { 1700000000, future }, liar_first[] = { future, 1700000000 };
	const int64_t three[] = { 1700000000, future, 1700000100 };
	const int64_t three_past[] = { 1700000000, past, 1700000100 };
	const int64_t one_untimed[] = { 0, 1700000000 }, none[] = { 0, 0 };
	struct petrel_evidence ev;
	uint8_t a[8] = { 9 };

	(void)state;
	ev = signers(honest_liar, 2, 2);
	assert_true(ev.has_timestamp);
	assert_int_equal(ev.timestamp, 1700000000);
	ev = signers(liar_first, 2, 2);		/* the order of the URLs does not matter */
	assert_int_equal(ev.timestamp, 1700000000);
	ev = signers(three, 3, 2);		/* a future liar among three, threshold 2: */
	assert_int_equal(ev.timestamp, 1700000100);	/* an honest signer's time */
	ev = signers(three_past, 3, 2);		/* a past liar cannot refuse the build */
	assert_int_equal(ev.timestamp, 1700000000);
	ev = signers(three, 3, 3);
	assert_int_equal(ev.timestamp, 1700000000);
	/* threshold 1: one key is trusted alone (the caller cuts the future at now) */
	ev = signers(honest_liar, 2, 1);
	assert_int_equal(ev.timestamp, future);
	ev = signers(honest_liar, 2, 0);
	assert_int_equal(ev.timestamp, future);
	/* fewer timestamped keys than the threshold: the oldest of them */
	ev = signers(one_untimed, 2, 2);
	assert_true(ev.has_timestamp);
	assert_int_equal(ev.timestamp, 1700000000);
	ev = signers(honest_liar, 2, 5);
	assert_int_equal(ev.timestamp, 1700000000);
	ev = signers(none, 2, 1);
	assert_false(ev.has_timestamp);
	assert_int_equal(ev.nkeys, 2);
	/* one key signing twice counts once, with its newest timestamp */
	memset(&ev, 0, sizeof(ev));
	assert_int_equal(petrel_evidence_add_signer(&ev, a, 1, 1700000200, &terr), 0);
	assert_int_equal(petrel_evidence_add_signer(&ev, a, 1, 1700000100, &terr), 0);
	assert_int_equal(petrel_evidence_add_signer(&ev, a, 0, 0, &terr), 0);
	petrel_evidence_decide_time(&ev, 2);
	assert_int_equal(ev.nkeys, 1);
	assert_int_equal(ev.timestamp, 1700000200);
}

static void test_policy_key_overflow(void **state)
{
	struct petrel_evidence ev;
	uint8_t id[8] = { 0 };
	int i;

	(void)state;
	memset(&ev, 0, sizeof(ev));
	for (i = 0; i < PETREL_KEYS_MAX; i++) {
		id[7] = (uint8_t)i;
		assert_int_equal(petrel_evidence_add_key(&ev, id, &terr), 0);
	}
	assert_int_equal(petrel_evidence_add_key(&ev, id, &terr), 0);	/* known: still fine */
	id[0] = 0xff;
	assert_int_equal(petrel_evidence_add_key(&ev, id, &terr), -PETREL_ETOOBIG);
	petrel_err_reset(&terr);
	assert_int_equal(ev.nkeys, PETREL_KEYS_MAX);
	assert_int_equal(petrel_policy_signatures(PETREL_TRUST_SIGNED, PETREL_KEYS_MAX, &ev, &terr), 0);
}

static void test_trust_modes(void **state)
{
	(void)state;
	assert_true(petrel_trust_needs_signatures(PETREL_TRUST_SIGNED));
	assert_false(petrel_trust_needs_rebuilders(PETREL_TRUST_SIGNED));
	assert_false(petrel_trust_needs_signatures(PETREL_TRUST_SERVER));
	assert_false(petrel_trust_needs_rebuilders(PETREL_TRUST_SERVER));
	assert_false(petrel_trust_needs_signatures(PETREL_TRUST_REBUILT));
	assert_true(petrel_trust_needs_rebuilders(PETREL_TRUST_REBUILT));
	assert_true(petrel_trust_needs_signatures(PETREL_TRUST_SIGNED_REBUILT));
	assert_true(petrel_trust_needs_rebuilders(PETREL_TRUST_SIGNED_REBUILT));
	assert_string_equal(petrel_trust_name(PETREL_TRUST_SIGNED), "signed");
	assert_string_equal(petrel_trust_name(PETREL_TRUST_SERVER), "server");
	assert_string_equal(petrel_trust_name(PETREL_TRUST_REBUILT), "rebuilt");
	assert_string_equal(petrel_trust_name(PETREL_TRUST_SIGNED_REBUILT), "signed+rebuilt");
	assert_string_equal(petrel_trust_name((enum petrel_trust)9), "?");
}

static void test_policy_rebuilt(void **state)
{
	struct petrel_evidence ev;
	char agreed[64];

	(void)state;
	memset(&ev, 0, sizeof(ev));
	/* not asked for: no rebuilders needed */
	assert_int_equal(petrel_policy_rebuilt(PETREL_TRUST_SIGNED, 2, &ev, &terr), 0);
	assert_int_equal(petrel_policy_rebuilt(PETREL_TRUST_REBUILT, 1, &ev, &terr), -PETREL_EPOLICY);
	assert_msg("0 of 0 rebuilders agree, agree = 1");
	assert_int_equal(petrel_evidence_add_rebuilder(&ev, "rb1", 1, NULL, &terr), 0);
	assert_int_equal(petrel_evidence_add_rebuilder(&ev, "rb2", 0, "has no build (404)", &terr), 0);
	assert_int_equal(petrel_evidence_add_rebuilder(&ev, "rb3", 0, "down: refused", &terr), 0);
	assert_int_equal(petrel_policy_rebuilt(PETREL_TRUST_REBUILT, 1, &ev, &terr), 0);
	assert_int_equal(petrel_policy_rebuilt(PETREL_TRUST_REBUILT, 2, &ev, &terr), -PETREL_EPOLICY);
	assert_msg("1 of 3 rebuilders agree, agree = 2 (rb2: has no build (404); rb3: down: refused)");
	/* the same name twice counts once */
	assert_int_equal(petrel_evidence_add_rebuilder(&ev, "rb1", 1, NULL, &terr), 0);
	assert_int_equal(petrel_policy_rebuilt(PETREL_TRUST_SIGNED_REBUILT, 2, &ev, &terr), -PETREL_EPOLICY);
	petrel_err_reset(&terr);
	petrel_evidence_agreed(&ev, agreed, sizeof(agreed));
	assert_string_equal(agreed, "rb1");
	assert_int_equal(petrel_evidence_add_rebuilder(&ev, "rb4", 1, NULL, &terr), 0);
	assert_int_equal(petrel_policy_rebuilt(PETREL_TRUST_REBUILT, 2, &ev, &terr), 0);
	petrel_evidence_agreed(&ev, agreed, sizeof(agreed));
	assert_string_equal(agreed, "rb1,rb4");
	/* agree = 0 in a rebuilt mode fails closed */
	assert_int_equal(petrel_policy_rebuilt(PETREL_TRUST_REBUILT, 0, &ev, &terr), -PETREL_EPOLICY);
	assert_msg("agree of at least 1");
	while (ev.nrebuilders < PETREL_REBUILDERS_MAX)
		assert_int_equal(petrel_evidence_add_rebuilder(&ev, "x", 0, "no", &terr), 0);
	assert_int_equal(petrel_evidence_add_rebuilder(&ev, "y", 1, NULL, &terr), -PETREL_ETOOBIG);
	petrel_err_reset(&terr);
}

static void test_policy_evaluate(void **state)
{
	struct petrel_policy both = { PETREL_TRUST_SIGNED_REBUILT, 1, 1 };
	struct petrel_policy server = { PETREL_TRUST_SERVER, 1, 1 };
	struct petrel_evidence ev;
	uint8_t a[8] = { 1 };

	(void)state;
	memset(&ev, 0, sizeof(ev));
	assert_int_equal(petrel_policy_evaluate(&server, &ev, &terr), 0);
	assert_int_equal(petrel_policy_evaluate(&both, &ev, &terr), -PETREL_ETHRESHOLD);
	petrel_err_reset(&terr);
	assert_int_equal(petrel_evidence_add_rebuilder(&ev, "rb1", 1, NULL, &terr), 0);
	assert_int_equal(petrel_policy_evaluate(&both, &ev, &terr), -PETREL_ETHRESHOLD);	/* rebuilt alone */
	petrel_err_reset(&terr);
	memset(&ev, 0, sizeof(ev));
	assert_int_equal(petrel_evidence_add_key(&ev, a, &terr), 0);
	assert_int_equal(petrel_policy_evaluate(&both, &ev, &terr), -PETREL_EPOLICY);	/* signed alone */
	assert_msg("0 of 0 rebuilders agree");
	assert_int_equal(petrel_evidence_add_rebuilder(&ev, "rb1", 1, NULL, &terr), 0);
	assert_int_equal(petrel_policy_evaluate(&both, &ev, &terr), 0);
}

static void test_policy_frozen(void **state)
{
	int64_t age;

	(void)state;
	assert_int_equal(petrel_policy_frozen(0, 0, 1000000, &age), 0);	/* off */
	assert_int_equal(age, 1000000);
	assert_int_equal(petrel_policy_frozen(100, 900, 1000, &age), 0);	/* exactly the limit */
	assert_int_equal(petrel_policy_frozen(100, 899, 1000, &age), 1);
	assert_int_equal(age, 101);
	assert_int_equal(petrel_policy_frozen(100, 2000, 1000, &age), 0);	/* from the future */
}

static void test_duration(void **state)
{
	static const struct { const char *in; int64_t want; } good[] = {
		{ "0", 0 }, { "90", 90 }, { "90s", 90 }, { "15m", 900 }, { "12h", 43200 },
		{ "30d", 2592000 },
	};
	static const char *const bad[] = { "", "d", "30x", "-1", "1.5d", "30 d", "30dd", "5ms",
					   "99999999999999999999d", "0x10" };
	char out[32];
	int64_t v;

	(void)state;
	for (size_t i = 0; i < PETREL_ARRAY_SIZE(good); i++) {
		assert_int_equal(petrel_parse_duration(good[i].in, &v), 0);
		assert_int_equal(v, good[i].want);
	}
	for (size_t i = 0; i < PETREL_ARRAY_SIZE(bad); i++)
		if (petrel_parse_duration(bad[i], &v) != -EINVAL)
			fail_msg("'%s' parsed", bad[i]);
	petrel_format_duration(2592000, out, sizeof(out));
	assert_string_equal(out, "30d");
	petrel_format_duration(2592000 + 7200, out, sizeof(out));
	assert_string_equal(out, "30d 2h");
	petrel_format_duration(2592000 + 3599, out, sizeof(out));	/* less than an hour over */
	assert_string_equal(out, "30d");
	petrel_format_duration(7200, out, sizeof(out));
	assert_string_equal(out, "2h");
	petrel_format_duration(120, out, sizeof(out));
	assert_string_equal(out, "2m");
	petrel_format_duration(61, out, sizeof(out));
	assert_string_equal(out, "61s");
}

static void test_keyid_str(void **state)
{
	static const uint8_t id[8] = { 0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef };
	char out[17];

	(void)state;
	petrel_keyid_str(id, out);
	assert_string_equal(out, "EFCDAB8967452301");
}

#define T(f) cmocka_unit_test_setup(f, clear_error)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_sha256_abc),
		T(test_blake2b_abc),
		T(test_digest_streaming),
		T(test_digest_only_enabled),
		T(test_sha256_file),
		T(test_digest_fd_bound_and_callback),
		T(test_vector_verifies),
		T(test_vector_keyid),
		T(test_vector_wrong_message),
		T(test_vector_bitflips),
		T(test_vector_key_bitflips),
		T(test_vector_wrong_key),
		T(test_vector_alg_flip),
		T(test_sig_crlf),
		T(test_sig_line_count),
		T(test_sig_overlong),
		T(test_sig_file_too_large),
		T(test_sig_nul),
		T(test_sig_prefixes),
		T(test_sig_base64),
		T(test_sig_lengths),
		T(test_sig_failed_parse_clears),
		T(test_pubkey_forms),
		T(test_pubkey_malformed),
		T(test_pubkey_load),
		T(test_legacy_small),
		T(test_legacy_needs_file),
		T(test_legacy_forged),
		T(test_big_fixtures_streamed),
		T(test_big_fixture_binding),
		T(test_prehashed_small_refuses_legacy_path),
		T(test_legacy_matches_libsodium),
		T(test_legacy_noncanonical_s),
		T(test_legacy_small_order),
		T(test_legacy_identity_r),
		T(test_tcomment_all_fields),
		T(test_tcomment_sparse),
		T(test_tcomment_malformed),
		T(test_tcomment_limits_exact),
		T(test_bind_match),
		T(test_bind_mismatch),
		T(test_bind_strict_missing),
		T(test_policy_threshold),
		T(test_evidence_time),
		T(test_policy_key_overflow),
		T(test_trust_modes),
		T(test_policy_rebuilt),
		T(test_policy_evaluate),
		T(test_policy_frozen),
		T(test_duration),
		T(test_keyid_str),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
