// SPDX-License-Identifier: BSD-3-Clause
/* strait-wanem IF_A IF_B [options]: a WAN emulator between two Linux
 * interfaces (see bench/README.md).
 *
 * One thread, one epoll set: the two receive rings, the two transmit
 * rings (errors; writable when a full ring drains), a timerfd armed for
 * the next departure and a signalfd. It sleeps until a frame arrives or
 * one is due: no spinning. Frames due within EARLY_NS of a wake-up leave
 * with it, which bounds the wake-ups at high rates. */
#include <errno.h>
#include <inttypes.h>
#include <net/if.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "link.h"
#include "options.h"
#include "port.h"
#include "stats.h"

enum {
	EARLY_NS = 50000,    /* a frame may leave this much before its due time */
	RX_BATCH = 256,      /* frames taken from one ring before looking at the clock */
	EV_RX = 0, EV_TX = 2, EV_TIMER = 4, EV_SIGNAL = 5,
};

struct wanem {
	struct options o;
	uint64_t seed;
	struct port port[NDIR];   /* port[0] = IF_A, port[1] = IF_B */
	struct link link[NDIR];   /* link[DIR_A2B] takes IF_A's frames to IF_B */
	int ep, tfd, sfd;
	uint64_t armed_ns;
	bool tx_blocked[NDIR];
	uint64_t start_ns;
};

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

struct rx_ctx {
	struct link *link;
	uint64_t now;
};

static void rx_frame(void *arg, const uint8_t *frame, uint32_t len)
{
	struct rx_ctx *c = arg;

	link_input(c->link, frame, len, c->now);
}

static void reports(struct wanem *w, struct dir_report r[NDIR])
{
	static const char *const names[NDIR] = { "a2b", "b2a" };

	for (int d = 0; d < NDIR; d++) {
		const struct link *l = &w->link[d];

		r[d] = (struct dir_report){
			.name = names[d], .from = w->o.ifname[d], .to = w->o.ifname[!d],
			.im = &w->o.dir[d], .st = &l->st,
			.drop_oversize = w->port[d].rx_dropped, .drop_tx = w->port[!d].tx_dropped,
			.queued_frames = l->heap_n,
		};
	}
}

static double cpu_seconds(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 +
	       (double)ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
}

/* Writes the stats (if asked) and returns the exit code. */
static int finish(struct wanem *w, const char *end, int code)
{
	struct dir_report r[NDIR];

	reports(w, r);
	if (w->o.stats_json) {
		int err = stats_write_json(w->o.stats_json, &w->o, w->seed, r, end,
					   (double)(now_ns() - w->start_ns) / 1e9, cpu_seconds());
		if (err) {
			fprintf(stderr, "strait-wanem: --stats-json %s: %s\n", w->o.stats_json,
				strerror(-err));
			code = code ? code : 1;
		}
	}
	printf("strait-wanem: stopped (%s): ", end);
	stats_summary(stdout, r);
	return code;
}

/* Sends what is due on direction d; false if the outgoing ring is full. */
static void transmit(struct wanem *w, int d, uint64_t until)
{
	struct link *l = &w->link[d];
	struct port *out = &w->port[!d];
	const uint8_t *f;
	uint32_t len;
	int err;

	if (w->tx_blocked[!d])
		return;
	while ((f = link_peek(l, until, &len))) {
		if (!port_tx(out, f, len)) {
			struct epoll_event ev = { .events = EPOLLOUT, .data.u32 = EV_TX + !d };

			port_tx_flush(out);
			if (port_tx(out, f, len)) {   /* the flush freed a slot */
				link_pop(l);
				continue;
			}
			w->tx_blocked[!d] = true;
			epoll_ctl(w->ep, EPOLL_CTL_MOD, out->tx_fd, &ev);
			break;
		}
		link_pop(l);
	}
	if ((err = port_tx_flush(out)) < 0 && err != -ENETDOWN && err != -ENXIO)
		out->tx_dropped++;
}

static void arm_timer(struct wanem *w)
{
	uint64_t next = link_next_due(&w->link[0]);
	struct itimerspec its = { 0 };

	if (link_next_due(&w->link[1]) < next)
		next = link_next_due(&w->link[1]);
	if (next == w->armed_ns)
		return;
	w->armed_ns = next;
	if (next != UINT64_MAX) {
		its.it_value.tv_sec = (time_t)(next / 1000000000ull);
		its.it_value.tv_nsec = (long)(next % 1000000000ull);
	}
	timerfd_settime(w->tfd, TFD_TIMER_ABSTIME, &its, NULL);
}

/* A socket error on port i: a vanished interface ends the run. */
static bool port_gone(struct wanem *w, int i)
{
	int err = port_error(&w->port[i]);
	char name[IF_NAMESIZE];

	if (!err)
		return false;
	if (err == ENODEV || !if_indextoname((unsigned)w->port[i].ifindex, name) ||
	    strcmp(name, w->port[i].name) != 0) {
		fprintf(stderr, "strait-wanem: interface %s went away; stopping\n",
			w->port[i].name);
		return true;
	}
	fprintf(stderr, "strait-wanem: %s: %s\n", w->port[i].name, strerror(err));
	return false;
}

static int run(struct wanem *w)
{
	for (;;) {
		struct epoll_event ev[8];
		int n;

		uint64_t t = now_ns();
		transmit(w, DIR_A2B, t + EARLY_NS);
		transmit(w, DIR_B2A, t + EARLY_NS);
		arm_timer(w);
		n = epoll_wait(w->ep, ev, 8, -1);
		if (n < 0 && errno != EINTR) {
			perror("strait-wanem: epoll_wait");
			return finish(w, "error", 1);
		}
		for (int i = 0; i < n; i++) {
			uint32_t id = ev[i].data.u32;

			if (id == EV_TIMER) {
				uint64_t expirations;

				if (read(w->tfd, &expirations, sizeof(expirations)) > 0)
					w->armed_ns = 0;
			} else if (id == EV_SIGNAL) {
				struct signalfd_siginfo si;

				if (read(w->sfd, &si, sizeof(si)) != sizeof(si))
					continue;
				if (si.ssi_signo == SIGUSR1) {
					struct dir_report r[NDIR];

					reports(w, r);
					stats_summary(stdout, r);
				} else {
					return finish(w, si.ssi_signo == SIGINT ? "SIGINT" : "SIGTERM", 0);
				}
			} else if (id < EV_TX) {       /* receive ring of port id */
				struct rx_ctx c = { .link = &w->link[id] };

				if ((ev[i].events & EPOLLERR) && port_gone(w, (int)id))
					return finish(w, "interface gone", 1);
				c.now = now_ns();
				port_rx(&w->port[id], RX_BATCH, rx_frame, &c);
			} else {                        /* transmit ring of port id - EV_TX */
				int p = (int)(id - EV_TX);
				struct epoll_event mod = { .events = 0, .data.u32 = id };

				if ((ev[i].events & EPOLLERR) && port_gone(w, p))
					return finish(w, "interface gone", 1);
				if (ev[i].events & EPOLLOUT) {
					w->tx_blocked[p] = false;
					epoll_ctl(w->ep, EPOLL_CTL_MOD, w->port[p].tx_fd, &mod);
				}
			}
		}
	}
}

static int setup(struct wanem *w)
{
	struct epoll_event ev = { .events = EPOLLIN };
	sigset_t sigs;
	uint64_t t;

	sigemptyset(&sigs);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGUSR1);
	sigprocmask(SIG_BLOCK, &sigs, NULL);
	w->sfd = signalfd(-1, &sigs, SFD_CLOEXEC | SFD_NONBLOCK);
	w->tfd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	w->ep = epoll_create1(EPOLL_CLOEXEC);
	if (w->sfd < 0 || w->tfd < 0 || w->ep < 0) {
		perror("strait-wanem: setup");
		return -1;
	}
	prctl(PR_SET_TIMERSLACK, 1UL);   /* the timer is the departure clock */
	for (int i = 0; i < NDIR; i++) {
		int err = port_open(&w->port[i], w->o.ifname[i]);

		if (err == -ENODEV)
			return -2;   /* no such interface: a bad option */
		if (err < 0)
			return -1;
	}
	t = now_ns();
	for (int d = 0; d < NDIR; d++) {
		uint32_t max_frame = w->port[d].max_frame;

		if (link_init(&w->link[d], &w->o.dir[d], w->seed, d, max_frame, t) < 0) {
			fprintf(stderr, "strait-wanem: cannot map the %s buffers\n",
				d ? "b2a" : "a2b");
			return -1;
		}
	}
	ev.data.u32 = EV_SIGNAL;
	epoll_ctl(w->ep, EPOLL_CTL_ADD, w->sfd, &ev);
	ev.data.u32 = EV_TIMER;
	epoll_ctl(w->ep, EPOLL_CTL_ADD, w->tfd, &ev);
	for (int i = 0; i < NDIR; i++) {
		ev.events = EPOLLIN;
		ev.data.u32 = EV_RX + (uint32_t)i;
		epoll_ctl(w->ep, EPOLL_CTL_ADD, w->port[i].rx_fd, &ev);
		ev.events = 0;     /* errors only, until a full ring asks for EPOLLOUT */
		ev.data.u32 = EV_TX + (uint32_t)i;
		epoll_ctl(w->ep, EPOLL_CTL_ADD, w->port[i].tx_fd, &ev);
	}
	w->start_ns = t;
	return 0;
}

static void print_dir(const struct wanem *w, int d)
{
	const struct impair *im = &w->o.dir[d];
	uint32_t nslots;
	uint64_t cap = link_capacity(&w->link[d], &nslots);

	printf("  %s (%s -> %s): delay %.3f ms, jitter %.3f ms, loss %.4g %%", d ? "b2a" : "a2b",
	       w->o.ifname[d], w->o.ifname[!d], im->delay_ns / 1e6, im->jitter_ns / 1e6,
	       im->loss * 100);
	if (im->loss_burst > 0)
		printf(" in bursts of %.4g", im->loss_burst);
	printf(", dup %.4g %%, reorder %.4g %%, ", im->dup * 100, im->reorder * 100);
	if (im->rate_bps)
		printf("rate %.6g Mbit/s, queue %" PRIu64 " B (%.3f ms)", im->rate_bps / 1e6,
		       im->queue_bytes, im->queue_bytes * 8e3 / (double)im->rate_bps);
	else
		printf("rate unlimited");
	printf(", buffer %.1f MiB / %u frames\n", (double)cap / (1 << 20), nslots);
}

int main(int argc, char **argv)
{
	static struct wanem w;
	int rc;

	setvbuf(stdout, NULL, _IOLBF, 0);
	rc = options_parse(&w.o, argc, argv);
	if (rc)
		return rc > 0 ? 0 : 2;
	w.seed = w.o.seed;
	if (!w.o.seed_given && getrandom(&w.seed, sizeof(w.seed), 0) != sizeof(w.seed))
		w.seed = now_ns();
	rc = setup(&w);
	if (rc < 0)
		return rc == -2 ? 2 : 1;
	printf("strait-wanem: %s <-> %s, seed %" PRIu64 "%s%s\n", w.o.ifname[0], w.o.ifname[1],
	       w.seed, w.o.profile ? ", profile " : "", w.o.profile ? w.o.profile : "");
	print_dir(&w, DIR_A2B);
	print_dir(&w, DIR_B2A);
	printf("strait-wanem: running\n");
	rc = run(&w);
	for (int i = 0; i < NDIR; i++) {
		link_free(&w.link[i]);
		port_close(&w.port[i]);
	}
	return rc;
}
