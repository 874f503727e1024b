/* sockets.c: host unix sockets the sandbox must not reach. A read-only
 * mount does not stop connect(2) on a socket file, so every socket file the
 * sandbox could see is covered with /dev/null: the well-known ones by name,
 * every socket bound by path in any network namespace whose /proc/PID/net/unix
 * we can read (before the sandbox unshares its own), and every socket file
 * under /run. Sockets
 * in /tmp, /var/tmp, /dev/shm and /run/user/UID vanish with the private
 * copies of those directories; the policy's unmask list carries the ones it
 * names back in. Abstract sockets belong to a network namespace, so the
 * sandbox's own has none of the host's. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fs.h"
#include "policy.h"

/* Well-known sockets by the unmask name that leaves them reachable; a path
 * without a leading '/' is in the caller's /run/user/UID. */
static const struct {
	enum pol_host_socket which;
	const char *path;
} known[] = {
	{ POL_SOCK_RESOLVED, "/run/systemd/resolve/io.systemd.Resolve" }, /* resolves any name */
	{ POL_SOCK_DBUS, "/run/dbus/system_bus_socket" },                 /* reaches resolved and more */
	{ POL_SOCK_DOCKER, "/var/run/docker.sock" },                      /* a runtime opens any connection */
	{ POL_SOCK_DOCKER, "/run/docker.sock" },
	{ POL_SOCK_DOCKER, "docker.sock" },
	{ POL_SOCK_CONTAINERD, "/run/containerd/containerd.sock" },
	{ POL_SOCK_PODMAN, "/run/podman/podman.sock" },
	{ POL_SOCK_PODMAN, "podman/podman.sock" },
	{ POL_SOCK_NSCD, "/run/nscd/socket" },                            /* resolves names for its clients */
	{ POL_SOCK_SYSTEMD, "/run/systemd/private" },                     /* starts units, outside the sandbox */
	{ POL_SOCK_SYSTEMD, "systemd/private" },
	{ POL_SOCK_SESSION_BUS, "bus" },                     /* StartTransientUnit, any process */
	{ POL_SOCK_X11, "/tmp/.X11-unix" },                               /* a directory of X servers */
};

/* Variables that name a host socket: passed in only when it is unmasked. */
static const struct {
	const char *name;
	int which; /* enum pol_host_socket, or -1: never reachable */
} env_sockets[] = {
	{ "SSH_AUTH_SOCK", POL_SOCK_SSH_AGENT },
	{ "DBUS_SESSION_BUS_ADDRESS", POL_SOCK_SESSION_BUS },
	{ "DISPLAY", POL_SOCK_X11 },
	{ "WAYLAND_DISPLAY", -1 },
	{ "XDG_RUNTIME_DIR", -1 },
};

#define N(a) (sizeof(a) / sizeof((a)[0]))

static void known_path(size_t i, uid_t uid, char *buf, size_t size)
{
	if (known[i].path[0] == '/')
		snprintf(buf, size, "%s", known[i].path);
	else
		snprintf(buf, size, "/run/user/%u/%s", (unsigned)uid, known[i].path);
}

static bool unmasked_bit(const struct policy *pol, int which)
{
	return which >= 0 && (pol->unmask & (1u << which));
}

bool sbx_env_masked(const struct policy *pol, const char *entry, const char **which)
{
	size_t n = strcspn(entry, "=");

	for (size_t i = 0; i < N(env_sockets); i++)
		if (strlen(env_sockets[i].name) == n && strncmp(entry, env_sockets[i].name, n) == 0) {
			*which = env_sockets[i].name;
			return !unmasked_bit(pol, env_sockets[i].which);
		}
	return false;
}

/* The canonical paths the policy leaves reachable. */
static int unmasked_paths(const struct policy *pol, const struct sbx_fs *fs, struct sbx_paths *out)
{
	char p[PATH_MAX], real[PATH_MAX];
	const char *agent = getenv("SSH_AUTH_SOCK");
	int rc;

	for (size_t i = 0; i < N(known); i++) {
		if (!unmasked_bit(pol, known[i].which))
			continue;
		known_path(i, fs->uid, p, sizeof(p));
		if ((rc = sbx_paths_add(out, p)) < 0)
			return rc;
	}
	if (agent && agent[0] == '/' && unmasked_bit(pol, POL_SOCK_SSH_AGENT) &&
	    (rc = sbx_paths_add(out, realpath(agent, real) ? real : agent)) < 0)
		return rc;
	for (size_t i = 0; i < pol->unmask_paths.n; i++) {
		const char *u = pol->unmask_paths.v[i];
		int n = u[0] == '~' ? snprintf(p, sizeof(p), "%s%s", fs->home, u + 1) : snprintf(p, sizeof(p), "%s", u);
		if (n < 0 || (size_t)n >= sizeof(p))
			continue;
		if ((rc = sbx_paths_add(out, realpath(p, real) ? real : p)) < 0)
			return rc;
	}
	return 0;
}

static bool reachable(const struct sbx_paths *unmasked, const char *path)
{
	for (size_t i = 0; i < unmasked->n; i++)
		if (sbx_path_under(path, unmasked->v[i]))
			return true;
	return false;
}

static int add_masked(struct sbx_fs *fs, const struct sbx_paths *unmasked, const char *path)
{
	if (path[0] != '/' || reachable(unmasked, path))
		return 0;
	for (size_t i = 0; i < fs->sockets.n; i++)
		if (strcmp(fs->sockets.v[i], path) == 0)
			return 0;
	return sbx_paths_add(&fs->sockets, path);
}

/* The path sockets of one /proc/PID/net/unix. first gets the inode of its
 * first socket: two readers of one namespace see the same first line, so a
 * namespace that could not be told by its own inode is read once. */
static int scan_file(FILE *f, struct sbx_fs *fs, const struct sbx_paths *unmasked, const unsigned long *firsts,
		     size_t nfirsts, unsigned long *first)
{
	char line[PATH_MAX + 128];
	int rc = 0;

	*first = 0;
	if (!fgets(line, sizeof(line), f)) /* Num RefCount Protocol Flags Type St Inode Path */
		return 0;
	while (rc == 0 && fgets(line, sizeof(line), f)) {
		unsigned long ino = 0;
		int off = -1;
		(void)sscanf(line, "%*s %*s %*s %*s %*s %*s %lu %n", &ino, &off);
		if (*first == 0) {
			*first = ino;
			for (size_t i = 0; i < nfirsts; i++)
				if (firsts[i] == ino)
					return 0; /* read already */
		}
		if (off <= 0 || line[off] != '/')
			continue;
		line[strcspn(line, "\n")] = '\0';
		rc = add_masked(fs, unmasked, line + off);
	}
	return rc;
}

/* The network namespace's inode from /proc/PID/ns/net ("net:[N]"); 0 when
 * it cannot be read (another user's process). readlink is half the cost of
 * a stat through the magic link, and this runs once per process. */
static unsigned long netns_of(int proc, const char *pid)
{
	char path[300], link[64];
	unsigned long ino = 0;

	snprintf(path, sizeof(path), "%s/ns/net", pid);
	ssize_t n = readlinkat(proc, path, link, sizeof(link) - 1);
	if (n <= 0)
		return 0;
	link[n] = '\0';
	return sscanf(link, "net:[%lu]", &ino) == 1 ? ino : 0;
}

/* Every socket bound by path in every network namespace a process we can
 * see is in: a socket file visible here may belong to another namespace
 * (a container's, or the host's when sluice runs in a container). */
static int scan_bound(struct sbx_fs *fs, const struct sbx_paths *unmasked)
{
	unsigned long seen[256], firsts[256];
	size_t nseen = 0, nfirsts = 0;
	int proc = open("/proc", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	DIR *d = proc >= 0 ? fdopendir(dup(proc)) : NULL;
	struct dirent *e;
	char path[300];
	int rc = 0;

	if (!d) {
		if (proc >= 0)
			close(proc);
		return 0; /* no procfs: the well-known list still applies */
	}
	while (rc == 0 && (e = readdir(d))) {
		if (e->d_name[0] < '0' || e->d_name[0] > '9')
			continue;
		unsigned long ns = netns_of(proc, e->d_name);
		bool known_ns = false;
		for (size_t i = 0; ns && i < nseen && !known_ns; i++)
			known_ns = seen[i] == ns;
		if (known_ns || (ns && nseen == N(seen)))
			continue;
		if (ns)
			seen[nseen++] = ns;
		snprintf(path, sizeof(path), "%s/net/unix", e->d_name);
		int fd = openat(proc, path, O_RDONLY | O_CLOEXEC);
		FILE *f = fd >= 0 ? fdopen(fd, "re") : NULL;
		unsigned long first;
		if (!f) {
			if (fd >= 0)
				close(fd);
			continue;
		}
		char buf[1024]; /* a namespace told only by its first line is read that far */
		setvbuf(f, buf, _IOFBF, sizeof(buf));
		rc = scan_file(f, fs, unmasked, firsts, nfirsts, &first);
		fclose(f);
		bool dup = false;
		for (size_t i = 0; i < nfirsts && !dup; i++)
			dup = firsts[i] == first;
		if (first && !dup && nfirsts < N(firsts))
			firsts[nfirsts++] = first;
	}
	closedir(d);
	close(proc);
	return rc;
}

/* Socket files under dir, whichever namespace bound them (daemons keep
 * theirs in /run). Bounded in depth and in entries. */
static int scan_dir(struct sbx_fs *fs, const struct sbx_paths *unmasked, const char *dir, int depth, size_t *budget)
{
	DIR *d = depth > 0 ? opendir(dir) : NULL;
	struct dirent *e;
	char path[PATH_MAX];
	int rc = 0;

	if (!d)
		return 0;
	while (rc == 0 && *budget > 0 && (e = readdir(d))) {
		struct stat st;
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0 ||
		    snprintf(path, sizeof(path), "%s/%s", dir, e->d_name) >= (int)sizeof(path))
			continue;
		(*budget)--;
		/* FIFOs too: a read-only mount does not stop writes to one (/run/initctl) */
		if (e->d_type == DT_SOCK || e->d_type == DT_FIFO ||
		    (e->d_type == DT_UNKNOWN && lstat(path, &st) == 0 && (S_ISSOCK(st.st_mode) || S_ISFIFO(st.st_mode))))
			rc = add_masked(fs, unmasked, path);
		else if (e->d_type == DT_DIR)
			rc = scan_dir(fs, unmasked, path, depth - 1, budget);
	}
	closedir(d);
	return rc;
}

int sbx_sockets_plan(const struct policy *pol, struct sbx_fs *fs)
{
	struct sbx_paths unmasked = { 0 };
	char p[PATH_MAX];
	int rc = unmasked_paths(pol, fs, &unmasked);

	for (size_t i = 0; rc == 0 && i < N(known); i++) {
		known_path(i, fs->uid, p, sizeof(p));
		rc = add_masked(fs, &unmasked, p);
	}
	size_t budget = 20000;
	if (rc == 0)
		rc = scan_bound(fs, &unmasked);
	if (rc == 0)
		rc = scan_dir(fs, &unmasked, "/run", 6, &budget);
	for (size_t i = 0; rc == 0 && i < unmasked.n; i++) {
		bool in_scratch = false;
		for (size_t s = 0; s < fs->scratch.n; s++)
			in_scratch |= sbx_path_under(unmasked.v[i], fs->scratch.v[s]);
		if (in_scratch && access(unmasked.v[i], F_OK) == 0)
			rc = sbx_paths_add(&fs->keep, unmasked.v[i]);
	}
	for (size_t i = 0; i < unmasked.n; i++)
		free(unmasked.v[i]);
	free(unmasked.v);
	return rc;
}
