@testable import DploySpec
import DployTestSupport
import Foundation
import Testing

@Suite("Spec files parsed on several threads", .ownThread)
struct ParallelLoadTests {
    /// Sixty rack files, some broken three different ways: the same documents and the same
    /// diagnostics, in the same order, as one thread gives.
    @Test("a load on several threads equals one on a single thread, diagnostics and all")
    func sameAsSerial() {
        let files = (0..<60).map { rack in
            let machines = (0..<5).map { slot -> String in
                let i = rack * 5 + slot
                let mac = String(format: "94:18:82:00:%02x:%02x", i >> 8, i & 255)
                return "apiVersion: dploy.org/v1\nkind: Machine\nmetadata: {name: node-\(i)}\n"
                    + "spec: {mac: \"\(mac)\", ip: 198.18.\(i >> 8).\(i & 255)}\n"
            }
            var text = machines.joined(separator: "---\n")
            switch rack % 7 {
            case 1: text += "---\nkind: [Machine\n"  // YAML syntax
            case 3: text = text.replacingOccurrences(of: "ip: 198", with: "ip: 998")  // an invalid address
            case 5: text += "---\napiVersion: dploy.org/v1\nkind: Machine\nmetadata: {name: node-0}\nspec: {mac: \"94:18:82:ff:00:00\"}\n"
            default: break
            }
            return SpecFile(path: String(format: "machines/rack-%02d.yaml", rack), text: text)
        }
        let loader = SpecLoader()
        #expect(loader.parseAll(files) == files.map(loader.parser.parse))
        let result = loader.load(files)
        #expect(result == loader.assemble(files.map(loader.parser.parse)))
        #expect(!result.diagnostics.isEmpty && result.fleet.machines.count > 200)
    }
}
