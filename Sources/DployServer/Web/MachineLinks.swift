import DploySpec

/// The links an operator follows from a machine: its BMC's web interface (iLO), HPE's
/// System Management Homepage (port 2381), Webmin (port 10000), and the extra links the
/// controller config names (`web.links`, e.g. the HPE Array Configuration Utility).
enum MachineLinks {
    struct Link: Hashable, Encodable, Sendable {
        var label: String
        var kind: String
        var url: String
    }

    /// - Parameter host: the machine's address (from git, else where it last spoke from).
    static func links(bmc: String?, host: String?, extra: [String: String]) -> [Link] {
        var links: [Link] = []
        if let bmc { links.append(Link(label: "iLO", kind: "ilo", url: bmc)) }
        guard let host, !host.isEmpty else { return links }
        let authority = host.contains(":") ? "[\(host)]" : host
        links.append(Link(label: "SMH", kind: "smh", url: "https://\(authority):2381/"))
        links.append(Link(label: "Webmin", kind: "webmin", url: "https://\(authority):10000/"))
        for (label, template) in extra.sorted(by: { $0.key < $1.key }) {
            links.append(Link(label: label, kind: "extra", url: template.replacingOccurrences(of: "{host}", with: authority)))
        }
        return links
    }
}
