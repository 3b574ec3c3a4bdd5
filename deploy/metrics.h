/* Prometheus text exposition of what the store knows, for node_exporter's textfile collector. */
#ifndef PETREL_METRICS_H
#define PETREL_METRICS_H

#include "store/store.h"
#include "target.h"
#include "common/error.h"

#define PETREL_METRICS_MAX (64u << 20)	/* ceiling of the exposition text */

/*
 * Writes file atomically (temp file beside it, fsync, rename, fsync of the directory:
 * a collector reads the old complete file or the new one) with, for every target of
 * cfg: petrel_deployed_info{target,job,uuid,sha256} 1 (when something is deployed),
 * petrel_update_available, petrel_last_check_timestamp_seconds,
 * petrel_last_success_timestamp_seconds (when known), petrel_verification_failures_total
 * (every refusal counted, also one repeated cycle after cycle), petrel_audit_findings (of the last audit, when there was
 * one). A file that exists and is not a regular file is refused (petrel_metrics_usable).
 * Everything comes from the store (one query), so the figures survive a restart
 * and any process holding the store may write them: call it after every cycle. s and
 * cfg are borrowed. 0 or a negative code with a message naming file.
 */
int petrel_metrics_write(const char *file, struct petrel_store *s,
			 const struct petrel_config *cfg, struct petrel_err *err);

/* 0 when file is absent or a regular file; a FIFO, device node, directory, socket or
 * symlink is never replaced: -PETREL_EUSAGE (exit 2) naming what is there. Checked when
 * a command starts and again before every write. */
int petrel_metrics_usable(const char *file, struct petrel_err *err);

/* The exposition text itself into out (initialised by the caller). 0 or negative. */
struct petrel_buf;
int petrel_metrics_render(struct petrel_buf *out, struct petrel_store *s,
			  const struct petrel_config *cfg, struct petrel_err *err);

#endif
