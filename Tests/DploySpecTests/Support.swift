import DploySpec
import DployTestSupport
import Foundation
import Testing

/// Loads in-memory files; paths are the ones shown in diagnostics.
func load(_ files: [String: String], knownPaths: Set<String>? = nil) -> LoadResult {
    SpecLoader(knownPaths: knownPaths).load(files.sorted { $0.key < $1.key }.map { SpecFile(path: $0.key, text: $0.value) })
}

/// Diagnostics as `file:line:column: message`, the form operators read.
func rendered(_ result: LoadResult) -> [String] {
    result.diagnostics.map { "\($0.location): \($0.message)" }
}

/// A minimal valid lab that tests break in one place at a time.
enum Sample {
    static let profile = """
        apiVersion: dploy.org/v1
        kind: Profile
        metadata: {name: debian-12}
        spec:
          boot:
            kernel: http://198.18.0.1:8080/files/debian-12/linux
            initrd: http://198.18.0.1:8080/files/debian-12/initrd.gz
        """

    static func machine(_ name: String, mac: String, ip: String? = nil, extra: String = "") -> String {
        """
        apiVersion: dploy.org/v1
        kind: Machine
        metadata:
          name: \(name)
          labels: {role: web}
        spec:
          mac: "\(mac)"
        \(ip.map { "  ip: \($0)\n" } ?? "")\(extra)
        """
    }
}

/// A fresh temporary folder, removed by the caller.
func makeTemporaryFolder() throws -> URL {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("dploy-test-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    return url
}

func write(_ files: [String: String], under folder: URL) throws {
    for (path, text) in files {
        let url = folder.appendingPathComponent(path)
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        try Data(text.utf8).write(to: url)
    }
}
