/* libFuzzer target: minisign signature file parser (.minisig). */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "common/error.h"
#include "verify/minisign.h"

/* Any bytes are accepted or refused as a signature format error with a message; what
 * is accepted has a known algorithm and a trusted comment that is one NUL-terminated
 * line within its limit. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct petrel_err err = PETREL_ERR_INIT;
	struct petrel_sig sig;
	int r = petrel_sig_parse((const char *)data, size, &sig, &err);

	if (r > 0 || (r < 0 && (r != -PETREL_ESIG_FORMAT || !err.msg[0])))
		__builtin_trap();
	if (r < 0)
		return 0;
	if (sig.alg[0] != 'E' || (sig.alg[1] != 'D' && sig.alg[1] != 'd'))
		__builtin_trap();
	if (sig.trusted_len > PETREL_TRUSTED_COMMENT_MAX || sig.trusted_len != strlen(sig.trusted) ||
	    memchr(sig.trusted, '\n', sig.trusted_len))
		__builtin_trap();
	return 0;
}
