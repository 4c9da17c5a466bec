/// The network loaders dploy hands out, where Debian's packages put them. dploy serves them
/// from there (over HTTP at `/<name>`, and over its TFTP server), so nothing is copied into
/// the output folders and nothing is vendored: `apt-get install ipxe pxelinux syslinux-common
/// grub-efi-amd64-signed` (or `grub-efi-amd64-bin`) is the whole set-up.
public enum LoaderFiles {
    /// Name → the Debian paths it is looked for at, first found wins, and the package.
    public static let known: [String: (paths: [String], package: String)] = [
        "undionly.kpxe": (["/usr/lib/ipxe/undionly.kpxe"], "ipxe"),
        "ipxe.efi": (["/usr/lib/ipxe/ipxe.efi"], "ipxe"),
        "snponly.efi": (["/usr/lib/ipxe/snponly.efi"], "ipxe"),
        // pxelinux chains iPXE through it for a machine whose profile boots iPXE.
        "ipxe.lkrn": (["/usr/lib/ipxe/ipxe.lkrn"], "ipxe"),
        "lpxelinux.0": (["/usr/lib/PXELINUX/lpxelinux.0"], "pxelinux"),
        "ldlinux.c32": (["/usr/lib/syslinux/modules/bios/ldlinux.c32"], "syslinux-common"),
        // Signed by Debian (and Microsoft's shim chain) first, for machines with Secure Boot.
        "grubnetx64.efi": (["/usr/lib/grub/x86_64-efi-signed/grubnetx64.efi.signed",
                            "/usr/lib/grub/x86_64-efi/monolithic/grubnetx64.efi"], "grub-efi-amd64-signed or grub-efi-amd64-bin"),
    ]

    /// Where a loader is served over HTTP, relative to the server's URL.
    public static func urlPath(_ name: String) -> String { name }
}
