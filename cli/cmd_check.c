/* petrel check: is the server's newest build what is deployed? */
#include <stdio.h>

#include "cli.h"
#include "common/util.h"
#include "output.h"

static void print_text(const struct petrel_target *t, const struct petrel_check *c)
{
	char newh[13], oldh[13];

	petrel_short_hash(c->remote.sha256, newh);
	if (c->leave) {
		printf("%s: blocked: the deployed build %s %s is blocked by the channel; the "
		       "daemon reverts it (%s)\n", t->name, c->deployed.build.uuid, newh,
		       c->says.why);
		return;
	}
	if (c->waiting) {
		if (c->have_deployed)
			printf("%s: up to date (%s %s): %s\n", t->name, c->remote.uuid, newh,
			       c->says.why);
		else
			printf("%s: nothing to deploy: %s\n", t->name, c->says.why);
		return;
	}
	if (c->rejected) {
		char when[32], why[4 * sizeof(c->rejected_reason)];

		petrel_format_time(c->rejected_at, when, sizeof(when));
		petrel_text_safe(c->rejected_reason, why, sizeof(why));
		printf("%s: up to date: the newest build %s %s was rejected on %s (%s)\n", t->name,
		       c->remote.uuid, newh, when, why);
		return;
	}
	if (!c->update) {
		printf("%s: up to date (%s %s)\n", t->name, c->remote.uuid, newh);
		return;
	}
	if (c->have_deployed) {
		petrel_short_hash(c->deployed.build.sha256, oldh);
		printf("%s: update available: %s %s -> %s %s%s%s\n", t->name,
		       c->deployed.build.uuid, oldh, c->remote.uuid, newh,
		       c->in_store ? " (already fetched)" : "", c->pinned ? " (pinned)" : "");
	} else {
		printf("%s: update available: nothing deployed -> %s %s%s%s\n", t->name,
		       c->remote.uuid, newh, c->in_store ? " (already fetched)" : "",
		       c->pinned ? " (pinned)" : "");
	}
}

static int one(struct petrel_cli *cli, struct petrel_engine *e, const struct petrel_target *t,
	       json_t *o, int *status, struct petrel_err *err)
{
	struct petrel_check c;
	int r;

	if ((r = petrel_check_target(e, t, &c, err)) < 0)
		return r;
	json_object_set_new(o, "update", json_boolean(c.update));
	json_object_set_new(o, "in_store", json_boolean(c.in_store));
	json_object_set_new(o, "rejected", !c.rejected ? json_null() :
			    petrel_json_rejection(c.remote.uuid, c.remote.sha256, c.rejected_reason,
						  c.rejected_at));
	json_object_set_new(o, "remote", petrel_json_build(&c.remote));
	json_object_set_new(o, "deployed", c.have_deployed ?
			    petrel_json_deployed(&c.deployed, c.deployed_generation,
						 c.deployed_at) :
			    json_null());
	/* "current", as status and upgrade name the deployed generation ("deployed" stays) */
	json_object_set(o, "current", json_object_get(o, "deployed"));
	json_object_set_new(o, "frozen", json_boolean(c.frozen));
	json_object_set_new(o, "pinned", c.pinned ? petrel_json_pin(&c.pin) : json_null());
	json_object_set_new(o, "refused", c.refused ? petrel_json_refusal(&c.refusal) :
			    json_null());
	json_object_set_new(o, "channel", c.channel ? petrel_json_channel(&c.says, c.leave) :
			    json_null());
	if (c.waiting && !c.have_deployed)
		json_object_set_new(o, "remote", json_null());
	/* a newest build that failed verification is no update: refused until it verifies */
	if (c.refused)
		return petrel_refused_refusal(&c, err);
	if (!cli->json)
		print_text(t, &c);
	if (c.update && *status == PETREL_EXIT_OK)
		*status = PETREL_EXIT_UPDATE;
	return petrel_check_frozen(t, &c, 1, err);	/* a stuck server is a refusal: exit 3 */
}

int petrel_cmd_check(struct petrel_cli *cli)
{
	return petrel_each_target(cli, one);
}
