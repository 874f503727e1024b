/* combine.c: one policy from several, and entries added on the command
 * line (`--policy npm --policy pypi,go --allow api.example.com`). The
 * entries go through the YAML loader itself, as a one-entry document, so
 * they are validated exactly as a policy file's are; the spec format is
 * described at pol_load_one in policy.h. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "index.h"
#include "policy.h"

#define MAX_PARTS 64    /* parts of one spec */
#define MAX_ENTRY 1024  /* bytes of one added entry */


/* "npm, pypi, ...": every shipped preset. */
static const char *known_presets(char *buf, size_t size)
{
	size_t len = 0;
	const char *name;

	buf[0] = '\0';
	for (unsigned i = 0; (name = pol_preset_name(i)) && len < size; i++)
		len += (size_t)snprintf(buf + len, size - len, "%s%s", i ? ", " : "", name);
	return buf;
}

int pol_spec_add(char **buf, const char *kind, const char *value)
{
	char *next;

	if (strchr(value, '\n'))
		return -EINVAL;
	if (asprintf(&next, "%s%s%s%s%s", *buf ? *buf : "", *buf ? "\n" : "", kind ? "+" : "", kind ? kind : "",
		     kind ? " " : "") < 0)
		return -ENOMEM;
	char *all;
	int rc = asprintf(&all, "%s%s", next, value);
	free(next);
	if (rc < 0)
		return -ENOMEM;
	free(*buf);
	*buf = all;
	return 0;
}

/* One policy name of a spec as a line of *out: a preset as it is, a file
 * as its absolute path. */
static int absolute_name(const char *name, char **out)
{
	char real[PATH_MAX];

	if (pol_spec_preset(name))
		return pol_spec_add(out, NULL, name);
	if (!realpath(name, real))
		return -errno;
	return pol_spec_add(out, NULL, real);
}

/* One line: "+kind entry" kept, a file or preset, or "a,b" split. */
static int absolute_part(const char *part, char **out)
{
	if (part[0] == '+' || !strchr(part, ','))
		return part[0] == '+' ? pol_spec_add(out, NULL, part) : absolute_name(part, out);
	int rc = absolute_name(part, out);
	if (rc != -ENOENT)
		return rc;
	char *copy = strdup(part), *save = NULL;
	rc = copy ? 0 : -ENOMEM;
	for (char *t = copy ? strtok_r(copy, ",", &save) : NULL; t && rc == 0; t = strtok_r(NULL, ",", &save))
		rc = absolute_name(t, out);
	free(copy);
	return rc;
}

int pol_spec_absolute(const char *spec, char **out)
{
	char *copy = strdup(spec), *save = NULL;
	int rc = copy ? 0 : -ENOMEM;

	*out = NULL;
	for (char *t = copy ? strtok_r(copy, "\n", &save) : NULL; t && rc == 0; t = strtok_r(NULL, "\n", &save))
		rc = absolute_part(t, out);
	free(copy);
	if (rc < 0) {
		free(*out);
		*out = NULL;
	}
	return rc;
}

/* ---- merging ------------------------------------------------------------- */

static int move_list(struct pol_list *to, struct pol_list *from)
{
	if (!from->n)
		return 0;
	struct pol_entry *v = realloc(to->v, (to->n + from->n) * sizeof(*v));
	if (!v)
		return -ENOMEM;
	memcpy(v + to->n, from->v, from->n * sizeof(*v));
	to->v = v;
	to->n += from->n;
	to->cap = to->n;
	from->n = 0; /* moved: from's free leaves them alone */
	return 0;
}

static bool has_env(const struct policy *p, const char *name)
{
	for (size_t i = 0; i < p->nenv; i++)
		if (strcmp(p->env[i], name) == 0)
			return true;
	return false;
}

static int move_env(struct policy *to, struct policy *from)
{
	for (size_t i = 0; i < from->nenv; i++) {
		if (has_env(to, from->env[i]))
			continue;
		char **v = realloc(to->env, (to->nenv + 1) * sizeof(*v));
		if (!v)
			return -ENOMEM;
		to->env = v;
		v[to->nenv++] = from->env[i];
		from->env[i] = NULL;
	}
	return 0;
}

static int move_cache(struct pol_cache_rules *to, struct pol_cache_rules *from)
{
	if (!from->n)
		return 0;
	struct pol_cache_rule *v = realloc(to->v, (to->n + from->n) * sizeof(*v));
	if (!v)
		return -ENOMEM;
	memcpy(v + to->n, from->v, from->n * sizeof(*v));
	to->v = v;
	to->n += from->n;
	from->n = 0;
	return 0;
}

/* Add from's lists to to's; from is freed by the caller. */
static int merge(struct policy *to, struct policy *from)
{
	int rc = move_list(&to->allow, &from->allow);

	if (rc == 0)
		rc = move_list(&to->deny, &from->deny);
	if (rc == 0)
		rc = move_list(&to->preset, &from->preset);
	if (rc == 0)
		rc = move_list(&to->allow_private, &from->allow_private);
	if (rc == 0)
		rc = move_env(to, from);
	if (rc == 0)
		rc = move_cache(&to->cache, &from->cache);
	return rc;
}

/* ---- the parts ----------------------------------------------------------- */

/* Copy the loader's "LABEL:LINE:COL: message" errors as "LABEL: message". */
static void take_errors(struct pol_errors *to, struct pol_errors *from, const char *label)
{
	for (size_t i = 0; i < from->n; i++) {
		const char *m = from->v[i] + strlen(label);
		for (int colons = 0; *m && colons < 3; m++)
			colons += *m == ':';
		pol_errors_add(to, "%s: %s", label, *m == ' ' ? m + 1 : m);
	}
}

/* "+allow ENTRY" / "+allow_private ENTRY": a one-entry policy. */
static int load_entry(const char *key, const char *value, struct policy **out, struct pol_errors *errs)
{
	char label[32], yaml[MAX_ENTRY * 2 + 64];
	size_t n = (size_t)snprintf(yaml, sizeof(yaml), "version: 1\n%s: ['", key);

	snprintf(label, sizeof(label), "--%s", strcmp(key, "allow") == 0 ? "allow" : "allow-private");
	if (strlen(value) > MAX_ENTRY) {
		pol_errors_add(errs, "%s: an entry of more than %d bytes", label, MAX_ENTRY);
		return -EINVAL;
	}
	for (const char *c = value; *c; c++) {
		if ((unsigned char)*c < 0x20 || *c == 0x7f) {
			pol_errors_add(errs, "%s: control character in the entry", label);
			return -EINVAL;
		}
		if (*c == '\'')
			yaml[n++] = '\''; /* YAML's single-quoted escape */
		yaml[n++] = *c;
	}
	n += (size_t)snprintf(yaml + n, sizeof(yaml) - n, "']\n");
	struct pol_errors mine = { 0 };
	int rc = pol_load_buffer(yaml, n, label, out, &mine);
	take_errors(errs, &mine, label);
	pol_errors_free(&mine);
	return rc;
}

static int load_named(const char *part, struct policy **out, struct pol_errors *errs)
{
	char known[256];
	int rc = pol_load_one(part, out, errs);

	if (rc < 0 && rc != -EINVAL) {
		pol_errors_add(errs, "cannot read policy '%s': %s (give a file path or a preset: %s)", part, strerror(-rc),
			  known_presets(known, sizeof(known)));
		rc = -EINVAL;
	}
	return rc;
}

static int add_part(struct policy **base, struct policy *p)
{
	if (!*base) {
		*base = p;
		return 0;
	}
	int rc = merge(*base, p);
	pol_free(p);
	return rc;
}

/* One line of a spec; "a,b" is a and b when nothing has the whole name. */
static int load_part(const char *part, struct policy **base, struct pol_errors *errs)
{
	struct policy *p = NULL;
	int rc;

	if (strncmp(part, "+allow ", 7) == 0)
		rc = load_entry("allow", part + 7, &p, errs);
	else if (strncmp(part, "+allow_private ", 15) == 0)
		rc = load_entry("allow_private", part + 15, &p, errs);
	else if (!strchr(part, ',') || (rc = pol_load_one(part, &p, errs)) == -ENOENT)
		rc = 1; /* below */
	if (rc == 1 && !strchr(part, ','))
		rc = load_named(part, &p, errs);
	if (rc == 1) {
		char *copy = strdup(part), *save = NULL;
		rc = copy ? 0 : -ENOMEM;
		for (char *t = copy ? strtok_r(copy, ",", &save) : NULL; t && rc == 0; t = strtok_r(NULL, ",", &save))
			if ((rc = load_named(t, &p, errs)) == 0)
				rc = add_part(base, p);
		free(copy);
		return rc;
	}
	return rc < 0 ? rc : add_part(base, p);
}

int pol_load(const char *spec, struct policy **out, struct pol_errors *errs)
{
	if (!strchr(spec, '\n') && !strchr(spec, ','))
		return pol_load_one(spec, out, errs);
	char *copy = strdup(spec), *save = NULL;
	struct policy *base = NULL;
	size_t parts = 0;
	int rc = copy ? 0 : -ENOMEM, first = 0;

	for (char *t = copy ? strtok_r(copy, "\n", &save) : NULL; t && rc != -ENOMEM; t = strtok_r(NULL, "\n", &save)) {
		if (++parts > MAX_PARTS) {
			pol_errors_add(errs, "more than %d policies and entries", MAX_PARTS);
			break;
		}
		int one = load_part(t, &base, errs);
		if (one < 0 && !first)
			first = one;
	}
	free(copy);
	if (rc == 0)
		rc = errs->n ? -EINVAL : first;
	if (rc == 0 && !base)
		rc = -EINVAL;
	if (rc == 0 && (pol_index_build(&base->allow) < 0 || pol_index_build(&base->deny) < 0 ||
			pol_index_build(&base->preset) < 0))
		rc = -ENOMEM;
	if (rc < 0) {
		pol_free(base);
		return rc;
	}
	*out = base;
	return 0;
}
