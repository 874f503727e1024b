/* loadgen.c: load for bench/bench.sh, over loopback only.
 *
 *   loadgen serve ECHO_PORT SINK_PORT
 *       echo: returns every byte; sink: reads frames (4-byte big-endian
 *       length, then that many bytes) and answers an empty frame with the
 *       payload byte count so far (8 bytes, big-endian). The end is in band
 *       because not every proxy passes a half-close on.
 *   loadgen bulk PROXY|- TARGET CONNS SECONDS
 *       CONNS streams push data to the sink for SECONDS; the clock stops
 *       when the sink has acknowledged every byte. Prints gbps.
 *   loadgen setup PROXY|- TARGET CONC SECONDS
 *       CONC workers loop: connect, CONNECT, 1-byte echo, close. Prints
 *       conn/s and p50/p99 latency of one whole round in microseconds.
 *   loadgen idle PROXY TARGET N PID[,PID...]
 *       opens N tunnels (each checked with a 1-byte echo), then prints the
 *       growth of the PIDs' summed resident memory per tunnel in KiB.
 *
 * PROXY and TARGET are IPv4 "A.B.C.D:PORT"; "-" means connect directly.
 * Output: one "key=value ..." line. Exit status 1 on any failure.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static void die(const char *what)
{
	fprintf(stderr, "loadgen: %s: %s\n", what, strerror(errno));
	exit(1);
}

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static struct sockaddr_in parse_addr(const char *text)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	char host[64];
	const char *colon = strrchr(text, ':');

	if (!colon || (size_t)(colon - text) >= sizeof(host)) {
		fprintf(stderr, "loadgen: want A.B.C.D:PORT, got '%s'\n", text);
		exit(2);
	}
	memcpy(host, text, (size_t)(colon - text));
	host[colon - text] = '\0';
	if (inet_pton(AF_INET, host, &sa.sin_addr) != 1) {
		fprintf(stderr, "loadgen: bad address '%s'\n", text);
		exit(2);
	}
	sa.sin_port = htons((uint16_t)atoi(colon + 1));
	return sa;
}

static int read_full(int fd, void *buf, size_t n)
{
	for (size_t got = 0; got < n;) {
		ssize_t r = read(fd, (char *)buf + got, n - got);
		if (r <= 0)
			return -1;
		got += (size_t)r;
	}
	return 0;
}

static int write_full(int fd, const void *buf, size_t n)
{
	for (size_t put = 0; put < n;) {
		ssize_t w = write(fd, (const char *)buf + put, n - put);
		if (w <= 0)
			return -1;
		put += (size_t)w;
	}
	return 0;
}

/* A connection to target, through proxy's CONNECT when proxy is not "-". */
static int open_conn(const char *proxy, const char *target)
{
	struct sockaddr_in sa = parse_addr(strcmp(proxy, "-") ? proxy : target);
	int one = 1, fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		goto fail;
	if (strcmp(proxy, "-") == 0)
		return fd;
	char req[256], head[1024];
	int n = snprintf(req, sizeof(req), "CONNECT %s HTTP/1.1\r\nHost: %s\r\n\r\n", target, target);
	if (write_full(fd, req, (size_t)n) < 0)
		goto fail;
	/* As a client with a buffer does: peek at what came, then take exactly
	 * the head, so tunnel bytes after it stay in the socket. */
	for (;;) {
		ssize_t got = recv(fd, head, sizeof(head) - 1, MSG_PEEK);
		if (got <= 0)
			goto fail;
		head[got] = '\0';
		char *end = strstr(head, "\r\n\r\n");
		if (end) {
			size_t len = (size_t)(end + 4 - head);
			if (read_full(fd, head, len) < 0 || len < 12 || memcmp(head + 9, "200", 3) != 0)
				goto fail;
			return fd;
		}
		if ((size_t)got == sizeof(head) - 1)
			goto fail;
		usleep(100); /* a partial head: wait for the rest */
	}
fail:
	close(fd);
	return -1;
}

/* ---- serve ----------------------------------------------------------------- */

struct conn {
	int fd;
	int sink;
	uint64_t count;  /* sink: payload bytes */
	uint32_t left;   /* sink: payload bytes left in the current frame */
	uint8_t hdr[4];  /* sink: a frame header being read */
	int nhdr;
};

static void put_count(int fd, uint64_t count)
{
	uint8_t b[8];

	for (int i = 0; i < 8; i++)
		b[i] = (uint8_t)(count >> (56 - 8 * i));
	(void)write_full(fd, b, 8);
}

/* Walk sink frames in buf. */
static void sink_bytes(struct conn *c, const uint8_t *buf, size_t n)
{
	while (n > 0) {
		if (c->left > 0) {
			size_t take = n < c->left ? n : c->left;
			c->count += take;
			c->left -= (uint32_t)take;
			buf += take;
			n -= take;
			continue;
		}
		c->hdr[c->nhdr++] = *buf++;
		n--;
		if (c->nhdr < 4)
			continue;
		c->nhdr = 0;
		c->left = (uint32_t)c->hdr[0] << 24 | (uint32_t)c->hdr[1] << 16 | (uint32_t)c->hdr[2] << 8 | c->hdr[3];
		if (c->left == 0)
			put_count(c->fd, c->count);
	}
}

static int listen_on(int port)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	int one = 1, fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(fd, 4096) < 0)
		die("listen");
	return fd;
}

static void serve_event(int ep, struct conn *c, char *buf, size_t size)
{
	ssize_t n = read(c->fd, buf, size);

	if (n > 0) {
		if (c->sink)
			sink_bytes(c, (const uint8_t *)buf, (size_t)n);
		else if (write_full(c->fd, buf, (size_t)n) < 0)
			n = -1;
		if (n > 0)
			return;
	}
	if (n < 0 && errno == EAGAIN)
		return;
	epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
	close(c->fd);
	free(c);
}

static int cmd_serve(int port_echo, int port_sink)
{
	int ep = epoll_create1(EPOLL_CLOEXEC), l[2] = { listen_on(port_echo), listen_on(port_sink) };
	static char buf[1 << 20];
	struct epoll_event ev, evs[256];

	for (int i = 0; i < 2; i++) {
		ev = (struct epoll_event){ .events = EPOLLIN, .data.u64 = (uint64_t)i };
		epoll_ctl(ep, EPOLL_CTL_ADD, l[i], &ev);
	}
	printf("ready\n");
	fflush(stdout);
	for (;;) {
		int n = epoll_wait(ep, evs, 256, -1);
		for (int i = 0; i < n; i++) {
			uint64_t tag = evs[i].data.u64;
			if (tag > 1) {
				serve_event(ep, (struct conn *)(uintptr_t)tag, buf, sizeof(buf));
				continue;
			}
			int fd = accept4(l[tag], NULL, NULL, SOCK_CLOEXEC);
			struct conn *c = fd >= 0 ? calloc(1, sizeof(*c)) : NULL;
			if (!c) {
				if (fd >= 0)
					close(fd);
				continue;
			}
			c->fd = fd;
			c->sink = tag == 1;
			ev = (struct epoll_event){ .events = EPOLLIN, .data.u64 = (uint64_t)(uintptr_t)c };
			epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
		}
	}
	return 0;
}

/* ---- bulk -------------------------------------------------------------------- */

struct bulk {
	const char *proxy, *target;
	double until;
	uint64_t acked;
	int ok;
};

static void *bulk_run(void *arg)
{
	struct bulk *b = arg;
	static uint8_t frame[4 + (1 << 20)] = { 0, 0x10, 0, 0 }; /* 1 MiB of payload */
	static const uint8_t end[4] = { 0, 0, 0, 0 };
	uint64_t sent = 0;
	uint8_t ack[8];
	int fd = open_conn(b->proxy, b->target);

	if (fd < 0)
		return NULL;
	while (now_s() < b->until) {
		if (write_full(fd, frame, sizeof(frame)) < 0)
			goto out;
		sent += sizeof(frame) - 4;
	}
	if (write_full(fd, end, 4) == 0 && read_full(fd, ack, 8) == 0) {
		for (int i = 0; i < 8; i++)
			b->acked = b->acked << 8 | ack[i];
		b->ok = b->acked == sent;
	}
out:
	close(fd);
	return NULL;
}

static int cmd_bulk(const char *proxy, const char *target, int conns, double secs)
{
	pthread_t t[64];
	struct bulk b[64];
	uint64_t total = 0;
	int ok = 1;

	if (conns < 1 || conns > 64)
		return 2;
	double t0 = now_s();
	for (int i = 0; i < conns; i++) {
		b[i] = (struct bulk){ .proxy = proxy, .target = target, .until = t0 + secs };
		pthread_create(&t[i], NULL, bulk_run, &b[i]);
	}
	for (int i = 0; i < conns; i++) {
		pthread_join(t[i], NULL);
		total += b[i].acked;
		ok &= b[i].ok;
	}
	double dt = now_s() - t0;
	printf("gbps=%.2f bytes=%llu secs=%.2f ok=%d\n", (double)total * 8 / dt / 1e9, (unsigned long long)total,
	       dt, ok);
	return ok ? 0 : 1;
}

/* ---- setup ------------------------------------------------------------------- */

#define MAX_SAMPLES 400000

struct setup {
	const char *proxy, *target;
	double until;
	double *lat;
	size_t n, errors;
};

static void *setup_run(void *arg)
{
	struct setup *s = arg;
	char c = 'x';

	while (now_s() < s->until && s->n < MAX_SAMPLES) {
		double t = now_s();
		int fd = open_conn(s->proxy, s->target);
		if (fd < 0 || write_full(fd, &c, 1) < 0 || read_full(fd, &c, 1) < 0) {
			s->errors++;
			if (fd >= 0)
				close(fd);
			continue;
		}
		close(fd);
		s->lat[s->n++] = now_s() - t;
	}
	return NULL;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

static int cmd_setup(const char *proxy, const char *target, int conc, double secs)
{
	pthread_t t[256];
	struct setup s[256];
	size_t n = 0, errors = 0;

	if (conc < 1 || conc > 256)
		return 2;
	double t0 = now_s();
	for (int i = 0; i < conc; i++) {
		s[i] = (struct setup){ .proxy = proxy, .target = target, .until = t0 + secs };
		s[i].lat = malloc(sizeof(double) * MAX_SAMPLES);
		pthread_create(&t[i], NULL, setup_run, &s[i]);
	}
	double *all = malloc(sizeof(double) * MAX_SAMPLES * (size_t)conc);
	for (int i = 0; i < conc; i++) {
		pthread_join(t[i], NULL);
		memcpy(all + n, s[i].lat, sizeof(double) * s[i].n);
		n += s[i].n;
		errors += s[i].errors;
		free(s[i].lat);
	}
	double dt = now_s() - t0;
	qsort(all, n, sizeof(double), cmp_double);
	printf("conns_per_s=%.0f p50_us=%.0f p99_us=%.0f errors=%zu\n", (double)n / dt,
	       n ? all[n / 2] * 1e6 : 0, n ? all[n * 99 / 100] * 1e6 : 0, errors);
	free(all);
	return n ? 0 : 1;
}

/* ---- idle -------------------------------------------------------------------- */

static long rss_kib(int pid)
{
	char path[64], line[256];
	long kib = -1;

	snprintf(path, sizeof(path), "/proc/%d/status", pid);
	FILE *f = fopen(path, "r");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "VmRSS: %ld", &kib) == 1)
			break;
	fclose(f);
	return kib;
}

/* The summed RSS of "PID[,PID...]" (a proxy's worker processes). */
static long rss_sum_kib(const char *pids)
{
	long sum = 0;

	for (const char *p = pids; *p;) {
		long kib = rss_kib(atoi(p));
		if (kib < 0)
			return -1;
		sum += kib;
		p += strcspn(p, ",");
		p += *p == ',';
	}
	return sum;
}

static int cmd_idle(const char *proxy, const char *target, int n, const char *pids)
{
	int *fds = calloc((size_t)n, sizeof(int));
	long before = rss_sum_kib(pids);
	char c = 'i';

	for (int i = 0; i < n; i++) {
		fds[i] = open_conn(proxy, target);
		if (fds[i] < 0 || write_full(fds[i], &c, 1) < 0 || read_full(fds[i], &c, 1) < 0) {
			fprintf(stderr, "loadgen: tunnel %d failed\n", i);
			return 1;
		}
	}
	sleep(1);
	long after = rss_sum_kib(pids);
	printf("tunnels=%d rss_before_kib=%ld rss_after_kib=%ld kib_per_tunnel=%.2f\n", n, before, after,
	       (double)(after - before) / n);
	for (int i = 0; i < n; i++)
		close(fds[i]);
	free(fds);
	return 0;
}

int main(int argc, char **argv)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	if (argc == 4 && strcmp(argv[1], "serve") == 0)
		return cmd_serve(atoi(argv[2]), atoi(argv[3]));
	if (argc == 6 && strcmp(argv[1], "bulk") == 0)
		return cmd_bulk(argv[2], argv[3], atoi(argv[4]), atof(argv[5]));
	if (argc == 6 && strcmp(argv[1], "setup") == 0)
		return cmd_setup(argv[2], argv[3], atoi(argv[4]), atof(argv[5]));
	if (argc == 6 && strcmp(argv[1], "idle") == 0)
		return cmd_idle(argv[2], argv[3], atoi(argv[4]), argv[5]);
	fprintf(stderr, "usage: loadgen serve|bulk|setup|idle ... (see the header of bench/loadgen.c)\n");
	return 2;
}
