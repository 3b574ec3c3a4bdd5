/* What the configuration means before any target is read: defaults, one server or two. */
#include <string.h>
#include <strings.h>

#include "common/util.h"
#include "fetcher/http.h"
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
