/* test_filter.c: what the sandbox's seccomp filter refuses and lets through,
 * on every x86 entry point, and what the supervisor says about it.
 *
 * Each test forks a child that installs the filter, hands the listener to
 * this process and tries calls; the child reports an errno per call (0: it
 * worked) over the same socket. This process answers with sbx_notify on an
 * event loop, stderr captured, until the child is gone.
 */
#include <errno.h>
#include <event2/event.h>
#include <linux/io_uring.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include <seccomp.h>

#include "filter.h"

#define NRES 160
#define X32_BIT 0x40000000L
#define I386_SOCKETCALL 102
#define I386_SOCKET 359
#define I386_SYS_SOCKET 1 /* socketcall's call number for socket */

/* What one sandboxed child did, and what the supervisor printed meanwhile. */
struct child {
	pid_t pid;
	int sock;
	struct event *ev;
	int res[NRES];
	size_t got;
	int status;
	char log[16384];
};

/* The listener's hand-off, as `sluice run` does it with SCM_RIGHTS. */
static int send_fd(int sock, int fd)
{
	char data = 'F';
	struct iovec iov = { &data, 1 };
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} u;
	struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1,
			    .msg_control = u.buf, .msg_controllen = sizeof(u.buf) };
	struct cmsghdr *c = CMSG_FIRSTHDR(&m);

	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(c), &fd, sizeof(int));
	return sendmsg(sock, &m, 0) == 1 ? 0 : -errno;
}

/* The fd passed by send_fd, or -1. */
static int recv_fd(int sock)
{
	char data;
	struct iovec iov = { &data, 1 };
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} u;
	struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1,
			    .msg_control = u.buf, .msg_controllen = sizeof(u.buf) };
	int fd;

	if (recvmsg(sock, &m, MSG_CMSG_CLOEXEC) != 1)
		return -1;
	struct cmsghdr *c = CMSG_FIRSTHDR(&m);
	if (!c || c->cmsg_type != SCM_RIGHTS || c->cmsg_len != CMSG_LEN(sizeof(int)))
		return -1;
	memcpy(&fd, CMSG_DATA(c), sizeof(int));
	return fd;
}

static int err_of(long rc)
{
	return rc < 0 ? errno : 0;
}

static int try_socket(long family, int type)
{
	long s = syscall(SYS_socket, family, type, 0);

	if (s >= 0)
		close((int)s);
	return err_of(s);
}

static int try_socketpair(int family, int type)
{
	int sv[2];
	int rc = socketpair(family, type, 0, sv);

	if (rc == 0) {
		close(sv[0]);
		close(sv[1]);
	}
	return err_of(rc);
}

/* A raw clone or clone3 that, if it is let through, must not run on. */
static int child_gone(long pid)
{
	if (pid == 0)
		_exit(0);
	if (pid > 0)
		waitpid((pid_t)pid, NULL, 0);
	return err_of(pid);
}

/* An i386 system call from this 64-bit process; -errno on failure. */
static long int80(long nr, long a, long b, long c)
{
	long ret;

	__asm__ volatile("int $0x80"
			 : "=a"(ret)
			 : "a"(nr), "b"(a), "c"(b), "d"(c)
			 : "memory", "r8", "r9", "r10", "r11");
	return (int)ret;
}

static int int80_err(long rc)
{
	if (rc >= 0 && rc < 4096) {
		close((int)rc);
		return 0;
	}
	return (int)-rc;
}

/* Runs in the child, filter on; body fills res. */
static void child_main(int sock, void (*body)(int *res))
{
	static int res[NRES];
	int fd = sbx_seccomp_install();

	if (fd < 0) {
		fprintf(stderr, "child: sbx_seccomp_install: %d\n", fd);
		_exit(2);
	}
	if (send_fd(sock, fd) < 0)
		_exit(3);
	close(fd);
	body(res);
	if (write(sock, res, sizeof(res)) != (ssize_t)sizeof(res))
		_exit(4);
	_exit(0);
}

static void child_cb(evutil_socket_t fd, short what, void *arg)
{
	struct child *c = arg;
	ssize_t r = read(fd, (char *)c->res + c->got, sizeof(c->res) - c->got);

	(void)what;
	if (r > 0) {
		c->got += (size_t)r;
		return;
	}
	if (r < 0 && errno == EINTR)
		return;
	/* once reaped, the filter has no users and the listener reports HUP */
	waitpid(c->pid, &c->status, 0);
	event_del(c->ev);
}

/* Serve the child until it is gone and sbx_notify lets the loop end, with
 * stderr going into c->log meanwhile (no cmocka asserts in between). */
static void serve(struct event_base *base, struct child *c)
{
	int saved = dup(2), mem = memfd_create("stderr", 0);

	assert_true(saved >= 0 && mem >= 0);
	fflush(stderr);
	dup2(mem, 2);
	int rc = event_base_dispatch(base);
	fflush(stderr);
	dup2(saved, 2);
	close(saved);
	ssize_t n = pread(mem, c->log, sizeof(c->log) - 1, 0);
	close(mem);
	c->log[n > 0 ? n : 0] = '\0';
	fprintf(stderr, "%s", c->log); /* for whoever reads the test's output */
	assert_int_equal(rc, 1); /* 1: no events left, i.e. the listener's was removed */
}

static void run_sandboxed(void (*body)(int *res), struct child *c)
{
	int sv[2], fd;
	struct sbx_notify *n;

	memset(c, 0, sizeof(*c));
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	c->pid = fork();
	assert_true(c->pid >= 0);
	if (c->pid == 0) {
		close(sv[0]);
		child_main(sv[1], body);
	}
	close(sv[1]);
	c->sock = sv[0];
	fd = recv_fd(c->sock);
	assert_true(fd >= 0);
	struct event_base *base = event_base_new();
	assert_non_null(base);
	assert_int_equal(sbx_notify_new(base, fd, &n), 0);
	c->ev = event_new(base, c->sock, EV_READ | EV_PERSIST, child_cb, c);
	assert_non_null(c->ev);
	assert_int_equal(event_add(c->ev, NULL), 0);
	serve(base, c);
	sbx_notify_free(n);
	event_free(c->ev);
	event_base_free(base);
	close(c->sock);
	assert_true(WIFEXITED(c->status));
	assert_int_equal(WEXITSTATUS(c->status), 0);
	assert_int_equal(c->got, sizeof(c->res));
}

static int lines_with(const char *log, const char *what)
{
	int n = 0;

	for (const char *p = log; (p = strstr(p, what)); p += strlen(what))
		n++;
	return n;
}

static int lines(const char *log)
{
	return lines_with(log, "\n");
}

static int thread_mark;

static void *thread_fn(void *arg)
{
	return arg;
}

static int try_thread(void)
{
	pthread_t t;
	void *ret = NULL;
	int rc = pthread_create(&t, NULL, thread_fn, &thread_mark);

	if (rc)
		return rc;
	pthread_join(t, &ret);
	return ret == &thread_mark ? 0 : EIO;
}

static int try_fork(void)
{
	int st;
	pid_t p = fork();

	if (p == 0)
		_exit(7);
	if (p < 0)
		return errno;
	waitpid(p, &st, 0);
	return WIFEXITED(st) && WEXITSTATUS(st) == 7 ? 0 : EIO;
}

enum {
	R_VSOCK, R_VSOCK_AGAIN, R_PACKET, R_INET, R_UNIX, R_PAIR_UNIX, R_HIGH_BITS,
	R_URING, R_CLONE3, R_CLONE_NEWUSER, R_UNSHARE_NEWUSER, R_FORK, R_THREAD,
	R_I386_CAN, R_I386_INET, R_I386_SOCKETCALL, R_X32_TIPC, R_X32_INET,
};

static void calls_body(int *res)
{
	struct io_uring_params params;
	uint64_t clone3_args[8] = { 0, 0, 0, 0, SIGCHLD, 0, 0, 0 }; /* struct clone_args, v0 */
	static const unsigned int sc_args[3] = { AF_INET, SOCK_DGRAM, 0 }; /* i386 longs */

	res[R_VSOCK] = try_socket(AF_VSOCK, SOCK_STREAM);
	res[R_VSOCK_AGAIN] = try_socket(AF_VSOCK, SOCK_STREAM);
	res[R_PACKET] = try_socket(AF_PACKET, SOCK_RAW);
	res[R_INET] = try_socket(AF_INET, SOCK_STREAM);
	res[R_UNIX] = try_socket(AF_UNIX, SOCK_STREAM);
	res[R_PAIR_UNIX] = try_socketpair(AF_UNIX, SOCK_STREAM);
	/* the kernel keeps only the int: this is AF_INET to it */
	res[R_HIGH_BITS] = try_socket((1L << 32) | AF_INET, SOCK_DGRAM);
	memset(&params, 0, sizeof(params));
	long ring = syscall(SYS_io_uring_setup, 8, &params);
	res[R_URING] = err_of(ring);
	if (ring >= 0)
		close((int)ring);
	res[R_CLONE3] = child_gone(syscall(SYS_clone3, clone3_args, sizeof(clone3_args)));
	res[R_CLONE_NEWUSER] = child_gone(syscall(SYS_clone, CLONE_NEWUSER | SIGCHLD, 0, 0, 0, 0));
	res[R_FORK] = try_fork();
	res[R_THREAD] = try_thread(); /* glibc tries clone3 first, then clone */
	res[R_I386_CAN] = int80_err(int80(I386_SOCKET, AF_CAN, SOCK_RAW, 1));
	res[R_I386_INET] = int80_err(int80(I386_SOCKET, AF_INET, SOCK_DGRAM, 0));
	res[R_I386_SOCKETCALL] = int80_err(int80(I386_SOCKETCALL, I386_SYS_SOCKET, (long)sc_args, 0));
	long x = syscall(X32_BIT | SYS_socket, AF_TIPC, SOCK_DGRAM, 0);
	res[R_X32_TIPC] = err_of(x);
	x = syscall(X32_BIT | SYS_socket, AF_INET, SOCK_DGRAM, 0);
	res[R_X32_INET] = err_of(x);
	/* last: a new user namespace would change what the others see */
	res[R_UNSHARE_NEWUSER] = err_of(unshare(CLONE_NEWUSER));
}

/* The calls a user relies on being refused fail with EPERM, the rest work,
 * and each refusal is named once. */
static void test_refusals(void **state)
{
	(void)state;
	static struct child c;

	alarm(30);
	run_sandboxed(calls_body, &c);
	alarm(0);
	assert_int_equal(c.res[R_VSOCK], EPERM);
	assert_int_equal(c.res[R_VSOCK_AGAIN], EPERM);
	assert_int_equal(c.res[R_PACKET], EPERM);
	assert_int_equal(c.res[R_INET], 0);
	assert_int_equal(c.res[R_UNIX], 0);
	assert_int_equal(c.res[R_PAIR_UNIX], 0);
	assert_int_equal(c.res[R_HIGH_BITS], EPERM);
	assert_int_equal(c.res[R_URING], EPERM);
	assert_int_equal(c.res[R_CLONE3], ENOSYS);
	assert_int_equal(c.res[R_CLONE_NEWUSER], EPERM);
	assert_int_equal(c.res[R_UNSHARE_NEWUSER], EPERM);
	assert_int_equal(c.res[R_FORK], 0);
	assert_int_equal(c.res[R_THREAD], 0);
	assert_int_equal(c.res[R_I386_CAN], EPERM);
	assert_int_equal(c.res[R_I386_INET], 0);
	assert_int_equal(c.res[R_I386_SOCKETCALL], EPERM);
	assert_int_equal(c.res[R_X32_TIPC], EPERM);
	assert_int_not_equal(c.res[R_X32_INET], EPERM); /* ENOSYS where x32 is off */

	const char *log = c.log;
	assert_int_equal(lines_with(log, "sluice: run: refused socket(AF_VSOCK) in the sandbox: "
					 "only unix, inet, inet6 and netlink sockets are allowed\n"), 1);
	assert_int_equal(lines_with(log, "sluice: run: refused io_uring_setup in the sandbox: "
					 "io_uring is not allowed\n"), 1);
	assert_int_equal(lines_with(log, "sluice: run: refused unshare(CLONE_NEWUSER) in the sandbox: "
					 "new user namespaces are not allowed\n"), 1);
	assert_int_equal(lines_with(log, "refused clone(CLONE_NEWUSER)"), 1);
	assert_int_equal(lines_with(log, "refused socket(AF_PACKET)"), 1);
	assert_int_equal(lines_with(log, "refused socket(0x100000002)"), 1);
	assert_int_equal(lines_with(log, "refused socket(AF_CAN)"), 1);
	assert_int_equal(lines_with(log, "refused socketcall"), 1);
	assert_int_equal(lines_with(log, "refused socket(AF_TIPC)"), 1);
	assert_int_equal(lines_with(log, "clone3"), 0);
	assert_int_equal(lines(log), 9);
}

#define NFAM 64

static void sweep_body(int *res)
{
	struct timespec pause = { 1, 200 * 1000 * 1000 };

	for (int f = 0; f < NFAM; f++) {
		res[f] = try_socket(f, SOCK_DGRAM);
		res[NFAM + f] = try_socketpair(f, SOCK_DGRAM);
	}
	nanosleep(&pause, NULL);
	res[2 * NFAM] = try_socket(AF_UNSPEC, SOCK_DGRAM);
	res[2 * NFAM + 1] = try_socket(AF_VSOCK, SOCK_DGRAM);
}

static bool allowed_family(int f)
{
	return f == AF_UNIX || f == AF_INET || f == AF_INET6 || f == AF_NETLINK;
}

/* Every family but the four is refused by socket and socketpair; a burst of
 * refusals prints at most ten lines a second, and a refusal seen more than a
 * second ago is printed again. */
static void test_families_and_rate(void **state)
{
	(void)state;
	static struct child c;

	alarm(30);
	run_sandboxed(sweep_body, &c);
	alarm(0);
	for (int f = 0; f < NFAM; f++) {
		if (allowed_family(f)) {
			assert_int_not_equal(c.res[f], EPERM);
			assert_int_not_equal(c.res[NFAM + f], EPERM);
		} else {
			assert_int_equal(c.res[f], EPERM);
			assert_int_equal(c.res[NFAM + f], EPERM);
		}
	}
	assert_int_equal(c.res[2 * NFAM], EPERM);
	assert_int_equal(c.res[2 * NFAM + 1], EPERM);
	assert_int_equal(lines(c.log), 12);
	assert_int_equal(lines_with(c.log, "refused socket(AF_UNSPEC)"), 2);
	assert_int_equal(lines_with(c.log, "refused socket(AF_VSOCK)"), 1);
	assert_int_equal(strncmp(c.log, "sluice: run: refused socket(AF_UNSPEC) in the sandbox", 53), 0);
}

/* A caller killed while its refusal waits for an answer: the supervisor
 * neither crashes nor blocks, and the loop ends. */
static void test_dead_caller(void **state)
{
	(void)state;
	int sv[2], fd;
	struct sbx_notify *n;

	alarm(30);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		fd = sbx_seccomp_install();
		if (fd < 0 || send_fd(sv[1], fd) < 0)
			_exit(2);
		close(fd);
		socket(AF_VSOCK, SOCK_STREAM, 0); /* waits for an answer */
		_exit(3);
	}
	close(sv[1]);
	fd = recv_fd(sv[0]);
	assert_true(fd >= 0);
	struct pollfd p = { .fd = fd, .events = POLLIN };
	assert_int_equal(poll(&p, 1, 10000), 1); /* the refusal waits */
	kill(pid, SIGKILL);
	int st;
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFSIGNALED(st));
	struct event_base *base = event_base_new();
	assert_int_equal(sbx_notify_new(base, fd, &n), 0);
	assert_int_equal(event_base_dispatch(base), 1);
	sbx_notify_free(n);
	event_base_free(base);
	close(sv[0]);
	alarm(0);
}

/* Fork a child that runs fn and exits with its result; assert it was 0. */
static void in_child(int (*fn)(void))
{
	int st;

	alarm(30);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0)
		_exit(fn());
	assert_int_equal(waitpid(pid, &st, 0), pid);
	alarm(0);
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 0);
}

static int no_supervisor(void)
{
	int fd = sbx_seccomp_install();

	if (fd < 0)
		return 10;
	close(fd);
	if (try_socket(AF_VSOCK, SOCK_STREAM) != ENOSYS)
		return 11;
	return try_socket(AF_INET, SOCK_STREAM) == 0 ? 0 : 12;
}

/* With every copy of the listener closed, refused calls still fail (ENOSYS,
 * the kernel's answer) rather than wait. */
static void test_no_supervisor(void **state)
{
	(void)state;
	in_child(no_supervisor);
}

static int nested(void)
{
	int fd = sbx_seccomp_install();

	/* the outer listener stays open (the kernel allows a chain one), and
	 * libseccomp forgets it, as a sluice exec'd in the sandbox never knew it */
	if (fd < 0 || dup(fd) < 0)
		return 20;
	if (seccomp_reset(NULL, 0) < 0)
		return 21;
	if (sbx_seccomp_install() != SBX_SECCOMP_NO_LISTENER)
		return 22;
	if (try_socket(AF_VSOCK, SOCK_STREAM) != EPERM) /* the inner filter's EPERM wins */
		return 23;
	return try_socket(AF_INET6, SOCK_DGRAM) != EPERM ? 0 : 24;
}

/* Inside a sandbox whose filter already has the chain's one listener, the
 * install falls back to plain EPERM instead of failing. */
static void test_nested_falls_back(void **state)
{
	(void)state;
	in_child(nested);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_refusals),
		cmocka_unit_test(test_families_and_rate),
		cmocka_unit_test(test_dead_caller),
		cmocka_unit_test(test_no_supervisor),
		cmocka_unit_test(test_nested_falls_back),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
