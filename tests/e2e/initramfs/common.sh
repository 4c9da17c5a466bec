#!/bin/sh
# Shared by both images: mounts, the virtio drivers, a DHCP lease, the kernel command line.
# Debian's kernel has virtio as modules, and cannot configure its own address.
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
for module in virtio_ring virtio virtio_pci_modern_dev virtio_pci_legacy_dev virtio_pci \
              failover net_failover virtio_net virtio_blk; do
    insmod "/modules/$module.ko" || echo "e2e: insmod $module failed"
done

# cmdline KEY: the value of KEY= on the kernel command line.
cmdline() { tr ' ' '\n' < /proc/cmdline | sed -n "s/^$1=//p" | head -n 1; }

halt_now() { echo "e2e: $*"; sync; poweroff -f; }

ip link set lo up
ip link set eth0 up
udhcpc -i eth0 -n -q -t 10 -s /udhcpc.script || halt_now "no DHCP lease"
echo "e2e: eth0 has $(ip -4 -o addr show eth0 | awk '{print $4}')"
