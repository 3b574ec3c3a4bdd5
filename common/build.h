/* One build as the build server describes it: the record every layer passes around. */
#ifndef PETREL_BUILD_H
#define PETREL_BUILD_H

#include <stdint.h>

#define PETREL_NAME_MAX 128	/* job, platform, target and server names */
#define PETREL_UUID_LEN 36	/* canonical 8-4-4-4-12 form */
#define PETREL_FILENAME_MAX 255
#define PETREL_URL_MAX 2048
#define PETREL_ABI_MAX 31	/* a Solo5 target: hvt, spt, virtio, muen, xen, ... */
#define PETREL_DEVICE_NAME_MAX 67	/* Solo5's manifest name limit */
#define PETREL_DEVICES_MAX 1024	/* "net:NAME block:NAME ..." of one manifest */

struct petrel_build {
	char job[PETREL_NAME_MAX + 1];
	char uuid[PETREL_UUID_LEN + 1];
	char platform[PETREL_NAME_MAX + 1];	/* "" when unknown */
	char filename[PETREL_FILENAME_MAX + 1];	/* main binary's file name */
	uint8_t sha256[32];
	uint64_t size;
	int64_t start_time;	/* seconds since epoch, 0 when unknown */
	int64_t finish_time;
	/* From the build record when the main binary is a Solo5 unikernel, else "":
	 * its target ("hvt") and the devices its manifest asks for, as space-separated
	 * TYPE:NAME with TYPE net, block (NET_BASIC, BLOCK_BASIC) or another type lowercased. */
	char solo5_abi[PETREL_ABI_MAX + 1];
	char solo5_devices[PETREL_DEVICES_MAX];
};

/* 1 when s is a canonical lowercase or uppercase 8-4-4-4-12 uuid. */
int petrel_uuid_valid(const char *s);
/* 1 when s is a safe single path component: [A-Za-z0-9._+-], not "." or "..",
 * not empty, at most max bytes. Server-provided names are checked with this. */
int petrel_name_valid(const char *s, unsigned long max);

#endif
