import DployController
import DployPlan
import DploySpec
import DployTestSupport
import Foundation
import Testing

/// `bios.attributes` checked as the specs load, against the BIOS the controller last read
/// (`Reconciler.knownBIOS`, which the daemon's loop fills): the example lab as a folder
/// source, with HPE's recorded BIOSes (DL380a Gen11 on iLO 6, DL360 Gen10 Plus on iLO 5) as
/// the readings of web-01 and web-02.
@Suite("BIOS attributes checked against the BIOS as read", .ownThread, .requiresHPEMockups)
struct BIOSCheckTests {
    static func reading(_ tree: URL) throws -> ObservedBIOS {
        let attributes = try HPEMockups.biosAttributes(tree)
        return ObservedBIOS(current: attributes, pending: attributes)
    }

    /// The spec errors of loading the lab, one line each (none: it loaded).
    static func loadErrors(_ reconciler: Reconciler) throws -> [String] {
        do {
            _ = try reconciler.loadDesired()
            return []
        } catch ReconcileError.invalidSpecs(let lines) {
            return lines
        }
    }

    @Test("A name web-01's BIOS does not list and a value of another type are errors at their own lines, with a suggestion; before any reading the same specs load")
    func machineAttributes() throws {
        let lab = try LabCopy(config: LabCopy.config())
        try BIOSDriftTests.addBIOS(to: lab, """
                attributes:
                  ProcHyperThreading: Disabled
                  NetworkBootRetryCount: "3"
                  Sriov: Disabled
            """)
        let reconciler = try lab.reconciler()
        #expect(try Self.loadErrors(reconciler) == [], "no BIOS read yet: nothing to check against")

        reconciler.knownBIOS.replace(with: [BIOSDriftTests.web01: try Self.reading(HPEMockups.dl380aGen11)])
        // The lab's config reads the specs from `path: .`, and diagnostics name files below it.
        let file = lab.root.path + "/./machines/rack-r1.yaml"
        // Lines 24 and 25 of rack-r1.yaml, where the names are written (column 7).
        #expect(try Self.loadErrors(reconciler) == [
            "\(file):24:7: error: machine 'web-01': 'bios.attributes.ProcHyperThreading': the BIOS does not list an attribute "
                + "'ProcHyperThreading'; check its name (BIOS attribute names are case-sensitive); did you mean 'ProcHyperthreading'?",
            "\(file):25:7: error: machine 'web-01': 'bios.attributes.NetworkBootRetryCount' is a string (\"3\"), but the BIOS holds "
                + "an integer; write it as the BIOS does",
        ])
        #expect(try lab.read("machines/rack-r1.yaml").split(separator: "\n", omittingEmptySubsequences: false)[23]
                == "      ProcHyperThreading: Disabled")

        // Fixed as the suggestion says: the lab loads again.
        try lab.write("machines/rack-r1.yaml", try lab.read("machines/rack-r1.yaml")
            .replacingOccurrences(of: "ProcHyperThreading", with: "ProcHyperthreading")
            .replacingOccurrences(of: "NetworkBootRetryCount: \"3\"", with: "NetworkBootRetryCount: 3"))
        #expect(try Self.loadErrors(reconciler) == [])
    }

    @Test("A group default one member's BIOS does not list is an error at the group's line naming that member only")
    func groupDefault() throws {
        let lab = try LabCopy(config: LabCopy.config())
        // The web group (web-01, web-02, …) sets a Gen11 BIOS attribute; web-02 is read as a Gen10 Plus.
        let groups = try lab.read("groups.yaml")
        let marker = "    disk: /dev/sda\n"
        let at = try #require(groups.range(of: marker))
        try lab.write("groups.yaml", groups.replacingCharacters(
            in: at, with: marker + "    bios:\n      attributes: {Sriov: Enabled, OptimizedPowerMode: Disabled}\n"))
        let reconciler = try lab.reconciler()
        reconciler.knownBIOS.replace(with: [BIOSDriftTests.web01: try Self.reading(HPEMockups.dl380aGen11),
                                            BIOSDriftTests.web02: try Self.reading(HPEMockups.dl360Gen10Plus)])
        let errors = try Self.loadErrors(reconciler)
        // The name's own place: its line, and column 36 of `      attributes: {Sriov: Enabled, OptimizedPowerMode: …}`.
        let line = try #require(lab.read("groups.yaml").split(separator: "\n", omittingEmptySubsequences: false)
            .firstIndex { $0.contains("OptimizedPowerMode") }) + 1
        let column = "      attributes: {Sriov: Enabled, ".count + 1
        #expect(errors == [
            "\(lab.root.path)/./groups.yaml:\(line):\(column): error: group 'web' default, for machine 'web-02': "
                + "'bios.attributes.OptimizedPowerMode': the BIOS does not list an attribute 'OptimizedPowerMode'; "
                + "check its name (BIOS attribute names are case-sensitive)",
        ])
    }
}
