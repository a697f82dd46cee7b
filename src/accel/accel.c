#include "accel/accel.h"

#include <stdio.h>
#include <string.h>

int accel_host_has_hw_virt(void)
{
	FILE *f = fopen("/proc/cpuinfo", "r");
	char line[4096];
	int found = 0;

	if (!f)
		return 0;
	while (!found && fgets(line, sizeof(line), f)) {
		if (strncmp(line, "flags", 5) != 0)
			continue;
		/* Space-delimited flag names; match whole words only. */
		char *save = NULL;
		for (char *tok = strtok_r(line, " \t\n", &save); tok;
		     tok = strtok_r(NULL, " \t\n", &save))
			if (!strcmp(tok, "vmx") || !strcmp(tok, "svm"))
				found = 1;
		break;
	}
	fclose(f);
	return found;
}
