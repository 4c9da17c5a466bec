# The images the VM boots, built from this machine's packages: Debian's kernel, busybox-static
# and the kernel's virtio modules; and what the installer writes to the disk: a boot sector,
# and on a UEFI machine also an EFI system partition whose loader is Debian's GRUB.
# build_images FOLDER: FOLDER/vmlinuz, FOLDER/discovery.img, FOLDER/installer.img, FOLDER/imaging.img.

E2E_KERNEL_VERSION=""

# The newest installed Debian kernel with its modules.
find_kernel() {
    local kernel
    for kernel in $(ls -1 /boot/vmlinuz-* 2>/dev/null | sort -V -r); do
        local version="${kernel#/boot/vmlinuz-}"
        if [ -d "/lib/modules/$version" ]; then E2E_KERNEL_VERSION="$version"; return 0; fi
    done
    die "no /boot/vmlinuz-* with /lib/modules (apt-get install linux-image-amd64)"
}

# 16-bit real-mode code, loaded by the BIOS at 0:7c00. Hand-assembled:
#   cli; xor ax,ax; mov ds,ax; mov si,0x7d00; mov dx,0x3f8
#   l: lodsb; test al,al; jz d; out dx,al; jmp l
#   d: mov dx,0xf4; mov al,0x10; out dx,al; hlt; jmp $-1
# It prints the NUL-terminated string the installer writes at offset 256 (0x7d00) on COM1,
# then writes 0x10 to isa-debug-exit: QEMU exits with status (0x10 << 1) | 1 = 33.
write_bootsector() {
    local out="$1"
    head -c 512 /dev/zero > "$out"
    printf '\372\061\300\216\330\276\000\175\272\370\003\254\204\300\164\003\356\353\370\272\364\000\260\020\356\364\353\375' \
        | dd of="$out" conv=notrunc status=none
    printf '\125\252' | dd of="$out" bs=1 seek=510 conv=notrunc status=none
}

# add_program ROOT PATH: Debian's PATH in ROOT's /bin (over busybox's applet of that name)
# with the shared libraries ldd lists, at their paths, and the dynamic loader.
add_program() {
    local root="$1" program="$2" library
    rm -f "$root/bin/$(basename "$program")"
    cp -L "$program" "$root/bin/"
    for library in $(ldd "$program" | grep -o '/[^ ]*'); do
        mkdir -p "$root$(dirname "$library")"
        cp -L "$library" "$root$library"
    done
}

# build_initramfs INIT OUT [PROGRAM...]: busybox, the virtio modules, the shared scripts,
# INIT as /init, and each PROGRAM (Debian's, with its libraries) in /bin.
build_initramfs() {
    local init="$1" out="$2" root
    shift 2
    root="$(mktemp -d "$E2E_WORK/initramfs.XXXXXX")"
    mkdir -p "$root"/{bin,sbin,proc,sys,dev,tmp,modules,usr/bin,usr/sbin}
    cp /bin/busybox "$root/bin/busybox"
    local applet
    for applet in $(/bin/busybox --list); do
        [ "$applet" = busybox ] || ln -s busybox "$root/bin/$applet"
    done
    local module path
    for module in virtio_ring virtio virtio_pci_modern_dev virtio_pci_legacy_dev virtio_pci \
                  failover net_failover virtio_net virtio_blk; do
        path="$(modinfo -k "$E2E_KERNEL_VERSION" -n "$module" 2>/dev/null)" \
            || path="$(find "/lib/modules/$E2E_KERNEL_VERSION" -name "$module.ko*" | head -n 1)"
        [ -n "$path" ] || die "kernel module $module not found for $E2E_KERNEL_VERSION"
        case "$path" in
            *.ko.xz) xz -dc "$path" > "$root/modules/$module.ko" ;;
            *.ko.zst) zstd -qdc "$path" > "$root/modules/$module.ko" ;;
            *) cp "$path" "$root/modules/$module.ko" ;;
        esac
    done
    cp "$E2E_DIR/initramfs/common.sh" "$E2E_DIR/initramfs/udhcpc.script" "$root/"
    cp "$init" "$root/init"
    chmod +x "$root/init" "$root/udhcpc.script"
    write_bootsector "$root/bootsector.bin"
    [ -z "${E2E_INITRAMFS_ESP:-}" ] || cp "$E2E_INITRAMFS_ESP" "$root/esp.img"
    local program
    for program in "$@"; do add_program "$root" "$program"; done
    (cd "$root" && find . | cpio -o -H newc --quiet) | gzip -1 > "$out"
    rm -rf "$root"
}

build_images() {
    local folder="$1"
    mkdir -p "$folder"
    find_kernel
    cp "/boot/vmlinuz-$E2E_KERNEL_VERSION" "$folder/vmlinuz"
    build_initramfs "$E2E_DIR/initramfs/discovery-init" "$folder/discovery.img"
    build_esp "$E2E_WORK/esp.img"
    E2E_INITRAMFS_ESP="$E2E_WORK/esp.img" build_initramfs "$E2E_DIR/initramfs/installer-init" "$folder/installer.img"
    # dploy's imaging.sh needs curl, which busybox lacks: Debian's, with its libraries.
    build_initramfs "$E2E_DIR/initramfs/imaging-init" "$folder/imaging.img" /usr/bin/curl
}

# write_image OUT MARKER: a 1 MiB disk image whose boot sector prints MARKER, as the
# installer's does (the marker at offset 256), then zeros.
write_image() {
    local out="$1" marker="$2"
    write_bootsector "$out"
    printf '%s\r\n\000' "$marker" | dd of="$out" bs=1 seek=256 conv=notrunc status=none
    truncate -s 1M "$out"
}

# build_esp OUT: a 2 MiB FAT image, an EFI system partition as the UEFI firmware finds it on
# a disk (EFI/BOOT/BOOTX64.EFI). The loader is Debian's GRUB (grub-mkimage) with a config
# built in: print sector 1 of the disk, where the installer writes its marker, then leave
# QEMU through isa-debug-exit (status 33), as the BIOS boot sector does. It reads no
# network: a boot that reaches it fetched nothing after the boot decision.
build_esp() {
    local out="$1" dir
    dir="$(mktemp -d "$E2E_WORK/esp.XXXXXX")"
    printf '%s\n' 'cat (hd0)1+1' 'outb 0xf4 0x10' > "$dir/embedded.cfg"
    grub-mkimage -O x86_64-efi -p /EFI/BOOT -c "$dir/embedded.cfg" -o "$dir/BOOTX64.EFI" \
        part_msdos fat cat iorw
    rm -f "$out"
    truncate -s 2M "$out"
    mformat -i "$out" -v DPLOY-E2E ::
    mmd -i "$out" ::/EFI ::/EFI/BOOT
    mcopy -i "$out" "$dir/BOOTX64.EFI" ::/EFI/BOOT/BOOTX64.EFI
    rm -rf "$dir"
}
