/* vsock-tool: a tiny AF_VSOCK client/server for the default guest (busybox has none). Built
 * static with the host gcc by guest/build.sh into the initramfs as /bin/vsock-tool.
 *
 *   vsock-tool listen PORT        accept one connection on PORT, then relay stdin -> socket and
 *                                 socket -> stdout until the socket ends
 *   vsock-tool echo PORT          accept one connection on PORT and send back what it receives
 *                                 until the peer shuts down
 *   vsock-tool connect CID PORT   connect to CID:PORT, then relay as listen does
 * stdin's end of file shuts the socket's write side. Exit status 0, or 1 with a message. */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <linux/vm_sockets.h>

static int die(const char *what)
{
	fprintf(stderr, "vsock-tool: %s: %s\n", what, strerror(errno));
	return 1;
}

static int write_all(int fd, const char *p, ssize_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, p, (size_t)n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		p += w;
		n -= w;
	}
	return 0;
}

static int relay(int s, int echo)
{
	char buf[65536];
	struct pollfd pf[2] = {{.fd = s, .events = POLLIN}, {.fd = 0, .events = POLLIN}};
	int nfds = echo ? 1 : 2;

	for (;;) {
		if (poll(pf, (nfds_t)nfds, -1) < 0) {
			if (errno == EINTR)
				continue;
			return die("poll");
		}
		if (pf[0].revents) {
			ssize_t n = read(s, buf, sizeof(buf));
			if (n < 0 && errno == EINTR)
				continue;
			if (n <= 0)
				return 0;
			if (write_all(echo ? s : 1, buf, n))
				return die("write");
		}
		if (nfds == 2 && pf[1].revents) {
			ssize_t n = read(0, buf, sizeof(buf));
			if (n <= 0) {
				shutdown(s, SHUT_WR);
				nfds = 1;
			} else if (write_all(s, buf, n)) {
				return die("send");
			}
		}
	}
}

int main(int argc, char **argv)
{
	struct sockaddr_vm sa = {.svm_family = AF_VSOCK};
	int s = socket(AF_VSOCK, SOCK_STREAM, 0);

	if (s < 0)
		return die("socket");
	if (argc == 3 && (!strcmp(argv[1], "listen") || !strcmp(argv[1], "echo"))) {
		sa.svm_cid = VMADDR_CID_ANY;
		sa.svm_port = (unsigned)strtoul(argv[2], NULL, 10);
		if (bind(s, (struct sockaddr *)&sa, sizeof(sa)) < 0)
			return die("bind");
		if (listen(s, 1) < 0)
			return die("listen");
		printf("vsock-tool: listening on port %u\n", sa.svm_port);
		fflush(stdout);
		int c = accept(s, NULL, NULL);
		if (c < 0)
			return die("accept");
		close(s);
		return relay(c, argv[1][0] == 'e');
	}
	if (argc == 4 && !strcmp(argv[1], "connect")) {
		sa.svm_cid = (unsigned)strtoul(argv[2], NULL, 10);
		sa.svm_port = (unsigned)strtoul(argv[3], NULL, 10);
		if (connect(s, (struct sockaddr *)&sa, sizeof(sa)) < 0)
			return die("connect");
		return relay(s, 0);
	}
	fprintf(stderr, "usage: vsock-tool listen PORT | echo PORT | connect CID PORT\n");
	return 2;
}
