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
        // Debian's signed build first: with Secure Boot on, firmware takes it only behind
        // shim (shim-signed), which is the operator's to chain; without, either build runs.
        "grubnetx64.efi": (["/usr/lib/grub/x86_64-efi-signed/grubnetx64.efi.signed",
                            "/usr/lib/grub/x86_64-efi/monolithic/grubnetx64.efi"], "grub-efi-amd64-signed or grub-efi-amd64-bin"),
    ]

    /// Where a loader is served over HTTP, relative to the server's URL.
    public static func urlPath(_ name: String) -> String { name }

    /// GRUB's modules, which Debian's `grubnetx64.efi` loads from its prefix (`/grub`) over
    /// TFTP (`insmod http` among them): `grub/x86_64-efi/NAME.mod` and `.lst`.
    static let grubModules = (prefix: "grub/x86_64-efi/", folder: "/usr/lib/grub/x86_64-efi/")

    /// The Debian file a request for `name` (relative, as a loader asks) is answered with:
    /// a loader by its name, or a GRUB module; nil for anything else, or when its package
    /// is not installed. A fixed set of names and a plain file name under one folder, so
    /// no request can reach another file.
    public static func debianFile(for name: String, exists: (String) -> Bool) -> String? {
        if let loader = known[name] { return loader.paths.first(where: exists) }
        guard name.hasPrefix(grubModules.prefix) else { return nil }
        let file = name.dropFirst(grubModules.prefix.count)
        let plain = !file.isEmpty && !file.hasPrefix(".") && file.utf8.allSatisfy {
            ($0 >= UInt8(ascii: "a") && $0 <= UInt8(ascii: "z")) || ($0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9"))
                || $0 == UInt8(ascii: "_") || $0 == UInt8(ascii: "-") || $0 == UInt8(ascii: ".")
        }
        guard plain, file.hasSuffix(".mod") || file.hasSuffix(".lst") else { return nil }
        let path = grubModules.folder + file
        return exists(path) ? path : nil
    }
}
