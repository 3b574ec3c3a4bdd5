/* libFuzzer target: the channel file parser (a publisher's signed JSON, DESIGN.md "Fleet"). */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "common/build.h"
#include "common/error.h"
#include "verify/channel.h"

/* Any file is accepted or refused with a message; what is accepted for the job holds a
 * uuid that is a uuid, a ramp within its bounds and at most the named number of blocks,
 * none of which is the release. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct petrel_err err = PETREL_ERR_INIT;
	struct petrel_channel c;
	int r;

	r = petrel_channel_parse((const char *)data, size, "hello", &c, &err);
	if (r != 0 && ((r != -PETREL_EMALFORMED && r != -PETREL_ETOOBIG) || !err.msg[0]))
		__builtin_trap();
	if (r != 0)
		return c.blocked ? (__builtin_trap(), 0) : 0;
	if (c.version < 0 || c.version > PETREL_CHANNEL_VERSION_MAX ||
	    c.nblocked > PETREL_CHANNEL_BLOCKED_MAX ||
	    (c.has_release && (!petrel_uuid_valid(c.uuid) || c.duration < 0 ||
			       c.duration > PETREL_CHANNEL_DURATION_MAX ||
			       petrel_channel_blocks(&c, c.sha256))) ||
	    (!c.has_job && (c.has_release || c.nblocked)))
		__builtin_trap();
	petrel_channel_release(&c);
	return 0;
}
