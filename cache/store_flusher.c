/* store_flusher.c: a writer's bytes handed to a thread of its own, which
 * hashes them and writes them to the temporary file, so the loop thread
 * that receives a large body only copies it once more (into a block here)
 * and goes back to TLS.
 *
 * The caller fills one block at a time; a full block joins a ring of
 * FLUSH_BLOCKS, which the thread empties in order through the writer's
 * sink (hash, write, writeback) in pieces of FLUSH_BLOCK bytes. When the
 * ring is full (the disk is slower than the network) the caller waits
 * for a block: memory per writer stays bounded. The first error of the
 * sink is kept; later blocks are dropped and every call returns it.
 * done counts the bytes the sink has written: readers of the growing
 * file never read past it.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "store_priv.h"

#define FLUSH_BLOCK (1u << 20)
#define FLUSH_BLOCKS 8 /* 8 MiB in flight per writer, at most */

struct cache_flusher {
	pthread_t thread;
	pthread_mutex_t mu;
	pthread_cond_t more, room;
	uint8_t *blk[FLUSH_BLOCKS];
	size_t len[FLUSH_BLOCKS];
	unsigned head, count;   /* under mu: the queued blocks, head first */
	unsigned fill;          /* the caller's block: (head + count) % FLUSH_BLOCKS */
	size_t fill_len;        /* the caller's alone */
	bool stop;              /* under mu */
	int err;                /* under mu: the sink's first error */
	_Atomic uint64_t done;
	cache_flush_sink sink;
	void *arg;
};

static void *flusher_main(void *arg)
{
	struct cache_flusher *fl = arg;

	pthread_mutex_lock(&fl->mu);
	for (;;) {
		while (fl->count == 0 && !fl->stop)
			pthread_cond_wait(&fl->more, &fl->mu);
		if (fl->stop)
			break; /* drained by then, or thrown away */
		unsigned i = fl->head;
		int err = fl->err;
		pthread_mutex_unlock(&fl->mu);
		int rc = err ? err : fl->sink(fl->arg, fl->blk[i], fl->len[i]);
		if (rc == 0)
			atomic_fetch_add_explicit(&fl->done, fl->len[i], memory_order_release);
		pthread_mutex_lock(&fl->mu);
		if (rc < 0 && !fl->err)
			fl->err = rc;
		fl->head = (fl->head + 1) % FLUSH_BLOCKS;
		fl->count--;
		pthread_cond_signal(&fl->room);
	}
	pthread_mutex_unlock(&fl->mu);
	return NULL;
}

int cache_flusher_new(cache_flush_sink sink, void *arg, struct cache_flusher **out)
{
	struct cache_flusher *fl = calloc(1, sizeof(*fl));
	sigset_t all, old;

	if (!fl || !(fl->blk[0] = malloc(FLUSH_BLOCK))) {
		free(fl);
		return -ENOMEM;
	}
	fl->sink = sink;
	fl->arg = arg;
	atomic_init(&fl->done, 0);
	pthread_mutex_init(&fl->mu, NULL);
	pthread_cond_init(&fl->more, NULL);
	pthread_cond_init(&fl->room, NULL);
	/* signals stay the loop's */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	int rc = -pthread_create(&fl->thread, NULL, flusher_main, fl);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rc < 0) {
		pthread_cond_destroy(&fl->room);
		pthread_cond_destroy(&fl->more);
		pthread_mutex_destroy(&fl->mu);
		free(fl->blk[0]);
		free(fl);
		return rc;
	}
	*out = fl;
	return 0;
}

/* The caller's block to the ring; waits for a free one. 0 or the sink's error. */
static int push(struct cache_flusher *fl)
{
	int rc;

	pthread_mutex_lock(&fl->mu);
	fl->len[fl->fill] = fl->fill_len;
	fl->count++;
	pthread_cond_signal(&fl->more);
	while (fl->count == FLUSH_BLOCKS && !fl->err)
		pthread_cond_wait(&fl->room, &fl->mu);
	fl->fill = (fl->head + fl->count) % FLUSH_BLOCKS;
	fl->fill_len = 0;
	rc = fl->err;
	pthread_mutex_unlock(&fl->mu);
	if (rc == 0 && !fl->blk[fl->fill] && !(fl->blk[fl->fill] = malloc(FLUSH_BLOCK)))
		rc = -ENOMEM;
	return rc;
}

int cache_flusher_put(struct cache_flusher *fl, const struct iovec *iov, int n)
{
	for (int i = 0; i < n; i++) {
		const uint8_t *p = iov[i].iov_base;
		size_t left = iov[i].iov_len;
		while (left) {
			size_t k = FLUSH_BLOCK - fl->fill_len < left ? FLUSH_BLOCK - fl->fill_len : left;
			memcpy(fl->blk[fl->fill] + fl->fill_len, p, k);
			fl->fill_len += k;
			p += k;
			left -= k;
			int rc = fl->fill_len == FLUSH_BLOCK ? push(fl) : 0;
			if (rc < 0)
				return rc;
		}
	}
	return 0;
}

int cache_flusher_drain(struct cache_flusher *fl)
{
	int rc = fl->fill_len ? push(fl) : 0;

	pthread_mutex_lock(&fl->mu);
	while (fl->count && !fl->err)
		pthread_cond_wait(&fl->room, &fl->mu);
	rc = rc ? rc : fl->err;
	pthread_mutex_unlock(&fl->mu);
	return rc;
}

uint64_t cache_flusher_done(const struct cache_flusher *fl)
{
	return atomic_load_explicit(&((struct cache_flusher *)fl)->done, memory_order_acquire);
}

void cache_flusher_free(struct cache_flusher *fl)
{
	if (!fl)
		return;
	pthread_mutex_lock(&fl->mu);
	fl->stop = true;
	pthread_cond_signal(&fl->more);
	pthread_mutex_unlock(&fl->mu);
	pthread_join(fl->thread, NULL);
	for (unsigned i = 0; i < FLUSH_BLOCKS; i++)
		free(fl->blk[i]);
	pthread_cond_destroy(&fl->room);
	pthread_cond_destroy(&fl->more);
	pthread_mutex_destroy(&fl->mu);
	free(fl);
}
