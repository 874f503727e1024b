/* policy.h: the policy model, its strict YAML loader and the one matcher
 * used by the proxy, the DNS stub and the command line. */
#ifndef SLUICE_POLICY_H
#define SLUICE_POLICY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "addr.h"
#include "host.h"

#define POL_MAX_PORTS 32

enum pol_mode {
	POL_ENFORCE,
	POL_REPORT, /* allow, but log would_deny */
};

enum pol_kind {
	POL_EXACT,  /* api.github.com */
	POL_SUFFIX, /* *.githubusercontent.com: subdomains only */
	POL_ANY,    /* *: any name (never an IP literal) */
	POL_CIDR,   /* 192.0.2.7, 10.0.0.0/8, 2001:db8::/32 */
};

struct pol_entry {
	enum pol_kind kind;
	char *text;    /* as written, for the log's "rule" and for messages */
	char *name;    /* EXACT: the name; SUFFIX: the suffix without "*." */
	struct addr_cidr cidr;
	uint16_t port; /* 0: the policy's ports (allow) or any port (deny, allow_private) */
};

struct pol_index;

struct pol_list {
	struct pol_entry *v;
	size_t n, cap;
	struct pol_index *idx; /* compiled lookup (index.c), built when loading */
};

/* Host sockets `sluice run` masks, by the names the unmask key uses. */
enum pol_host_socket {
	POL_SOCK_RESOLVED,
	POL_SOCK_DBUS,
	POL_SOCK_DOCKER,
	POL_SOCK_CONTAINERD,
	POL_SOCK_PODMAN,
	POL_SOCK_NSCD,
	POL_SOCK_SYSTEMD,     /* the systemd manager's private sockets */
	POL_SOCK_SESSION_BUS, /* the user's D-Bus session bus */
	POL_SOCK_X11,         /* the X server's socket directory */
	POL_SOCK_SSH_AGENT,   /* the socket $SSH_AUTH_SOCK names */
	POL_SOCK_COUNT,
};

/* Paths from the policy, normalised by the loader: each is "~", "~/..." or
 * "/...", with single slashes, no trailing slash (except "/") and no "." or
 * ".." components; "~" is left for the sandbox to expand with the caller's
 * $HOME. No duplicates, at most 10000. */
struct pol_paths {
	char **v;
	size_t n;
};

/* A cache rule (key `cache`, "immutable HOST/PATTERN" or "revalidate
 * HOST/PATTERN"): requests to HOST whose path matches PATTERN are stored.
 * In PATTERN `*` matches within one path segment, `**` across segments. */
struct pol_cache_rule {
	char *text;      /* as written, with "preset:NAME:" before it for a preset's */
	char *host;      /* canonical exact name */
	char *pattern;   /* starts with '/' */
	bool immutable;  /* served from the store without asking upstream */
	char ecosystem[16]; /* the file's name: npm, debian, pypi, crates, go, or another */
};

struct pol_cache_rules {
	struct pol_cache_rule *v;
	size_t n;
};

struct policy {
	char *name;
	enum pol_mode mode;
	struct pol_list allow, deny, preset, allow_private;
	uint16_t ports[POL_MAX_PORTS];
	size_t nports;
	char **env;
	size_t nenv;
	unsigned unmask; /* bits (1 << enum pol_host_socket) left reachable in the sandbox */
	struct pol_paths write;        /* writable besides the working directory */
	struct pol_paths hide;         /* hidden, besides the built-in credential list */
	struct pol_paths show;         /* taken off the built-in hidden list */
	struct pol_paths unmask_paths; /* socket files left reachable (unmask: [/run/x.sock]) */
	struct pol_cache_rules cache;  /* the cache key, own and the presets' */
	bool ech_allow; /* ech: allow: a ClientHello with encrypted_client_hello is decided by
			 * its outer server_name; by default (ech: deny) it is refused, no_name */
	unsigned refs;  /* references (pol_ref); the loader hands out the first */
};

/* Every error found while loading, each "file:line:col: message". */
struct pol_errors {
	char **v;
	size_t n;
};

enum pol_reason {
	POL_ALLOWED,
	POL_NOT_ALLOWED,
	POL_DENIED_BY_RULE,
	POL_BLOCKED_ADDRESS,
	POL_METADATA_HOST,
	POL_PORT_NOT_ALLOWED,
	POL_IP_LITERAL,
	POL_BAD_REQUEST,
	POL_RESOLVE_FAILED,
	POL_CONNECT_FAILED,
	POL_NO_NAME,
	POL_LIMIT,
};

struct pol_verdict {
	bool allow;
	enum pol_reason reason;
	const struct pol_entry *rule; /* the entry that decided, or NULL */
	bool rule_is_preset;
};

/*
 * Load a policy from a file, or from a preset name when spec has no '/' and
 * no ".yaml" suffix and names a shipped preset. Returns 0, or -EINVAL with
 * every error in errs (which the caller frees with pol_errors_free), or
 * -errno when the file cannot be read.
 */
int pol_load(const char *spec, struct policy **out, struct pol_errors *errs);

/*
 * pol_load's parts (combine.c): a spec may combine policies and add entries,
 * one part per line (what `--policy A --policy B,C --allow X` becomes, see
 * pol_spec_add):
 *   FILE|PRESET        a policy; "a,b" is presets a and b when no file or
 *                      preset has the whole name
 *   +allow ENTRY       an allow entry, read by the YAML loader's entry parser
 *   +allow_private ENTRY
 * The first policy gives name, mode, ports, paths and the other single
 * keys; every later one adds its allow, deny, presets, allow_private, env
 * and cache rules. A spec of one part is exactly pol_load_one. A part that
 * cannot be read is an error in errs (-EINVAL) naming the known presets.
 */
int pol_load_one(const char *spec, struct policy **out, struct pol_errors *errs);

/* The shipped preset's text when spec names one (no '/', no .yaml/.yml
 * suffix), else NULL: a file path. */
const char *pol_spec_preset(const char *spec);

/* *out (malloc'd) = spec with every policy file made an absolute path, so
 * it means the same from another working directory (`attach --control`):
 * presets and "+allow" parts stay, and "a,b" that is no file becomes one
 * line per name. 0, -ENOENT (errno of the first file that cannot be
 * found, the spec is then loaded where it is to report it), -EINVAL for a
 * path with a newline, or -ENOMEM. */
int pol_spec_absolute(const char *spec, char **out);

/* Append a part ("+allow" with value, or a policy with kind NULL) to the
 * spec *buf (malloc'd, NULL to start). 0, -EINVAL for a value with a
 * newline (it would split the part), or -ENOMEM. */
int pol_spec_add(char **buf, const char *kind, const char *value);

/* `policy check`'s warnings about a policy that loads, one line each in
 * w (freed with pol_errors_free): an allow entry a deny entry overrides, an
 * allowed IP/CIDR in a blocked range without allow_private, the same entry
 * twice in a list, allow 'localhost'. Returns how many. */
int pol_lint(const struct policy *p, struct pol_errors *w);

/* The shipped presets' names, i from 0; NULL past the last. */
const char *pol_preset_name(unsigned i);

/* Load from bytes; filename is used in messages and as the default name. */
int pol_load_buffer(const char *buf, size_t len, const char *filename, struct policy **out,
		    struct pol_errors *errs);

/*
 * A loaded policy never changes; only its reference count does. Whoever
 * keeps a policy past the current call (a server, a session, a pending
 * query) takes a reference, so a reload (SIGHUP) can hand a server a new
 * policy while connections already open keep the one they were decided
 * under. Single-threaded: each loop and each worker process has its own
 * policies. pol_ref returns p (NULL stays NULL); pol_unref drops one
 * reference and frees p with the last. pol_free is pol_unref (the
 * loader's reference).
 */
const struct policy *pol_ref(const struct policy *p);
void pol_unref(const struct policy *p);
void pol_free(struct policy *p);
void pol_errors_free(struct pol_errors *e);

/* Append one formatted line to e (at most 100 are kept: the rest are
 * dropped, as the loader's). For the loader, the combiner and the linter. */
void pol_errors_add(struct pol_errors *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* The public suffix list (the system's, else libpsl's built-in one), loaded
 * once: the one every "*.suffix" and registrable-domain question asks. */
struct psl_ctx_st;
const struct psl_ctx_st *pol_psl(void);

/* The unmask key's name for a host socket ("docker"), or NULL. */
const char *pol_host_socket_name(unsigned i);

/* The shipped preset with this name as YAML text, or NULL. */
const char *pol_preset_text(const char *name);

/* Names that are denied before any lookup. */
bool pol_is_metadata_name(const char *name);

/* "localhost" and names under ".localhost": denied before any lookup,
 * blocked_address (they are the loopback). */
bool pol_is_localhost_name(const char *name);

/* Decide on a canonical host and port: metadata names, then deny, then allow,
 * then presets. Address checks come later (pol_private_allowed). */
void pol_decide(const struct policy *p, const struct host *h, uint16_t port, struct pol_verdict *v);

/* Decide on a name that a DNS query asks for, when no port is known yet:
 * metadata names, then deny entries without a port, then allow and preset
 * entries for any port. */
void pol_decide_name(const struct policy *p, const struct host *h, struct pol_verdict *v);

/* The ports h is allowed on (each confirmed by pol_decide), at most max.
 * For the DNS stub's nft bindings: address × the name's allowed ports. */
size_t pol_name_ports(const struct policy *p, const struct host *h, uint16_t *out, size_t max);

/* Whether allow_private re-allows a blocked address (and which entry);
 * port 0 means any port (a DNS answer, before a connection names one). */
bool pol_private_allowed(const struct policy *p, const struct addr *a, uint16_t port,
			 const struct pol_entry **rule);

/* Step 5 of the pipeline: copy into out the addresses of in that are not in
 * a blocked range or are re-allowed by allow_private for port. Returns how
 * many were kept; *first_blocked (if not NULL) gets the first one dropped. */
size_t pol_vet(const struct policy *p, const struct addr *in, size_t n, uint16_t port, struct addr *out,
	       const struct addr **first_blocked);

/* The log's reason key ("not_allowed", ...). */
const char *pol_reason_key(enum pol_reason r);

/* A one-line hint naming the policy entry that would change the decision;
 * blocked is the blocked address's text for POL_BLOCKED_ADDRESS, else NULL. */
void pol_hint(const struct pol_verdict *v, const char *host, uint16_t port, const char *blocked,
	      char *buf, size_t size);

#endif
