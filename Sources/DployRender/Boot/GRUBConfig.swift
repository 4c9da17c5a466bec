import DploySpec

/// `grub/grub.cfg-01-<mac>` for UEFI network boot with GRUB: fetches the kernel and
/// initrd over HTTP, or leaves GRUB to boot the disk.
public enum GRUBConfig {
    /// `grub/grub.cfg`, the only config Debian's `grubnetx64.efi` reads (over TFTP, no MAC
    /// lookup of its own): it loads the machine's config from dploy over HTTP, decided when
    /// asked. `$net_default_mac` is the booting interface's MAC, with colons.
    public static func entry(server: BootServer) -> String {
        """
        # dploy: GRUB's first config, read over TFTP. Generated; do not edit.
        # Each machine's own config is decided by dploy when GRUB asks for it.
        insmod http
        configfile \(quoted(grubPath(server.url + "/grub/grub.cfg-01-")))$net_default_mac

        """
    }

    public static func machine(_ machine: EffectiveMachine, intent: BootIntent, server: BootServer, snapshot: Bool = false) -> String {
        var lines = ["# dploy: \(machine.name) (\(machine.machine.mac.value)). Generated; do not edit."]
        if snapshot { lines.append(snapshotNote) }
        lines.append("set timeout=0")
        if case .install(let profile) = intent, case .boot(let kernel, let initrd, let args) = profile.source {
            let command = KernelCommandLine.arguments(profile: profile, args: args, machine: machine, server: server)
                .split(separator: " ").map { quoted(String($0)) }.joined(separator: " ")
            lines += [
                "menuentry 'dploy: install \(profile.name) on \(machine.name)' {",
                "  linux \(quoted(grubPath(kernel))) \(command)",
                "  initrd \(quoted(grubPath(initrd)))",
                "}",
            ]
        } else {
            lines += localDiskEntry
        }
        return lines.joined(separator: "\n") + "\n"
    }

    /// Boots the disk from GRUB, which only runs on UEFI here. Not by `exit`: GRUB 2.06
    /// returns success to the firmware whatever status it is given, and UEFI firmware then
    /// shows its boot menu instead of trying the next boot option. So GRUB chainloads the
    /// disk's own loader: first the paths Debian, Ubuntu, Red Hat and its rebuilds, SUSE and
    /// Windows install to (the list MAAS walks too), then the removable-media path
    /// `/EFI/BOOT/BOOTX64.EFI`, but not when shim's fallback (`fbx64.efi`) sits beside it:
    /// started from there, fallback moves the OS's entry to the front of the boot order,
    /// ahead of the network. Only from a hard disk (`hd*`), never a virtual CD left attached.
    /// GRUB's `exit 1` is `exit`: a machine with none of them gets the firmware's menu, and
    /// the message says why.
    static let localDiskEntry = [
        "menuentry 'dploy: local disk' {",
        "  for loader in \(localDiskLoaders.joined(separator: " ")); do",
        "    if search --no-floppy --set=root --file $loader; then",
        "      if regexp '^hd' $root; then chainloader $loader; boot; fi",
        "    fi",
        "  done",
        "  if search --no-floppy --set=root --file /efi/boot/bootx64.efi; then",
        "    if regexp '^hd' $root; then",
        "      if [ -f ($root)/efi/boot/fbx64.efi ]; then echo 'dploy: not starting shim fallback, which would reorder the boot entries'; else chainloader /efi/boot/bootx64.efi; boot; fi",
        "    fi",
        "  fi",
        "  echo 'dploy: no EFI loader found on a hard disk; leaving it to the firmware'",
        "  exit 1",
        "}",
    ]

    static let localDiskLoaders = [
        "/efi/debian/shimx64.efi", "/efi/debian/grubx64.efi",
        "/efi/ubuntu/shimx64.efi", "/efi/ubuntu/grubx64.efi",
        "/efi/redhat/shimx64.efi", "/efi/rocky/shimx64.efi", "/efi/almalinux/shimx64.efi", "/efi/centos/shimx64.efi",
        "/efi/sles/shim.efi", "/efi/opensuse/shim.efi",
        "/efi/microsoft/boot/bootmgfw.efi",
    ]

    /// One word of GRUB's script as written: GRUB reads quotes, `$` variables, `;`, `|`, `&`,
    /// redirections, braces and comments the way a shell does, so a word holding any of
    /// them goes in single quotes (a quote inside written as `'\''`), and no value can
    /// become a command of its own. Checked scalar by scalar, as GRUB reads bytes: a `'` or
    /// `;` followed by a combining mark is one Swift character, which a test of characters
    /// would miss, leaving GRUB an unquoted quote or command separator.
    static func quoted(_ word: String) -> String {
        let special: Set<Unicode.Scalar> = [";", "|", "&", "$", "<", ">", "'", "\"", "\\", "{", "}", "#", " ", "\t"]
        guard word.unicodeScalars.contains(where: special.contains) else { return word }
        var result = String.UnicodeScalarView()
        result.append("'")
        for scalar in word.unicodeScalars {
            if scalar == "'" { result.append(contentsOf: #"'\''"#.unicodeScalars) } else { result.append(scalar) }
        }
        result.append("'")
        return String(result)
    }

    /// `http://host:port/path` in GRUB's device syntax: `(http,host:port)/path`.
    static func grubPath(_ url: String) -> String {
        let url = KernelCommandLine.oneLine(url)
        guard let schemeEnd = url.range(of: "://") else { return url }
        let rest = url[schemeEnd.upperBound...]
        let host = rest.prefix { $0 != "/" }
        let scheme = url[..<schemeEnd.lowerBound]
        return "(\(scheme),\(host))\(rest.dropFirst(host.count))"
    }
}
