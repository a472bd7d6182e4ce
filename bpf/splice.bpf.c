// SPDX-License-Identifier: GPL-2.0-only
/*
 * Proxy splice: the bytes a spliced socket receives leave on the other
 * socket of its pair, in the kernel, instead of through a proxy's
 * read/write loop.
 *
 *  na_splice_verdict  sk_skb verdict of na_splice_socks: each skb read off
 *                     a spliced socket's receive queue goes to the send
 *                     side of the other socket (redirect flags 0, the
 *                     egress: BPF_F_INGRESS would queue it for the proxy
 *                     to read).
 *
 * What the kernel does not do, user space does (lib/splice.c): it kicks
 * the verdict for bytes that arrived before the socket joined, passes a
 * FIN on as shutdown(SHUT_WR) once every byte before it has left, and
 * ends the pair on a reset. Two rules keep the kernel's traps shut:
 *  - a zero-length skb (a bare FIN) is never redirected: sending it
 *    returns 0, which the kernel takes for an error that turns off the
 *    other socket's transmit for good;
 *  - a direction whose other side falls more than its limit behind stops
 *    being redirected (paused): the kernel's queue to a socket has no
 *    bound of its own. From then on the skbs stay with the receiving
 *    socket, charged to it, so its receive window closes on the sender,
 *    and the process moves them once the kernel's queue has drained.
 *    The process asks to resume once it has moved every passed byte
 *    (na_splice_resume); the verdict resumes only if no skb was passed
 *    since it asked, or that skb, unread yet, would be overtaken by the
 *    next redirected one.
 */
#include <linux/bpf.h>
#include <linux/types.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_helpers.h>

#include "netaccel_abi.h"
#include "na_count.bpf.h"
#include "splice_maps.bpf.h"

char LICENSE[] SEC("license") = "GPL";

/* The fields of the other socket read to measure what waits for it. */
struct tcp_sock {
	__u64 bytes_acked;
	__u32 snd_una;
	__u32 write_seq;
} __attribute__((preserve_access_index));

static __always_inline struct na_splice_stats *stats(void)
{
	__u32 zero = 0;

	return bpf_map_lookup_elem(&na_splice_stats, &zero);
}

#define COUNT(field, n) NA_COUNT_IN(stats(), field, n)

/* Bytes the other socket has been given so far, counted as user space
 * counts them (TCP_INFO's bytes_acked plus SIOCOUTQ). */
static __always_inline __u64 written(struct bpf_sock *to)
{
	struct tcp_sock *tp = bpf_skc_to_tcp_sock(to);

	if (!tp)
		return 0;
	return tp->bytes_acked + (__u32)(tp->write_seq - tp->snd_una);
}

/* Whether len more bytes would leave more than the limit waiting for the
 * other socket (the one under key). */
static __always_inline int over_limit(struct na_splice_dir *d, __u64 *key, __u32 len)
{
	struct bpf_sock *to;
	__u64 done, queued;

	if (!d->limit)
		return 0;
	to = bpf_map_lookup_elem(&na_splice_socks, key);
	if (!to)
		return 0;	/* the redirect finds it gone too */
	done = written(to) - d->base - d->user;
	bpf_sk_release(to);
	queued = d->fwd > done ? d->fwd - done : 0;
	return queued + len > d->limit;
}

SEC("sk_skb/stream_verdict")
int na_splice_verdict(struct __sk_buff *skb)
{
	__u64 key = bpf_get_socket_cookie(skb);
	struct na_splice_dir *d;
	__u32 len = skb->len;

	if (!len) {
		COUNT(empty, 1);
		return SK_DROP;
	}
	d = bpf_map_lookup_elem(&na_splice_dirs, &key);
	if (!d) {
		COUNT(no_pair, 1);
		return SK_PASS;
	}
	if (d->paused) {
		struct na_splice_resume *r = bpf_map_lookup_elem(&na_splice_resume, &key);

		if (r && r->passed == d->passed) {
			d->user = r->user;
			d->paused = 0;
			COUNT(resumed, 1);
		}
		if (r)
			bpf_map_delete_elem(&na_splice_resume, &key);
	}
	if (!d->paused && over_limit(d, &key, len)) {
		d->paused = 1;
		COUNT(paused, 1);
	}
	if (!d->paused) {
		if (bpf_sk_redirect_hash(skb, &na_splice_socks, &key, 0) == SK_PASS) {
			d->fwd += len;
			COUNT(redirected, 1);
			COUNT(bytes, len);
			return SK_PASS;
		}
		/* The other socket left: what comes now is the process's. */
		d->paused = 1;
		COUNT(no_peer, 1);
	}
	d->passed += len;
	COUNT(passed, 1);
	COUNT(bytes_passed, len);
	return SK_PASS;
}
