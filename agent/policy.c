// SPDX-License-Identifier: GPL-2.0-only
/*
 * The node agent's policy file: YAML read with libyaml's document API
 * (yaml_parser_load), so that every node keeps the line it came from and
 * each refusal names it. The whole file is checked before anything is
 * returned: an unknown key, a value of the wrong type, an unknown mode or
 * protocol, a port out of range and a rule given twice are refused.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <yaml.h>

#include "netaccel_abi.h"
#include "policy.h"

/* The policy file is read whole; a bigger one is refused. */
#define POLICY_MAX_SIZE (1 << 20)

struct ctx {
	yaml_document_t *doc;
	const char *name;
	struct na_reason *why;
	struct na_policy *p;
};

static int line_of(const yaml_node_t *n)
{
	return (int)n->start_mark.line + 1;
}

__attribute__((format(printf, 3, 4)))
static int fail(struct ctx *c, int line, const char *fmt, ...)
{
	char msg[NA_REASON_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return na_reason_set(c->why, -EINVAL, "%s:%d: %s", c->name, line, msg);
}

static yaml_node_t *node(struct ctx *c, int index)
{
	return yaml_document_get_node(c->doc, index);
}

/* A plain scalar that YAML reads as null (a key with nothing after it). */
static bool is_null(const yaml_node_t *n)
{
	const char *v = (const char *)n->data.scalar.value;

	return n->type == YAML_SCALAR_NODE && n->data.scalar.style == YAML_PLAIN_SCALAR_STYLE &&
	       (!*v || !strcmp(v, "~") || !strcmp(v, "null"));
}

/* The text of a scalar that must be a string; what names the key. */
static int string(struct ctx *c, const yaml_node_t *n, const char *what, const char **out)
{
	const char *v = (const char *)n->data.scalar.value;

	if (n->type != YAML_SCALAR_NODE || is_null(n))
		return fail(c, line_of(n), "%s must be a string", what);
	if (strlen(v) != n->data.scalar.length)
		return fail(c, line_of(n), "%s contains a NUL byte", what);
	*out = v;
	return 0;
}

static int port(struct ctx *c, const yaml_node_t *n, const char *what, uint16_t *out)
{
	const char *v = (const char *)n->data.scalar.value;
	unsigned long x;
	char *end;

	if (n->type != YAML_SCALAR_NODE || n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE ||
	    !*v || strspn(v, "0123456789") != strlen(v))
		return fail(c, line_of(n), "%s must be a number (a port, 1-65535)", what);
	errno = 0;
	x = strtoul(v, &end, 10);
	if (errno || x < 1 || x > 65535)
		return fail(c, line_of(n), "%s %s is out of range (1-65535)", what, v);
	*out = (uint16_t)x;
	return 0;
}

static int boolean(struct ctx *c, const yaml_node_t *n, const char *what, bool *out)
{
	const char *v = (const char *)n->data.scalar.value;

	if (n->type == YAML_SCALAR_NODE && n->data.scalar.style == YAML_PLAIN_SCALAR_STYLE) {
		if (!strcmp(v, "true") || !strcmp(v, "false")) {
			*out = !strcmp(v, "true");
			return 0;
		}
	}
	return fail(c, line_of(n), "%s must be true or false", what);
}

/*
 * Walk the pairs of mapping n, whose keys must be among keys (a list ending
 * with NULL; where names the mapping in messages), refusing a key given
 * twice: each value is handed to fn with the key's position in keys.
 */
typedef int (*pair_fn)(struct ctx *c, int key, yaml_node_t *v, void *arg);

static int pairs(struct ctx *c, yaml_node_t *n, const char *where, const char *const *keys,
		 pair_fn fn, void *arg)
{
	unsigned int seen = 0;
	yaml_node_pair_t *pr;
	const char *k;
	char list[128];
	int i, err;

	if (n->type != YAML_MAPPING_NODE)
		return fail(c, line_of(n), "%s must be a mapping of keys to values", where);
	for (pr = n->data.mapping.pairs.start; pr < n->data.mapping.pairs.top; pr++) {
		yaml_node_t *key = node(c, pr->key);

		if (key->type != YAML_SCALAR_NODE)
			return fail(c, line_of(key), "a key in %s is not a string", where);
		k = (const char *)key->data.scalar.value;
		for (i = 0; keys[i] && strcmp(keys[i], k); i++)
			;
		if (!keys[i]) {
			list[0] = '\0';
			for (i = 0; keys[i]; i++)
				snprintf(list + strlen(list), sizeof(list) - strlen(list), "%s%s",
					 i ? ", " : "", keys[i]);
			return fail(c, line_of(key), "unknown key '%s' in %s (known: %s)", k, where,
				    list);
		}
		if (seen & (1u << i))
			return fail(c, line_of(key), "key '%s' is given twice in %s", k, where);
		seen |= 1u << i;
		err = fn(c, i, node(c, pr->value), arg);
		if (err)
			return err;
	}
	return 0;
}

/* The items of sequence n (a null value counts as none). */
static int items(struct ctx *c, yaml_node_t *n, const char *what, yaml_node_item_t **start,
		 yaml_node_item_t **top)
{
	*start = *top = NULL;
	if (is_null(n))
		return 0;
	if (n->type != YAML_SEQUENCE_NODE)
		return fail(c, line_of(n), "%s must be a list", what);
	*start = n->data.sequence.items.start;
	*top = n->data.sequence.items.top;
	return 0;
}

static void *grow(void *arr, size_t n, size_t size)
{
	return reallocarray(arr, n + 1, size);
}

/* ---- bypass ---- */

static const char *const bypass_keys[] = { "cgroup", "unit", "container", "pod", "mode", NULL };
enum { KEY_MODE = 4 };

struct bypass_item {
	struct na_policy_bypass *b;
	int nsel;
};

static int bypass_pair(struct ctx *c, int key, yaml_node_t *v, void *arg)
{
	struct bypass_item *it = arg;
	const char *s;
	int err;

	err = string(c, v, bypass_keys[key], &s);
	if (err)
		return err;
	if (key == KEY_MODE) {
		if (!strcmp(s, "all"))
			it->b->mode = NA_MODE_ALL;
		else if (!strcmp(s, "opt-in"))
			it->b->mode = NA_MODE_OPT_IN;
		else
			return fail(c, line_of(v), "unknown mode '%s' (use all or opt-in)", s);
		return 0;
	}
	if (it->nsel++)
		return fail(c, line_of(v), "a bypass rule takes one of cgroup, unit, container or pod, not two");
	it->b->sel = (enum na_policy_sel)key;
	if (key == NA_POL_CGROUP && s[0] == '/' && s[1])
		s++;	/* "/a/b" is "a/b"; "/" alone is the root */
	if (!*s || (key == NA_POL_UNIT && strchr(s, '/')))
		return fail(c, line_of(v), "%s '%s' names no %s", bypass_keys[key], s,
			    key == NA_POL_UNIT ? "unit (a name such as nginx.service)" : "cgroup");
	it->b->match = strdup(s);
	return it->b->match ? 0 : -ENOMEM;
}

static int parse_bypass(struct ctx *c, yaml_node_t *seq)
{
	struct na_policy *p = c->p;
	yaml_node_item_t *i, *top;
	size_t j;
	int err;

	err = items(c, seq, "bypass", &i, &top);
	for (; !err && i < top; i++) {
		yaml_node_t *n = node(c, *i);
		struct na_policy_bypass *arr = grow(p->bypass, p->nbypass, sizeof(*arr));
		struct bypass_item it;

		if (!arr)
			return -ENOMEM;
		p->bypass = arr;
		it.b = &arr[p->nbypass++];
		memset(it.b, 0, sizeof(*it.b));
		it.b->mode = NA_MODE_ALL;
		it.b->line = line_of(n);
		it.nsel = 0;
		err = pairs(c, n, "a bypass rule", bypass_keys, bypass_pair, &it);
		if (err)
			return err;
		if (!it.nsel)
			return fail(c, it.b->line, "a bypass rule needs one of cgroup, unit, container or pod");
		for (j = 0; j + 1 < p->nbypass; j++)
			if (arr[j].sel == it.b->sel && !strcmp(arr[j].match, it.b->match))
				return fail(c, it.b->line, "duplicate rule: %s '%s' is at line %d already",
					    bypass_keys[it.b->sel], it.b->match, arr[j].line);
	}
	return err;
}

/* ---- portmap ---- */

static const char *const portmap_keys[] = { "cgroup", "port", "real", "proto",
					    "allow_unprivileged", NULL };

static int portmap_pair(struct ctx *c, int key, yaml_node_t *v, void *arg)
{
	struct na_policy_portmap *r = arg;
	const char *s;
	int err;

	switch (key) {
	case 0:
		err = string(c, v, "cgroup", &s);
		if (!err && !(r->cgroup = strdup(s)))
			err = -ENOMEM;
		return err;
	case 1:
		return port(c, v, "port", &r->port);
	case 2:
		return port(c, v, "real port", &r->real);
	case 3:
		err = string(c, v, "proto", &s);
		if (err)
			return err;
		if (strcmp(s, "tcp") && strcmp(s, "udp"))
			return fail(c, line_of(v), "unknown proto '%s' (use tcp or udp)", s);
		r->proto = strcmp(s, "tcp") ? NA_PM_UDP : NA_PM_TCP;
		return 0;
	default:
		return boolean(c, v, "allow_unprivileged", &r->unpriv);
	}
}

static int parse_portmap(struct ctx *c, yaml_node_t *seq)
{
	struct na_policy *p = c->p;
	yaml_node_item_t *i, *top;
	size_t j;
	int err;

	err = items(c, seq, "portmap", &i, &top);
	for (; !err && i < top; i++) {
		yaml_node_t *n = node(c, *i);
		struct na_policy_portmap *arr = grow(p->portmap, p->nportmap, sizeof(*arr));
		struct na_policy_portmap *r;

		if (!arr)
			return -ENOMEM;
		p->portmap = arr;
		r = &arr[p->nportmap++];
		memset(r, 0, sizeof(*r));
		r->proto = NA_PM_TCP;
		r->line = line_of(n);
		err = pairs(c, n, "a portmap rule", portmap_keys, portmap_pair, r);
		if (err)
			return err;
		if (!r->cgroup || !r->port)
			return fail(c, r->line, "a portmap rule needs cgroup and port");
		if (r->real == r->port)
			return fail(c, r->line, "real port %u is the port itself", r->real);
		for (j = 0; j + 1 < p->nportmap; j++)
			if (!strcmp(arr[j].cgroup, r->cgroup) && arr[j].port == r->port &&
			    arr[j].proto == r->proto)
				return fail(c, r->line, "duplicate rule: port %u/%s of '%s' is at line %d already",
					    r->port, r->proto == NA_PM_TCP ? "tcp" : "udp", r->cgroup,
					    arr[j].line);
	}
	return err;
}

/* ---- veth ---- */

static const char *const veth_keys[] = { "bridges", NULL };

static int veth_pair(struct ctx *c, int key, yaml_node_t *v, void *arg)
{
	struct na_policy *p = c->p;
	yaml_node_item_t *i, *top;
	const char *s;
	size_t j;
	int err;

	err = items(c, v, "bridges", &i, &top);
	for (; !err && i < top; i++) {
		yaml_node_t *n = node(c, *i);
		char **arr;

		err = string(c, n, "a bridge", &s);
		if (err)
			return err;
		if (strlen(s) >= 16 || strchr(s, '/'))
			return fail(c, line_of(n), "'%s' is not an interface name", s);
		for (j = 0; j < p->nbridges; j++)
			if (!strcmp(p->bridges[j], s))
				return fail(c, line_of(n), "duplicate bridge '%s'", s);
		if (p->nbridges == NA_POLICY_MAX_BRIDGES)
			return fail(c, line_of(n), "more than %d bridges", NA_POLICY_MAX_BRIDGES);
		arr = grow(p->bridges, p->nbridges, sizeof(*arr));
		if (!arr)
			return -ENOMEM;
		p->bridges = arr;
		if (!(arr[p->nbridges] = strdup(s)))
			return -ENOMEM;
		p->nbridges++;
	}
	return err;
}

/* ---- the document ---- */

static const char *const top_keys[] = { "bypass", "portmap", "veth", NULL };

static int top_pair(struct ctx *c, int key, yaml_node_t *v, void *arg)
{
	if (key == 0)
		return parse_bypass(c, v);
	if (key == 1)
		return parse_portmap(c, v);
	if (is_null(v))
		return 0;
	return pairs(c, v, "veth", veth_keys, veth_pair, NULL);
}

static int syntax_error(struct ctx *c, const yaml_parser_t *ps)
{
	if (ps->error == YAML_MEMORY_ERROR)
		return -ENOMEM;
	if (ps->context)
		return fail(c, (int)ps->problem_mark.line + 1, "YAML syntax error: %s %s",
			    ps->problem ? ps->problem : "", ps->context);
	return fail(c, (int)ps->problem_mark.line + 1, "YAML syntax error: %s",
		    ps->problem ? ps->problem : "cannot parse");
}

int na_policy_parse(const char *text, size_t len, const char *name, struct na_policy *p,
		    struct na_reason *why)
{
	yaml_document_t doc, next;
	struct ctx c = { .doc = &doc, .name = name, .why = why, .p = p };
	yaml_parser_t ps;
	yaml_node_t *root;
	int err = 0;

	memset(p, 0, sizeof(*p));
	if (!yaml_parser_initialize(&ps))
		return -ENOMEM;
	yaml_parser_set_input_string(&ps, (const unsigned char *)text, len);
	if (!yaml_parser_load(&ps, &doc)) {
		err = syntax_error(&c, &ps);
		goto out_parser;
	}
	root = yaml_document_get_root_node(&doc);
	if (root && !is_null(root))
		err = pairs(&c, root, "the policy", top_keys, top_pair, NULL);
	if (!err && root) {
		/* A second document would be ignored: refuse it instead. */
		if (!yaml_parser_load(&ps, &next)) {
			err = syntax_error(&c, &ps);
		} else {
			if (yaml_document_get_root_node(&next))
				err = fail(&c, (int)next.start_mark.line + 1,
					   "more than one YAML document (the policy is one)");
			yaml_document_delete(&next);
		}
	}
	yaml_document_delete(&doc);
out_parser:
	yaml_parser_delete(&ps);
	if (err) {
		if (err == -ENOMEM)
			na_reason_set(why, err, "%s: out of memory", name);
		na_policy_free(p);
	}
	return err;
}

int na_policy_load(const char *file, struct na_policy *p, struct na_reason *why)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f;
	int err;

	memset(p, 0, sizeof(*p));
	f = fopen(file, "re");
	if (!f)
		return na_reason_set(why, -errno, "cannot read %s: %s", file, strerror(errno));
	buf = malloc(POLICY_MAX_SIZE + 1);
	if (!buf) {
		fclose(f);
		return -ENOMEM;
	}
	len = fread(buf, 1, POLICY_MAX_SIZE + 1, f);
	err = ferror(f) ? -EIO : 0;
	fclose(f);
	if (err)
		na_reason_set(why, err, "cannot read %s: %s", file, strerror(-err));
	else if (len > POLICY_MAX_SIZE)
		err = na_reason_set(why, -EFBIG, "%s: bigger than %d bytes", file, POLICY_MAX_SIZE);
	else
		err = na_policy_parse(buf, len, file, p, why);
	free(buf);
	return err;
}

void na_policy_free(struct na_policy *p)
{
	size_t i;

	for (i = 0; i < p->nbypass; i++)
		free(p->bypass[i].match);
	for (i = 0; i < p->nportmap; i++)
		free(p->portmap[i].cgroup);
	for (i = 0; i < p->nbridges; i++)
		free(p->bridges[i]);
	free(p->bypass);
	free(p->portmap);
	free(p->bridges);
	memset(p, 0, sizeof(*p));
}

const char *na_policy_mode_name(uint32_t mode)
{
	return mode == NA_MODE_OPT_IN ? "opt-in" : "all";
}

static const char *const sel_key[] = {
	[NA_POL_CGROUP] = "cgroup", [NA_POL_UNIT] = "unit", [NA_POL_CONTAINER] = "container",
	[NA_POL_POD] = "pod",
};

/* Each rule of p as one line, in a NULL-terminated array; NULL when out
 * of memory. */
static char **rule_lines(const struct na_policy *p)
{
	size_t i, n = 0, max = p->nbypass + p->nportmap + p->nbridges + 1;
	char **l = calloc(max, sizeof(*l));

	if (!l)
		return NULL;
	for (i = 0; i < p->nbypass; i++)
		if (asprintf(&l[n++], "bypass %s \"%s\" mode %s", sel_key[p->bypass[i].sel],
			     p->bypass[i].match, na_policy_mode_name(p->bypass[i].mode)) < 0)
			goto fail;
	for (i = 0; i < p->nportmap; i++) {
		const struct na_policy_portmap *r = &p->portmap[i];
		char real[16] = "";

		if (r->real)
			snprintf(real, sizeof(real), ":%u", r->real);
		if (asprintf(&l[n++], "portmap %s %s %u%s%s", r->cgroup,
			     r->proto == NA_PM_UDP ? "udp" : "tcp", r->port, real,
			     r->unpriv ? " allow_unprivileged" : "") < 0)
			goto fail;
	}
	for (i = 0; i < p->nbridges; i++)
		if (asprintf(&l[n++], "veth bridge %s", p->bridges[i]) < 0)
			goto fail;
	return l;
fail:
	l[n - 1] = NULL;	/* asprintf left it undefined */
	for (i = 0; l[i]; i++)
		free(l[i]);
	free(l);
	return NULL;
}

static bool has_line(char **l, const char *s)
{
	for (; *l; l++)
		if (!strcmp(*l, s))
			return true;
	return false;
}

int na_policy_diff(const struct na_policy *old, const struct na_policy *new,
		   void (*fn)(void *arg, char sign, const char *rule), void *arg)
{
	char **a = rule_lines(old), **b = rule_lines(new);
	int n = 0;
	size_t i;

	if (!a || !b) {
		n = -ENOMEM;
		goto out;
	}
	for (i = 0; a[i]; i++)
		if (!has_line(b, a[i])) {
			fn(arg, '-', a[i]);
			n++;
		}
	for (i = 0; b[i]; i++)
		if (!has_line(a, b[i])) {
			fn(arg, '+', b[i]);
			n++;
		}
out:
	for (i = 0; a && a[i]; i++)
		free(a[i]);
	for (i = 0; b && b[i]; i++)
		free(b[i]);
	free(a);
	free(b);
	return n;
}
