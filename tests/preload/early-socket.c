// SPDX-License-Identifier: GPL-2.0-only
/*
 * A library whose constructor makes a TCP socket. Linked into
 * optin-early, it is initialised before a preloaded shim (the loader
 * initialises a program's own libraries first), so its socket() reaches
 * the shim before the shim's constructor ran.
 */
#include <sys/socket.h>
#include <unistd.h>

#include "netaccel.h"

int early_tag = -9;	/* the tag of the constructor's socket */

__attribute__((constructor)) static void early_socket(void)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	if (fd >= 0 && netaccel_get_tag(fd, &early_tag))
		early_tag = -8;
	close(fd);
}
