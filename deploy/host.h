/* This host's identity for staged rollouts: [petrel] host_id, else /etc/machine-id. */
#ifndef PETREL_HOST_H
#define PETREL_HOST_H

#include <stdint.h>

#include "common/error.h"
#include "deploy/target.h"
#include "verify/rollout.h"

#define PETREL_MACHINE_ID "/etc/machine-id"

/*
 * The host key (verify/rollout.h) of cfg's host: HMAC-SHA256 keyed with cfg->host_id
 * when set, else with the contents of machine_id (PETREL_MACHINE_ID; a parameter for
 * the tests), its surrounding white space removed. Read only when a rollout needs it,
 * so a host without either runs every command that does not. 0, or -PETREL_ECONFIG
 * naming the file and saying to set host_id when the file is missing, empty, longer
 * than PETREL_HOST_ID_MAX or not a regular file.
 */
int petrel_host_key_of(const struct petrel_config *cfg, const char *machine_id,
		       uint8_t key[PETREL_HOST_KEY_LEN], struct petrel_err *err);

#endif
