#!/bin/sh
# /init of vmon's default guest (busybox ash, PID 1). See guest/README.md.
# Kernel command-line options read here:
#   vmon.poweroff=1       power off right after the VMON-GUEST-READY marker
#   vmon.run="CMD ARGS"   run CMD in sh after the marker, print VMON-RUN-STATUS=<rc>, power off
#   vmon.nomodules=1      do not load the virtio modules
#   vmon.shell=DEV        run the interactive shell on /dev/DEV (e.g. hvc0) instead of the
#                         kernel console; vmon.shell=console keeps it on the console. Default:
#                         hvc0 when a virtio console exists (vmon --console virtio sends the
#                         terminal's input there), else the console
export PATH=/sbin:/bin:/usr/sbin:/usr/bin
export HOME=/root TERM="${TERM:-vt100}"

[ -e /.busybox-install-at-boot ] && /bin/busybox --install -s

mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev 2>/dev/null
# If the kernel could not open a console for us, open it now that devtmpfs is there.
[ -t 1 ] || exec </dev/console >/dev/console 2>&1
mkdir -p /dev/pts /dev/shm /tmp /run /root
mount -t devpts -o gid=5,mode=620 devpts /dev/pts
mount -t tmpfs -o mode=1777 tmpfs /tmp
mount -t tmpfs -o mode=755 tmpfs /run
ln -sf /proc/self/fd /dev/fd 2>/dev/null
hostname vmon-guest

cmdline=$(cat /proc/cmdline)
opt_poweroff=0
opt_nomodules=0
opt_shell=
for arg in $cmdline; do
	case "$arg" in
	vmon.poweroff=1 | vmon.poweroff=y | vmon.poweroff) opt_poweroff=1 ;;
	vmon.nomodules=1) opt_nomodules=1 ;;
	vmon.shell=*) opt_shell=${arg#vmon.shell=} ;;
	esac
done
# vmon.run="..." (quoted, may hold spaces) or vmon.run=word.
opt_run=$(echo "$cmdline" | sed -n 's/.*vmon\.run="\([^"]*\)".*/\1/p')
[ -n "$opt_run" ] || opt_run=$(echo "$cmdline" | sed -n 's/.*vmon\.run=\([^" ][^ ]*\).*/\1/p')

if [ "$opt_nomodules" = 0 ] && [ -f /lib/modules/load-order ]; then
	loaded=0
	failed=
	while read -r m; do
		[ -n "$m" ] || continue
		if insmod "/lib/modules/$m" 2>/tmp/insmod.err; then
			loaded=$((loaded + 1))
		elif ! grep -q 'exists' /tmp/insmod.err; then
			failed="$failed ${m%.ko}"
		fi
	done </lib/modules/load-order
	echo "vmon-guest: loaded $loaded modules${failed:+, failed:$failed}"
	rm -f /tmp/insmod.err
fi

do_poweroff() {
	echo "vmon-guest: powering off"
	sync
	poweroff -f
	# Only reached when the power-off request failed: halt for good.
	while :; do sleep 1000; done
}
do_reboot() {
	sync
	reboot -f
}
# busybox halt/poweroff/reboot without -f signal PID 1: USR1 halt, USR2 poweroff, TERM reboot.
trap do_poweroff USR1 USR2
trap do_reboot TERM

read -r up _ </proc/uptime
echo "vmon-guest: init done at ${up}s"
echo "VMON-GUEST-READY"

[ "$opt_poweroff" = 1 ] && do_poweroff

if [ -n "$opt_run" ]; then
	sh -c "$opt_run"
	echo "VMON-RUN-STATUS=$?"
	do_poweroff
fi

export PS1='vmon# '
# A bound virtio console means the terminal's input arrives on hvc0.
if [ -z "$opt_shell" ] && ls /sys/bus/virtio/drivers/virtio_console 2>/dev/null | grep -q '^virtio'; then
	opt_shell=hvc0
fi
[ "$opt_shell" = console ] && opt_shell=
if [ -n "$opt_shell" ]; then
	tty=/dev/$opt_shell
	# The device may appear a moment after its driver loaded.
	i=0
	while [ ! -c "$tty" ] && [ $i -lt 50 ]; do
		sleep 0.1
		i=$((i + 1))
	done
	if [ -c "$tty" ]; then
		echo "vmon-guest: shell on $tty"
		# A session leader that opens a tty gets it as its controlling terminal.
		setsid sh -c "exec <$tty >$tty 2>&1; stty cols 200 rows 50 2>/dev/null; exec sh" &
		wait $!
		do_poweroff
	fi
	echo "vmon-guest: no $tty, shell on the console"
fi
# Run the shell in the background and wait for it: a trapped signal interrupts `wait` at once,
# whereas it would wait for a foreground child to end. cttyhack opens the real console tty
# (e.g. /dev/ttyS0) as the controlling terminal, so job control and ^C work.
setsid cttyhack sh -c 'stty cols 200 rows 50 2>/dev/null; exec sh' &
wait $!
do_poweroff
