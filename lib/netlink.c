// SPDX-License-Identifier: GPL-2.0-only
/*
 * The netlink view the veth redirect works from: devices (bridges, their
 * veth ports, the ports' peers in the containers' network namespaces) and
 * addresses, read with RTM_GETLINK and RTM_GETADDR dumps. A peer namespace
 * is reached by its netns id (IFLA_TARGET_NETNSID, IFA_TARGET_NETNSID), so
 * nothing ever enters a container.
 *
 * libmnl does the message framing and attribute walking: it is small, has
 * no state of its own, and is what iproute2's own tools are moving to.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libmnl/libmnl.h>
#include <linux/if_addr.h>
#include <linux/if_link.h>
#include <linux/net_namespace.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>

#include "netlink.h"

int na_nl_open(struct mnl_socket **out)
{
	struct mnl_socket *nl;
	int one = 1, err;

	nl = mnl_socket_open(NETLINK_ROUTE);
	if (!nl)
		return -errno;
	if (mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID) < 0) {
		err = -errno;
		mnl_socket_close(nl);
		return err;
	}
	/* Strict checking is what makes the kernel honour the target netns
	 * id of an address dump; kernels without it ignore the option. */
	mnl_socket_setsockopt(nl, NETLINK_GET_STRICT_CHK, &one, sizeof(one));
	*out = nl;
	return 0;
}

void na_nl_close(struct mnl_socket *nl)
{
	if (nl)
		mnl_socket_close(nl);
}

static int grow(void **v, size_t n, size_t size)
{
	void *p;

	/* Room for 16, then doubled each time a power of two is full. */
	if (n && (n < 16 || (n & (n - 1))))
		return 0;
	p = realloc(*v, (n ? n * 2 : 16) * size);
	if (!p)
		return -ENOMEM;
	*v = p;
	return 0;
}

/* Send a request with flags (NLM_F_DUMP, or NLM_F_ACK for one object)
 * and feed every answer to cb until the end of the dump or the ack. */
static int talk(struct mnl_socket *nl, struct nlmsghdr *nlh, uint16_t flags, mnl_cb_t cb,
		void *data)
{
	static unsigned int seq;
	char buf[32768];
	unsigned int portid = mnl_socket_get_portid(nl);
	ssize_t n;
	int ret;

	nlh->nlmsg_flags = NLM_F_REQUEST | flags;
	nlh->nlmsg_seq = seq ? ++seq : (seq = (unsigned int)time(NULL));
	if (mnl_socket_sendto(nl, nlh, nlh->nlmsg_len) < 0)
		return -errno;
	for (;;) {
		n = mnl_socket_recvfrom(nl, buf, sizeof(buf));
		if (n < 0)
			return -errno;
		ret = mnl_cb_run(buf, n, nlh->nlmsg_seq, portid, cb, data);
		if (ret < 0)
			return errno ? -errno : -EIO;
		if (ret == MNL_CB_STOP)
			return 0;
	}
}

static int dump(struct mnl_socket *nl, struct nlmsghdr *nlh, mnl_cb_t cb, void *data)
{
	return talk(nl, nlh, NLM_F_DUMP, cb, data);
}

/* A dump into an array that grows: links or addresses. */
struct dump_ctx {
	void *out;
	int err;
};

/*
 * Dump every object of type (RTM_GETLINK, RTM_GETADDR: the extra header of
 * hdrlen starts with the family) into ctx->out through cb, those the
 * kernel's filter attr = value selects when value >= 0 (the netns id of a
 * peer namespace, a master device). On failure the array is freed and
 * empty.
 */
static int dump_all(struct mnl_socket *nl, uint16_t type, size_t hdrlen, uint16_t attr,
		    int value, mnl_cb_t cb, struct dump_ctx *ctx, void **v, size_t *n)
{
	char buf[256];
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	unsigned char *family;
	int err;

	*v = NULL;
	*n = 0;
	nlh->nlmsg_type = type;
	family = mnl_nlmsg_put_extra_header(nlh, hdrlen);
	*family = AF_UNSPEC;
	if (value >= 0)
		mnl_attr_put_u32(nlh, attr, (uint32_t)value);
	err = dump(nl, nlh, cb, ctx);
	if (ctx->err)
		err = ctx->err;
	if (err) {
		free(*v);
		*v = NULL;
		*n = 0;
	}
	return err;
}

static void parse_linkinfo(const struct nlattr *info, struct na_nl_link *l)
{
	const struct nlattr *a, *b;

	mnl_attr_for_each_nested(a, info) {
		switch (mnl_attr_get_type(a)) {
		case IFLA_INFO_KIND:
			snprintf(l->kind, sizeof(l->kind), "%s", mnl_attr_get_str(a));
			break;
		case IFLA_INFO_DATA:
			if (strcmp(l->kind, "bridge"))
				break;
			mnl_attr_for_each_nested(b, a) {
				if (mnl_attr_get_type(b) == IFLA_BR_VLAN_FILTERING)
					l->vlan_filtering = mnl_attr_get_u8(b);
				else if (mnl_attr_get_type(b) == IFLA_BR_NF_CALL_IPTABLES)
					l->nf_call_iptables = mnl_attr_get_u8(b);
				else if (mnl_attr_get_type(b) == IFLA_BR_NF_CALL_IP6TABLES)
					l->nf_call_ip6tables = mnl_attr_get_u8(b);
			}
			break;
		case IFLA_INFO_SLAVE_DATA:
			mnl_attr_for_each_nested(b, a) {
				if (mnl_attr_get_type(b) == IFLA_BRPORT_STATE)
					l->port_state = mnl_attr_get_u8(b);
				else if (mnl_attr_get_type(b) == IFLA_BRPORT_ISOLATED)
					l->isolated = mnl_attr_get_u8(b);
				else if (mnl_attr_get_type(b) == IFLA_BRPORT_LOCKED)
					l->locked = mnl_attr_get_u8(b);
			}
			break;
		}
	}
}

static int link_cb(const struct nlmsghdr *nlh, void *data)
{
	struct dump_ctx *ctx = data;
	struct ifinfomsg *ifm = mnl_nlmsg_get_payload(nlh);
	struct na_nl_links *out = ctx->out;
	struct na_nl_link *l;
	const struct nlattr *a;

	if (nlh->nlmsg_type != RTM_NEWLINK)
		return MNL_CB_OK;
	if (grow((void **)&out->v, out->n, sizeof(*out->v))) {
		ctx->err = -ENOMEM;
		return MNL_CB_ERROR;
	}
	l = &out->v[out->n++];
	memset(l, 0, sizeof(*l));
	l->ifindex = ifm->ifi_index;
	l->flags = ifm->ifi_flags;
	l->link_nsid = -1;
	l->port_state = -1;
	mnl_attr_for_each(a, nlh, sizeof(*ifm)) {
		switch (mnl_attr_get_type(a)) {
		case IFLA_IFNAME:
			snprintf(l->name, sizeof(l->name), "%s", mnl_attr_get_str(a));
			break;
		case IFLA_MASTER:
			l->master = (int)mnl_attr_get_u32(a);
			break;
		case IFLA_LINK:
			l->link = (int)mnl_attr_get_u32(a);
			break;
		case IFLA_LINK_NETNSID:
			l->link_nsid = (int)mnl_attr_get_u32(a);
			break;
		case IFLA_MTU:
			l->mtu = mnl_attr_get_u32(a);
			break;
		case IFLA_ADDRESS:
			if (mnl_attr_get_payload_len(a) == 6)
				memcpy(l->mac, mnl_attr_get_payload(a), 6);
			break;
		case IFLA_LINKINFO:
			parse_linkinfo(a, l);
			break;
		}
	}
	return MNL_CB_OK;
}

int na_nl_links(struct mnl_socket *nl, int nsid, struct na_nl_links *out)
{
	struct dump_ctx ctx = { out, 0 };

	return dump_all(nl, RTM_GETLINK, sizeof(struct ifinfomsg), IFLA_TARGET_NETNSID, nsid,
			link_cb, &ctx, (void **)&out->v, &out->n);
}

int na_nl_link_get(struct mnl_socket *nl, const char *name, struct na_nl_link *out)
{
	char buf[256];
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct na_nl_links got = { NULL, 0 };
	struct dump_ctx ctx = { &got, 0 };
	struct ifinfomsg *ifm;
	int err;

	if (strlen(name) >= IF_NAMESIZE)
		return -ENODEV;
	nlh->nlmsg_type = RTM_GETLINK;
	ifm = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifm));
	ifm->ifi_family = AF_UNSPEC;
	mnl_attr_put_strz(nlh, IFLA_IFNAME, name);
	err = talk(nl, nlh, NLM_F_ACK, link_cb, &ctx);
	if (!err)
		err = ctx.err;
	if (!err && got.n != 1)
		err = -ENODEV;
	if (!err)
		*out = got.v[0];
	free(got.v);
	return err;
}

int na_nl_ports(struct mnl_socket *nl, int master, struct na_nl_links *out)
{
	struct dump_ctx ctx = { out, 0 };
	size_t i, n = 0;
	int err;

	err = dump_all(nl, RTM_GETLINK, sizeof(struct ifinfomsg), IFLA_MASTER, master, link_cb,
		       &ctx, (void **)&out->v, &out->n);
	/* A kernel that does not filter by master answers with every device. */
	for (i = 0; !err && i < out->n; i++)
		if (out->v[i].master == master)
			out->v[n++] = out->v[i];
	if (!err)
		out->n = n;
	return err;
}

static int addr_cb(const struct nlmsghdr *nlh, void *data)
{
	struct dump_ctx *ctx = data;
	struct ifaddrmsg *ifa = mnl_nlmsg_get_payload(nlh);
	const struct nlattr *a, *local = NULL, *addr = NULL;
	struct na_nl_addrs *out = ctx->out;
	struct na_nl_addr *x;
	size_t len;

	if (nlh->nlmsg_type != RTM_NEWADDR)
		return MNL_CB_OK;
	if (ifa->ifa_family != AF_INET && ifa->ifa_family != AF_INET6)
		return MNL_CB_OK;
	mnl_attr_for_each(a, nlh, sizeof(*ifa)) {
		if (mnl_attr_get_type(a) == IFA_LOCAL)
			local = a;
		else if (mnl_attr_get_type(a) == IFA_ADDRESS)
			addr = a;
	}
	/* IFA_LOCAL is the device's own address where both are given. */
	a = local ? local : addr;
	len = ifa->ifa_family == AF_INET ? 4 : 16;
	if (!a || mnl_attr_get_payload_len(a) != len)
		return MNL_CB_OK;
	if (grow((void **)&out->v, out->n, sizeof(*out->v))) {
		ctx->err = -ENOMEM;
		return MNL_CB_ERROR;
	}
	x = &out->v[out->n++];
	memset(x, 0, sizeof(*x));
	x->ifindex = (int)ifa->ifa_index;
	x->family = ifa->ifa_family;
	memcpy(x->addr, mnl_attr_get_payload(a), len);
	return MNL_CB_OK;
}

int na_nl_addrs(struct mnl_socket *nl, int nsid, struct na_nl_addrs *out)
{
	struct dump_ctx ctx = { out, 0 };

	return dump_all(nl, RTM_GETADDR, sizeof(struct ifaddrmsg), IFA_TARGET_NETNSID, nsid,
			addr_cb, &ctx, (void **)&out->v, &out->n);
}

static int count_cb(const struct nlmsghdr *nlh, void *data)
{
	if (nlh->nlmsg_type == RTM_NEWTFILTER)
		(*(int *)data)++;
	return MNL_CB_OK;
}

int na_nl_count_filters(struct mnl_socket *nl, int ifindex, uint32_t parent)
{
	char buf[256];
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct tcmsg *tcm;
	int n = 0, err;

	nlh->nlmsg_type = RTM_GETTFILTER;
	tcm = mnl_nlmsg_put_extra_header(nlh, sizeof(*tcm));
	tcm->tcm_family = AF_UNSPEC;
	tcm->tcm_ifindex = ifindex;
	tcm->tcm_parent = parent;
	err = dump(nl, nlh, count_cb, &n);
	return err ? err : n;
}

const struct na_nl_link *na_nl_find(const struct na_nl_links *l, int ifindex)
{
	size_t i;

	for (i = 0; i < l->n; i++)
		if (l->v[i].ifindex == ifindex)
			return &l->v[i];
	return NULL;
}

const struct na_nl_link *na_nl_find_name(const struct na_nl_links *l,
					 const char *name)
{
	size_t i;

	for (i = 0; i < l->n; i++)
		if (!strcmp(l->v[i].name, name))
			return &l->v[i];
	return NULL;
}

static int nsid_cb(const struct nlmsghdr *nlh, void *data)
{
	const struct nlattr *a;
	int *nsid = data;

	if (nlh->nlmsg_type != RTM_NEWNSID)
		return MNL_CB_OK;
	mnl_attr_for_each(a, nlh, sizeof(struct rtgenmsg))
		if (mnl_attr_get_type(a) == NETNSA_NSID)
			*nsid = (int)mnl_attr_get_u32(a);
	return MNL_CB_OK;
}

int na_nl_nsid_of(struct mnl_socket *nl, int nsfd)
{
	static unsigned int seq;
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct rtgenmsg *g;
	int nsid = -1;
	ssize_t n;

	nlh->nlmsg_type = RTM_GETNSID;
	nlh->nlmsg_flags = NLM_F_REQUEST;
	nlh->nlmsg_seq = ++seq;
	g = mnl_nlmsg_put_extra_header(nlh, sizeof(*g));
	g->rtgen_family = AF_UNSPEC;
	mnl_attr_put_u32(nlh, NETNSA_FD, (uint32_t)nsfd);
	if (mnl_socket_sendto(nl, nlh, nlh->nlmsg_len) < 0)
		return -errno;
	n = mnl_socket_recvfrom(nl, buf, sizeof(buf));
	if (n < 0)
		return -errno;
	if (mnl_cb_run(buf, n, seq, mnl_socket_get_portid(nl), nsid_cb, &nsid) < 0)
		return -errno;
	return nsid >= 0 ? nsid : -ENOENT;	/* no id in ours */
}
