/* This host's identity for staged rollouts: the configured host_id or the machine id. */
#include <stdlib.h>
#include <string.h>

#include "common/fs.h"
#include "deploy/host.h"

/* s (n bytes) without the white space around it: its start, *n shortened. */
static const char *trimmed(const char *s, size_t *n)
{
	while (*n && strchr(" \t\r\n", s[*n - 1]))
		(*n)--;
	while (*n && strchr(" \t\r\n", *s))
		s++, (*n)--;
	return s;
}

int petrel_host_key_of(const struct petrel_config *cfg, const char *machine_id,
		       uint8_t key[PETREL_HOST_KEY_LEN], struct petrel_err *err)
{
	char *text = NULL;
	const char *id;
	size_t n;
	int r;

	if (cfg->host_id[0])
		return petrel_host_key(cfg->host_id, strlen(cfg->host_id), key);
	if ((r = petrel_read_file(machine_id, PETREL_HOST_ID_MAX + 2, &text, &n)) < 0)
		return petrel_fail(err, -PETREL_ECONFIG, "no host identity: %s: %s; set host_id "
				   "in [petrel]", machine_id, petrel_strerror(r));
	id = trimmed(text, &n);
	if (n == 0 || n > PETREL_HOST_ID_MAX)
		r = petrel_fail(err, -PETREL_ECONFIG, "no host identity: %s is %s; set host_id "
				"in [petrel]", machine_id, n ? "too long" : "empty");
	else
		r = petrel_host_key(id, n, key);
	free(text);
	return r;
}
