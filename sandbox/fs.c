/* fs.c: the sandbox's view of the host's files (see fs.h for the theory):
 * the plan made by the supervisor, the mounts made by the child and by
 * sluice's init, and the stand-ins' clean-up. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/file.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "fs.h"
#include "log.h"
#include "policy.h"

/* What a missing protected path becomes: an empty directory the sandbox
 * cannot fill, a file whose content keeps the tool working, or nothing
 * (protected only when it exists, because any stand-in would break the
 * tool and the path matters only once a protected file names it). */
enum standin_kind { SI_DIR, SI_COMMONDIR, SI_NONE };

/* Inside every writable directory: what would run code outside the sandbox
 * later when a tool opens that directory (git, editors, MCP clients,
 * direnv, npm and yarn, hook managers). */
static const struct {
	const char *rel;
	enum standin_kind missing;
	bool not_dir; /* an existing directory stays writable (.git itself) */
} protected_rel[] = {
	{ ".git", SI_DIR, true },       /* a new repository's hooks; a .git file naming another gitdir */
	{ ".git/hooks", SI_DIR, false },
	{ ".git/config", SI_NONE, false },
	{ ".git/commondir", SI_COMMONDIR, false }, /* names the directory git takes config and hooks from */
	{ ".git/config.worktree", SI_NONE, false }, /* read only when the (read-only) config says so */
	{ ".git/modules", SI_NONE, false },    /* submodules' git directories, with their own hooks */
	{ ".git/worktrees", SI_NONE, false },  /* linked worktrees' commondir files */
	{ ".gitmodules", SI_DIR, false },      { ".mcp.json", SI_DIR, false },   { ".envrc", SI_DIR, false },
	{ ".npmrc", SI_DIR, false },           { ".yarnrc", SI_DIR, false },     { ".yarnrc.yml", SI_DIR, false },
	{ ".vscode", SI_DIR, false },          { ".idea", SI_DIR, false },       { ".claude", SI_DIR, false },
	{ ".cursor", SI_DIR, false },          { ".husky", SI_NONE, false },     { ".pre-commit-config.yaml", SI_NONE, false },
	{ "lefthook.yml", SI_NONE, false },
};

/* Under the home directory, when a writable directory contains it: what
 * shells, git, systemd and desktop sessions run or read at the next login. */
static const char *const protected_home[] = {
	".bashrc", ".bash_profile", ".bash_login", ".bash_logout", ".profile", ".zshrc", ".zshenv", ".zprofile",
	".zlogin", ".gitconfig", ".ripgreprc", ".bashrc.d", ".config/systemd", ".config/autostart",
	".config/environment.d", ".config/fish", ".config/git", ".local/bin",
};

/* Hidden by default (the policy's show: takes entries off, hide: adds). */
static const char *const hidden_home[] = {
	".ssh", ".aws", ".gnupg", ".kube", ".docker", ".config/gh", ".netrc", ".npmrc", ".pypirc",
	".mozilla", ".config/google-chrome", ".config/chromium",
	/* and the other stores of tokens and keys that tools keep in plain files */
	".git-credentials", ".config/git/credentials", ".config/gcloud", ".azure", ".cargo/credentials",
	".cargo/credentials.toml", ".claude/.credentials.json", ".pgpass", ".vault-token",
	".terraform.d/credentials.tfrc.json", ".password-store", ".local/share/keyrings", ".config/hub",
};

/* A working directory here is not made writable. */
static const char *const system_exact[] = { "/", "/home", "/var", "/var/lib", "/var/cache", "/opt", "/srv",
					    "/mnt", "/media", "/root" };
static const char *const system_under[] = { "/usr", "/etc", "/boot", "/bin", "/sbin", "/lib", "/lib32",
					    "/lib64", "/libx32", "/proc", "/sys", "/dev", "/run", "/var/log" };

#define N(a) (sizeof(a) / sizeof((a)[0]))

int sbx_paths_add(struct sbx_paths *l, const char *path)
{
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 8;
		char **v = realloc(l->v, cap * sizeof(*v));
		if (!v)
			return -ENOMEM;
		l->v = v;
		l->cap = cap;
	}
	if (!(l->v[l->n] = strdup(path)))
		return -ENOMEM;
	l->n++;
	return 0;
}

static bool paths_has(const struct sbx_paths *l, const char *path)
{
	for (size_t i = 0; i < l->n; i++)
		if (strcmp(l->v[i], path) == 0)
			return true;
	return false;
}

static void paths_free(struct sbx_paths *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->v[i]);
	free(l->v);
	*l = (struct sbx_paths){ 0 };
}

bool sbx_path_under(const char *path, const char *dir)
{
	size_t n = strlen(dir);

	if (strcmp(dir, "/") == 0)
		return path[0] == '/';
	return strncmp(path, dir, n) == 0 && (path[n] == '\0' || path[n] == '/');
}

static bool under_any(const struct sbx_paths *l, const char *path)
{
	for (size_t i = 0; i < l->n; i++)
		if (sbx_path_under(path, l->v[i]))
			return true;
	return false;
}

/* "~" and "~/x" with the caller's home; other paths as they are. */
static int expand(const char *home, const char *p, char *out, size_t size)
{
	int n = p[0] == '~' ? snprintf(out, size, "%s%s", home, p + 1) : snprintf(out, size, "%s", p);

	return n < 0 || (size_t)n >= size ? -ENAMETOOLONG : 0;
}

static bool is_system_dir(const char *dir, const char *home)
{
	if (home && strcmp(dir, home) == 0)
		return true;
	for (size_t i = 0; i < N(system_exact); i++)
		if (strcmp(dir, system_exact[i]) == 0)
			return true;
	for (size_t i = 0; i < N(system_under); i++)
		if (sbx_path_under(dir, system_under[i]))
			return true;
	return false;
}

static int mkdir_p(const char *path)
{
	char buf[PATH_MAX];

	if (snprintf(buf, sizeof(buf), "%s", path) >= (int)sizeof(buf))
		return -ENAMETOOLONG;
	for (char *s = buf + 1;; s++) {
		if (*s == '/' || *s == '\0') {
			char c = *s;
			*s = '\0';
			if (mkdir(buf, 0777) < 0 && errno != EEXIST)
				return -errno;
			if (!(*s = c))
				return 0;
		}
	}
}

static char *home_dir(void)
{
	const char *h = getenv("HOME");
	struct passwd *pw;
	char real[PATH_MAX];

	if (!h || h[0] != '/')
		h = (pw = getpwuid(getuid())) ? pw->pw_dir : "/";
	return strdup(realpath(h, real) ? real : h);
}

/* The policy's write: paths, made when missing, then canonical. */
static int plan_writable(const struct policy *pol, struct sbx_fs *fs)
{
	char path[PATH_MAX], real[PATH_MAX];
	int rc;

	for (size_t i = 0; i < pol->write.n; i++) {
		if ((rc = expand(fs->home, pol->write.v[i], path, sizeof(path))) < 0 || (rc = mkdir_p(path)) < 0) {
			log_msg("run: cannot make the write: path '%s': %s", pol->write.v[i], strerror(-rc));
			return rc;
		}
		if (!realpath(path, real)) {
			log_msg("run: cannot use the write: path '%s': %s", pol->write.v[i], strerror(errno));
			return -errno;
		}
		if (!paths_has(&fs->writable, real) && (rc = sbx_paths_add(&fs->writable, real)) < 0)
			return rc;
	}
	if (!fs->cwd_writable || paths_has(&fs->writable, fs->cwd))
		return 0;
	return sbx_paths_add(&fs->writable, fs->cwd);
}

static bool in_scratch_only(const struct sbx_fs *fs, const char *dir)
{
	struct stat st;

	return !under_any(&fs->writable, dir) && lstat(dir, &st) == 0 && S_ISDIR(st.st_mode);
}

static int plan_scratch(struct sbx_fs *fs)
{
	char p[PATH_MAX];
	const char *fixed[] = { "/tmp", "/var/tmp", "/dev/shm", p };
	int rc;

	snprintf(p, sizeof(p), "/run/user/%u", (unsigned)fs->uid);
	for (size_t i = 0; i < N(fixed); i++)
		if (in_scratch_only(fs, fixed[i]) && (rc = sbx_paths_add(&fs->scratch, fixed[i])) < 0)
			return rc;
	/* npx and uvx first runs download here: a private cache, empty each run */
	static const char *const caches[] = { ".npm", ".cache" };
	for (size_t i = 0; i < N(caches); i++) {
		snprintf(p, sizeof(p), "%s/%s", fs->home, caches[i]);
		if (strcmp(fs->home, "/") != 0 && in_scratch_only(fs, p) && (rc = sbx_paths_add(&fs->scratch, p)) < 0)
			return rc;
	}
	return 0;
}

#define STANDIN_XATTR "user.sluice-stand-in"

/* `.git/commondir` saying ".": git's common directory is the git directory
 * itself, as without the file. */
static bool make_commondir(const char *path)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);

	if (fd < 0)
		return false;
	bool ok = write(fd, ".\n", 2) == 2;
	int e = errno;
	close(fd);
	if (!ok)
		(void)unlink(path);
	errno = ok ? 0 : e;
	return ok;
}

/* A stand-in directory at path, made (or found) and held with a shared
 * lock; the holder re-checks that the locked directory is still the one at
 * path, because a sandbox that ends removes what only it held. 1 when held,
 * 0 when the caller cannot make it (nor, then, can the sandbox), or -errno. */
static int standin(struct sbx_fs *fs, const char *path, enum standin_kind kind)
{
	for (int tries = 0; tries < 4; tries++) {
		bool made = kind == SI_DIR ? mkdir(path, 0755) == 0 : make_commondir(path);
		if (!made && errno != EEXIST)
			return errno == EACCES || errno == EPERM || errno == EROFS ? 0 : -errno;
		int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | (kind == SI_DIR ? O_DIRECTORY : 0));
		struct stat a, b;
		if (fd < 0)
			return -errno;
		if (flock(fd, LOCK_SH) == 0 && fstat(fd, &a) == 0 && lstat(path, &b) == 0 && a.st_ino == b.st_ino &&
		    a.st_dev == b.st_dev) {
			struct sbx_standin *v = realloc(fs->standins, (fs->nstandins + 1) * sizeof(*v));
			char *copy = strdup(path);
			if (v)
				fs->standins = v;
			if (!v || !copy) {
				free(copy);
				close(fd);
				return -ENOMEM;
			}
			/* marked, so whichever sandbox ends last removes it, not only
			 * the one that made it (a user's own empty directory has no mark) */
			if (made)
				(void)fsetxattr(fd, STANDIN_XATTR, "1", 1, 0);
			v[fs->nstandins++] = (struct sbx_standin){ copy, fd, made };
			return 1;
		}
		close(fd);
	}
	return -EAGAIN;
}

/* Whether the sandbox could create path: the closest directory above it
 * that the plan names is a writable one, not a private scratch one. */
static bool creatable(const struct sbx_fs *fs, const char *path)
{
	size_t best = 0;
	bool writable = false;

	for (int l = 0; l < 2; l++) {
		const struct sbx_paths *list = l ? &fs->scratch : &fs->writable;
		for (size_t i = 0; i < list->n; i++) {
			size_t n = strlen(list->v[i]);
			if (sbx_path_under(path, list->v[i]) && n >= best) {
				best = n;
				writable = l == 0;
			}
		}
	}
	return writable;
}

static bool empty_dir(const char *path)
{
	DIR *d = opendir(path);
	struct dirent *e;
	int n = 0;

	while (d && n <= 2 && (e = readdir(d)))
		n++;
	if (d)
		closedir(d);
	return d && n <= 2;
}

/* path must stay as it is (ro) or unreadable (!ro): cover it if it exists
 * (a hidden symlink: its target); if not, and the sandbox could create it,
 * cover a stand-in for its first missing component instead. When a
 * component on the way is a file (a .git file naming another git
 * directory), that file is what must stay as it is. */
static int plan_cover(struct sbx_fs *fs, const char *path, bool ro, enum standin_kind kind)
{
	struct stat st;
	char miss[PATH_MAX], real[PATH_MAX];

	if (lstat(path, &st) == 0) {
		/* an empty directory may be another sandbox's stand-in: hold it
		 * like one, so that sandbox's end cannot take it from under ours */
		if (ro && S_ISDIR(st.st_mode) && empty_dir(path)) {
			int rc = paths_has(&fs->readonly, path) ? 0 : standin(fs, path, SI_DIR);
			return rc <= 0 ? rc : sbx_paths_add(&fs->readonly, path);
		}
		if (!ro && S_ISLNK(st.st_mode)) {
			if (!realpath(path, real))
				return 0; /* dangling: nothing to read */
			path = real;
		}
		struct sbx_paths *l = ro ? &fs->readonly : &fs->hidden;
		return paths_has(l, path) ? 0 : sbx_paths_add(l, path);
	}
	if ((errno != ENOENT && errno != ENOTDIR) || !creatable(fs, path) || (ro && under_any(&fs->readonly, path)))
		return 0; /* (a stand-in above it covers it: .git for .git/config) */
	snprintf(miss, sizeof(miss), "%s", path);
	for (char *s = strchr(miss + 1, '/'); s; s = strchr(s + 1, '/')) {
		*s = '\0';
		if (lstat(miss, &st) < 0)
			break;
		if (!S_ISDIR(st.st_mode))
			return paths_has(&fs->readonly, miss) ? 0 : sbx_paths_add(&fs->readonly, miss);
		*s = '/';
	}
	if (kind == SI_NONE && strcmp(miss, path) == 0)
		return 0;
	if (paths_has(&fs->readonly, miss))
		return 0; /* one stand-in already covers both */
	int rc = standin(fs, miss, strcmp(miss, path) == 0 ? kind : SI_DIR);
	if (rc < 0)
		log_msg("run: cannot make a stand-in at %s: %s", miss, strerror(-rc));
	return rc <= 0 ? rc : sbx_paths_add(&fs->readonly, miss);
}

/* A repository whose (read-only) config sets core.hooksPath inside the
 * writable directory runs hooks from there (husky's `.husky`): protect it. */
static int plan_hooks_path(struct sbx_fs *fs, const char *root)
{
	char p[PATH_MAX * 2], line[PATH_MAX], real[PATH_MAX];
	int rc = 0;

	snprintf(p, sizeof(p), "%s/.git/config", strcmp(root, "/") ? root : "");
	FILE *f = fopen(p, "re");
	if (!f)
		return 0;
	while (rc == 0 && fgets(line, sizeof(line), f)) {
		char *k = line + strspn(line, " \t"), *v = strchr(k, '=');
		if (!v || strncasecmp(k, "hookspath", 9) != 0 || strspn(k + 9, " \t") != (size_t)(v - k - 9))
			continue;
		v += 1 + strspn(v + 1, " \t");
		bool quoted = *v == '"';
		v += quoted;
		v[strcspn(v, quoted ? "\"\n" : " \t\r\n;#")] = '\0';
		if (!*v)
			continue;
		if (v[0] == '~')
			snprintf(p, sizeof(p), "%s%s", fs->home, v + 1);
		else if (v[0] == '/')
			snprintf(p, sizeof(p), "%s", v);
		else
			snprintf(p, sizeof(p), "%s/%s", strcmp(root, "/") ? root : "", v);
		if (strlen(p) < PATH_MAX)
			rc = plan_cover(fs, realpath(p, real) ? real : p, true, SI_DIR);
	}
	fclose(f);
	return rc;
}

static int plan_protected(struct sbx_fs *fs, const char *const *extra, size_t nextra)
{
	char p[PATH_MAX];
	int rc;

	for (size_t w = 0; w < fs->writable.n; w++) {
		for (size_t i = 0; i < N(protected_rel); i++) {
			struct stat st;
			snprintf(p, sizeof(p), "%s/%s", strcmp(fs->writable.v[w], "/") ? fs->writable.v[w] : "",
				 protected_rel[i].rel);
			if (protected_rel[i].not_dir && lstat(p, &st) == 0 && S_ISDIR(st.st_mode) && !empty_dir(p))
				continue; /* a repository's own .git: what is in it is covered below */
			if ((rc = plan_cover(fs, p, true, protected_rel[i].missing)) < 0)
				return rc;
		}
		if ((rc = plan_hooks_path(fs, fs->writable.v[w])) < 0)
			return rc;
	}
	for (size_t i = 0; i < N(protected_home); i++) {
		snprintf(p, sizeof(p), "%s/%s", fs->home, protected_home[i]);
		if ((rc = plan_cover(fs, p, true, SI_DIR)) < 0)
			return rc;
	}
	for (size_t i = 0; i < nextra; i++) {
		char real[PATH_MAX];
		if (extra[i] && realpath(extra[i], real) && (rc = plan_cover(fs, real, true, SI_NONE)) < 0)
			return rc;
	}
	return 0;
}

static bool shown(const struct policy *pol, const char *home, const char *path)
{
	char p[PATH_MAX];

	for (size_t i = 0; i < pol->show.n; i++)
		if (expand(home, pol->show.v[i], p, sizeof(p)) == 0 && strcmp(p, path) == 0)
			return true;
	return false;
}

static int plan_hidden(const struct policy *pol, struct sbx_fs *fs)
{
	char p[PATH_MAX];
	int rc;

	for (size_t i = 0; i < N(hidden_home); i++) {
		snprintf(p, sizeof(p), "%s/%s", fs->home, hidden_home[i]);
		if (!shown(pol, fs->home, p) && (rc = plan_cover(fs, p, false, SI_DIR)) < 0)
			return rc;
	}
	for (size_t i = 0; i < pol->hide.n; i++)
		if (expand(fs->home, pol->hide.v[i], p, sizeof(p)) == 0 && (rc = plan_cover(fs, p, false, SI_DIR)) < 0)
			return rc;
	return 0;
}

/* A covered path inside a writable directory stays covered only while no
 * directory between them can be renamed: `mv .git .git-old; mkdir .git`
 * would leave the read-only hooks behind. A mount point cannot be renamed
 * or removed, so each such directory is bound onto itself. */
static int plan_pins(struct sbx_fs *fs, const struct sbx_paths *covered)
{
	char p[PATH_MAX];
	int rc;

	for (size_t i = 0; i < covered->n; i++) {
		const char *root = NULL;
		for (size_t w = 0; w < fs->writable.n; w++)
			if (sbx_path_under(covered->v[i], fs->writable.v[w]) &&
			    (!root || strlen(fs->writable.v[w]) > strlen(root)))
				root = fs->writable.v[w];
		if (!root)
			continue;
		snprintf(p, sizeof(p), "%s", covered->v[i]);
		for (char *s = strrchr(p, '/'); s && s > p + strlen(root); s = strrchr(p, '/')) {
			*s = '\0';
			if (!paths_has(&fs->pins, p) && (rc = sbx_paths_add(&fs->pins, p)) < 0)
				return rc;
		}
	}
	return 0;
}

static int by_depth_cmp(const void *a, const void *b)
{
	size_t la = strlen(*(char *const *)a), lb = strlen(*(char *const *)b);

	return la < lb ? 1 : la > lb ? -1 : 0;
}

static int plan_cwd(struct sbx_fs *fs)
{
	char buf[PATH_MAX];

	if (!getcwd(buf, sizeof(buf)))
		return -errno;
	if (!(fs->cwd = strdup(buf)))
		return -ENOMEM;
	fs->cwd_writable = !is_system_dir(buf, fs->home) && strcmp(buf, "/tmp") != 0;
	if (!fs->cwd_writable && strcmp(buf, "/tmp") != 0)
		log_msg("run: the working directory %s is left read-only (it is /, your home or a system "
			"directory); list it under write: in the policy to make it writable",
			buf);
	return 0;
}

int sbx_fs_plan(const struct policy *pol, const char *const *protect, size_t nprotect, struct sbx_fs *fs)
{
	int rc;

	*fs = (struct sbx_fs){ .uid = getuid(), .gid = getgid() };
	if (!(fs->home = home_dir()))
		return -ENOMEM;
	if ((rc = plan_cwd(fs)) < 0 || (rc = plan_writable(pol, fs)) < 0 || (rc = plan_scratch(fs)) < 0)
		return rc;
	if ((rc = plan_protected(fs, protect, nprotect)) < 0 || (rc = plan_hidden(pol, fs)) < 0) {
		log_msg("run: cannot protect the files that must stay read-only: %s", strerror(-rc));
		return rc;
	}
	if ((rc = plan_pins(fs, &fs->readonly)) < 0 || (rc = plan_pins(fs, &fs->hidden)) < 0)
		return rc;
	if (fs->pins.n) /* deepest first: a shallower recursive bind takes the deeper ones along */
		qsort(fs->pins.v, fs->pins.n, sizeof(*fs->pins.v), by_depth_cmp);
	return sbx_sockets_plan(pol, fs);
}

void sbx_fs_done(struct sbx_fs *fs)
{
	for (size_t i = fs->nstandins; i-- > 0;) { /* the innermost first */
		struct sbx_standin *s = &fs->standins[i];
		struct stat a, b;
		char mark;
		/* only when no other sandbox holds it, and it is still a stand-in
		 * (made here, or marked by the sluice that made it) and empty */
		if ((s->made || fgetxattr(s->fd, STANDIN_XATTR, &mark, 1) == 1) && flock(s->fd, LOCK_EX | LOCK_NB) == 0 &&
		    fstat(s->fd, &a) == 0 &&
		    lstat(s->path, &b) == 0 && a.st_ino == b.st_ino && a.st_dev == b.st_dev)
			(void)(S_ISDIR(b.st_mode) ? rmdir(s->path) : b.st_size == 2 ? unlink(s->path) : 0);
		close(s->fd);
		free(s->path);
	}
	free(fs->standins);
	free(fs->trust);
	paths_free(&fs->writable);
	paths_free(&fs->scratch);
	paths_free(&fs->readonly);
	paths_free(&fs->hidden);
	paths_free(&fs->sockets);
	paths_free(&fs->keep);
	paths_free(&fs->pins);
	free(fs->home);
	free(fs->cwd);
	*fs = (struct sbx_fs){ 0 };
}

/* ---- the child: mounts ----------------------------------------------------- */

/* Set (or clear) read-only on the mount at path, alone or with every mount
 * below it; nodev too when asked (the host's device nodes and FIFOs are
 * not files a read-only mount stops). mount_setattr (Linux 5.12) changes
 * only those flags, whatever else a mount has locked; there is no safe
 * stand-in for it on older kernels, which get a clear error instead. */
static int set_ro(const char *path, bool ro, bool recursive)
{
	struct mount_attr a = { .attr_set = ro ? MOUNT_ATTR_RDONLY : 0, .attr_clr = ro ? 0 : MOUNT_ATTR_RDONLY };

	if (ro && recursive && strcmp(path, "/") == 0)
		a.attr_set |= MOUNT_ATTR_NODEV;
	if (mount_setattr(AT_FDCWD, path, recursive ? AT_RECURSIVE : 0, &a, sizeof(a)) == 0)
		return 0;
	return errno == ENOSYS ? -ENOSYS : -errno;
}

/* Make the mount point for a carried mount inside a fresh tmpfs. */
static int make_point(const char *path, bool dir)
{
	char parent[PATH_MAX];
	int rc;

	snprintf(parent, sizeof(parent), "%s", path);
	char *s = strrchr(parent, '/');
	if (s && s != parent) {
		*s = '\0';
		if ((rc = mkdir_p(parent)) < 0)
			return rc;
	}
	if (dir)
		return mkdir(path, 0755) < 0 && errno != EEXIST ? -errno : 0;
	int fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	close(fd);
	return 0;
}

/* Writable paths and unmasked sockets inside a scratch directory are cloned
 * before the tmpfs covers them, then moved into place. */
struct carried {
	const char *path;
	int fd;
	bool dir;
};

static int carry_out(const struct sbx_fs *fs, struct carried *c, size_t max, size_t *n)
{
	const struct sbx_paths *lists[] = { &fs->writable, &fs->keep };

	*n = 0;
	for (size_t l = 0; l < 2; l++)
		for (size_t i = 0; i < lists[l]->n; i++) {
			const char *p = lists[l]->v[i];
			struct stat st;
			if (!under_any(&fs->scratch, p) || paths_has(&fs->scratch, p) || lstat(p, &st) < 0 || *n == max)
				continue;
			int fd = (int)open_tree(AT_FDCWD, p, OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_RECURSIVE);
			if (fd < 0)
				return -errno;
			c[(*n)++] = (struct carried){ p, fd, S_ISDIR(st.st_mode) };
		}
	return 0;
}

static int carry_in(struct carried *c, size_t n)
{
	int rc = 0;

	for (size_t i = 0; i < n; i++) {
		if (rc == 0 && (rc = make_point(c[i].path, c[i].dir)) == 0 &&
		    move_mount(c[i].fd, "", AT_FDCWD, c[i].path, MOVE_MOUNT_F_EMPTY_PATH) < 0)
			rc = -errno;
		close(c[i].fd);
	}
	return rc;
}

static int bind_writable(const struct sbx_fs *fs)
{
	for (size_t i = 0; i < fs->writable.n; i++) {
		const char *p = fs->writable.v[i];
		int rc;
		if (under_any(&fs->scratch, p))
			continue; /* carried */
		if (mount(p, p, NULL, MS_BIND | MS_REC, NULL) < 0)
			return -errno;
		if ((rc = set_ro(p, false, false)) < 0)
			return rc;
	}
	return 0;
}

static int mount_scratch(const struct sbx_fs *fs)
{
	char opts[64];

	for (size_t i = 0; i < fs->scratch.n; i++) {
		const char *p = fs->scratch.v[i];
		bool user = sbx_path_under(p, "/run/user") || (strcmp(fs->home, "/") && sbx_path_under(p, fs->home));
		snprintf(opts, sizeof(opts), "mode=%s,uid=%u,gid=%u", user ? "0700" : "1777", (unsigned)fs->uid,
			 (unsigned)fs->gid);
		if (mount("tmpfs", p, "tmpfs", MS_NOSUID | MS_NODEV, opts) < 0)
			return -errno;
	}
	return 0;
}

/* Whether path's closest writable directory was carried into a scratch one
 * (and so is not part of the read-only tree below it). */
static bool in_carried(const struct sbx_fs *fs, const char *path)
{
	const char *best = NULL;

	for (size_t i = 0; i < fs->writable.n; i++)
		if (sbx_path_under(path, fs->writable.v[i]) && (!best || strlen(fs->writable.v[i]) > strlen(best)))
			best = fs->writable.v[i];
	return best && under_any(&fs->scratch, best);
}

/* The protected paths inside writable directories. Before the writable
 * binds, a bind of the read-only tree is read-only already and the
 * recursive writable bind takes it along; inside carried directories the
 * bind comes after and is made read-only. */
static int protect(const struct sbx_fs *fs, bool carried)
{
	int rc;

	for (size_t i = 0; i < fs->readonly.n; i++) {
		const char *p = fs->readonly.v[i];
		if (!under_any(&fs->writable, p) || in_carried(fs, p) != carried)
			continue; /* outside them it is read-only already */
		if (mount(p, p, NULL, MS_BIND | MS_REC, NULL) < 0)
			return -errno;
		if (carried && (rc = set_ro(p, true, true)) < 0)
			return rc;
	}
	for (size_t i = 0; i < fs->pins.n; i++) {
		const char *p = fs->pins.v[i];
		if (in_carried(fs, p) != carried)
			continue;
		if (mount(p, p, NULL, MS_BIND | MS_REC, NULL) < 0)
			return -errno;
		if (!carried && (rc = set_ro(p, false, false)) < 0) /* writable itself; what it covers is not */
			return rc;
	}
	return 0;
}

static int hide(const struct sbx_fs *fs)
{
	for (size_t i = 0; i < fs->hidden.n; i++) {
		const char *p = fs->hidden.v[i];
		struct stat st;
		if (lstat(p, &st) < 0)
			continue;
		if (S_ISDIR(st.st_mode) ? mount("tmpfs", p, "tmpfs", MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC,
						"mode=0500,size=4k") < 0
					: mount("/dev/null", p, NULL, MS_BIND, NULL) < 0)
			return -errno;
	}
	return 0;
}

static const char *const dev_nodes[] = { "null", "zero", "full", "random", "urandom", "tty" };
#define NDEV (sizeof(dev_nodes) / sizeof(dev_nodes[0]))

/* Clones of the few harmless host devices the sandbox's /dev gets, taken
 * before the host's mounts turn nodev. fds[i] is -1 for a device the host
 * lacks. */
static void clone_devs(int fds[NDEV])
{
	char path[32];

	for (size_t i = 0; i < NDEV; i++) {
		snprintf(path, sizeof(path), "/dev/%s", dev_nodes[i]);
		fds[i] = (int)open_tree(AT_FDCWD, path, OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC);
	}
}

/* A /dev of those devices instead of the host's, where uid 0 could open a
 * disk as its owner. Closes fds. */
static int mount_dev(int fds[NDEV])
{
	static const char *const links[][2] = { { "fd", "/proc/self/fd" },       { "stdin", "/proc/self/fd/0" },
						{ "stdout", "/proc/self/fd/1" }, { "stderr", "/proc/self/fd/2" },
						{ "ptmx", "pts/ptmx" } };
	char path[32];
	int rc = mount("tmpfs", "/dev", "tmpfs", MS_NOSUID | MS_NOEXEC, "mode=0755") < 0 ? -errno : 0;

	for (size_t i = 0; rc == 0 && i < N(links); i++) {
		snprintf(path, sizeof(path), "/dev/%s", links[i][0]);
		if (symlink(links[i][1], path) < 0)
			rc = -errno;
	}
	if (rc == 0 && (mkdir("/dev/shm", 01777) < 0 || mkdir("/dev/pts", 0755) < 0 ||
			mount("devpts", "/dev/pts", "devpts", MS_NOSUID | MS_NOEXEC, "newinstance,ptmxmode=0666,mode=0620") < 0))
		rc = -errno;
	for (size_t i = 0; i < NDEV; i++) {
		if (fds[i] < 0)
			continue;
		snprintf(path, sizeof(path), "/dev/%s", dev_nodes[i]);
		struct carried c = { path, fds[i], false };
		if (rc == 0)
			rc = carry_in(&c, 1);
		else
			close(fds[i]);
	}
	return rc;
}

static int mask_sockets(const struct sbx_fs *fs)
{
	for (size_t i = 0; i < fs->sockets.n; i++) {
		struct stat st;
		if (lstat(fs->sockets.v[i], &st) == 0 && (S_ISSOCK(st.st_mode) || S_ISFIFO(st.st_mode)) &&
		    mount("/dev/null", fs->sockets.v[i], NULL, MS_BIND, NULL) < 0)
			return -errno;
	}
	return 0;
}

int sbx_fs_trust(struct sbx_fs *fs, const char *ca_pem, const char *const *hide, size_t nhide)
{
	FILE *f = fopen(SBX_SYSTEM_BUNDLE, "re");
	char *buf = NULL;
	size_t len = 0;
	FILE *m = open_memstream(&buf, &len);
	int rc = 0;

	if (!m) {
		if (f)
			fclose(f);
		return -ENOMEM;
	}
	if (f) {
		char chunk[65536];
		size_t n;
		while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
			fwrite(chunk, 1, n, m);
		fclose(f);
	}
	fprintf(m, "\n# sluice package cache CA\n%s", ca_pem);
	if (fclose(m) != 0) {
		free(buf);
		return -ENOMEM;
	}
	free(fs->trust);
	fs->trust = buf;
	fs->trust_len = len;
	for (size_t i = 0; i < nhide && rc == 0; i++)
		if (hide[i] && access(hide[i], F_OK) == 0)
			rc = sbx_paths_add(&fs->hidden, hide[i]);
	return rc;
}

/* The trust bundle into the private /tmp, and over the system's. */
static int apply_trust(const struct sbx_fs *fs)
{
	int fd = open(SBX_TRUST_FILE, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0444);

	if (fd < 0)
		return -errno;
	ssize_t n = write(fd, fs->trust, fs->trust_len);
	close(fd);
	if (n != (ssize_t)fs->trust_len)
		return -EIO;
	if (access(SBX_SYSTEM_BUNDLE, F_OK) < 0)
		return 0;
	if (mount(SBX_TRUST_FILE, SBX_SYSTEM_BUNDLE, NULL, MS_BIND, NULL) < 0)
		return -errno;
	return set_ro(SBX_SYSTEM_BUNDLE, true, false);
}

int sbx_fs_apply(const struct sbx_fs *fs, const char **what)
{
	struct carried c[64];
	size_t nc = 0;
	int devs[NDEV], rc;

	*what = "make the mounts private";
	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
		return -errno;
	*what = "carry paths into the private /tmp";
	if ((rc = carry_out(fs, c, sizeof(c) / sizeof(c[0]), &nc)) < 0)
		goto err;
	clone_devs(devs);
	*what = "make the host's files read-only (mount_setattr needs Linux 5.12 or later)";
	if ((rc = set_ro("/", true, true)) < 0) {
		for (size_t i = 0; i < NDEV; i++)
			if (devs[i] >= 0)
				close(devs[i]);
		goto err;
	}
	*what = "protect the files that must stay read-only";
	if ((rc = protect(fs, false)) < 0)
		goto err;
	*what = "bind the writable paths";
	if ((rc = bind_writable(fs)) < 0)
		goto err;
	*what = "make the sandbox's /dev";
	if ((rc = mount_dev(devs)) < 0)
		goto err;
	*what = "mount the private /tmp and caches";
	if ((rc = mount_scratch(fs)) < 0)
		goto err;
	rc = carry_in(c, nc);
	nc = 0;
	*what = "protect the files that must stay read-only";
	if (rc < 0 || (rc = protect(fs, true)) < 0)
		return rc;
	*what = "hide the credential stores";
	if ((rc = hide(fs)) < 0)
		return rc;
	*what = "mask host sockets";
	if ((rc = mask_sockets(fs)) < 0)
		return rc;
	*what = "trust the package cache's CA";
	if (fs->trust && (rc = apply_trust(fs)) < 0)
		return rc;
	*what = "mount the sandbox's /sys";
	if (mount("sysfs", "/sys", "sysfs", MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) < 0)
		return -errno;
	/* onto the writable bind, not the host's directory below it */
	if (chdir(fs->cwd) < 0 && chdir("/") == 0)
		log_msg("run: the working directory %s is not in the sandbox; the command starts in /", fs->cwd);
	return 0;
err:
	for (size_t i = 0; i < nc; i++)
		close(c[i].fd);
	return rc;
}

int sbx_fs_proc(void)
{
	/* host-wide knobs that uid 0 inside could otherwise write as the
	 * file's owner: sysctls, SysRq, interrupts, buses */
	static const char *const ro[] = { "/proc/sys", "/proc/sysrq-trigger", "/proc/irq", "/proc/bus", "/proc/fs" };
	int rc;

	if (mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) < 0)
		return -errno;
	for (size_t i = 0; i < N(ro); i++) {
		if (access(ro[i], F_OK) < 0)
			continue;
		if (mount(ro[i], ro[i], NULL, MS_BIND | MS_REC, NULL) < 0)
			return -errno;
		if ((rc = set_ro(ro[i], true, true)) < 0)
			return rc;
	}
	return 0;
}
