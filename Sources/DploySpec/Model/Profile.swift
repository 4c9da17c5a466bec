/// How a machine is installed: what it boots, and which installer answers it gets.
public struct Profile: Hashable, Sendable {
    public var metadata: ObjectMeta
    public var loader: BootLoader
    public var source: InstallSource
    public var installer: Installer?

    public var name: String { metadata.name }

    public init(metadata: ObjectMeta, loader: BootLoader = .ipxe, source: InstallSource, installer: Installer? = nil) {
        self.metadata = metadata
        self.loader = loader
        self.source = source
        self.installer = installer
    }
}

public enum BootLoader: String, CaseIterable, Hashable, Sendable {
    case ipxe, pxelinux, grub
}

/// Either a kernel and initrd to network-boot an installer, or a disk image to write.
public enum InstallSource: Hashable, Sendable {
    case boot(kernel: String, initrd: String, args: String?)
    case image(url: String, sha256: String, format: ImageFormat)
}

public enum ImageFormat: String, CaseIterable, Hashable, Sendable {
    case raw
    case rawGzip = "raw.gz"
    case rawXz = "raw.xz"
    case qcow2
}

public struct Installer: Hashable, Sendable {
    public enum Kind: String, CaseIterable, Hashable, Sendable {
        case preseed, kickstart, autoinstall, none
    }

    public var kind: Kind
    /// A Mustache template, relative to the top of the spec folder or repository.
    public var template: Located<String>?

    public init(kind: Kind, template: Located<String>? = nil) {
        self.kind = kind
        self.template = template
    }
}
