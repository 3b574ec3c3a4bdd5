/* Configuration as the engine sees it: servers, targets, limits. cli/ fills it. */
#ifndef PETREL_TARGET_H
#define PETREL_TARGET_H

#include <limits.h>
#include <stdint.h>

#include "common/build.h"
#include "fetcher/http.h"
#include "verify/minisign.h"
#include "verify/policy.h"

#define PETREL_SIGURLS_MAX 8	/* signature URL templates per target */
#define PETREL_HOST_ID_MAX 255	/* bytes of [petrel] host_id and of /etc/machine-id */

enum petrel_auto { PETREL_AUTO_UPGRADE, PETREL_AUTO_FETCH, PETREL_AUTO_OFF };

#define PETREL_MIRRORS_MAX 8

struct petrel_server {
	char name[PETREL_NAME_MAX + 1];
	int line;				/* of its [server] header, for messages */
	char url[PETREL_URL_MAX + 1];	/* without trailing slash */
	/* where an artifact's bytes may come from first, in order (same paths as url's
	 * /job/J/build/U/f/...), each without trailing slash; the origin (url) last */
	char mirrors[PETREL_MIRRORS_MAX][PETREL_URL_MAX + 1];
	size_t nmirrors;
};

struct petrel_target {
	char name[PETREL_NAME_MAX + 1];
	const struct petrel_server *server;	/* borrowed from the config */
	char job[PETREL_NAME_MAX + 1];
	char platform[PETREL_NAME_MAX + 1];	/* "" = any */
	char abi[PETREL_ABI_MAX + 1];		/* Solo5 target it runs ("hvt"), "" = any */
	char path[PATH_MAX];			/* the deployed file */
	char orchestrator[PATH_MAX];		/* "none" or an executable */
	char health[PATH_MAX];			/* "" = none */
	char preflight[PATH_MAX];		/* "" = none */
	long orchestrator_timeout;		/* seconds, default 120 */
	long health_retries;			/* attempts, default 8 */
	long health_timeout;			/* seconds per attempt, default 5 */
	enum petrel_auto autopolicy;
	long interval;				/* daemon poll interval, s (default [petrel]'s) */
	int window_start, window_end;		/* maintenance window, minutes after local
						 * midnight; -1: none (always open) */
	enum petrel_trust trust;
	enum petrel_bind bind;
	int legacy_signatures;
	unsigned threshold;
	unsigned keep;
	int keep_set;				/* keep is in the configuration: the daemon
						 * runs gc after an upgrade */
	size_t nkeys;
	char keys[PETREL_KEYS_MAX][PATH_MAX];	/* public key files */
	struct petrel_pubkey pubkeys[PETREL_KEYS_MAX];	/* their contents, loaded with the config */
	int line;				/* of its [target] header, for messages */
	int path_line, trust_line;		/* of its path and trust keys (0: not set) */
	size_t nsigurls;
	char sigurls[PETREL_SIGURLS_MAX][PETREL_URL_MAX + 1];	/* URL templates */
	/* trust policy beyond signatures (issue 5) */
	size_t nrebuilders;
	char rebuilder_names[PETREL_REBUILDERS_MAX][PETREL_NAME_MAX + 1];
	const struct petrel_server *rebuilders[PETREL_REBUILDERS_MAX];	/* borrowed, resolved */
	unsigned agree;				/* rebuilders that must agree, default 1 */
	long max_age;				/* seconds; 0 = no freeze check */
	/* a publisher's channel file (DESIGN.md "Fleet"), "" for none */
	char channel[PETREL_URL_MAX + 1];
	size_t nchannel_keys;			/* its keys: channel_keys, else keys */
	char channel_keys[PETREL_KEYS_MAX][PATH_MAX];
	struct petrel_pubkey channel_pubkeys[PETREL_KEYS_MAX];
};

struct petrel_config {
	char path[PATH_MAX];		/* the file it came from */
	char state_dir[PATH_MAX];
	long interval;			/* default poll interval of the daemon, s */
	long backoff_max;		/* cap of the per-server retry delay after failures, s */
	long lock_timeout;		/* seconds to wait for the state directory's lock */
	char host_id[PETREL_HOST_ID_MAX + 1];	/* "": /etc/machine-id's (deploy/host.h) */
	long max_artifact_size;		/* bytes: a build announcing more is refused */
	int64_t min_free;		/* bytes kept free in the state directory's file
					 * system, or a percent of it with min_free_pct */
	int min_free_pct;
	struct petrel_http_limits limits;
	size_t nservers, ntargets;
	struct petrel_server *servers;	/* owned */
	struct petrel_target *targets;	/* owned */
};

/* Empties c and sets what the configuration has before any line is read: state_dir
 * /var/lib/petrel, interval 3600 s, backoff_max 6 h, lock_timeout 30 s,
 * max_artifact_size 4 GiB, the HTTP limits' defaults; path is the file's name. */
void petrel_config_defaults(struct petrel_config *c, const char *path);
/* 1 when two server URLs have the same origin (scheme, host, port; the path aside;
 * compared as text when either is no URL). Names that resolve to one address are
 * caught when the rebuilders are asked. */
int petrel_same_origin(const char *a, const char *b);

/*
 * "HH:MM-HH:MM" (24:00 allowed as an end) into minutes after midnight. The window may
 * wrap past midnight ("22:00-04:00"); start and end must differ. 0 or -1.
 */
int petrel_window_parse(const char *v, int *start, int *end);
/* 1 when minute-of-day m lies in [start, end) (wrapping), or when there is no window. */
int petrel_window_open(int start, int end, int m);

/* The names petrel writes beside a target's path (PATH.petrel-new, PATH.petrel-prev),
 * NULL-terminated: no other target may deploy to one of them. */
extern const char *const petrel_path_suffixes[];

/*
 * The file path (absolute) names, for comparing targets: its parent directory
 * resolved with realpath(3) when it exists, else normalised lexically ("//", "." and
 * ".." folded), then "/" and the last component. 0; -EINVAL when path is not absolute
 * or does not end in a file name ("/", "x/", "x/.", "x/.."); -ENAMETOOLONG.
 */
int petrel_path_normalise(const char *path, char *out, size_t n);
/* dir normalised whole (realpath when it exists, else lexically). 0 or -errno. */
int petrel_dir_normalise(const char *dir, char *out, size_t n);

#endif
