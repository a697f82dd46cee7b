/* Benchmark launcher: runs argv[1..] with stdout on a pipe and prints
 * "first_byte_ms exit_ms maxrss_kib status". Tiny and static, so the child's peak RSS
 * (ru_maxrss, which also counts the forked parent's pages before exec) stays accurate. */
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

int main(int argc, char **argv)
{
	int p[2];
	char buf[4096];
	double first = -1;

	if (argc < 2 || pipe(p) < 0)
		return 2;
	double t0 = now_ms();
	pid_t pid = fork();
	if (pid == 0) {
		dup2(p[1], 1);
		close(p[0]);
		close(p[1]);
		execvp(argv[1], argv + 1);
		_exit(127);
	}
	close(p[1]);
	for (;;) {
		ssize_t n = read(p[0], buf, sizeof(buf));
		if (n <= 0)
			break;
		if (first < 0)
			first = now_ms() - t0;
	}
	int status;
	struct rusage ru;
	if (wait4(pid, &status, 0, &ru) < 0)
		return 2;
	double t_exit = now_ms() - t0;
	printf("%.3f %.3f %ld %d\n", first, t_exit, ru.ru_maxrss,
	       WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status));
	return 0;
}
