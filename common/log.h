/* petrel logging: one family, levels, printf checking, nothing formatted when filtered. */
#ifndef PETREL_LOG_H
#define PETREL_LOG_H

enum petrel_loglevel { PETREL_LOG_ERROR, PETREL_LOG_WARN, PETREL_LOG_INFO, PETREL_LOG_DEBUG };

extern int petrel_log_level;	/* messages above this level are dropped; default INFO */

void petrel_log_write(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* The priority prefix of a line at level ("<3>" for an error ... "<7>" for debug) when
 * stderr is the journal ($JOURNAL_STREAM), so journalctl -p filters by it; else "". */
const char *petrel_log_priority(int level);

#define petrel_log(lvl, ...) \
	do { if ((lvl) <= petrel_log_level) petrel_log_write((lvl), __VA_ARGS__); } while (0)
#define petrel_log_error(...) petrel_log(PETREL_LOG_ERROR, __VA_ARGS__)
#define petrel_log_warn(...)  petrel_log(PETREL_LOG_WARN, __VA_ARGS__)
#define petrel_log_info(...)  petrel_log(PETREL_LOG_INFO, __VA_ARGS__)
#define petrel_log_debug(...) petrel_log(PETREL_LOG_DEBUG, __VA_ARGS__)

/* Copies url into out (size n) with any user:password@ replaced by ***@ and the value of
 * a query parameter named like a secret (token=, key=, sig=...) by ***: petrel_text_mask. */
void petrel_mask_url(const char *url, char *out, unsigned long n);

#endif
