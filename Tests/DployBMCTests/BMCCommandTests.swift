import DployBMC
import DploySpec
import DployTestSupport
import Foundation
import Testing

/// `dploy bmc status` and `dploy bmc power`, the built binary against sushy-tools, with a
/// controller config, specs and a secret as an operator writes them.
@Suite("dploy bmc, from the command line", .ownThread, .requires(.sushyEmulator, .openssl, .curl))
struct BMCCommandTests {
    static var binary: URL {
        var folder = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        while !FileManager.default.fileExists(atPath: folder.appendingPathComponent("dploy").path), folder.path != "/" {
            folder.deleteLastPathComponent()
        }
        return folder.appendingPathComponent("dploy")
    }

    func dploy(_ arguments: [String]) throws -> (status: Int32, stdout: String, stderr: String) {
        let process = Process()
        process.executableURL = Self.binary
        process.arguments = arguments
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()
        let stdout = out.fileHandleForReading.readDataToEndOfFile()
        let stderr = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: stdout, as: UTF8.self), String(decoding: stderr, as: UTF8.self))
    }

    @Test("status reads every machine, reports the unreachable one on its own, exits 1; power on sends On")
    func statusAndPower() async throws {
        let bmc = try await SushyEmulator(systems: 2)
        let down = try HeldPort()
        defer { withExtendedLifetime(down) {} }  // held until the test ends, not its last use
        let trust = ", credentials: lab-bmc, caFile: \(bmc.certificate.certificate)"
        let lab = try BMCLab(bmc, specs:
            BMCLab.machine("node-0", mac: "52:54:00:00:00:10", address: "\(bmc.baseURL)/redfish/v1/Systems/\(bmc.systems[0])", bmc: trust)
            + BMCLab.machine("node-1", mac: "52:54:00:00:00:11", address: "\(bmc.baseURL)/redfish/v1/Systems/\(bmc.systems[1])", bmc: trust)
            + BMCLab.machine("node-gone", mac: "52:54:00:00:00:12", address: "https://127.0.0.1:\(down.port)", bmc: ", credentials: lab-bmc"))
        try await bmc.ready()
        let config = lab.config

        let status = try dploy(["bmc", "status", "--config", config, "--json"])
        #expect(status.status == 1, "one BMC is down")
        let rows = try JSONValue(parsing: Array(status.stdout.utf8)).array ?? []
        #expect(rows.compactMap { $0["machine"]?.string } == ["node-0", "node-1", "node-gone"])
        #expect(rows.filter { $0[path: "reading", "power"]?.string == "Off" }.count == 2)
        #expect(rows.last?[path: "error", "kind"]?.string == "unreachable")
        #expect(status.stderr.contains("node-gone"))
        #expect(!status.stdout.contains(bmc.password) && !status.stderr.contains(bmc.password))

        let power = try dploy(["bmc", "power", "on", "node-0", "--config", config])
        #expect(power.status == 0, "\(power.stderr)")
        #expect(power.stdout.contains("sent On"))

        let one = try dploy(["bmc", "status", "node-1", "--config", config])
        #expect(one.status == 0, "\(one.stderr)")
        #expect(one.stdout.contains("MACHINE"))
        #expect(one.stdout.contains("node-1"))
        #expect(!one.stdout.contains("node-0"))

        let unknown = try dploy(["bmc", "power", "cycle", "node-9", "--config", config])
        #expect(unknown.status == 1)
        #expect(unknown.stderr.contains("node-9"))
    }
}
