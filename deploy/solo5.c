/* Preflight from the build record: Solo5 target and manifest devices, before a download. */
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "common/error.h"
#include "common/log.h"
#include "common/util.h"
#include "run.h"
#include "solo5.h"

int petrel_solo5_abi_check(const struct petrel_target *t, const struct petrel_build *b,
			   struct petrel_err *err)
{
	if (!t->abi[0] || !b->solo5_abi[0] || !strcmp(t->abi, b->solo5_abi))
		return 0;
	return petrel_fail(err, -PETREL_EPOLICY,
			   "build %s is a Solo5 '%s' unikernel, the target runs "
			   "'%s' (abi); refused before downloading", b->uuid, b->solo5_abi, t->abi);
}

/* 1 when the line "TYPE NAME" (type and name of a TYPE:NAME word) is in have. */
static int has_device(const char *have, const char *type, size_t tlen, const char *name,
		      size_t nlen)
{
	for (const char *l = have; *l; ) {
		size_t len = strcspn(l, "\n");

		if (len == tlen + 1 + nlen && !strncmp(l, type, tlen) && l[tlen] == ' ' &&
		    !strncmp(l + tlen + 1, name, nlen))
			return 1;
		l += len + (l[len] == '\n');
	}
	return 0;
}

int petrel_solo5_devices_cover(const char *need, const char *have, char *missing, size_t n)
{
	missing[0] = '\0';
	for (const char *w = need; *w; ) {
		size_t len = strcspn(w, " "), tlen = strcspn(w, ":");

		if (len && tlen < len && !has_device(have, w, tlen, w + tlen + 1, len - tlen - 1)) {
			size_t used = strlen(missing);

			snprintf(missing + used, n - used, "%s%.*s", used ? " " : "", (int)len, w);
		}
		w += len + (w[len] == ' ');
	}
	return missing[0] ? -PETREL_EPOLICY : 0;
}

/* 1 when line (len bytes) is "net NAME" or "block NAME" with one word for NAME. */
static int is_device_line(const char *l, size_t len)
{
	size_t t = !strncmp(l, "net ", 4) ? 4 : !strncmp(l, "block ", 6) ? 6 : 0;

	return t && len > t && !memchr(l + t, ' ', len - t);
}

/* Keeps only the device lines of an adapter's output (stdout and stderr are mixed). */
static void device_lines(const char *out, char *have, size_t n)
{
	size_t used = 0;

	have[0] = '\0';
	for (const char *l = out; *l; ) {
		size_t len = strcspn(l, "\n");

		if (is_device_line(l, len) && used + len + 2 < n) {
			memcpy(have + used, l, len);
			used += len;
			have[used++] = '\n';
			have[used] = '\0';
		}
		l += len + (l[len] == '\n');
	}
}

/* "net a\nblock b\n" as "net:a block:b" (or "none"), for a message. */
static void devices_shown(const char *have, char *out, size_t n)
{
	size_t i;

	petrel_strcpy_whole(out, have[0] ? have : "none", n);
	for (i = 0; out[i]; i++)
		out[i] = out[i] == ' ' ? ':' : out[i] == '\n' ? ' ' : out[i];
	while (i && out[i - 1] == ' ')
		out[--i] = '\0';
}

int petrel_solo5_devices_check(const struct petrel_target *t, const struct petrel_build *b,
			       struct petrel_err *err)
{
	char env[5][PATH_MAX + 16], have[PETREL_RUN_OUTPUT_MAX + 2], missing[PETREL_DEVICES_MAX];
	char desc[96], hex[65], shown[PETREL_RUN_OUTPUT_MAX + 2];
	const char *extra[] = { "devices" };
	struct petrel_argv argv;
	const char *list[5] = { env[0], env[1], env[2], env[3], env[4] };
	struct petrel_run_result res;
	struct petrel_err e = PETREL_ERR_INIT;

	if (!b->solo5_devices[0] || !strcmp(t->orchestrator, "none") || !t->orchestrator[0])
		return 0;
	petrel_hex(b->sha256, 32, hex);
	snprintf(env[0], sizeof(env[0]), "PETREL_TARGET=%s", t->name);
	snprintf(env[1], sizeof(env[1]), "PETREL_PATH=%s", t->path);
	snprintf(env[2], sizeof(env[2]), "PETREL_NEW_SHA256=%s", hex);
	snprintf(env[3], sizeof(env[3]), "PETREL_JOB=%s", b->job);
	snprintf(env[4], sizeof(env[4]), "PETREL_UUID=%s", b->uuid);
	if (petrel_argv_split(&argv, t->orchestrator, extra, 1) < 0)
		return petrel_fail(err, -PETREL_ECONFIG, "orchestrator '%s': a quote is not closed, "
				   "or too many words", t->orchestrator);
	if (petrel_run(argv.v, list, 5, t->orchestrator_timeout, PETREL_RUN_CANCELLABLE,
		       &res, &e) < 0)
		return petrel_fail(err, -PETREL_ECONFIG, "orchestrator: %s", e.msg);
	if (!petrel_run_ok(&res)) {
		petrel_run_describe(&res, t->orchestrator_timeout, desc, sizeof(desc));
		petrel_log_info("%s: devices of build %s not checked: %s devices: %s", t->name,
				b->uuid, t->orchestrator, desc);
		return 0;
	}
	device_lines(res.output, have, sizeof(have));
	if (petrel_solo5_devices_cover(b->solo5_devices, have, missing, sizeof(missing)) == 0)
		return 0;
	devices_shown(have, shown, sizeof(shown));
	return petrel_fail(err, -PETREL_EPOLICY, "build %s needs Solo5 device%s %s, which the "
			   "orchestrator does not give the unikernel (it has: %s); refused before "
			   "downloading", b->uuid, strchr(missing, ' ') ? "s" : "", missing, shown);
}
