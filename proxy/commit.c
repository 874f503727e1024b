/* commit.c: the package cache's commits (fsync, rename into blobs/, the
 * record) on a worker thread, so a body's last bytes reach its client
 * while the disk catches up, and no other connection waits for an fsync.
 *
 * One worker per cache, started at the first commit. The loop thread hands
 * it a writer whose body is complete and already checked (the verdict is
 * known before anything is served); the worker commits it and queues the
 * result; an eventfd wakes the loop, which tells the fetch (px_fetch_
 * committed). The queue is bounded by the fetches in flight: each has at
 * most one commit. At px_commit_stop the worker finishes what is queued
 * (a clean exit stores what was fetched) and the fetches hear of it.
 */
#include <errno.h>
#include <event2/event.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/queue.h>
#include <unistd.h>

#include "cache_int.h"

struct px_commit_job {
	STAILQ_ENTRY(px_commit_job) link;
	struct px_fetch *f;        /* told on the loop thread */
	struct cache_writer *w;
	struct cache_hash want;
	bool verify;
	char *key;
	struct cache_entry e;
	int rc;
};

STAILQ_HEAD(px_commit_list, px_commit_job);

struct px_committer {
	pthread_t thread;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct px_commit_list todo, done; /* under mu */
	bool stop;                        /* under mu */
	int efd;                          /* the worker's "done" doorbell */
	struct event *ev;
};

static void job_free(struct px_commit_job *j)
{
	if (j->w)
		cache_writer_abort(j->w);
	free(j->key);
	free(j);
}

static void *worker(void *arg)
{
	struct px_committer *c = arg;
	uint64_t one = 1;

	pthread_mutex_lock(&c->mu);
	for (;;) {
		while (STAILQ_EMPTY(&c->todo) && !c->stop)
			pthread_cond_wait(&c->cv, &c->mu);
		struct px_commit_job *j = STAILQ_FIRST(&c->todo);
		if (!j)
			break; /* stopping, and nothing is left */
		STAILQ_REMOVE_HEAD(&c->todo, link);
		pthread_mutex_unlock(&c->mu);
		j->rc = cache_writer_commit(j->w, j->key, &j->e, j->verify ? &j->want : NULL);
		j->w = NULL; /* freed by commit in every case */
		pthread_mutex_lock(&c->mu);
		STAILQ_INSERT_TAIL(&c->done, j, link);
		if (write(c->efd, &one, sizeof(one)) < 0) {
			/* the counter cannot overflow: the loop reads it at each wake */
		}
	}
	pthread_mutex_unlock(&c->mu);
	return NULL;
}

/* The loop thread: results to their fetches. */
static void done_cb(evutil_socket_t fd, short what, void *arg)
{
	struct px_committer *c = arg;
	struct px_commit_list got = STAILQ_HEAD_INITIALIZER(got);
	uint64_t n;

	(void)what;
	if (read(fd, &n, sizeof(n)) < 0) {
		/* EAGAIN: another wake took it; the list says what is done */
	}
	pthread_mutex_lock(&c->mu);
	STAILQ_CONCAT(&got, &c->done);
	pthread_mutex_unlock(&c->mu);
	while (!STAILQ_EMPTY(&got)) {
		struct px_commit_job *j = STAILQ_FIRST(&got);
		STAILQ_REMOVE_HEAD(&got, link);
		px_fetch_committed(j->f, j->rc, &j->e);
		job_free(j);
	}
}

static int start(struct px_cache *pc)
{
	struct px_committer *c = calloc(1, sizeof(*c));
	sigset_t all, old;
	int rc;

	if (!c)
		return -ENOMEM;
	STAILQ_INIT(&c->todo);
	STAILQ_INIT(&c->done);
	pthread_mutex_init(&c->mu, NULL);
	pthread_cond_init(&c->cv, NULL);
	if ((c->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) < 0 ||
	    !(c->ev = event_new(pc->base, c->efd, EV_READ | EV_PERSIST, done_cb, c)) || event_add(c->ev, NULL) < 0) {
		rc = c->efd < 0 ? -errno : -ENOMEM;
		goto err;
	}
	/* signals stay the loop's: the worker blocks them all */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	rc = -pthread_create(&c->thread, NULL, worker, c);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rc < 0)
		goto err;
	pc->committer = c;
	return 0;
err:
	if (c->ev)
		event_free(c->ev);
	if (c->efd >= 0)
		close(c->efd);
	pthread_cond_destroy(&c->cv);
	pthread_mutex_destroy(&c->mu);
	free(c);
	return rc;
}

int px_commit_start(struct px_fetch *f, struct cache_writer *w)
{
	struct px_cache *pc = f->pc;
	struct px_commit_job *j = calloc(1, sizeof(*j));
	int rc;

	if (!j || !(j->key = strdup(f->key))) {
		free(j);
		return -ENOMEM;
	}
	if (!pc->committer && (rc = start(pc)) < 0) {
		free(j->key);
		free(j);
		return rc;
	}
	j->f = f;
	j->w = w;
	j->want = f->want;
	j->verify = f->verify;
	j->e = f->e;
	pthread_mutex_lock(&pc->committer->mu);
	STAILQ_INSERT_TAIL(&pc->committer->todo, j, link);
	pthread_cond_signal(&pc->committer->cv);
	pthread_mutex_unlock(&pc->committer->mu);
	return 0;
}

void px_commit_stop(struct px_cache *pc)
{
	struct px_committer *c = pc->committer;

	if (!c)
		return;
	pthread_mutex_lock(&c->mu);
	c->stop = true;
	pthread_cond_signal(&c->cv);
	pthread_mutex_unlock(&c->mu);
	pthread_join(c->thread, NULL);
	done_cb(c->efd, EV_READ, c); /* the last results: their fetches end and are freed */
	event_free(c->ev);
	close(c->efd);
	pthread_cond_destroy(&c->cv);
	pthread_mutex_destroy(&c->mu);
	free(c);
	pc->committer = NULL;
}
