// SPDX-License-Identifier: GPL-2.0-only
/* A datapath's pins, read from its skeleton's object (objset.h). */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "objset.h"

static int pin_name(const char *kind, const char *prog, char *out, size_t outlen)
{
	const char *word = strrchr(prog, '_');
	int n = snprintf(out, outlen, "%s_%s", kind, word ? word + 1 : prog);

	return n < 0 || (size_t)n >= outlen ? -ENAMETOOLONG : 0;
}

int na_prog_pin_name(const char *prog, char *out, size_t outlen)
{
	return pin_name("prog", prog, out, outlen);
}

int na_link_pin_name(const char *prog, char *out, size_t outlen)
{
	return pin_name("link", prog, out, outlen);
}

int na_cglink_pin_name(uint64_t cgid, const char *prog, char *out, size_t outlen)
{
	char kind[32];

	snprintf(kind, sizeof(kind), "cg%llu", (unsigned long long)cgid);
	return pin_name(kind, prog, out, outlen);
}

static int path_of(const struct na_objset *os, const char *pin, char *out, size_t outlen)
{
	int n = snprintf(out, outlen, "%s/%s", os->dir, pin);

	return n < 0 || (size_t)n >= outlen ? -ENAMETOOLONG : 0;
}

static struct na_pinned *add(struct na_objset *os, const char *name, bool prog)
{
	struct na_pinned *p;

	if (os->n == NA_OBJSET_MAX || strlen(name) >= sizeof(p->name))
		return NULL;
	p = &os->obj[os->n++];
	memset(p, 0, sizeof(*p));
	strcpy(p->name, name);
	p->prog = prog;
	p->fd = -1;
	return p;
}

int na_objset_init(struct na_objset *os, const char *dir, struct bpf_object *obj)
{
	char path[PATH_MAX];
	struct bpf_program *prog;
	struct bpf_map *map;
	struct na_pinned *p;
	int err;

	memset(os, 0, sizeof(*os));
	if (snprintf(os->dir, sizeof(os->dir), "%s", dir) >= (int)sizeof(os->dir))
		return -ENAMETOOLONG;
	bpf_object__for_each_map(map, obj) {
		if (bpf_map__is_internal(map))
			continue;	/* .rodata and friends: part of the programs */
		p = add(os, bpf_map__name(map), false);
		if (!p)
			return -E2BIG;
		strcpy(p->pin, p->name);
		err = path_of(os, p->pin, path, sizeof(path));
		if (err || (err = bpf_map__set_pin_path(map, path)))
			return err;
	}
	bpf_object__for_each_program(prog, obj) {
		p = add(os, bpf_program__name(prog), true);
		if (!p)
			return -E2BIG;
		p->optional = !bpf_program__autoload(prog);
		p->attach_type = bpf_program__expected_attach_type(prog);
		err = na_prog_pin_name(p->name, p->pin, sizeof(p->pin));
		if (err)
			return err;
	}
	return 0;
}

int na_objset_pin(const struct na_objset *os, struct bpf_object *obj, struct na_reason *why)
{
	char path[PATH_MAX];
	size_t i;
	int err;

	for (i = 0; i < os->n; i++) {
		const struct na_pinned *p = &os->obj[i];
		struct bpf_program *prog;

		if (!p->prog)
			continue;	/* libbpf pinned the maps at load */
		prog = bpf_object__find_program_by_name(obj, p->name);
		if (!prog || !bpf_program__autoload(prog))
			continue;
		err = path_of(os, p->pin, path, sizeof(path));
		if (err)
			return na_reason_set(why, err, "%s/%s: name too long", os->dir, p->pin);
		if (access(path, F_OK) == 0)
			continue;
		err = bpf_program__pin(prog, path);
		if (err)
			return na_reason_set(why, err, "cannot pin %s: %s", path, strerror(-err));
	}
	return 0;
}

int na_objset_open(struct na_objset *os)
{
	char path[PATH_MAX];
	int err = 0;
	size_t i;

	for (i = 0; i < os->n; i++) {
		struct na_pinned *p = &os->obj[i];

		if (p->fd >= 0)
			continue;
		if (path_of(os, p->pin, path, sizeof(path)))
			return -ENAMETOOLONG;
		p->fd = bpf_obj_get(path);
		if (p->fd >= 0)
			continue;
		p->fd = -1;
		if (errno != ENOENT)
			return -errno;
		if (!p->optional)
			err = -ENOENT;
	}
	return err;
}

int na_objset_take(struct na_objset *os, const char *name)
{
	size_t i;
	int fd;

	for (i = 0; i < os->n; i++) {
		if (strcmp(os->obj[i].name, name) || os->obj[i].fd < 0)
			continue;
		fd = os->obj[i].fd;
		os->obj[i].fd = -1;
		return fd;
	}
	return -ENOENT;
}

void na_objset_close(struct na_objset *os)
{
	size_t i;

	for (i = 0; i < os->n; i++) {
		if (os->obj[i].fd >= 0)
			close(os->obj[i].fd);
		os->obj[i].fd = -1;
	}
}
