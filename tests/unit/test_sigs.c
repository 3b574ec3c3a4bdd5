/* deploy/sigs.c's text API: signatures given as text (kept in the store, from a bundle). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "common/error.h"
#include "deploy/sigs.h"
#include "verify/digest.h"

/* minisign's reference vector: a prehashed signature of "test" */
#define VEC_PK "RWQf6LRCGA9i53mlYecO4IzT51TGPpvWucNSCh1CBM0QTaLn73Y7GFO3"
#define VEC_TEXT "untrusted comment: signature from minisign secret key\n" \
	"RUQf6LRCGA9i559r3g7V1qNyJDApGip8MfqcadIgT9CuhV3EMhHoN1mGTkUidF/z7SrlQgXdy8ofjb7bNJJylDOocrCo8KLzZwo=\n" \
	"trusted comment: timestamp:1556193335\tfile:test\n" \
	"y/rUw2y8/hOUYjZU71eHp/Wo1KZ40fGy2VJEDl34XMJM+TX48Ss/17u3IvIfbVR1FkZZSNCisQbuQY+bHwhEBg==\n"

static struct petrel_err terr;
static struct petrel_target t;
static struct petrel_build b;

static int setup(void **state)
{
	(void)state;
	memset(&t, 0, sizeof(t));
	memset(&b, 0, sizeof(b));
	petrel_err_reset(&terr);
	snprintf(t.name, sizeof(t.name), "hello");
	t.trust = PETREL_TRUST_SIGNED;
	t.bind = PETREL_BIND_LOOSE;
	t.threshold = 1;
	t.nkeys = 1;
	assert_int_equal(petrel_pubkey_parse(VEC_PK, strlen(VEC_PK), &t.pubkeys[0], &terr), 0);
	snprintf(b.job, sizeof(b.job), "hello");
	snprintf(b.filename, sizeof(b.filename), "test");
	snprintf(b.uuid, sizeof(b.uuid), "0a1b2c3d-4e5f-6789-abcd-ef0123456789");
	return 0;
}

static void blake2b(const char *text, uint8_t out[64])
{
	struct petrel_digest *d = NULL;

	assert_int_equal(petrel_digest_new(&d, PETREL_DIGEST_BLAKE2B), 0);
	assert_int_equal(petrel_digest_update(d, text, strlen(text)), 0);
	assert_int_equal(petrel_digest_final(d, NULL, out), 0);
	petrel_digest_free(d);
}

static void counts_and_is_kept(void **state)
{
	struct petrel_sigset s;
	struct petrel_evidence ev;
	struct petrel_stored_sig kept[2];
	uint8_t b2[64];
	char id[17];

	(void)state;
	petrel_sigset_init(&s, &t);
	assert_int_equal(petrel_sigset_add_text(&s, &b, "kept", VEC_TEXT, strlen(VEC_TEXT),
						&terr), 0);
	assert_int_equal(s.ncands, 1);
	assert_true(petrel_sigset_needs_blake2b(&s));
	assert_int_equal(petrel_sigset_accepted(&s, kept, 2), 0);	/* not verified yet */
	blake2b("test", b2);
	assert_int_equal(petrel_sigset_verify(&s, b2, NULL, &ev, &terr), 0);
	assert_int_equal(ev.nkeys, 1);
	assert_int_equal(petrel_sigset_accepted(&s, kept, 2), 1);
	petrel_keyid_str(t.pubkeys[0].keyid, id);
	assert_string_equal(kept[0].keyid, id);
	assert_int_equal(kept[0].len, strlen(VEC_TEXT));
	assert_memory_equal(kept[0].text, VEC_TEXT, kept[0].len);
	petrel_sigset_release(&s);
}

static void other_bytes_refused(void **state)
{
	struct petrel_stored_sig kept[1];
	struct petrel_sigset s;
	struct petrel_evidence ev;
	uint8_t b2[64];

	(void)state;
	petrel_sigset_init(&s, &t);
	assert_int_equal(petrel_sigset_add_text(&s, &b, "kept", VEC_TEXT, strlen(VEC_TEXT),
						&terr), 0);
	blake2b("tesT", b2);
	assert_int_equal(petrel_sigset_verify(&s, b2, NULL, &ev, &terr), -PETREL_ESIG_INVALID);
	assert_non_null(strstr(terr.msg, "kept: "));
	assert_int_equal(petrel_sigset_accepted(&s, kept, 1), 0);
	petrel_sigset_release(&s);
}

/* Adds text to a fresh set: the code, with the message in terr and as the set's first. */
static int add_one(const char *text, size_t n)
{
	struct petrel_sigset s;
	int r;

	petrel_err_reset(&terr);
	petrel_sigset_init(&s, &t);
	r = petrel_sigset_add_text(&s, &b, "bundle.tar: sigs/1.minisig", text, n, &terr);
	assert_int_equal(s.ncands, r == 0);
	if (r < 0) {
		assert_int_equal(s.first.code, r);
		assert_string_equal(s.first.msg, terr.msg);
		assert_non_null(strstr(terr.msg, "bundle.tar: sigs/1.minisig: "));
	}
	petrel_sigset_release(&s);
	return r;
}

static void judged_as_fetched(void **state)
{
	static char big[PETREL_MINISIGN_FILE_MAX + 2];

	(void)state;
	assert_int_equal(add_one("not a signature", 15), -PETREL_ESIG_FORMAT);
	memset(big, 'x', sizeof(big));
	assert_int_equal(add_one(big, sizeof(big)), -PETREL_ESIG_FORMAT);
	assert_non_null(strstr(terr.msg, "exceeds"));
	snprintf(b.filename, sizeof(b.filename), "other");
	assert_int_equal(add_one(VEC_TEXT, strlen(VEC_TEXT)), -PETREL_EBINDING);
	snprintf(b.filename, sizeof(b.filename), "test");
	t.nkeys = 0;
	assert_int_equal(add_one(VEC_TEXT, strlen(VEC_TEXT)), -PETREL_ESIG_UNTRUSTED);
	assert_non_null(strstr(terr.msg, "signed by unknown key"));
}

static void bounded(void **state)
{
	struct petrel_sigset s;

	(void)state;
	petrel_sigset_init(&s, &t);
	for (int i = 0; i < PETREL_SIGURLS_MAX; i++)
		assert_int_equal(petrel_sigset_add_text(&s, &b, "kept", VEC_TEXT,
							strlen(VEC_TEXT), &terr), 0);
	assert_int_equal(petrel_sigset_add_text(&s, &b, "kept", VEC_TEXT, strlen(VEC_TEXT),
						&terr), -PETREL_ETOOBIG);
	assert_int_equal(s.ncands, PETREL_SIGURLS_MAX);
	petrel_sigset_release(&s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(counts_and_is_kept, setup),
		cmocka_unit_test_setup(other_bytes_refused, setup),
		cmocka_unit_test_setup(judged_as_fetched, setup),
		cmocka_unit_test_setup(bounded, setup),
	};

	return cmocka_run_group_tests_name("sigs", tests, NULL, NULL);
}
