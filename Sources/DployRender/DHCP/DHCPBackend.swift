/// The DHCP servers dploy renders configuration for (`dhcp.backend` in dploy.yaml). Owned
/// by the renderers, not by the controller's config: planning and the checker in DployApply
/// need to know which server they write for, and must not depend on the config.
public enum DHCPBackend: String, CaseIterable, Hashable, Sendable {
    case dnsmasq, isc, kea
}
