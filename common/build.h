/* One build as the build server describes it: the record every layer passes around. */
#ifndef PETREL_BUILD_H
#define PETREL_BUILD_H

#include <stdint.h>

#define PETREL_NAME_MAX 128	/* job, platform, target and server names */
#define PETREL_UUID_LEN 36	/* canonical 8-4-4-4-12 form */
#define PETREL_FILENAME_MAX 255
#define PETREL_URL_MAX 2048

struct petrel_build {
	char job[PETREL_NAME_MAX + 1];
	char uuid[PETREL_UUID_LEN + 1];
	char platform[PETREL_NAME_MAX + 1];	/* "" when unknown */
	char filename[PETREL_FILENAME_MAX + 1];	/* main binary's file name */
	uint8_t sha256[32];
	uint64_t size;
	int64_t start_time;	/* seconds since epoch, 0 when unknown */
	int64_t finish_time;
};

/* 1 when s is a canonical lowercase or uppercase 8-4-4-4-12 uuid. */
int petrel_uuid_valid(const char *s);
/* 1 when s is a safe single path component: [A-Za-z0-9._+-], not "." or "..",
 * not empty, at most max bytes. Server-provided names are checked with this. */
int petrel_name_valid(const char *s, unsigned long max);

#endif
