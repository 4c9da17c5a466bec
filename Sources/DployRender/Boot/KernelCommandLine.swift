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
        return parts.joined(separator: " ")
    }
}
