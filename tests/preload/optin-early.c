// SPDX-License-Identifier: GPL-2.0-only
/* Prints the tag of the socket libearly-socket made in its constructor. */
#include <stdio.h>

extern int early_tag;

int main(void)
{
	printf("%d\n", early_tag);
	return 0;
}
