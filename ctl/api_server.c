/* SPDX-License-Identifier: BSD-3-Clause */
/* The control API's HTTP server (api.h): libmicrohttpd on the sockets of
 * [Control] Listen, driven by one thread of ours.
 *
 * MHD runs without threads of its own (MHD_USE_EPOLL, no internal polling
 * thread): our thread waits on every daemon's epoll descriptor and an
 * eventfd (stop), calls MHD_run(), and closes connections that take longer
 * than STRAIT_API_REQUEST_S to send their request (MHD's own timeout is
 * for silence only: a client trickling a byte at a time would hold a
 * connection for ever). So every handler runs in this one thread, in
 * order, and the backend is called from here only.
 *
 * Every request is checked at its first call, before any body is read:
 *   Authorization: Bearer TOKEN  (SHA-256 of both, compared in constant
 *                                 time; else 401)
 *   the path                     (else 404), the method (else 405 + Allow)
 *   Content-Length               (more than STRAIT_API_BODY_MAX: 413)
 * A chunked body that grows past the limit is read and dropped, then 413.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <openssl/crypto.h>
#include <openssl/sha.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "strait/api.h"

enum {
	REAP_MS = 250,      /* how often slow requests are looked for */
};

struct conn; /* one TCP or Unix connection: MHD's socket context */

struct strait_api {
	struct strait_api_backend be;
	struct MHD_Daemon *d[STRAIT_LISTEN_MAX];
	int listen_fd[STRAIT_LISTEN_MAX];
	struct strait_listen listen[STRAIT_LISTEN_MAX];
	uint16_t port[STRAIT_LISTEN_MAX];
	unsigned n;
	int epfd, stopfd;
	pthread_t thread;
	bool running;
	pthread_mutex_t token_lock;
	uint8_t token_digest[SHA256_DIGEST_LENGTH];
	struct conn *conns; /* open connections, for the request deadline */
	unsigned request_s;
	struct strait_config_diff *diff; /* scratch for reloads */
};

struct conn {
	struct conn *prev, *next;
	int fd;
	uint64_t opened_ns;  /* or when the previous request was answered */
	bool busy;           /* a request is being received */
};

/* One request: MHD's con_cls. */
struct request {
	const struct route *route;
	const char *arg;     /* the path after the route's prefix */
	struct conn *conn;
	size_t len;
	bool too_big;
	char body[STRAIT_API_BODY_MAX + 1];
};

typedef enum MHD_Result (*route_fn)(struct strait_api *api, struct MHD_Connection *c,
				    struct request *rq);

enum { M_GET = 1, M_POST = 2 };

struct route {
	const char *path;
	bool prefix;         /* path + "NAME" */
	unsigned methods;
	const char *allow;   /* the Allow header of a 405 */
	route_fn fn;
};

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* ---- answers ---- */

static enum MHD_Result send_text(struct MHD_Connection *c, unsigned status, char *text, size_t len,
				 const char *type)
{
	struct MHD_Response *r = MHD_create_response_from_buffer(len, text, MHD_RESPMEM_MUST_FREE);
	if (!r) {
		free(text);
		return MHD_NO;
	}
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
	MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
	if (status == MHD_HTTP_UNAUTHORIZED)
		MHD_add_response_header(r, MHD_HTTP_HEADER_WWW_AUTHENTICATE, "Bearer realm=\"strait\"");
	enum MHD_Result ret = MHD_queue_response(c, status, r);
	MHD_destroy_response(r);
	return ret;
}

/* Takes the reference to o. */
static enum MHD_Result send_json(struct MHD_Connection *c, unsigned status, json_t *o)
{
	char *s = o ? json_dumps(o, JSON_INDENT(2)) : NULL;
	json_decref(o);
	if (!s)
		return MHD_NO;
	size_t n = strlen(s);
	char *t = realloc(s, n + 2);
	if (!t) {
		free(s);
		return MHD_NO;
	}
	t[n] = '\n';
	t[n + 1] = '\0';
	return send_text(c, status, t, n + 1, "application/json");
}

static enum MHD_Result send_error(struct MHD_Connection *c, unsigned status, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static enum MHD_Result send_error(struct MHD_Connection *c, unsigned status, const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return send_json(c, status, json_pack("{s:s}", "error", msg));
}

/* ---- the view the answers are built from ---- */

struct view {
	struct strait_api_view v;
	struct strait_status st;
	struct strait_tenant_stats *stats;
};

static bool view_get(struct strait_api *api, struct view *w, bool with_stats)
{
	memset(w, 0, sizeof(*w));
	if (api->be.status)
		api->be.status(api->be.arg, &w->st);
	strait_running_history(api->be.running, &w->st);
	w->v.status = &w->st;
	w->v.cfg = strait_running_get(api->be.running);
	if (!with_stats)
		return true;
	unsigned n = w->v.cfg->n_tenants;
	w->stats = calloc(n ? n : 1, sizeof(*w->stats));
	if (!w->stats) {
		strait_running_put(api->be.running, w->v.cfg);
		return false;
	}
	for (unsigned i = 0; api->be.stats && i < n; i++)
		if (strait_tenant_present(&w->v.cfg->tenants[i]))
			strait_stats_read(api->be.stats, i, w->v.cfg->tenants[i].generation, &w->stats[i]);
	w->v.stats = w->stats;
	return true;
}

static void view_put(struct strait_api *api, struct view *w)
{
	free(w->stats);
	strait_running_put(api->be.running, w->v.cfg);
}

/* ---- endpoints ---- */

/* An answer rendered from a view, with or without the tenants' statistics. */
static enum MHD_Result answer_view(struct strait_api *api, struct MHD_Connection *c,
				   bool with_stats, json_t *(*render)(const struct strait_api_view *v))
{
	struct view w;
	if (!view_get(api, &w, with_stats))
		return send_error(c, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory");
	json_t *o = render(&w.v);
	view_put(api, &w);
	return send_json(c, MHD_HTTP_OK, o);
}

static enum MHD_Result do_status(struct strait_api *api, struct MHD_Connection *c,
				 struct request *rq)
{
	return answer_view(api, c, false, strait_api_status_json);
}

static enum MHD_Result do_tenants(struct strait_api *api, struct MHD_Connection *c,
				  struct request *rq)
{
	return answer_view(api, c, true, strait_api_tenants_json);
}

static enum MHD_Result do_tenant(struct strait_api *api, struct MHD_Connection *c,
				 struct request *rq)
{
	struct view w;
	if (!view_get(api, &w, true))
		return send_error(c, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory");
	const struct strait_config *cfg = w.v.cfg;
	json_t *o = NULL;
	for (unsigned i = 0; i < cfg->n_tenants && !o; i++)
		if (strait_tenant_present(&cfg->tenants[i]) && !strcmp(cfg->tenants[i].name, rq->arg))
			o = strait_api_tenant_json(&w.v, i);
	view_put(api, &w);
	if (o)
		return send_json(c, MHD_HTTP_OK, o);
	/* the name is echoed only when it could be a name (no bytes that
	 * would need escaping or break UTF-8) */
	bool name_like = strlen(rq->arg) < STRAIT_NAME_MAX;
	for (const char *p = rq->arg; *p && name_like; p++)
		name_like = isalnum((unsigned char)*p) || strchr("._-", *p);
	if (!name_like)
		return send_error(c, MHD_HTTP_NOT_FOUND, "no such tenant (names are 1..%d of "
				  "[A-Za-z0-9._-])", STRAIT_NAME_MAX - 1);
	return send_error(c, MHD_HTTP_NOT_FOUND, "no such tenant: %s", rq->arg);
}

static enum MHD_Result do_metrics(struct strait_api *api, struct MHD_Connection *c,
				  struct request *rq)
{
	struct view w;
	if (!view_get(api, &w, true))
		return send_error(c, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory");
	size_t len = 0;
	char *text = strait_api_metrics(&w.v, &len);
	view_put(api, &w);
	if (!text)
		return send_error(c, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory");
	return send_text(c, MHD_HTTP_OK, text, len, "text/plain; version=0.0.4; charset=utf-8");
}

/* The body: empty, or {"dry_run": true|false} and nothing else. */
static bool parse_reload(const struct request *rq, bool *dry_run, char *why, size_t why_len)
{
	*dry_run = false;
	size_t i = 0;
	while (i < rq->len && strchr(" \t\r\n", rq->body[i]))
		i++;
	if (i == rq->len)
		return true;
	json_error_t e;
	json_t *o = json_loadb(rq->body, rq->len, JSON_REJECT_DUPLICATES, &e);
	if (!o) {
		snprintf(why, why_len, "the body is not JSON: %s (line %d, column %d)", e.text, e.line,
			 e.column);
		return false;
	}
	bool ok = json_is_object(o);
	const char *key;
	json_t *val;
	if (!ok)
		snprintf(why, why_len, "the body must be an object: {\"dry_run\": true|false}");
	json_object_foreach(o, key, val) {
		if (!ok)
			break;
		if (strcmp(key, "dry_run")) {
			snprintf(why, why_len, "unknown key in the body (expected dry_run)");
			ok = false;
		} else if (!json_is_boolean(val)) {
			snprintf(why, why_len, "dry_run must be true or false");
			ok = false;
		} else {
			*dry_run = json_is_true(val);
		}
	}
	json_decref(o);
	return ok;
}

static enum MHD_Result do_reload(struct strait_api *api, struct MHD_Connection *c,
				 struct request *rq)
{
	bool dry_run;
	char why[256];
	if (!parse_reload(rq, &dry_run, why, sizeof(why)))
		return send_error(c, MHD_HTTP_BAD_REQUEST, "%s", why);
	struct strait_error err;
	memset(&err, 0, sizeof(err));
	int r = strait_api_reload(api, dry_run, api->diff, &err);
	if (r == 0)
		return send_json(c, MHD_HTTP_OK, strait_api_diff_json(api->diff, dry_run));
	/* the files are refused (bad, unreadable, or not applicable while
	 * running): 422; only a lack of memory is the server's fault */
	unsigned status = r == -ENOMEM ? MHD_HTTP_INTERNAL_SERVER_ERROR : MHD_HTTP_UNPROCESSABLE_CONTENT;
	return send_json(c, status, strait_api_error_json(&err));
}

static const struct route routes[] = {
	{ "/v1/status", false, M_GET, "GET, HEAD", do_status },
	{ "/v1/tenants", false, M_GET, "GET, HEAD", do_tenants },
	{ "/v1/tenants/", true, M_GET, "GET, HEAD", do_tenant },
	{ "/v1/reload", false, M_POST, "POST", do_reload },
	{ "/metrics", false, M_GET, "GET, HEAD", do_metrics },
};

/* ---- checks at the first call ---- */

static bool authorized(struct strait_api *api, struct MHD_Connection *c)
{
	const char *h = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);
	if (!h || strncasecmp(h, "Bearer ", 7))
		return false;
	h += 7;
	while (*h == ' ')
		h++;
	/* both sides hashed: the comparison takes the same time whatever the
	 * presented token's length or content */
	uint8_t d[SHA256_DIGEST_LENGTH], want[SHA256_DIGEST_LENGTH];
	SHA256((const unsigned char *)h, strlen(h), d);
	pthread_mutex_lock(&api->token_lock);
	memcpy(want, api->token_digest, sizeof(want));
	pthread_mutex_unlock(&api->token_lock);
	bool ok = CRYPTO_memcmp(d, want, sizeof(d)) == 0;
	OPENSSL_cleanse(want, sizeof(want));
	return ok;
}

static const struct route *find_route(const char *url, const char **arg)
{
	for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++) {
		const struct route *r = &routes[i];
		size_t n = strlen(r->path);
		if (!r->prefix && !strcmp(url, r->path)) {
			*arg = "";
			return r;
		}
		if (r->prefix && !strncmp(url, r->path, n) && url[n] && !strchr(url + n, '/')) {
			*arg = url + n;
			return r;
		}
	}
	return NULL;
}

/* 0 to go on, or the status just queued. */
static enum MHD_Result first_call(struct strait_api *api, struct MHD_Connection *c,
				  const char *url, const char *method, struct request *rq,
				  bool *answered)
{
	*answered = true;
	if (!authorized(api, c))
		return send_error(c, MHD_HTTP_UNAUTHORIZED,
				  "unauthorized: every request needs Authorization: Bearer TOKEN "
				  "([Control] TokenFile)");
	rq->route = find_route(url, &rq->arg);
	if (!rq->route)
		return send_json(c, MHD_HTTP_NOT_FOUND,
				 json_pack("{s:s}", "error", "no such endpoint (GET /v1/status, "
					   "/v1/tenants, /v1/tenants/NAME, /metrics; POST /v1/reload)"));
	unsigned m = !strcmp(method, "GET") || !strcmp(method, "HEAD") ? M_GET
		     : !strcmp(method, "POST") ? M_POST : 0;
	if (!(rq->route->methods & m)) {
		json_t *o = json_pack("{s:s}", "error", "method not allowed here");
		char *s = o ? json_dumps(o, 0) : NULL;
		json_decref(o);
		struct MHD_Response *r = s ? MHD_create_response_from_buffer(strlen(s), s,
					     MHD_RESPMEM_MUST_FREE) : NULL;
		if (!r) {
			free(s);
			return MHD_NO;
		}
		MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json");
		MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, rq->route->allow);
		enum MHD_Result ret = MHD_queue_response(c, MHD_HTTP_METHOD_NOT_ALLOWED, r);
		MHD_destroy_response(r);
		return ret;
	}
	const char *cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
						     MHD_HTTP_HEADER_CONTENT_LENGTH);
	if (cl && strtoull(cl, NULL, 10) > STRAIT_API_BODY_MAX)
		return send_error(c, MHD_HTTP_CONTENT_TOO_LARGE, "request body larger than %d bytes",
				  STRAIT_API_BODY_MAX);
	*answered = false;
	return MHD_YES;
}

static enum MHD_Result handler(void *cls, struct MHD_Connection *c, const char *url,
			       const char *method, const char *version, const char *upload_data,
			       size_t *upload_data_size, void **con_cls)
{
	struct strait_api *api = cls;
	struct request *rq = *con_cls;
	if (!rq) {
		rq = malloc(sizeof(*rq));
		if (!rq)
			return MHD_NO;
		memset(rq, 0, offsetof(struct request, body));
		const union MHD_ConnectionInfo *ci =
			MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
		rq->conn = ci ? ci->socket_context : NULL;
		*con_cls = rq;
		bool answered;
		enum MHD_Result r = first_call(api, c, url, method, rq, &answered);
		if (answered)
			rq->route = NULL;
		return r;
	}
	if (!rq->route) { /* answered already: what is left of the body is dropped */
		*upload_data_size = 0;
		return MHD_YES;
	}
	if (*upload_data_size) {
		size_t n = *upload_data_size;
		if (rq->too_big || rq->len + n > STRAIT_API_BODY_MAX)
			rq->too_big = true;
		else
			memcpy(rq->body + rq->len, upload_data, n);
		rq->len += rq->too_big ? 0 : n;
		*upload_data_size = 0;
		return MHD_YES;
	}
	rq->body[rq->len] = '\0';
	if (rq->conn)
		rq->conn->busy = false; /* received whole: the deadline is met */
	if (rq->too_big)
		return send_error(c, MHD_HTTP_CONTENT_TOO_LARGE, "request body larger than %d bytes",
				  STRAIT_API_BODY_MAX);
	return rq->route->fn(api, c, rq);
}

static void completed(void *cls, struct MHD_Connection *c, void **con_cls,
		      enum MHD_RequestTerminationCode toe)
{
	struct request *rq = *con_cls;
	if (rq && rq->conn) { /* the next request on the connection has its own deadline */
		rq->conn->busy = true;
		rq->conn->opened_ns = now_ns();
	}
	free(rq);
	*con_cls = NULL;
}

/* ---- connections and the request deadline ---- */

static void notify(void *cls, struct MHD_Connection *c, void **socket_context,
		   enum MHD_ConnectionNotificationCode code)
{
	struct strait_api *api = cls;
	if (code == MHD_CONNECTION_NOTIFY_STARTED) {
		struct conn *k = calloc(1, sizeof(*k));
		if (!k)
			return; /* no deadline for this one; MHD's idle timeout stays */
		const union MHD_ConnectionInfo *ci =
			MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
		k->fd = ci ? ci->connect_fd : -1;
		k->opened_ns = now_ns();
		k->busy = true;
		k->next = api->conns;
		if (api->conns)
			api->conns->prev = k;
		api->conns = k;
		*socket_context = k;
	} else if (code == MHD_CONNECTION_NOTIFY_CLOSED) {
		struct conn *k = *socket_context;
		if (!k)
			return;
		if (k->prev)
			k->prev->next = k->next;
		else
			api->conns = k->next;
		if (k->next)
			k->next->prev = k->prev;
		free(k);
		*socket_context = NULL;
	}
}

/* A connection still sending its request after request_s is shut down;
 * MHD sees the end of the stream and closes it. */
static void reap(struct strait_api *api)
{
	uint64_t now = now_ns(), limit = (uint64_t)api->request_s * 1000000000ull;
	for (struct conn *k = api->conns; k; k = k->next)
		if (k->busy && k->fd >= 0 && now - k->opened_ns > limit) {
			shutdown(k->fd, SHUT_RDWR);
			k->busy = false;
		}
}

static void *serve(void *arg)
{
	struct strait_api *api = arg;
	for (;;) {
		int timeout = REAP_MS;
		for (unsigned i = 0; i < api->n; i++) {
			MHD_UNSIGNED_LONG_LONG ms;
			if (MHD_get_timeout(api->d[i], &ms) == MHD_YES && ms < (unsigned)timeout)
				timeout = (int)ms;
		}
		struct epoll_event ev[8];
		int n = epoll_wait(api->epfd, ev, 8, timeout);
		for (int i = 0; i < n; i++)
			if (ev[i].data.fd == api->stopfd)
				return NULL;
		for (unsigned i = 0; i < api->n; i++)
			MHD_run(api->d[i]);
		reap(api);
	}
}

/* ---- sockets ---- */

static int open_tcp(const struct strait_listen *l, char *why, size_t why_len)
{
	struct sockaddr_storage ss;
	socklen_t len;
	memset(&ss, 0, sizeof(ss));
	if (l->family == 4) {
		struct sockaddr_in *s = (struct sockaddr_in *)&ss;
		s->sin_family = AF_INET;
		s->sin_port = htons(l->port);
		memcpy(&s->sin_addr, l->addr, 4);
		len = sizeof(*s);
	} else {
		struct sockaddr_in6 *s = (struct sockaddr_in6 *)&ss;
		s->sin6_family = AF_INET6;
		s->sin6_port = htons(l->port);
		memcpy(&s->sin6_addr, l->addr, 16);
		len = sizeof(*s);
	}
	int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	int one = 1;
	if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) ||
	    (l->family == 6 && setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one))) ||
	    bind(fd, (struct sockaddr *)&ss, len) || listen(fd, 64)) {
		int e = errno;
		char a[STRAIT_SOCKET_PATH_MAX + 8];
		snprintf(why, why_len, "cannot listen on %s: %s", strait_listen_str(l, a, sizeof(a)),
			 strerror(e));
		if (fd >= 0)
			close(fd);
		return -e;
	}
	return fd;
}

static int open_unix(const struct strait_listen *l, char *why, size_t why_len)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", l->path);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		goto fail;
	struct stat st;
	if (lstat(l->path, &st) == 0) {
		/* a socket file left by a process that is gone is replaced;
		 * one that answers, or any other file, is not */
		int probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		bool alive = probe >= 0 && connect(probe, (struct sockaddr *)&sa, sizeof(sa)) == 0;
		if (probe >= 0)
			close(probe);
		if (!S_ISSOCK(st.st_mode) || alive) {
			snprintf(why, why_len, "cannot listen on %s: %s", l->path,
				 alive ? "another process is listening there" : "a file that is not a socket is there");
			close(fd);
			return -EADDRINUSE;
		}
		unlink(l->path);
	}
	mode_t old = umask(0177); /* the socket file is created 0600 */
	int r = bind(fd, (struct sockaddr *)&sa, sizeof(sa));
	umask(old);
	if (r || listen(fd, 64))
		goto fail;
	return fd;
fail:;
	int e = errno;
	snprintf(why, why_len, "cannot listen on %s: %s", l->path, strerror(e));
	if (fd >= 0)
		close(fd);
	return -e;
}

static void quiet(void *cls, const char *fmt, va_list ap)
{
	/* MHD's messages (a client that went away, ...) are not errors of
	 * the appliance; answers carry what the client needs */
}

static void set_token(struct strait_api *api, const char *token)
{
	uint8_t d[SHA256_DIGEST_LENGTH];
	SHA256((const unsigned char *)token, strlen(token), d);
	pthread_mutex_lock(&api->token_lock);
	memcpy(api->token_digest, d, sizeof(d));
	pthread_mutex_unlock(&api->token_lock);
	OPENSSL_cleanse(d, sizeof(d));
}

int strait_api_reload(struct strait_api *api, bool dry_run, struct strait_config_diff *diff,
		      struct strait_error *err)
{
	int r = strait_running_reload(api->be.running, dry_run, api->be.apply, api->be.arg, diff, err);
	if (!r && !dry_run) {
		char token[STRAIT_TOKEN_MAX + 1];
		strait_running_token(api->be.running, token, sizeof(token));
		set_token(api, token);
		explicit_bzero(token, sizeof(token));
	}
	return r;
}

uint16_t strait_api_port(const struct strait_api *api, unsigned i)
{
	return i < api->n ? api->port[i] : 0;
}

int strait_api_start(const struct strait_api_backend *backend,
		     const struct strait_api_timeouts *timeouts, struct strait_api **out,
		     char *why, size_t why_len)
{
	*out = NULL;
	struct strait_api *api = calloc(1, sizeof(*api));
	if (!api || !(api->diff = malloc(sizeof(*api->diff)))) {
		free(api);
		snprintf(why, why_len, "out of memory");
		return -ENOMEM;
	}
	api->be = *backend;
	api->request_s = timeouts && timeouts->request_s ? timeouts->request_s : STRAIT_API_REQUEST_S;
	unsigned idle_s = timeouts && timeouts->idle_s ? timeouts->idle_s : STRAIT_API_IDLE_S;
	api->epfd = api->stopfd = -1;
	pthread_mutex_init(&api->token_lock, NULL);
	char token[STRAIT_TOKEN_MAX + 1];
	strait_running_token(api->be.running, token, sizeof(token));
	set_token(api, token);
	explicit_bzero(token, sizeof(token));
	/* the sockets do not change while running (a reload refuses it) */
	const struct strait_config *cfg = strait_running_get(api->be.running);
	struct strait_control_cfg ctl = cfg->appliance.control;
	const struct strait_control_cfg *cc = &ctl;
	strait_running_put(api->be.running, cfg);
	int r = 0;
	for (unsigned i = 0; i < cc->n_listen; i++)
		api->listen_fd[i] = -1;
	for (unsigned i = 0; i < cc->n_listen; i++) {
		const struct strait_listen *l = &cc->listen[i];
		int fd = l->family ? open_tcp(l, why, why_len) : open_unix(l, why, why_len);
		if (fd < 0) {
			r = fd;
			goto err;
		}
		api->listen[i] = *l;
		api->listen_fd[i] = fd;
		api->n = i + 1;
		if (l->family) {
			struct sockaddr_storage ss;
			socklen_t sl = sizeof(ss);
			if (!getsockname(fd, (struct sockaddr *)&ss, &sl))
				api->port[i] = ntohs(ss.ss_family == AF_INET
							     ? ((struct sockaddr_in *)&ss)->sin_port
							     : ((struct sockaddr_in6 *)&ss)->sin6_port);
		}
		api->d[i] = MHD_start_daemon(
			MHD_USE_EPOLL, 0, NULL, NULL, handler, api,
			MHD_OPTION_LISTEN_SOCKET, fd,
			MHD_OPTION_CONNECTION_LIMIT, (unsigned)STRAIT_API_CONNECTIONS_MAX,
			MHD_OPTION_CONNECTION_TIMEOUT, idle_s,
			MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)STRAIT_API_HEADERS_MAX,
			MHD_OPTION_NOTIFY_CONNECTION, notify, api,
			MHD_OPTION_NOTIFY_COMPLETED, completed, api,
			MHD_OPTION_EXTERNAL_LOGGER, quiet, api,
			MHD_OPTION_STRICT_FOR_CLIENT, 1, /* HTTP/1.1 as written (Host, ...) */
			MHD_OPTION_END);
		if (api->d[i])
			api->listen_fd[i] = -1; /* MHD closes it when stopped */
		if (!api->d[i]) {
			char a[STRAIT_SOCKET_PATH_MAX + 8];
			snprintf(why, why_len, "cannot serve on %s (libmicrohttpd refused the socket)",
				 strait_listen_str(l, a, sizeof(a)));
			r = -EINVAL;
			goto err;
		}
	}
	api->epfd = epoll_create1(EPOLL_CLOEXEC);
	api->stopfd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (api->epfd < 0 || api->stopfd < 0) {
		r = -errno;
		snprintf(why, why_len, "cannot start the API: %s", strerror(-r));
		goto err;
	}
	struct epoll_event ev = { .events = EPOLLIN, .data.fd = api->stopfd };
	epoll_ctl(api->epfd, EPOLL_CTL_ADD, api->stopfd, &ev);
	for (unsigned i = 0; i < api->n; i++) {
		const union MHD_DaemonInfo *di = MHD_get_daemon_info(api->d[i], MHD_DAEMON_INFO_EPOLL_FD);
		ev = (struct epoll_event){ .events = EPOLLIN, .data.fd = di->epoll_fd };
		epoll_ctl(api->epfd, EPOLL_CTL_ADD, di->epoll_fd, &ev);
	}
	if ((r = -pthread_create(&api->thread, NULL, serve, api))) {
		snprintf(why, why_len, "cannot start the API's thread: %s", strerror(-r));
		goto err;
	}
	pthread_setname_np(api->thread, "strait-api");
	api->running = true;
	*out = api;
	return 0;
err:
	strait_api_stop(api);
	return r;
}

void strait_api_stop(struct strait_api *api)
{
	if (!api)
		return;
	if (api->running) {
		uint64_t one = 1;
		if (write(api->stopfd, &one, sizeof(one)) != sizeof(one))
			abort(); /* an eventfd write cannot fail here */
		pthread_join(api->thread, NULL);
	}
	for (unsigned i = 0; i < api->n; i++) {
		if (api->d[i])
			MHD_stop_daemon(api->d[i]);
		if (api->listen_fd[i] >= 0)
			close(api->listen_fd[i]);
		if (!api->listen[i].family && api->listen[i].path[0])
			unlink(api->listen[i].path);
	}
	if (api->epfd >= 0)
		close(api->epfd);
	if (api->stopfd >= 0)
		close(api->stopfd);
	pthread_mutex_destroy(&api->token_lock);
	OPENSSL_cleanse(api->token_digest, sizeof(api->token_digest));
	free(api->diff);
	free(api);
}
