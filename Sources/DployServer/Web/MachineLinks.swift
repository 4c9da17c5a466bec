import DploySpec

/// The links an operator follows from a machine: its BMC's web interface (iLO), HPE's
/// System Management Homepage (port 2381), Webmin (port 10000), and the extra links the
/// controller config names (`web.links`, e.g. the HPE Array Configuration Utility).
enum MachineLinks {
    /// The `web.links` label of HPE's Array Configuration Utility: shown only for a machine
    /// whose iLO reported a Smart Array controller, since ACU has nothing to configure on
    /// others (an iLO 6 with MegaRAID, a machine without an iLO).
    static let acuLabel = "ACU"
    struct Link: Hashable, Encodable, Sendable {
        var label: String
        var kind: String
        var url: String
    }

    /// - Parameter host: the machine's address (from git, else where it last spoke from).
    /// - Parameter smartArrayControllers: what the iLO last reported; nil when not read.
    static func links(bmc: String?, host: String?, extra: [String: String], smartArrayControllers: Int?) -> [Link] {
        var links: [Link] = []
        if let bmc { links.append(Link(label: "iLO", kind: "ilo", url: bmc)) }
        guard let host, !host.isEmpty else { return links }
        let authority = host.contains(":") ? "[\(host)]" : host
        links.append(Link(label: "SMH", kind: "smh", url: "https://\(authority):2381/"))
        links.append(Link(label: "Webmin", kind: "webmin", url: "https://\(authority):10000/"))
        for (label, template) in extra.sorted(by: { $0.key < $1.key })
        where label.caseInsensitiveCompare(acuLabel) != .orderedSame || (smartArrayControllers ?? 0) > 0 {
            links.append(Link(label: label, kind: "extra", url: template.replacingOccurrences(of: "{host}", with: authority)))
        }
        return links
    }
}
