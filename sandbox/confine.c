/* confine.c: what the command and sluice's own processes in the sandbox
 * keep of the host: no capabilities, no descriptors but stdio, a scrubbed
 * environment, and (for sluice's processes) no way to be traced or read. */
#include <errno.h>
#include <linux/capability.h>
#include <linux/securebits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "fs.h"
#include "log.h"
#include "policy.h"
#include "sbx.h"

static bool in_base(const char *entry)
{
	static const char *const base[] = { "PATH", "HOME", "USER", "LOGNAME", "LANG", "LANGUAGE", "TERM",
					    "TZ", "TMPDIR", "SHELL", "PWD", "COLORTERM", "NO_COLOR" };
	size_t n = strcspn(entry, "=");

	if (strncmp(entry, "LC_", 3) == 0)
		return true;
	for (size_t i = 0; i < sizeof(base) / sizeof(base[0]); i++)
		if (strlen(base[i]) == n && strncmp(entry, base[i], n) == 0)
			return true;
	return false;
}

static bool kept(const char *entry, char *const *keep, size_t nkeep)
{
	size_t n = strcspn(entry, "=");

	for (size_t i = 0; i < nkeep; i++)
		if (strlen(keep[i]) == n && strncmp(entry, keep[i], n) == 0)
			return true;
	return false;
}

/* Whether sluice sets the variable itself (entry "NAME=..." or "NAME"). */
static bool set_here(const char *entry, char *const *own, size_t nown)
{
	size_t n = strcspn(entry, "=");

	for (size_t i = 0; i < nown; i++)
		if (strcspn(own[i], "=") == n && strncmp(entry, own[i], n) == 0)
			return true;
	return false;
}

/* One line, names only: how many variables were removed and how to keep
 * one; the TLS trust variables among them are named (a TLS-inspecting
 * network needs them), unless the package cache sets them anyway. */
static void say_removed(char **envp, char *const *keep, size_t nkeep, char *const *own, size_t nown,
			bool trust)
{
	static const char *const tls[] = { "NODE_EXTRA_CA_CERTS", "SSL_CERT_FILE", "SSL_CERT_DIR",
					   "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE" };
	char names[256] = "";
	size_t removed = 0, len = 0;

	for (char **e = envp; *e; e++) {
		if (in_base(*e) || kept(*e, keep, nkeep) || set_here(*e, own, nown))
			continue;
		removed++;
		for (size_t i = 0; !trust && i < sizeof(tls) / sizeof(tls[0]); i++)
			if (strcspn(*e, "=") == strlen(tls[i]) && strncmp(*e, tls[i], strlen(tls[i])) == 0 &&
			    len < sizeof(names))
				len += (size_t)snprintf(names + len, sizeof(names) - len, "%s%s", len ? ", " : "", tls[i]);
	}
	if (!removed)
		return;
	log_msg("run: removed %zu variable%s from the environment (keep one with --env NAME or the policy's env:)"
		"%s%s%s", removed, removed == 1 ? "" : "s", len ? "; among them " : "", names,
		len ? ", which a TLS-inspecting network needs" : "");
}

char **sbx_env(const struct policy *pol, char *const *keep, size_t nkeep, bool trust)
{
	/* the package cache's CA, for the clients that do not read the system bundle */
	static char *const ca[] = {
		"NODE_EXTRA_CA_CERTS=" SBX_TRUST_FILE, "SSL_CERT_FILE=" SBX_TRUST_FILE,
		"REQUESTS_CA_BUNDLE=" SBX_TRUST_FILE,  "PIP_CERT=" SBX_TRUST_FILE,
		"CARGO_HTTP_CAINFO=" SBX_TRUST_FILE,   "GIT_SSL_CAINFO=" SBX_TRUST_FILE,
	};
	extern char **environ;
	static char *const proxy[] = {
		"HTTP_PROXY=http://127.0.0.1:3128", "HTTPS_PROXY=http://127.0.0.1:3128",
		"ALL_PROXY=http://127.0.0.1:3128",  "http_proxy=http://127.0.0.1:3128",
		"https_proxy=http://127.0.0.1:3128", "all_proxy=http://127.0.0.1:3128",
		"NO_PROXY=localhost,127.0.0.1,::1", "no_proxy=localhost,127.0.0.1,::1",
		"NODE_USE_ENV_PROXY=1",
	};
	size_t n = 0, cap = sizeof(proxy) / sizeof(proxy[0]) + sizeof(ca) / sizeof(ca[0]) + 1;

	for (char **e = environ; *e; e++)
		cap++;
	char **env = calloc(cap, sizeof(*env));
	if (!env)
		return NULL;
	char *own[sizeof(proxy) / sizeof(proxy[0]) + sizeof(ca) / sizeof(ca[0])];
	size_t nown = 0;
	for (size_t i = 0; i < sizeof(proxy) / sizeof(proxy[0]); i++)
		own[nown++] = proxy[i];
	for (size_t i = 0; trust && i < sizeof(ca) / sizeof(ca[0]); i++)
		own[nown++] = ca[i];
	say_removed(environ, keep, nkeep, own, nown, trust);
	for (char **e = environ; *e; e++) {
		const char *which;
		if (!in_base(*e) && !kept(*e, keep, nkeep))
			continue;
		if (sbx_env_masked(pol, *e, &which))
			log_msg("run: %s is not passed into the sandbox: the socket it names is masked "
				"(the policy's unmask key can leave it reachable)",
				which);
		else
			env[n++] = *e;
	}
	for (size_t i = 0; i < sizeof(proxy) / sizeof(proxy[0]); i++)
		env[n++] = proxy[i];
	for (size_t i = 0; trust && i < sizeof(ca) / sizeof(ca[0]); i++) {
		/* set here, not taken from the caller */
		for (size_t k = 0; k < n; k++)
			if (strncmp(env[k], ca[i], (size_t)(strchr(ca[i], '=') - ca[i]) + 1) == 0)
				env[k] = ca[i];
		bool set = false;
		for (size_t k = 0; k < n; k++)
			set = set || env[k] == ca[i];
		if (!set)
			env[n++] = ca[i];
	}
	return env;
}

int sbx_drop_caps(void)
{
	struct __user_cap_header_struct hdr = { _LINUX_CAPABILITY_VERSION_3, 0 };
	struct __user_cap_data_struct data[2];

	for (int c = 0; c <= CAP_LAST_CAP; c++)
		if (prctl(PR_CAPBSET_DROP, c, 0, 0, 0) < 0 && errno != EINVAL)
			return -errno;
	if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0)
		return -errno;
	/* uid 0 must not regain capabilities at exec, and nobody may undo that */
	if (prctl(PR_SET_SECUREBITS, SECBIT_NOROOT | SECBIT_NOROOT_LOCKED | SECBIT_NO_SETUID_FIXUP |
					     SECBIT_NO_SETUID_FIXUP_LOCKED | SECBIT_KEEP_CAPS_LOCKED |
					     SECBIT_NO_CAP_AMBIENT_RAISE | SECBIT_NO_CAP_AMBIENT_RAISE_LOCKED,
		  0, 0, 0) < 0)
		return -errno;
	memset(data, 0, sizeof(data));
	if (syscall(SYS_capset, &hdr, data) < 0)
		return -errno;
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		return -errno;
	return 0;
}

int sbx_close_fds(int keep)
{
	int rc = 0;

	if (keep > 3 && close_range(3, (unsigned)keep - 1, 0) < 0)
		rc = -errno;
	if (close_range(keep >= 3 ? (unsigned)keep + 1 : 3, ~0u, 0) < 0)
		rc = -errno;
	return rc;
}

void sbx_seal(void)
{
	extern char **environ;

	/* /proc/PID/environ and /proc/PID/mem, ptrace, process_vm_readv and
	 * pidfd_getfd all need the process to be dumpable (or CAP_SYS_PTRACE
	 * in the host's user namespace, which the command never has) */
	(void)prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
	for (char **e = environ; e && *e; e++)
		memset(*e, 0, strlen(*e));
	environ = NULL;
}
