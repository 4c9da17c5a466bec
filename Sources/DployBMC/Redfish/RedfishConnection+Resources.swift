/// Finding resources by following links, as Redfish intends: nothing here guesses a path.
extension RedfishConnection {
    /// The links a collection lists.
    func members(_ collectionPath: String) throws -> [String] {
        let json = try get(collectionPath).json
        return (json?["Members"]?.array ?? []).compactMap(\.link)
    }

    /// The machine's system: the one the address names, else the first (and, on a server
    /// BMC, only) member of `Systems`.
    func systemPath() throws -> String {
        if let path = endpoint.systemPath { return path }
        guard let systems = try root()["Systems"]?.link else {
            throw error(.unsupported, "the service root lists no Systems")
        }
        guard let first = try members(systems).first else {
            throw error(.badResponse, "\(systems) lists no system")
        }
        return first
    }

    func system() throws -> ComputerSystem {
        let response = try get(try systemPath())
        return ComputerSystem(json: response.json ?? .null, etag: response.etag)
    }

    /// The system's manager (`Links.ManagedBy`), else the first of `Managers`; nil when the
    /// BMC lists none (sushy-tools' fake driver may not).
    func manager(of system: ComputerSystem) throws -> Manager? {
        var path = system.managers.first
        if path == nil, let managers = try root()["Managers"]?.link {
            path = try? members(managers).first
        }
        guard let path, let response = try getIfPresent(path), let json = response.json else { return nil }
        return Manager(json: json)
    }

    func updateServicePath() throws -> String {
        guard let path = try root()["UpdateService"]?.link else {
            throw error(.unsupported, "the service root lists no UpdateService: this BMC cannot report or update firmware")
        }
        return path
    }
}
