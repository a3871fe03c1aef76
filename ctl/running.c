/* SPDX-License-Identifier: BSD-3-Clause */
/* The running configuration and its reload (api.h): what straitd's control
 * thread and the API thread share. */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "strait/api.h"

struct strait_running {
	pthread_mutex_t reload_lock;  /* one reload at a time */
	pthread_rwlock_t cur_lock;    /* readers between get and put; the switch writes */
	struct strait_config *cur;
	char token[STRAIT_TOKEN_MAX + 1];
	/* history (under reload_lock, read under it too) */
	uint64_t loaded_at, reloads, refused;
	int64_t last_at;
	bool last_ok, last_dry;
	char last_error[512];
};

static int load_token(const struct strait_config *cfg, char *out, size_t len,
		      struct strait_error *err)
{
	out[0] = '\0';
	if (!cfg->appliance.control.n_listen)
		return 0;
	return strait_token_load(&cfg->appliance, out, len, err);
}

struct strait_running *strait_running_new(struct strait_config *first, struct strait_error *err)
{
	struct strait_running *r = calloc(1, sizeof(*r));
	if (!r) {
		memset(err, 0, sizeof(*err));
		snprintf(err->msg, sizeof(err->msg), "out of memory");
		strait_config_free(first);
		return NULL;
	}
	if (load_token(first, r->token, sizeof(r->token), err)) {
		strait_config_free(first);
		free(r);
		return NULL;
	}
	pthread_mutex_init(&r->reload_lock, NULL);
	pthread_rwlock_init(&r->cur_lock, NULL);
	r->cur = first;
	r->loaded_at = (uint64_t)time(NULL);
	return r;
}

void strait_running_free(struct strait_running *r)
{
	if (!r)
		return;
	strait_config_free(r->cur);
	pthread_mutex_destroy(&r->reload_lock);
	pthread_rwlock_destroy(&r->cur_lock);
	explicit_bzero(r->token, sizeof(r->token));
	free(r);
}

const struct strait_config *strait_running_get(struct strait_running *r)
{
	pthread_rwlock_rdlock(&r->cur_lock);
	return r->cur;
}

void strait_running_put(struct strait_running *r, const struct strait_config *cfg)
{
	(void)cfg;
	pthread_rwlock_unlock(&r->cur_lock);
}

void strait_running_token(struct strait_running *r, char *out, size_t len)
{
	pthread_rwlock_rdlock(&r->cur_lock);
	snprintf(out, len, "%s", r->token);
	pthread_rwlock_unlock(&r->cur_lock);
}

static int reload(struct strait_running *r, bool dry_run, strait_apply_fn apply, void *arg,
		  struct strait_config_diff *diff, struct strait_error *err)
{
	struct strait_config *next = strait_config_new();
	char token[sizeof(r->token)];
	memset(err, 0, sizeof(*err));
	if (!next) {
		snprintf(err->msg, sizeof(err->msg), "out of memory");
		return -ENOMEM;
	}
	/* only this thread writes cur (reloads are serialized): no read lock */
	const struct strait_config *cur = r->cur;
	int rc = strait_config_load(cur->appliance.file, next, err);
	if (!rc) /* a key file broken is refused as any other error */
		rc = strait_config_load_keys(next, err);
	if (!rc)
		rc = load_token(next, token, sizeof(token), err);
	if (!rc)
		rc = strait_config_diff(cur, next, diff, err);
	if (rc || dry_run || strait_config_diff_empty(diff))
		goto out;
	rc = apply ? apply(arg, cur, next, diff, err) : 0;
	/* the tunnels that start took their keys (wiped there): the others
	 * are not needed (key_id stays, for the next reload to compare) */
	strait_config_wipe_keys(next);
	if (rc)
		goto out;
	pthread_rwlock_wrlock(&r->cur_lock);
	struct strait_config *old = r->cur;
	r->cur = next;
	memcpy(r->token, token, sizeof(token));
	pthread_rwlock_unlock(&r->cur_lock);
	next = old;
	r->loaded_at = (uint64_t)time(NULL);
out:
	explicit_bzero(token, sizeof(token));
	strait_config_free(next);
	return rc;
}

int strait_running_reload(struct strait_running *r, bool dry_run, strait_apply_fn apply,
			  void *arg, struct strait_config_diff *diff, struct strait_error *err)
{
	pthread_mutex_lock(&r->reload_lock);
	int rc = reload(r, dry_run, apply, arg, diff, err);
	r->reloads++;
	r->refused += rc != 0;
	r->last_at = (int64_t)time(NULL);
	r->last_ok = rc == 0;
	r->last_dry = dry_run;
	r->last_error[0] = '\0';
	if (rc)
		strait_error_str(err, r->last_error, sizeof(r->last_error));
	pthread_mutex_unlock(&r->reload_lock);
	return rc;
}

void strait_running_history(struct strait_running *r, struct strait_status *st)
{
	pthread_mutex_lock(&r->reload_lock);
	st->config_loaded_at = r->loaded_at;
	st->reloads = r->reloads;
	st->reloads_refused = r->refused;
	st->last_reload.at = r->last_at;
	st->last_reload.ok = r->last_ok;
	st->last_reload.dry_run = r->last_dry;
	snprintf(st->last_reload.error, sizeof(st->last_reload.error), "%s", r->last_error);
	pthread_mutex_unlock(&r->reload_lock);
}
