/* filter.h: the system-call filter `sluice run` puts on the sandboxed
 * command, and the supervisor side that answers and reports what it refuses.
 */
#ifndef SLUICE_SBX_FILTER_H
#define SLUICE_SBX_FILTER_H

/* sbx_seccomp_install's result when the kernel has no user notifications
 * (or an outer sandbox's filter holds the one listener a process may have):
 * the filter is on, refused calls fail with EPERM and nobody hears of them.
 * Below every -errno (MAX_ERRNO is 4095), so it cannot be mistaken for one. */
#define SBX_SECCOMP_NO_LISTENER (-4096)

struct event_base;
struct sbx_notify;

/* Install the sandbox's filter on this process and its future children
 * (threads that already exist keep running unfiltered: call it while single
 * threaded). Sets no_new_privs. Returns the user-notification listener fd
 * (>= 0, close-on-exec), SBX_SECCOMP_NO_LISTENER, or -errno.
 * Until a supervisor reads the listener, a refused call blocks; once every
 * copy of it is closed, refused calls fail with ENOSYS instead of EPERM.
 * Hand it over before doing anything the filter refuses. */
int sbx_seccomp_install(void);

/* Supervisor side: answer every notification on fd with EPERM and write a
 * rate-limited line on stderr naming what was refused. Takes ownership of fd
 * (closed on failure too). When every filtered process is gone the event is
 * removed, so it no longer keeps the loop alive. 0 or -errno. */
int sbx_notify_new(struct event_base *base, int fd, struct sbx_notify **out);

/* Remove the event and close the listener; NULL is fine. */
void sbx_notify_free(struct sbx_notify *n);

#endif
