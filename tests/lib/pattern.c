/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * A seeded, random-access byte stream: word w of stream s is the splitmix64
 * output for s + (w + 1) * golden ratio, so a receiver regenerates exactly
 * the window it got and any lost, duplicated or reordered byte shows up at
 * its offset.
 */
#include <string.h>

#include "na_test.h"

static inline uint64_t pattern_word(uint64_t seed, uint64_t w)
{
	uint64_t z = seed + (w + 1) * 0x9e3779b97f4a7c15ULL;

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

void na_test_pattern_fill(uint64_t seed, uint64_t off, void *buf, size_t len)
{
	unsigned char *p = buf;
	uint64_t w = off / 8;
	size_t skip = off % 8;

	while (len > 0) {
		uint64_t v = pattern_word(seed, w++);
		size_t n = 8 - skip;

		if (n > len)
			n = len;
		memcpy(p, (unsigned char *)&v + skip, n);
		p += n;
		len -= n;
		skip = 0;
	}
}

ssize_t na_test_pattern_check(uint64_t seed, uint64_t off, const void *buf,
			      size_t len)
{
	const unsigned char *p = buf;
	unsigned char want[4096];
	size_t done = 0;

	while (done < len) {
		size_t n = len - done;

		if (n > sizeof(want))
			n = sizeof(want);
		na_test_pattern_fill(seed, off + done, want, n);
		if (memcmp(p + done, want, n) != 0) {
			for (size_t i = 0; i < n; i++)
				if (p[done + i] != want[i])
					return (ssize_t)(done + i);
		}
		done += n;
	}
	return -1;
}
