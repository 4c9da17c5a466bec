extension DocumentDecoder {
    func decodeProfile(_ spec: MappingReader, metadata: ObjectMeta) -> Profile? {
        let loader = spec.choice("loader", as: BootLoader.self)?.value ?? .ipxe
        var sources: [InstallSource] = []
        if let boot = spec.mapping("boot") {
            let kernel = boot.parsed("kernel", required: true, Names.httpURL)
            let initrd = boot.parsed("initrd", required: true, Names.httpURL)
            let args = boot.parsed("args", Names.kernelArguments)
            boot.finish()
            if let kernel, let initrd {
                sources.append(.boot(kernel: kernel.value, initrd: initrd.value, args: args?.value))
            }
        }
        if let image = spec.mapping("image") {
            let url = image.parsed("url", required: true, Names.httpURL)
            let sha256 = image.parsed("sha256", required: true, Names.sha256)
            let format = image.choice("format", as: ImageFormat.self)?.value ?? .raw
            image.finish()
            if let url, let sha256 {
                sources.append(.image(url: url.value, sha256: sha256.value, format: format))
            }
        }
        if spec.has("boot") && spec.has("image") {
            log.append(Diagnostic("a Profile has either 'spec.boot' or 'spec.image', not both",
                                  at: spec.location(of: "image")))
        } else if !spec.has("boot") && !spec.has("image") {
            log.append(Diagnostic("a Profile needs 'spec.boot' (kernel and initrd) or 'spec.image' (a disk image)",
                                  at: log.location(spec.mark)))
        }

        var installer: Installer?
        if let reader = spec.mapping("installer") {
            let kind = reader.choice("kind", required: true, as: Installer.Kind.self)
            let template = reader.string("template")
            if let kind, kind.value != .none, template == nil {
                log.error("missing required field '\(reader.fieldPath("template"))' for a \(kind.value.rawValue) installer",
                          at: reader.mark)
            }
            reader.finish()
            if let kind { installer = Installer(kind: kind.value, template: template) }
        }
        guard let source = sources.first else { return nil }
        return Profile(metadata: metadata, loader: loader, source: source, installer: installer)
    }
}
