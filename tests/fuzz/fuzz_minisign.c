/* libFuzzer target: minisign signature, public key and trusted comment parsers. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "common/error.h"
#include "verify/minisign.h"
#include "verify/policy.h"

/* The err of the calls under test; reset where a test needs a fresh one. */
static struct petrel_err terr;

/* Every parser must refuse or accept any bytes without crashing or overreading. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct petrel_sig sig;
	struct petrel_pubkey pk;
	struct petrel_tcomment tc;
	char tcbuf[PETREL_TRUSTED_COMMENT_MAX + 2];
	size_t n = size < sizeof(tcbuf) - 1 ? size : sizeof(tcbuf) - 1;

	if (petrel_sig_parse((const char *)data, size, &sig, &terr) == 0) {
		if (sig.trusted_len != strlen(sig.trusted))
			__builtin_trap();
		petrel_tcomment_parse(sig.trusted, &tc, &terr);
	}
	petrel_err_reset(&terr);
	petrel_pubkey_parse((const char *)data, size, &pk, &terr);
	petrel_err_reset(&terr);
	memcpy(tcbuf, data, n);
	tcbuf[n] = '\0';
	petrel_tcomment_parse(tcbuf, &tc, &terr);
	petrel_err_reset(&terr);
	return 0;
}
