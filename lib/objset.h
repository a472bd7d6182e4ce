/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The pins of one datapath's BPF object, described by the object itself.
 *
 * Every datapath keeps its maps and programs in one bpffs directory: each
 * map under its own name, each program as prog_<the last word of its
 * name> (na_pm_bind4 as prog_bind4, na_sockops as prog_sockops). The set is
 * read from the skeleton's object, so a map or program added to a BPF
 * source is loaded, pinned and opened with no table to keep in step.
 * Programs declared with SEC("?...") load only where the datapath turns
 * them on; they are optional when the pins are opened.
 */
#ifndef NA_LIB_OBJSET_H
#define NA_LIB_OBJSET_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <netaccel/reason.h>

struct bpf_object;

#define NA_OBJSET_MAX 32
#define NA_PIN_NAME_MAX 64

struct na_pinned {
	char name[NA_PIN_NAME_MAX];	/* the map's or program's name in the object */
	char pin[NA_PIN_NAME_MAX];	/* its pin in the directory */
	bool prog;
	bool optional;			/* a program loaded only where wanted */
	int attach_type;		/* a program's enum bpf_attach_type, from
					 * its section name */
	int fd;				/* once opened, else -1 */
};

struct na_objset {
	char dir[PATH_MAX];
	size_t n;
	struct na_pinned obj[NA_OBJSET_MAX];
};

/* The pin of a program called prog ("prog_" and the last word), of a
 * link made from it ("link_" and the same word), and of its link to the
 * cgroup with id cgid ("cg<cgid>_" and the same word). 0 or
 * -ENAMETOOLONG. */
int na_prog_pin_name(const char *prog, char *out, size_t outlen);
int na_link_pin_name(const char *prog, char *out, size_t outlen);
int na_cglink_pin_name(uint64_t cgid, const char *prog, char *out, size_t outlen);

/*
 * Describe obj (opened, not loaded yet) as pinned in dir, and point
 * libbpf at the pinned maps, so that loading obj reuses the maps a state
 * holds already and pins those it lacks. 0 or negative errno.
 */
int na_objset_init(struct na_objset *os, const char *dir, struct bpf_object *obj);

/* na_objset_init of the skeleton type skel (na_bypass, na_veth, ...),
 * opened only to be described and destroyed again. 0 or negative errno. */
#define NA_OBJSET_DESCRIBE(os, dir, skel)                                      \
	({                                                                     \
		struct skel *skel_ = skel##__open();                           \
		int err_ = skel_ ? na_objset_init(os, dir, skel_->obj) : -errno; \
									       \
		skel##__destroy(skel_);                                        \
		err_;                                                          \
	})

/* After obj is loaded: pin each loaded program that is not pinned yet (a
 * state being completed keeps the programs it has). */
int na_objset_pin(const struct na_objset *os, struct bpf_object *obj, struct na_reason *why);

/* Open every pin: -ENOENT when one that is not optional is missing (the
 * others stay open for na_objset_take). */
int na_objset_open(struct na_objset *os);

/* Hand over the open fd of the map or program called name (the set
 * forgets it): -ENOENT when it is not open. */
int na_objset_take(struct na_objset *os, const char *name);

/* Close every fd still held. */
void na_objset_close(struct na_objset *os);

#endif /* NA_LIB_OBJSET_H */
