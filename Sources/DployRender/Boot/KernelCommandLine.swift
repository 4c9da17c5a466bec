import DploySpec

/// The kernel arguments of an install: the profile's, the installer's (where to fetch its
/// answers), then the machine's own, in that order so a machine can override.
enum KernelCommandLine {
    static func arguments(profile: Profile, args: String?, machine: EffectiveMachine, server: BootServer) -> String {
        var parts: [String] = []
        if let args, !args.isEmpty { parts.append(args) }
        let answers = server.installerURL(for: machine.name)
        switch profile.installer?.kind {
        case .preseed?: parts.append("url=\(answers)preseed.cfg")
        case .kickstart?: parts.append("inst.ks=\(answers)ks.cfg")
        case .autoinstall?: parts.append("autoinstall ds=nocloud-net;s=\(answers)")
        case .none?, nil: break
        }
        if let extra = machine.settings.kernelArgs, !extra.isEmpty { parts.append(extra) }
        return oneLine(parts.joined(separator: " "))
    }

    /// The arguments as an iPXE `kernel` line carries them. Validation refuses what iPXE
    /// would read itself (`Names.kernelArguments`); a word that slips past anyway (a model
    /// built in code) is dropped, as is any word holding `${`, so nothing reaches iPXE as a
    /// command or a setting.
    static func forIPXE(_ arguments: String) -> String {
        Names.bootLoaderWords(arguments).filter { !Names.isBootLoaderSyntax($0) && !Names.containsSettingReference($0) }
            .joined(separator: " ")
    }

    /// The kernel's line is one line in every boot format. Validation refuses control
    /// characters and line breaks in what reaches it; one that slips past anyway (a model
    /// built in code, a field added later) becomes a space, never the end of a line that
    /// the next one, an iPXE `chain` or a GRUB command, could follow.
    static func oneLine(_ text: String) -> String {
        String(String.UnicodeScalarView(text.unicodeScalars.map { Names.isControlOrLineBreak($0) ? " " : $0 }))
    }
}
