// SPDX-License-Identifier: BSD-3-Clause
/* strait-wanem IF_A IF_B [options]: a WAN emulator between two Linux
 * interfaces (see bench/README.md).
 *
 * One thread, one epoll set: the two receive rings, the two transmit
 * rings (errors; writable when a full ring drains) and a signalfd, waited
 * on with a nanosecond timeout (epoll_pwait2) up to the next departure. It
 * sleeps until a frame arrives or one is due: no spinning, and no timer
 * to re-arm per frame. Frames due within EARLY_NS of a wake-up leave with
 * it, which bounds the wake-ups at high rates.
 *
 * A timed wake-up comes late (60-130 us on average on this project's
 * KVM machines, more under load): the wait is cut that much (an average
 * of the lateness seen, the "lead") before the next frame is due, and the
 * frame it was timed for leaves whenever it wakes, so departures are
 * centred on their due times instead of trailing them.
 *
 * Receiving is moderated the way a NIC moderates interrupts: while frames
 * keep coming, the loop leaves the receive rings out of its wait and looks
 * at them every RX_HOLD_NS (or at a departure), so a burst costs one
 * wake-up, not one per frame. A frame's arrival time is the kernel's
 * receive timestamp, not the moment it is looked at, so holding it back
 * does not add to its delay as long as the configured delay is longer
 * than the hold (the hold is cut to a quarter of the shortest delay). */
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
#include <time.h>
#include <unistd.h>

#include "link.h"
#include "options.h"
#include "port.h"
#include "stats.h"

enum {
	EARLY_NS = 100000,   /* a frame may leave this much before its due time */
	MAX_LEAD_NS = 500000,
	RX_HOLD_NS = 200000, /* at most this long between looks at busy rings */
	RX_BATCH = 64,       /* frames taken from one ring before looking at the clock */
	RX_MAX = 1024,       /* frames taken from one ring per loop */
	TS_WINDOW_NS = 50000000,  /* a receive timestamp older than this is not believed */
	EV_RX = 0, EV_TX = 2, EV_SIGNAL = 4,
};

struct wanem {
	struct options o;
	uint64_t seed;
	struct port port[NDIR];   /* port[0] = IF_A, port[1] = IF_B */
	struct link link[NDIR];   /* link[DIR_A2B] takes IF_A's frames to IF_B */
	int ep, ep_busy, sfd;       /* ep_busy: ep without the receive rings */
	uint64_t rx_hold_ns;
	uint64_t last_arrival[NDIR];
	uint64_t lead_ns;         /* average lateness of a timed wake-up */
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
	uint64_t mono, real;       /* the clocks read once per batch */
	uint64_t *last;            /* arrival times never go backwards */
};

/* A frame's arrival on the monotonic clock: the kernel's receive timestamp
 * when it is believable (a sender's departure-time stamp on the monotonic
 * clock can travel with a frame across a veth), else now. */
static void rx_frame(void *arg, const uint8_t *frame, uint32_t len, uint64_t ts)
{
	struct rx_ctx *c = arg;
	uint64_t t = c->mono;

	if (ts <= c->real && c->real - ts < TS_WINDOW_NS)
		t = c->mono - (c->real - ts);
	if (t < *c->last)
		t = *c->last;
	*c->last = t;
	link_input(c->link, frame, len, t);
}

static uint64_t real_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* Takes what waits in both receive rings; returns the number of frames. */
static unsigned receive(struct wanem *w)
{
	unsigned total = 0;

	for (int i = 0; i < NDIR; i++) {
		struct rx_ctx c = { .link = &w->link[i], .last = &w->last_arrival[i] };
		unsigned n = 0, got;

		do {
			c.real = real_ns();
			c.mono = now_ns();
			got = port_rx(&w->port[i], RX_BATCH, rx_frame, &c);
			n += got;
		} while (got == RX_BATCH && n < RX_MAX);
		total += n;
	}
	return total;
}

static void reports(struct wanem *w, struct dir_report r[NDIR])
{
	static const char *const names[NDIR] = { "a2b", "b2a" };

	for (int d = 0; d < NDIR; d++) {
		port_read_overrun(&w->port[d]);
		const struct link *l = &w->link[d];

		r[d] = (struct dir_report){
			.name = names[d], .from = w->o.ifname[d], .to = w->o.ifname[!d],
			.im = &w->o.dir[d], .st = &l->st,
			.drop_oversize = w->port[d].rx_dropped, .drop_tx = w->port[!d].tx_dropped,
			.drop_overrun = w->port[d].rx_overrun,
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

/* Which events of port p's transmit ring wake the loop (errors always). */
static void tx_interest(struct wanem *w, int p, uint32_t events)
{
	struct epoll_event ev = { .events = events, .data.u32 = EV_TX + (uint32_t)p };

	epoll_ctl(w->ep, EPOLL_CTL_MOD, w->port[p].tx_fd, &ev);
	epoll_ctl(w->ep_busy, EPOLL_CTL_MOD, w->port[p].tx_fd, &ev);
}

/* Sends what is due on direction d, until the outgoing ring is full. */
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
			port_tx_flush(out);
			if (port_tx(out, f, len)) {   /* the flush freed a slot */
				link_pop(l);
				continue;
			}
			w->tx_blocked[!d] = true;
			tx_interest(w, !d, EPOLLOUT);
			break;
		}
		link_pop(l);
	}
	if ((err = port_tx_flush(out)) < 0 && err != -ENETDOWN && err != -ENXIO)
		out->tx_dropped++;
}

/* The earliest due time of both directions, UINT64_MAX if none. */
static uint64_t next_due(const struct wanem *w)
{
	uint64_t a = link_next_due(&w->link[0]), b = link_next_due(&w->link[1]);

	return a < b ? a : b;
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
	uint64_t target = 0;  /* the due time the last wait was timed for */
	bool busy = false;    /* frames came in since the last wait */

	for (;;) {
		struct epoll_event ev[8];
		struct timespec ts, *timeout = NULL;
		uint64_t t = now_ns(), until = t + EARLY_NS, next, wake;
		int n;

		if (target) {
			/* woken for target: it leaves now, late or not; learn
			 * how late the wake-up came (lead += (late - lead) / 16) */
			if (target > until)
				until = target;
			if (t + w->lead_ns > target) {
				int64_t late = (int64_t)(t + w->lead_ns - target);

				late = late > MAX_LEAD_NS ? MAX_LEAD_NS : late;
				w->lead_ns = (uint64_t)((int64_t)w->lead_ns +
							(late - (int64_t)w->lead_ns) / 16);
			}
			target = 0;
		}
		transmit(w, DIR_A2B, until);
		transmit(w, DIR_B2A, until);

		next = next_due(w);
		wake = busy ? t + w->rx_hold_ns : UINT64_MAX;
		if (next != UINT64_MAX && next - w->lead_ns < wake) {
			wake = next > w->lead_ns ? next - w->lead_ns : 0;
			target = next;
		}
		if (wake != UINT64_MAX) {
			t = now_ns();
			wake = wake > t ? wake - t : 0;
			ts.tv_sec = (time_t)(wake / 1000000000ull);
			ts.tv_nsec = (long)(wake % 1000000000ull);
			timeout = &ts;
		}
		n = epoll_pwait2(busy ? w->ep_busy : w->ep, ev, 8, timeout, NULL);
		if (n < 0 && errno != EINTR) {
			perror("strait-wanem: epoll_pwait2");
			return finish(w, "error", 1);
		}
		if (n != 0)
			target = 0;   /* not the timeout: nothing learnt, nothing forced */
		for (int i = 0; i < n; i++) {
			uint32_t id = ev[i].data.u32;

			if (id == EV_SIGNAL) {
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
				if ((ev[i].events & EPOLLERR) && port_gone(w, (int)id))
					return finish(w, "interface gone", 1);
			} else {                        /* transmit ring of port id - EV_TX */
				int p = (int)(id - EV_TX);

				if ((ev[i].events & EPOLLERR) && port_gone(w, p))
					return finish(w, "interface gone", 1);
				if (ev[i].events & EPOLLOUT) {
					w->tx_blocked[p] = false;
					tx_interest(w, p, 0);
				}
			}
		}
		busy = receive(w) > 0 && w->rx_hold_ns > 0;
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
	w->ep = epoll_create1(EPOLL_CLOEXEC);
	w->ep_busy = epoll_create1(EPOLL_CLOEXEC);
	if (w->sfd < 0 || w->ep < 0 || w->ep_busy < 0) {
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
	for (int e = 0; e < 2; e++) {
		int ep = e ? w->ep_busy : w->ep;

		ev.events = EPOLLIN;
		ev.data.u32 = EV_SIGNAL;
		epoll_ctl(ep, EPOLL_CTL_ADD, w->sfd, &ev);
		for (int i = 0; i < NDIR; i++) {
			ev.events = EPOLLIN;
			ev.data.u32 = EV_RX + (uint32_t)i;
			if (ep == w->ep)
				epoll_ctl(ep, EPOLL_CTL_ADD, w->port[i].rx_fd, &ev);
			ev.events = 0;   /* errors only, until a full ring asks for EPOLLOUT */
			ev.data.u32 = EV_TX + (uint32_t)i;
			epoll_ctl(ep, EPOLL_CTL_ADD, w->port[i].tx_fd, &ev);
		}
	}
	w->rx_hold_ns = RX_HOLD_NS;
	for (int d = 0; d < NDIR; d++)
		if (w->o.dir[d].delay_ns / 4 < w->rx_hold_ns)
			w->rx_hold_ns = w->o.dir[d].delay_ns / 4;
	w->start_ns = t;
	w->last_arrival[0] = w->last_arrival[1] = t;
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
