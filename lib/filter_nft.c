// SPDX-License-Identifier: GPL-2.0-only
/*
 * The nftables base chains of the calling thread's network namespace,
 * read over NETLINK_NETFILTER the way nft lists them: libnftnl builds the
 * requests and parses tables and chains (it is the library nft itself is
 * built on, so its idea of a chain follows the kernel's), libmnl moves
 * the messages. iptables-nft and ebtables-nft keep their rules here too.
 *
 * Rules are counted, not parsed: one dump per base chain, which the
 * kernel filters by table and chain. The ruleset's generation is read
 * before and after, and the whole read is made again when it changed in
 * between, so that chains and counts come from one ruleset.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libmnl/libmnl.h>
#include <libnftnl/chain.h>
#include <libnftnl/common.h>
#include <libnftnl/gen.h>
#include <libnftnl/rule.h>
#include <libnftnl/table.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>

#include "filter_internal.h"

/* Reads made before giving up on a ruleset that keeps changing. */
#define NFT_TRIES 8
/* Room for one read of a dump: the kernel fills at most 32 KiB per read. */
#define NFT_BUF_SIZE (64 * 1024)

struct nft {
	struct mnl_socket *nl;
	unsigned int portid;
	unsigned int seq;
	char *buf;
	int err;		/* what a callback ran into */
	/* Tables whose chains are not hooked (NFT_TABLE_F_DORMANT). */
	struct dormant {
		uint32_t family;
		char name[NFT_NAME_MAXLEN];
	} *dormant;
	size_t ndormant;
	struct na_fw_view *fw;
	uint32_t gen;
	uint32_t rules;
	const char *table, *chain;	/* the chain whose rules are counted */
};

/* Send the request in nlh and feed the answers to cb until the dump ends
 * or the request is acknowledged. */
static int talk(struct nft *x, struct nlmsghdr *nlh, mnl_cb_t cb)
{
	ssize_t n;
	int ret;

	x->err = 0;
	if (mnl_socket_sendto(x->nl, nlh, nlh->nlmsg_len) < 0)
		return -errno;
	for (;;) {
		n = mnl_socket_recvfrom(x->nl, x->buf, NFT_BUF_SIZE);
		if (n < 0)
			return -errno;
		errno = 0;
		ret = mnl_cb_run(x->buf, (size_t)n, nlh->nlmsg_seq, x->portid, cb, x);
		if (ret < 0)
			return x->err ? x->err : errno ? -errno : -EIO;
		if (ret == MNL_CB_STOP)
			return 0;
	}
}

static struct nlmsghdr *request(struct nft *x, uint16_t type, uint16_t family, uint16_t flags)
{
	return nftnl_nlmsg_build_hdr(x->buf, type, family, flags, ++x->seq);
}

static int gen_cb(const struct nlmsghdr *nlh, void *data)
{
	struct nft *x = data;
	struct nftnl_gen *g = nftnl_gen_alloc();

	if (!g || nftnl_gen_nlmsg_parse(nlh, g) < 0) {
		nftnl_gen_free(g);
		x->err = g ? -EPROTO : -ENOMEM;
		return MNL_CB_ERROR;
	}
	x->gen = nftnl_gen_get_u32(g, NFTNL_GEN_ID);
	nftnl_gen_free(g);
	return MNL_CB_OK;
}

static int read_gen(struct nft *x, uint32_t *gen)
{
	int err = talk(x, request(x, NFT_MSG_GETGEN, NFPROTO_UNSPEC, NLM_F_ACK), gen_cb);

	*gen = x->gen;
	return err;
}

static int table_cb(const struct nlmsghdr *nlh, void *data)
{
	struct nft *x = data;
	struct nftnl_table *t = nftnl_table_alloc();
	struct dormant *d;
	int ret = MNL_CB_OK;

	if (!t || nftnl_table_nlmsg_parse(nlh, t) < 0) {
		x->err = t ? -EPROTO : -ENOMEM;
		ret = MNL_CB_ERROR;
	} else if (nftnl_table_get_u32(t, NFTNL_TABLE_FLAGS) & NFT_TABLE_F_DORMANT) {
		d = realloc(x->dormant, (x->ndormant + 1) * sizeof(*d));
		if (!d) {
			x->err = -ENOMEM;
			ret = MNL_CB_ERROR;
		} else {
			x->dormant = d;
			d += x->ndormant++;
			d->family = nftnl_table_get_u32(t, NFTNL_TABLE_FAMILY);
			snprintf(d->name, sizeof(d->name), "%s", nftnl_table_get_str(t, NFTNL_TABLE_NAME));
		}
	}
	nftnl_table_free(t);
	return ret;
}

static bool is_dormant(const struct nft *x, uint32_t family, const char *table)
{
	size_t i;

	for (i = 0; i < x->ndormant; i++)
		if (x->dormant[i].family == family && !strcmp(x->dormant[i].name, table))
			return true;
	return false;
}

/* The devices of a netdev or inet ingress chain into c. */
static void chain_devs(const struct nftnl_chain *t, struct na_fw_chain *c)
{
	const char *const *devs;
	size_t i;

	if (nftnl_chain_is_set(t, NFTNL_CHAIN_DEVICES)) {
		devs = nftnl_chain_get_array(t, NFTNL_CHAIN_DEVICES);
		for (i = 0; devs && devs[i]; i++)
			if (i < NA_FW_MAX_DEVS)
				snprintf(c->devs[i], sizeof(c->devs[i]), "%s", devs[i]);
		c->ndevs = i;
	} else if (nftnl_chain_is_set(t, NFTNL_CHAIN_DEV)) {
		snprintf(c->devs[0], sizeof(c->devs[0]), "%s", nftnl_chain_get_str(t, NFTNL_CHAIN_DEV));
		c->ndevs = 1;
	}
}

static int chain_cb(const struct nlmsghdr *nlh, void *data)
{
	struct nft *x = data;
	struct nftnl_chain *t = nftnl_chain_alloc();
	struct na_fw_chain c;
	const char *type;
	int ret = MNL_CB_OK;

	if (!t || nftnl_chain_nlmsg_parse(nlh, t) < 0) {
		x->err = t ? -EPROTO : -ENOMEM;
		nftnl_chain_free(t);
		return MNL_CB_ERROR;
	}
	memset(&c, 0, sizeof(c));
	c.source = NA_FW_NFT;
	c.family = (uint8_t)nftnl_chain_get_u32(t, NFTNL_CHAIN_FAMILY);
	snprintf(c.table, sizeof(c.table), "%s", nftnl_chain_get_str(t, NFTNL_CHAIN_TABLE));
	snprintf(c.chain, sizeof(c.chain), "%s", nftnl_chain_get_str(t, NFTNL_CHAIN_NAME));
	/* Only a base chain has a hook; the others are reached from one. */
	if (nftnl_chain_is_set(t, NFTNL_CHAIN_HOOKNUM) && !is_dormant(x, c.family, c.table)) {
		c.hook = (uint8_t)nftnl_chain_get_u32(t, NFTNL_CHAIN_HOOKNUM);
		c.drop = nftnl_chain_is_set(t, NFTNL_CHAIN_POLICY) &&
			 nftnl_chain_get_u32(t, NFTNL_CHAIN_POLICY) == NF_DROP;
		type = nftnl_chain_is_set(t, NFTNL_CHAIN_TYPE) ?
		       nftnl_chain_get_str(t, NFTNL_CHAIN_TYPE) : "";
		c.nat = !strcmp(type, "nat");
		chain_devs(t, &c);
		x->err = na_fw_add_chain(x->fw, &c);
		if (x->err)
			ret = MNL_CB_ERROR;
	}
	nftnl_chain_free(t);
	return ret;
}

static int rule_attr_cb(const struct nlattr *a, void *data)
{
	const struct nlattr **tb = data;
	int type = mnl_attr_get_type(a);

	if ((type == NFTA_RULE_TABLE || type == NFTA_RULE_CHAIN) &&
	    mnl_attr_validate(a, MNL_TYPE_NUL_STRING) == 0)
		tb[type] = a;
	return MNL_CB_OK;
}

/* Count a rule of the chain asked for; a kernel that did not filter the
 * dump sends others too. */
static int rule_cb(const struct nlmsghdr *nlh, void *data)
{
	const struct nlattr *tb[NFTA_RULE_MAX + 1] = { NULL };
	struct nft *x = data;

	if (NFNL_MSG_TYPE(nlh->nlmsg_type) != NFT_MSG_NEWRULE)
		return MNL_CB_OK;
	mnl_attr_parse(nlh, sizeof(struct nfgenmsg), rule_attr_cb, tb);
	if (tb[NFTA_RULE_TABLE] && tb[NFTA_RULE_CHAIN] &&
	    !strcmp(mnl_attr_get_str(tb[NFTA_RULE_TABLE]), x->table) &&
	    !strcmp(mnl_attr_get_str(tb[NFTA_RULE_CHAIN]), x->chain))
		x->rules++;
	return MNL_CB_OK;
}

static int count_rules(struct nft *x, struct na_fw_chain *c)
{
	struct nftnl_rule *r = nftnl_rule_alloc();
	struct nlmsghdr *nlh;
	int err;

	if (!r)
		return -ENOMEM;
	nlh = request(x, NFT_MSG_GETRULE, c->family, NLM_F_DUMP);
	nftnl_rule_set_str(r, NFTNL_RULE_TABLE, c->table);
	nftnl_rule_set_str(r, NFTNL_RULE_CHAIN, c->chain);
	nftnl_rule_nlmsg_build_payload(nlh, r);
	nftnl_rule_free(r);
	x->table = c->table;
	x->chain = c->chain;
	x->rules = 0;
	err = talk(x, nlh, rule_cb);
	c->rules = x->rules;
	return err;
}

/* What read_once says besides 0 and a negative errno. */
enum { NFT_CHANGED = 1, NFT_NONE = 2 };

/* One read of the ruleset, on a socket of its own (a failed dump leaves
 * messages behind): NFT_CHANGED when the ruleset changed during it,
 * NFT_NONE when the kernel has no nftables. */
static int read_once(struct nft *x, size_t first)
{
	uint32_t before, after;
	size_t i;
	int err;

	x->nl = mnl_socket_open2(NETLINK_NETFILTER, SOCK_CLOEXEC);
	if (!x->nl)
		return errno == EPROTONOSUPPORT ? NFT_NONE : -errno;	/* no nfnetlink */
	if (mnl_socket_bind(x->nl, 0, MNL_SOCKET_AUTOPID) < 0) {
		err = -errno;
		goto out;
	}
	x->portid = mnl_socket_get_portid(x->nl);
	/* nfnetlink refuses a request for a subsystem it does not have
	 * (after loading nf_tables where it is a module, as nft would). Only
	 * this first answer may say so: a refusal later is an error. */
	err = read_gen(x, &before);
	if (err == -EINVAL || err == -EOPNOTSUPP)
		err = NFT_NONE;
	if (!err)
		err = talk(x, request(x, NFT_MSG_GETTABLE, NFPROTO_UNSPEC, NLM_F_DUMP), table_cb);
	if (!err)
		err = talk(x, request(x, NFT_MSG_GETCHAIN, NFPROTO_UNSPEC, NLM_F_DUMP), chain_cb);
	for (i = first; !err && i < x->fw->nchains; i++)
		err = count_rules(x, &x->fw->chains[i]);
	if (!err)
		err = read_gen(x, &after);
	if (!err && before != after)
		err = NFT_CHANGED;
	/* A dump that the ruleset changed under says so (NLM_F_DUMP_INTR). */
	if (err == -EINTR)
		err = NFT_CHANGED;
out:
	mnl_socket_close(x->nl);
	x->nl = NULL;
	return err;
}

int na_fw_read_nft(struct na_fw_view *fw, struct na_reason *why)
{
	struct nft x = { .fw = fw, .seq = (unsigned int)time(NULL) };
	size_t first = fw->nchains;
	int err = NFT_CHANGED, tries;

	x.buf = malloc(NFT_BUF_SIZE);
	if (!x.buf)
		return -ENOMEM;
	for (tries = 0; err == NFT_CHANGED && tries < NFT_TRIES; tries++) {
		fw->nchains = first;
		free(x.dormant);
		x.dormant = NULL;
		x.ndormant = 0;
		err = read_once(&x, first);
	}
	free(x.dormant);
	free(x.buf);
	fw->nchains = err ? first : fw->nchains;
	switch (err) {
	case 0:
	case NFT_NONE:
		return 0;
	case NFT_CHANGED:
		return na_reason_set(why, -EAGAIN,
				     "cannot read nftables: its ruleset changed during each of %d reads",
				     NFT_TRIES);
	case -EPERM:
	case -EACCES:
		return na_reason_set(why, -EPERM,
				     "cannot read nftables: %s (needs CAP_NET_ADMIN in the network namespace)",
				     strerror(-err));
	}
	return na_reason_set(why, err, "cannot read nftables: %s", strerror(-err));
}
