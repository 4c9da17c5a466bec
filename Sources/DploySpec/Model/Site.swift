/// Sites: one controller (or one leader among several) converges the machines of one site.
///
/// A machine's site is its `site` (on the machine, as its `site` label, or a group's
/// default); a machine without one belongs to the `default` site, as does a controller whose
/// dploy.yaml names none. So a fleet that never mentions sites is one site, as before.
public enum Site {
    public static let defaultName = "default"
}

extension Fleet {
    /// The fleet as the controller of `site` converges it: that site's machines, and every
    /// other document (a profile or task may serve several sites; a task's targets are
    /// resolved among the machines kept here).
    ///
    /// Filtered after validation: names, MACs, IPs and BMCs stay unique across every site.
    public func machines(ofSite site: String) -> Fleet {
        // A fleet that names no site anywhere is all `default`: no defaults to resolve.
        let namesSites = machines.contains { $0.settings.site != nil } || groups.contains { $0.defaults.site != nil }
        guard namesSites else { return site == Site.defaultName ? self : withMachines([]) }
        let resolver = DefaultsResolver(groups: groups)
        return withMachines(machines.filter { resolver.resolve($0).site == site })
    }

    private func withMachines(_ kept: [Machine]) -> Fleet {
        var fleet = self
        fleet.machines = kept
        return fleet
    }
}
