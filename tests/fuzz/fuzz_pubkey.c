/* libFuzzer target: minisign public key parser (a .pub file or a bare base64 line). */
#include <stddef.h>
#include <stdint.h>

#include "common/error.h"
#include "verify/minisign.h"

/* Any bytes are accepted or refused as a key format error with a message; never a
 * crash, an overread or another code. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct petrel_err err = PETREL_ERR_INIT;
	struct petrel_pubkey pk;
	int r = petrel_pubkey_parse((const char *)data, size, &pk, &err);

	if (r > 0 || (r < 0 && (r != -PETREL_ESIG_FORMAT || !err.msg[0])))
		__builtin_trap();
	return 0;
}
