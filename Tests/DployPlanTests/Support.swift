import DployConfig
import DployController
import DploySpec
import DployTestSupport
import Foundation
import Testing

/// A copy of the example lab in a temporary folder, with its own controller config.
final class LabCopy {
    let root: URL

    /// - Parameter tasks: keep the lab's tasks. Without them (the default), a plan is only
    ///   files, DHCP and BMC steps: what these tests apply.
    init(config: String? = nil, tasks: Bool = false) throws {
        root = FileManager.default.temporaryDirectory.appendingPathComponent("dploy-lab-\(UUID().uuidString)")
        try FileManager.default.copyItem(at: repositoryRoot.appendingPathComponent("examples/lab"), to: root)
        try? FileManager.default.removeItem(at: root.appendingPathComponent("out"))
        try? FileManager.default.removeItem(at: root.appendingPathComponent("state"))
        if !tasks { try FileManager.default.removeItem(at: root.appendingPathComponent("tasks")) }
        if let config {
            try write("dploy.yaml", config)
        } else {
            try write("dploy.yaml", try Self.withSnapshots(read("dploy.yaml")))
        }
    }

    /// The lab's config with every per-machine boot file written: it names `server.listen`, so
    /// dploy would serve the iPXE scripts itself and write none, and these tests check boot
    /// files on disk.
    static func withSnapshots(_ config: String) throws -> String {
        let line = "output: {http: out/http, tftp: out/tftp}"
        guard config.contains(line) else { throw CocoaError(.fileReadCorruptFile) }
        return config.replacingOccurrences(of: line, with: "output: {http: out/http, tftp: out/tftp, snapshots: true}")
    }

    deinit { try? FileManager.default.removeItem(at: root) }

    func path(_ relative: String) -> String { root.appendingPathComponent(relative).path }

    func write(_ relative: String, _ text: String) throws {
        let url = root.appendingPathComponent(relative)
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        try Data(text.utf8).write(to: url)
    }

    func read(_ relative: String) throws -> String { try String(contentsOfFile: path(relative), encoding: .utf8) }

    /// Changes one byte of a file where it is: same size, same inode, different content, as
    /// an operator's editor writing in place would. Only the stamp's times say so.
    func editInPlace(_ relative: String) throws {
        var bytes = Array(try Data(contentsOf: URL(fileURLWithPath: path(relative))))
        bytes[bytes.count - 2] = bytes[bytes.count - 2] == UInt8(ascii: "X") ? UInt8(ascii: "Y") : UInt8(ascii: "X")
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: path(relative)))
        try handle.write(contentsOf: Data(bytes))
        try handle.close()
    }

    func reconciler() throws -> Reconciler {
        let configPath = path("dploy.yaml")
        let config = try ControllerConfig.load(path: configPath).get()
        let reconciler = Reconciler(config: config, configPath: configPath)
        // As `dploy apply` does before it plans: the installers then carry callback tokens.
        try reconciler.makeCallbackKey()
        return reconciler
    }

    /// Modification times of every file under out/, to prove a no-change apply touched nothing.
    func outputStamps() throws -> [String: Date] {
        var stamps: [String: Date] = [:]
        let base = path("out")
        guard let enumerator = FileManager.default.enumerator(atPath: base) else { return [:] }
        while let relative = enumerator.nextObject() as? String {
            let attributes = try FileManager.default.attributesOfItem(atPath: base + "/" + relative)
            if attributes[.type] as? FileAttributeType == .typeRegular {
                stamps[relative] = attributes[.modificationDate] as? Date
            }
        }
        return stamps
    }

    /// The DHCP check the planner and applier tests run: the staged file exists and is not
    /// empty. They test what dploy plans and writes, with no DHCP server installed; what the
    /// real servers' checkers say of dploy's files is DHCPCheckerTests' job.
    static let checkWithoutServer = "test -s {file}"

    /// A controller config for the lab; `check: nil` runs the backend's real checker.
    /// - Parameter snapshots: `output.snapshots`; true by default, as these tests check boot
    ///   files on disk and the config names `server.listen` (nil: unset, dploy's own rule).
    static func config(backend: String = "dnsmasq", dhcpFile: String = "dploy.conf", check: String? = checkWithoutServer,
                       extraDHCP: String = "", prune: String = "{enabled: false, maxRemovals: 5}", snapshots: Bool? = true,
                       extra: String = "") -> String {
        """
        source: {path: .}
        store: {sqlite: state/dploy.db}
        output: {http: out/http, tftp: out/tftp\(snapshots.map { ", snapshots: \($0)" } ?? "")}
        dhcp: {backend: \(backend), config: out/dhcp/\(dhcpFile)\(check.map { ", check: \"\($0)\"" } ?? "")\(extraDHCP)}
        server: {listen: "127.0.0.1:8080", url: "http://198.18.0.1:8080"}
        prune: \(prune)
        \(extra)
        """
    }
}
