#!/usr/bin/env bash
# Installs what the end-to-end test needs on Debian (as root, or with sudo). Idempotent:
# installs nothing when every tool is there. About 75 s on a new machine.
set -euo pipefail

# pxelinux and syslinux-common: lpxelinux.0 and ldlinux.c32, which dploy serves (step 10).
# ovmf: the UEFI machines' firmware; grub-efi-amd64-bin: the GRUB dploy serves them, and
# (with mtools) the EFI system partition the installer writes (step 13); ipxe: snponly.efi.
packages=(qemu-system-x86 ipxe-qemu dnsmasq-base busybox-static linux-image-amd64 cpio iproute2 git python3 curl openssl
    pxelinux syslinux-common ovmf grub-efi-amd64-bin mtools ipxe)
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

missing=0
for tool in qemu-system-x86_64 dnsmasq busybox cpio ip git python3 curl openssl grub-mkimage mformat; do command -v "$tool" >/dev/null || missing=1; done
[ -e /usr/share/OVMF/OVMF_CODE.fd ] && [ -e /usr/lib/ipxe/snponly.efi ] && [ -e /usr/lib/grub/x86_64-efi/monolithic/grubnetx64.efi ] || missing=1
[ -e /usr/lib/ipxe/qemu/pxe-virtio.rom ] || missing=1
[ -e /usr/lib/PXELINUX/lpxelinux.0 ] && [ -e /usr/lib/syslinux/modules/bios/ldlinux.c32 ] || missing=1
ls /boot/vmlinuz-* >/dev/null 2>&1 || missing=1
[ "$missing" = 1 ] || exit 0

export DEBIAN_FRONTEND=noninteractive
as_root apt-get update -qq
as_root apt-get install -y -qq --no-install-recommends "${packages[@]}" >/dev/null
