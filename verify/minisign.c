/* minisign key and signature files: strict parsing and libsodium Ed25519 verification. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "common/error.h"
#include "common/fs.h"
#include "common/util.h"
#include "verify/minisign.h"
#include "verify/policy.h"

#define UNTRUSTED_PREFIX "untrusted comment: "
#define TRUSTED_PREFIX "trusted comment: "
#define SIG_LINES 4
#define PUB_BIN_LEN 42		/* "Ed" || keyid(8) || pk(32) */
#define SIG_BIN_LEN 74		/* alg(2) || keyid(8) || sig(64) */

/* One line of a key or signature file: a view into the caller's text. */
struct line {
	const char *p;
	size_t n;
};

/*
 * Splits text into at most max lines at '\n'; a final newline ends the last line
 * rather than starting an empty one. Refuses NUL and '\r' anywhere; line lengths
 * are the caller's to check, so that each line's refusal can name it. *count gets
 * the number of lines, max + 1 meaning "more than max". 0 or -PETREL_ESIG_FORMAT.
 */
static int split_lines(const char *text, size_t len, struct line *lines, size_t max,
		       size_t *count, struct petrel_err *err)
{
	size_t i, start = 0, k = 0;

	*count = 0;
	if (len == 0)
		return 0;
	if (memchr(text, '\0', len))
		return petrel_fail(err, -PETREL_ESIG_FORMAT, "NUL byte in minisign file");
	if (memchr(text, '\r', len))
		return petrel_fail(err, -PETREL_ESIG_FORMAT, "carriage return in minisign file");
	for (i = 0; i <= len; i++) {
		if (i < len && text[i] != '\n')
			continue;
		if (i == len && start == len)
			break;	/* nothing after the final newline */
		if (k == max) {
			k++;
			break;
		}
		lines[k].p = text + start;
		lines[k].n = i - start;
		k++;
		start = i + 1;
	}
	*count = k;
	return 0;
}

/* Refuses a line whose first bytes are not prefix. */
static int expect_prefix(const struct line *l, const char *prefix, const char *what,
			 struct petrel_err *err)
{
	size_t n = strlen(prefix);

	if (l->n < n || memcmp(l->p, prefix, n) != 0)
		return petrel_fail(err, -PETREL_ESIG_FORMAT, "%s line does not start with \"%.*s\"",
				   what, (int)(n - 2), prefix);
	return 0;
}

/* Strict base64 of l into exactly want bytes. */
static int decode_exact(const struct line *l, uint8_t *out, size_t want, const char *what,
			struct petrel_err *err)
{
	size_t got = 0;
	int r;

	if (l->n > PETREL_MINISIGN_LINE_MAX)
		return petrel_fail(err, -PETREL_ESIG_FORMAT, "%s line too long", what);
	r = petrel_b64_decode(l->p, l->n, out, want, &got);
	if (r == -PETREL_ETOOBIG || (r == 0 && got != want))
		return petrel_fail(err, -PETREL_ESIG_FORMAT, "%s has the wrong length", what);
	if (r < 0)
		return petrel_fail(err, -PETREL_ESIG_FORMAT, "%s is not valid base64", what);
	return 0;
}

/* decode_exact, then the algorithm: "E" and one of algs ("d" Ed25519, "D" prehashed). */
static int decode_alg(const struct line *l, uint8_t *out, size_t want, const char *what,
		      const char *algs, struct petrel_err *err)
{
	int r = decode_exact(l, out, want, what, err);

	if (r < 0)
		return r;
	if (out[0] != 'E' || !out[1] || !strchr(algs, out[1]))
		return petrel_fail(err, -PETREL_ESIG_FORMAT, "%s has an unknown algorithm", what);
	return 0;
}

static int pubkey_decode(const struct line *l, struct petrel_pubkey *out, struct petrel_err *err)
{
	uint8_t bin[PUB_BIN_LEN];
	int r;

	if ((r = decode_alg(l, bin, sizeof(bin), "public key", "d", err)) < 0)
		return r;
	memcpy(out->keyid, bin + 2, 8);
	memcpy(out->pk, bin + 10, 32);
	return 0;
}

/* minisign's secret key file: its comment says so, and its key line is the Base64 of
 * 158 bytes (Ed, the KDF and checksum algorithms, salt, limits, the encrypted key). */
static int is_secret_key(const struct line *lines, size_t count)
{
	static const char says[] = "secret key";
	const struct line *key = &lines[count - 1];

	if (count == 2 && memmem(lines[0].p, lines[0].n, says, sizeof(says) - 1))
		return 1;
	return key->n == 212 && !memcmp(key->p, "RW", 2);
}

int petrel_pubkey_parse(const char *text, size_t len, struct petrel_pubkey *out,
			struct petrel_err *err)
{
	struct line lines[2];
	size_t count = 0;
	int r;

	memset(out, 0, sizeof(*out));
	if (len > PETREL_MINISIGN_FILE_MAX)
		return petrel_fail(err, -PETREL_ESIG_FORMAT, "public key file too large");
	r = split_lines(text, len, lines, 2, &count, err);
	if (r < 0)
		return r;
	if (count == 0 || count > 2)
		return petrel_fail(err, -PETREL_ESIG_FORMAT,
				   "public key must be one base64 line, optionally after a comment line");
	if (is_secret_key(lines, count))
		return petrel_fail(err, -PETREL_ESIG_FORMAT,
				   "is a minisign SECRET key, not a public key "
				   "(name the .pub file; a secret key has no place on this host)");
	if (count == 2) {
		if (lines[0].n > PETREL_MINISIGN_LINE_MAX)
			return petrel_fail(err, -PETREL_ESIG_FORMAT,
					   "public key comment line too long");
		r = expect_prefix(&lines[0], UNTRUSTED_PREFIX, "public key comment", err);
		if (r < 0)
			return r;
	}
	return pubkey_decode(&lines[count - 1], out, err);
}

int petrel_pubkey_load(const char *path, struct petrel_pubkey *out, struct petrel_err *err)
{
	char *text = NULL;
	size_t len = 0;
	int r;

	r = petrel_read_file(path, PETREL_MINISIGN_FILE_MAX, &text, &len);
	if (r == -PETREL_ETOOBIG)
		r = petrel_fail(err, -PETREL_ESIG_FORMAT, "public key file %s too large", path);
	if (r < 0)
		goto out;
	r = petrel_pubkey_parse(text, len, out, err);
	if (r < 0)
		petrel_err_prefix(err, "%s: ", path);
out:
	free(text);
	return r;
}

/* Line 2: alg || keyid || sig. */
static int sig_decode(const struct line *l, struct petrel_sig *out, struct petrel_err *err)
{
	uint8_t bin[SIG_BIN_LEN];
	int r;

	if ((r = decode_alg(l, bin, sizeof(bin), "signature", "Dd", err)) < 0)
		return r;
	memcpy(out->alg, bin, 2);
	memcpy(out->keyid, bin + 2, 8);
	memcpy(out->sig, bin + 10, 64);
	return 0;
}

/* Line 3: "trusted comment: TEXT", TEXT within PETREL_TRUSTED_COMMENT_MAX. */
static int trusted_decode(const struct line *l, struct petrel_sig *out, struct petrel_err *err)
{
	size_t n = strlen(TRUSTED_PREFIX);
	int r;

	r = expect_prefix(l, TRUSTED_PREFIX, "third", err);
	if (r < 0)
		return r;
	if (l->n - n > PETREL_TRUSTED_COMMENT_MAX || l->n > PETREL_MINISIGN_LINE_MAX)
		return petrel_fail(err, -PETREL_ESIG_FORMAT, "trusted comment too long");
	memcpy(out->trusted, l->p + n, l->n - n);
	out->trusted[l->n - n] = '\0';
	out->trusted_len = l->n - n;
	return 0;
}

int petrel_sig_parse(const char *text, size_t len, struct petrel_sig *out, struct petrel_err *err)
{
	struct line lines[SIG_LINES];
	size_t count = 0;
	int r;

	memset(out, 0, sizeof(*out));
	if (len > PETREL_MINISIGN_FILE_MAX)
		return petrel_fail(err, -PETREL_ESIG_FORMAT, "signature file too large");
	r = split_lines(text, len, lines, SIG_LINES, &count, err);
	if (r < 0)
		return r;
	if (count != SIG_LINES)
		return petrel_fail(err, -PETREL_ESIG_FORMAT,
				   "signature file must have exactly 4 lines");
	if (lines[0].n > PETREL_MINISIGN_LINE_MAX)
		return petrel_fail(err, -PETREL_ESIG_FORMAT, "untrusted comment line too long");
	r = expect_prefix(&lines[0], UNTRUSTED_PREFIX, "first", err);
	if (r == 0)
		r = sig_decode(&lines[1], out, err);
	if (r == 0)
		r = trusted_decode(&lines[2], out, err);
	if (r == 0)
		r = decode_exact(&lines[3], out->global_sig, 64, "global signature", err);
	if (r < 0)
		memset(out, 0, sizeof(*out));
	return r;
}

/* sodium_init is idempotent; failure means no usable randomness or CPU features. */
static int sodium_ready(struct petrel_err *err)
{
	if (sodium_init() < 0)
		return petrel_fail(err, -EIO, "libsodium failed to initialise");
	return 0;
}

/* The file signature: "ED" over the BLAKE2b-512, "Ed" over the whole file. */
static int verify_file_sig(const struct petrel_sig *sig, const struct petrel_pubkey *pk,
			   const uint8_t blake2b512[64], const struct petrel_msg *file,
			   int allow_legacy, struct petrel_err *err)
{
	static const uint8_t empty[1];
	int ok;

	if (sig->alg[1] == 'D') {
		if (!blake2b512)
			return petrel_fail(err, -EINVAL,
					   "prehashed signature needs the file's blake2b");
		ok = crypto_sign_verify_detached(sig->sig, blake2b512, 64, pk->pk) == 0;
	} else {
		if (!allow_legacy)
			return petrel_fail(err, -PETREL_ESIG_INVALID,
					   "legacy signature (Ed) refused; "
					   "set legacy_signatures = yes to accept");
		if (!file || (!file->p && file->n))
			return petrel_fail(err, -EINVAL, "legacy signature needs the whole file");
		/* libsodium's own verifier, never a check assembled from group operations */
		ok = crypto_sign_verify_detached(sig->sig, file->p ? file->p : empty, file->n,
						 pk->pk) == 0;
	}
	if (!ok)
		return petrel_fail(err, -PETREL_ESIG_INVALID, "file signature does not verify");
	return 0;
}

/* The global signature over sig(64) || trusted comment. */
static int verify_global_sig(const struct petrel_sig *sig, const struct petrel_pubkey *pk,
			     struct petrel_err *err)
{
	uint8_t msg[64 + PETREL_TRUSTED_COMMENT_MAX];

	if (sig->trusted_len > PETREL_TRUSTED_COMMENT_MAX)
		return petrel_fail(err, -PETREL_ESIG_FORMAT, "trusted comment too long");
	memcpy(msg, sig->sig, 64);
	memcpy(msg + 64, sig->trusted, sig->trusted_len);
	if (crypto_sign_verify_detached(sig->global_sig, msg, 64 + sig->trusted_len,
					pk->pk) != 0)
		return petrel_fail(err, -PETREL_ESIG_INVALID,
				   "trusted comment signature does not verify");
	return 0;
}

int petrel_sig_verify(const struct petrel_sig *sig, const struct petrel_pubkey *pk,
		      const uint8_t blake2b512[64], const struct petrel_msg *file,
		      int allow_legacy, struct petrel_err *err)
{
	char want[17], got[17];
	int r;

	r = sodium_ready(err);
	if (r < 0)
		return r;
	if (memcmp(sig->keyid, pk->keyid, 8) != 0) {
		petrel_keyid_str(sig->keyid, got);
		petrel_keyid_str(pk->keyid, want);
		return petrel_fail(err, -PETREL_ESIG_UNTRUSTED,
				   "signature made by key %s, not by %s",
				   got, want);
	}
	if (sig->alg[0] != 'E' || (sig->alg[1] != 'D' && sig->alg[1] != 'd'))
		return petrel_fail(err, -PETREL_ESIG_FORMAT, "signature has an unknown algorithm");
	r = verify_file_sig(sig, pk, blake2b512, file, allow_legacy, err);
	if (r == 0)
		r = verify_global_sig(sig, pk, err);
	return r;
}
