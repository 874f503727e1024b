/* fs.h: what the sandboxed command sees of the host's files.
 *
 * DOC: Theory of operation
 * The supervisor plans the view in the host's mount namespace, before the
 * fork (sbx_fs_plan): which directories stay writable (the working
 * directory unless it is /, $HOME or a system directory; the policy's
 * `write:` paths), which paths inside them must stay read-only because they
 * would run code outside the sandbox later (git hooks and config, shell rc
 * files, editor folders), which paths are hidden (credential stores), which
 * directories become private scratch space (/tmp, /var/tmp, /dev/shm,
 * /run/user/UID, ~/.npm, ~/.cache) and which host sockets are masked. A
 * protected or hidden path that does not exist yet inside a writable
 * directory gets an empty stand-in directory, made and flock()ed by the
 * supervisor so that the sandbox has a mount point to cover; the
 * supervisor removes the stand-ins it made when the sandbox ends, unless
 * another sandbox still holds them.
 *
 * The child applies the plan in its own mount namespace (sbx_fs_apply):
 * every mount read-only (mount_setattr, recursive), then the writable binds,
 * the private tmpfs mounts, the read-only and hidden covers, the socket
 * masks and a fresh read-only /sys for its network namespace. sluice's init
 * mounts a fresh /proc for the sandbox's PID namespace (sbx_fs_proc).
 */
#ifndef SLUICE_SBX_FS_H
#define SLUICE_SBX_FS_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

struct policy;

struct sbx_paths {
	char **v;
	size_t n, cap;
};

struct sbx_standin {
	char *path;
	int fd;    /* O_DIRECTORY, flock(LOCK_SH) while the sandbox runs */
	bool made; /* this sluice made it, so this sluice removes it */
};

struct sbx_fs {
	char *home, *cwd;
	bool cwd_writable;
	struct sbx_paths writable; /* bound read-write */
	struct sbx_paths scratch;  /* private tmpfs */
	struct sbx_paths readonly; /* bound read-only on top of a writable path */
	struct sbx_paths hidden;   /* covered: an empty directory, or /dev/null for a file */
	struct sbx_paths sockets;  /* host socket files covered with /dev/null */
	struct sbx_paths keep;     /* unmasked host sockets carried into a scratch directory */
	struct sbx_paths pins;     /* directories between a writable one and a covered path,
				    * bound onto themselves so they cannot be renamed away */
	struct sbx_standin *standins;
	size_t nstandins;
	char *trust;               /* a CA bundle (PEM) the sandbox trusts instead of the system's, or NULL */
	size_t trust_len;
	uid_t uid;
	gid_t gid;
};

/*
 * Plan the view for pol in the host's mount namespace. protect lists files
 * that must never be writable from inside (the audit log, the policy file),
 * NULL entries skipped. Prints one line for each choice a user should know
 * of (a working directory left read-only). 0, or -errno after a one-line
 * message naming the path.
 */
int sbx_fs_plan(const struct policy *pol, const char *const *protect, size_t nprotect, struct sbx_fs *fs);

/* Where the sandbox finds fs->trust: SBX_TRUST_FILE, also bound read-only
 * over the system bundle (SBX_SYSTEM_BUNDLE) when that exists. */
#define SBX_TRUST_FILE "/tmp/.sluice-ca-bundle.pem"
#define SBX_SYSTEM_BUNDLE "/etc/ssl/certs/ca-certificates.crt"

/* Plan the package cache's trust: the system bundle with ca_pem after it,
 * and the cache's own directories (its store, its CA key) hidden. 0 or -errno. */
int sbx_fs_trust(struct sbx_fs *fs, const char *ca_pem, const char *const *hide, size_t nhide);

/* In the child, after unshare(CLONE_NEWNS | CLONE_NEWNET): build the view.
 * 0, or -errno with *what naming the step that failed. */
int sbx_fs_apply(const struct sbx_fs *fs, const char **what);

/* In sluice's init (pid 1 of the new PID namespace): a fresh /proc with
 * /proc/sys and the other host-wide knobs read-only. 0 or -errno. */
int sbx_fs_proc(void);

/* The supervisor, when the sandbox has ended: remove the stand-ins it made
 * that no other sandbox holds, and free the plan. */
void sbx_fs_done(struct sbx_fs *fs);

/* Host sockets (sockets.c): add to fs->sockets every socket file the
 * sandbox could see (the host's bound unix sockets and the well-known
 * ones), except those pol unmasks; carry unmasked ones that live in a
 * scratch directory into fs->keep. 0 or -ENOMEM. */
int sbx_sockets_plan(const struct policy *pol, struct sbx_fs *fs);

/* Whether the environment variable entry ("NAME=value") points at a host
 * socket the sandbox cannot reach (SSH_AUTH_SOCK, DISPLAY, ...); its name
 * goes to *which for the message. */
bool sbx_env_masked(const struct policy *pol, const char *entry, const char **which);

/* Append a copy of path to l. 0 or -ENOMEM. */
int sbx_paths_add(struct sbx_paths *l, const char *path);

/* Whether path is dir or inside it (both canonical). */
bool sbx_path_under(const char *path, const char *dir);

#endif
