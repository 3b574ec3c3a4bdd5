/* What the configuration means before any target is read: defaults, one server or two,
 * and how target paths are compared. */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/util.h"
#include "fetcher/http.h"
#include "switch.h"
#include "target.h"

void petrel_config_defaults(struct petrel_config *c, const char *path)
{
	memset(c, 0, sizeof(*c));
	petrel_strcpy_whole(c->path, path, sizeof(c->path));
	petrel_strcpy_whole(c->state_dir, "/var/lib/petrel", sizeof(c->state_dir));
	c->interval = 3600;
	c->backoff_max = 6 * 3600;
	c->lock_timeout = 30;
	c->max_artifact_size = 4L << 30;
	petrel_http_limits_default(&c->limits);
}

int petrel_same_origin(const char *a, const char *b)
{
	char oa[PETREL_URL_MAX + 32], ob[PETREL_URL_MAX + 32];

	if (petrel_url_origin(a, oa, sizeof(oa)) < 0 || petrel_url_origin(b, ob, sizeof(ob)) < 0)
		return !strcasecmp(a, b);
	return !strcmp(oa, ob);
}

const char *const petrel_path_suffixes[] = { PETREL_NEW_SUFFIX, PETREL_PREV_SUFFIX, NULL };

/* Folds "//", "." and ".." of the absolute path in into out, as the kernel would if no
 * component were a symbolic link ("/.." is "/"). 0 or -ENAMETOOLONG. */
static int lexical(const char *in, char *out, size_t n)
{
	size_t len = 0;

	if (n < 2)
		return -ENAMETOOLONG;
	while (*in) {
		size_t c;

		in += strspn(in, "/");
		c = strcspn(in, "/");
		if (c == 0 || (c == 1 && in[0] == '.')) {
			in += c;
			continue;
		}
		if (c == 2 && in[0] == '.' && in[1] == '.') {
			while (len && out[--len] != '/')
				;
			in += c;
			continue;
		}
		if (len + 1 + c >= n)
			return -ENAMETOOLONG;
		out[len] = '/';
		memcpy(out + len + 1, in, c);
		len += 1 + c;
		in += c;
	}
	if (len == 0)
		out[len++] = '/';
	out[len] = '\0';
	return 0;
}

int petrel_dir_normalise(const char *dir, char *out, size_t n)
{
	char real[PATH_MAX];

	if (dir[0] != '/')
		return -EINVAL;
	if (realpath(dir, real))
		return petrel_strcpy_whole(out, real, n) < 0 ? -ENAMETOOLONG : 0;
	return lexical(dir, out, n);
}

int petrel_path_normalise(const char *path, char *out, size_t n)
{
	const char *base = strrchr(path, '/');
	char parent[PATH_MAX], dir[PATH_MAX];
	int r;

	if (path[0] != '/' || !base[1] || !strcmp(base, "/.") || !strcmp(base, "/.."))
		return -EINVAL;
	if ((size_t)(base - path) >= sizeof(parent))
		return -ENAMETOOLONG;
	memcpy(parent, path, (size_t)(base - path));
	parent[base - path] = '\0';
	if ((r = petrel_dir_normalise(parent[0] ? parent : "/", dir, sizeof(dir))) < 0)
		return r;
	return petrel_snprintf(out, n, "%s%s", strcmp(dir, "/") ? dir : "", base) < 0 ?
		-ENAMETOOLONG : 0;
}
