/*
 * ctl.c - the control socket of a run: a Unix stream socket where `exitgate ctl` sends one
 * command line and reads the answer, a line per vCPU concerned, then "ok" or a line
 * starting "error: ".
 *
 * Served event-driven from the main thread's loop: one poll over the listening socket,
 * every client (non-blocking, each with its own buffers) and the wakeup fds, so no client
 * can delay another or the run's timeouts. Limits: XG_CTL_CLIENTS connections at once
 * (when full, the one that has waited longest for its command line is dropped for the
 * newcomer), a command line must arrive whole within XG_CTL_DEADLINE seconds of the
 * connection (idle or slow-drip clients are dropped), and an answer must be taken within
 * XG_CTL_DEADLINE seconds of being ready. Nothing written to a client can raise SIGPIPE
 * (MSG_NOSIGNAL): a client that hangs up only loses its answer.
 *
 * Commands that may take long (reload: a policy that is slow to load; dump: the vCPU writes
 * it) run on one worker thread, in order of arrival; status, resume, suspend and stop run
 * at once on the main thread. The worker also runs the reloads SIGHUP asks for, coalesced:
 * a storm of signals is one reload after the one in progress.
 */
#define _GNU_SOURCE /* accept4, pthread_timedjoin_np */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "backend/kvm/vmm.h"

enum cstate {
	C_FREE = 0,
	C_READING, /* main thread: collecting the command line */
	C_QUEUED,  /* waiting for the worker (under c->lock) */
	C_RUNNING, /* the worker runs it (under c->lock) */
	C_DONE,	   /* the worker's answer is in out (under c->lock) */
	C_WRITING, /* main thread: sending out */
};

struct client {
	int fd;
	/* Atomic: each thread looks at every client's state to find its own (the worker the
	 * queued ones, the main thread those it reads from or writes to), while the other
	 * thread may be changing it. The hand-overs (to C_QUEUED, to C_DONE, and taking a
	 * C_DONE answer) are made under c->lock with what they hand over; the other fields
	 * belong to whichever thread the state says. */
	_Atomic enum cstate state;
	double deadline;
	unsigned long seq; /* arrival order, for the worker's queue */
	char line[XG_CTL_LINE];
	size_t n;
	char *out;
	size_t outlen, outoff;
};

struct xg_ctl {
	int fd;
	char path[108];
	struct xg_vmm *m;
	struct client cl[XG_CTL_CLIENTS];
	unsigned long seq;
	int wake[2]; /* the worker's "an answer is ready" */
	pthread_t worker;
	int worker_started;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	/* under lock */
	int quit, hup, busy;
};

static double mono(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int sun_of(struct sockaddr_un *a, const char *path, struct xg_error *err)
{
	memset(a, 0, sizeof(*a));
	a->sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(a->sun_path)) {
		snprintf(err->msg, sizeof(err->msg),
			 "control socket path '%s' is longer than the %zu bytes a Unix socket "
			 "allows; choose a shorter --ctl path",
			 path, sizeof(a->sun_path) - 1);
		return -1;
	}
	memcpy(a->sun_path, path, strlen(path) + 1);
	return 0;
}

/* A command that may block for long goes to the worker. */
static int slow(const char *line)
{
	return !strncmp(line, "reload", 6) || !strncmp(line, "dump", 4);
}

/* Run one command line into a fresh buffer: the answer lines, then "ok" or an error. */
static void answer(struct xg_vmm *m, const char *line, char **out, size_t *len)
{
	FILE *f = open_memstream(out, len);

	if (!f) {
		*out = strdup("error: out of memory\n");
		*len = *out ? strlen(*out) : 0;
		return;
	}
	if (!line[0])
		fprintf(f, "error: empty command\n");
	else if (!xg_vmm_command(m, line, f))
		fprintf(f, "ok\n");
	fclose(f);
}

static void wake(int fd)
{
	char b = 1;

	/* a full pipe already holds a wakeup */
	if (write(fd, &b, 1) < 0 && errno != EAGAIN && errno != EINTR)
		return;
}

/* A reload for SIGHUP: its answer goes to stderr, a line each ("reloaded", or an error). */
static void hup_reload(struct xg_vmm *m)
{
	char *out = NULL, *l, *nl;
	size_t len = 0;
	FILE *f = open_memstream(&out, &len);

	if (!f) {
		xg_vmm_log("run", "SIGHUP: out of memory, no reload");
		return;
	}
	xg_vmm_command(m, "reload", f);
	fclose(f);
	for (l = out; l && *l; l = nl + 1) {
		char msg[1200];
		nl = strchr(l, '\n');
		if (!nl)
			nl = l + strlen(l) - 1;
		snprintf(msg, sizeof(msg), "SIGHUP: %.*s", (int)(nl - l + (*nl != '\n')), l);
		xg_vmm_log("run", msg);
	}
	free(out);
}

static void *worker(void *arg)
{
	struct xg_ctl *c = arg;

	pthread_mutex_lock(&c->lock);
	for (;;) {
		struct client *job = NULL;
		char line[XG_CTL_LINE], *out = NULL;
		size_t len = 0;

		for (;;) {
			job = NULL;
			for (int i = 0; i < XG_CTL_CLIENTS; i++)
				if (c->cl[i].state == C_QUEUED && (!job || c->cl[i].seq < job->seq))
					job = &c->cl[i];
			if (c->quit || c->hup || job)
				break;
			pthread_cond_wait(&c->cond, &c->lock);
		}
		if (c->quit)
			break;
		c->busy = 1;
		if (c->hup) {
			/* every SIGHUP so far is answered by this one reload */
			c->hup = 0;
			pthread_mutex_unlock(&c->lock);
			hup_reload(c->m);
			pthread_mutex_lock(&c->lock);
			c->busy = 0;
			continue;
		}
		job->state = C_RUNNING;
		memcpy(line, job->line, sizeof(line));
		pthread_mutex_unlock(&c->lock);
		answer(c->m, line, &out, &len);
		pthread_mutex_lock(&c->lock);
		job->out = out;
		job->outlen = len;
		job->state = C_DONE;
		c->busy = 0;
		wake(c->wake[1]);
	}
	pthread_mutex_unlock(&c->lock);
	return NULL;
}

struct xg_ctl *xg_ctl_open(const char *path, struct xg_vmm *m, struct xg_error *err)
{
	struct sockaddr_un a;
	struct xg_ctl *c;
	struct stat st;
	int probe;

	if (sun_of(&a, path, err))
		return NULL;
	/* A socket file left by a run that died is replaced; one a live run answers is not. */
	if (!stat(path, &st)) {
		if (!S_ISSOCK(st.st_mode)) {
			snprintf(err->msg, sizeof(err->msg),
				 "control socket path '%s' exists and is not a socket", path);
			return NULL;
		}
		probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (probe >= 0 && !connect(probe, (struct sockaddr *)&a, sizeof(a))) {
			close(probe);
			snprintf(err->msg, sizeof(err->msg),
				 "control socket '%s' belongs to a run that is still going; "
				 "choose another --ctl path",
				 path);
			return NULL;
		}
		if (probe >= 0)
			close(probe);
		unlink(path);
	}
	c = calloc(1, sizeof(*c));
	if (!c) {
		snprintf(err->msg, sizeof(err->msg), "out of memory");
		return NULL;
	}
	c->m = m;
	c->wake[0] = c->wake[1] = -1;
	pthread_mutex_init(&c->lock, NULL);
	pthread_cond_init(&c->cond, NULL);
	snprintf(c->path, sizeof(c->path), "%s", path);
	c->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (c->fd < 0 || bind(c->fd, (struct sockaddr *)&a, sizeof(a)) ||
	    listen(c->fd, XG_CTL_CLIENTS)) {
		snprintf(err->msg, sizeof(err->msg), "control socket '%s': %s", path,
			 strerror(errno));
		goto fail;
	}
	chmod(path, 0600); /* the socket can stop guests: its owner only */
	if (pipe2(c->wake, O_CLOEXEC | O_NONBLOCK)) {
		snprintf(err->msg, sizeof(err->msg), "pipe: %s", strerror(errno));
		goto fail;
	}
	if (pthread_create(&c->worker, NULL, worker, c)) {
		snprintf(err->msg, sizeof(err->msg), "cannot start the control socket's thread");
		goto fail;
	}
	c->worker_started = 1;
	return c;
fail:
	if (c->fd >= 0) {
		close(c->fd);
		unlink(path);
	}
	if (c->wake[0] >= 0) {
		close(c->wake[0]);
		close(c->wake[1]);
	}
	pthread_mutex_destroy(&c->lock);
	pthread_cond_destroy(&c->cond);
	free(c);
	return NULL;
}

static void drop(struct client *k)
{
	close(k->fd);
	free(k->out);
	/* field by field, not memset: state is read by the worker meanwhile */
	k->fd = -1;
	k->deadline = 0;
	k->seq = 0;
	k->n = 0;
	k->out = NULL;
	k->outlen = k->outoff = 0;
	k->state = C_FREE;
}

/* Best effort, never blocking: for a client about to be dropped. */
static void tell(struct client *k, const char *msg)
{
	if (send(k->fd, msg, strlen(msg), MSG_NOSIGNAL | MSG_DONTWAIT) < 0) {
		/* it hung up or does not read: it is dropped all the same */
	}
}

static void on_write(struct client *k);

/* The answer is ready: send what the socket takes now (usually all of it, so an answer is
 * out even if the run ends right after the command), the rest when poll says. */
static void start_writing(struct client *k, char *out, size_t len)
{
	k->out = out;
	k->outlen = len;
	k->outoff = 0;
	k->state = C_WRITING;
	k->deadline = mono() + XG_CTL_DEADLINE;
	on_write(k);
}

/* The line is complete: answer at once, or queue it for the worker. */
static void dispatch(struct xg_ctl *c, struct client *k)
{
	char *out = NULL;
	size_t len = 0;

	k->line[k->n] = 0;
	if (k->n && k->line[k->n - 1] == '\r')
		k->line[--k->n] = 0;
	if (slow(k->line)) {
		pthread_mutex_lock(&c->lock);
		k->state = C_QUEUED;
		k->seq = c->seq++;
		pthread_cond_broadcast(&c->cond);
		pthread_mutex_unlock(&c->lock);
		return;
	}
	answer(c->m, k->line, &out, &len);
	start_writing(k, out, len);
}

/* Read what the client sent; EINTR and EAGAIN only mean "not yet" (poll says when). */
static void on_read(struct xg_ctl *c, struct client *k)
{
	for (;;) {
		ssize_t r = recv(k->fd, k->line + k->n, sizeof(k->line) - 1 - k->n, MSG_DONTWAIT);
		char *nl;

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		if (r < 0) {
			drop(k);
			return;
		}
		if (r == 0) { /* the client is done sending: what it sent is the command */
			dispatch(c, k);
			return;
		}
		nl = memchr(k->line + k->n, '\n', (size_t)r);
		k->n += (size_t)r;
		if (nl) {
			k->n = (size_t)(nl - k->line);
			dispatch(c, k);
			return;
		}
		if (k->n == sizeof(k->line) - 1) {
			char msg[96];
			snprintf(msg, sizeof(msg),
				 "error: a command line is at most %d bytes; this one is longer\n",
				 XG_CTL_LINE - 2);
			start_writing(k, strdup(msg), strlen(msg));
			return;
		}
	}
}

static void on_write(struct client *k)
{
	while (k->outoff < k->outlen) {
		ssize_t w = send(k->fd, k->out + k->outoff, k->outlen - k->outoff,
				 MSG_NOSIGNAL | MSG_DONTWAIT);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		if (w <= 0)
			break; /* EPIPE and the like: the client is gone */
		k->outoff += (size_t)w;
	}
	drop(k);
}

static void on_accept(struct xg_ctl *c)
{
	/* at most a table's worth per round, so a flood of connections cannot starve the rest */
	for (int round = 0; round < XG_CTL_CLIENTS; round++) {
		struct client *k = NULL, *oldest = NULL;
		int fd = accept4(c->fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);

		if (fd < 0)
			return;
		for (int i = 0; i < XG_CTL_CLIENTS && !k; i++) {
			struct client *q = &c->cl[i];
			if (q->state == C_FREE)
				k = q;
			else if (q->state == C_READING &&
				 (!oldest || q->deadline < oldest->deadline))
				oldest = q;
		}
		if (!k && oldest) {
			tell(oldest, "error: dropped: too many control connections at once\n");
			drop(oldest);
			k = oldest;
		}
		if (!k) { /* every slot waits for a command's answer: refuse */
			if (send(fd, "error: too many control connections at once\n", 45,
				 MSG_NOSIGNAL | MSG_DONTWAIT) < 0) {
				/* refused all the same */
			}
			close(fd);
			continue;
		}
		k->fd = fd;
		k->state = C_READING;
		k->n = 0;
		k->deadline = mono() + XG_CTL_DEADLINE;
		on_read(c, k); /* a client usually sends its line with the connection */
	}
}

void xg_ctl_poll(struct xg_ctl *c, int wake_fd, int ms)
{
	struct pollfd p[XG_CTL_CLIENTS + 3];
	struct client *of[XG_CTL_CLIENTS + 3];
	int np = 0;
	double t;

	p[np++] = (struct pollfd){.fd = wake_fd, .events = POLLIN};
	p[np++] = (struct pollfd){.fd = c->wake[0], .events = POLLIN};
	p[np++] = (struct pollfd){.fd = c->fd, .events = POLLIN};
	pthread_mutex_lock(&c->lock);
	for (int i = 0; i < XG_CTL_CLIENTS; i++) {
		struct client *k = &c->cl[i];
		if (k->state == C_DONE) /* the worker's answer: send it from here on */
			start_writing(k, k->out, k->outlen);
		if (k->state != C_READING && k->state != C_WRITING)
			continue;
		of[np] = k;
		p[np++] = (struct pollfd){.fd = k->fd,
					  .events = k->state == C_READING ? POLLIN : POLLOUT};
	}
	pthread_mutex_unlock(&c->lock);
	if (poll(p, (nfds_t)np, ms) < 0)
		np = 3; /* EINTR: a signal, which the caller looks at; deadlines below still hold */
	if (p[1].revents) {
		char buf[64];
		while (read(c->wake[0], buf, sizeof(buf)) > 0)
			;
	}
	for (int i = 3; i < np; i++) {
		struct client *k = of[i];
		if (!p[i].revents || k->fd != p[i].fd)
			continue;
		if (k->state == C_READING)
			on_read(c, k);
		else if (k->state == C_WRITING)
			on_write(k);
	}
	if (p[2].revents)
		on_accept(c);
	t = mono();
	for (int i = 0; i < XG_CTL_CLIENTS; i++) {
		struct client *k = &c->cl[i];
		if ((k->state == C_READING || k->state == C_WRITING) && t >= k->deadline) {
			if (k->state == C_READING) {
				char msg[96];
				snprintf(msg, sizeof(msg),
					 "error: no whole command line within %.0f s; dropped\n",
					 XG_CTL_DEADLINE);
				tell(k, msg);
			}
			drop(k);
		}
	}
}

void xg_ctl_reload(struct xg_ctl *c)
{
	pthread_mutex_lock(&c->lock);
	c->hup = 1;
	pthread_cond_broadcast(&c->cond);
	pthread_mutex_unlock(&c->lock);
}

int xg_ctl_close(struct xg_ctl *c, double grace)
{
	struct timespec ts;

	if (!c)
		return 0;
	close(c->fd);
	unlink(c->path);
	pthread_mutex_lock(&c->lock);
	c->quit = 1;
	pthread_cond_broadcast(&c->cond);
	pthread_mutex_unlock(&c->lock);
	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += (time_t)grace;
	ts.tv_nsec += (long)((grace - (double)(time_t)grace) * 1e9);
	if (ts.tv_nsec >= 1000000000) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000;
	}
	if (c->worker_started && pthread_timedjoin_np(c->worker, NULL, &ts)) {
		/* inside a reload or a dump that does not end: it still uses c and the run */
		return -1;
	}
	for (int i = 0; i < XG_CTL_CLIENTS; i++) {
		struct client *k = &c->cl[i];
		if (k->state == C_DONE) /* a last answer of the worker: what the socket takes */
			start_writing(k, k->out, k->outlen);
		if (k->state != C_FREE)
			drop(k);
	}
	close(c->wake[0]);
	close(c->wake[1]);
	pthread_mutex_destroy(&c->lock);
	pthread_cond_destroy(&c->cond);
	free(c);
	return 0;
}
