import DployInventory
import DployPlan
import DploySpec
import DployTestSupport
import Foundation
import Testing

/// The boot decider as a table: observed state × who asks → what boots and what is
/// recorded. Pure: no store, no server, no loader (every loader renders the same decision).
@Suite("The boot decider", .ownThread)
struct BootDeciderTests {
    static let t0 = Date(timeIntervalSince1970: 1_795_000_000)
    static let here = SourceLocation(file: "m.yaml", line: 1, column: 1)
    static let mac = MACAddress("94:18:82:3a:5c:10")!
    static let profile = Profile(metadata: ObjectMeta(name: "debian-12", location: here),
                                 source: .boot(kernel: "http://198.18.0.1/linux", initrd: "http://198.18.0.1/initrd.gz", args: nil))

    /// web-01 at generation 2, with a profile.
    static let machine = DefaultsResolver(groups: []).resolve(Machine(
        metadata: ObjectMeta(name: "web-01", location: here), mac: Located(mac, at: here),
        settings: MachineSettings(profile: "debian-12", generation: 2)))

    static func attempt(_ generation: Int, startedAt: TimeInterval, finished: Bool = false, failed: Bool = false) -> InstallAttempt {
        InstallAttempt(mac: mac, generation: generation, startedAt: t0 + startedAt,
                       finishedAt: finished ? t0 + startedAt + 60 : nil, failedAt: failed ? t0 + startedAt + 60 : nil)
    }

    static let imaging = TaskRun(key: TaskRunKey(task: "restore", revision: "r1", machine: "web-01"), mac: mac,
                                 action: .imageRestore, state: .running, startedAt: t0)

    struct Row: CustomTestStringConvertible, Sendable {
        let name: String
        let facts: BootDecider.Facts
        let expected: BootDecider.Decision
        var testDescription: String { name }
    }

    static func facts(machine: EffectiveMachine? = machine, profile: Profile? = profile, state: MachineState? = .known,
                      installed: Int? = nil, failed: Int? = nil, attempts: [InstallAttempt] = [], imaging: TaskRun? = nil,
                      speaks: Bool = true, at seconds: TimeInterval = 3600) -> BootDecider.Facts {
        BootDecider.Facts(machine: machine, profile: profile, state: state, installedGeneration: installed, failedGeneration: failed,
                          attempts: attempts, imagingRun: imaging, speaksForMachine: speaks, now: t0 + seconds, maxAttempts: 3)
    }

    static let rows: [Row] = [
        Row(name: "a MAC not in git is discovered", facts: facts(machine: nil, state: nil),
            expected: .discover(reason: "not in git")),
        Row(name: "a forgotten machine is rediscovered, even with an install owed", facts: facts(state: .rediscovering),
            expected: .discover(reason: "web-01 is being rediscovered")),
        Row(name: "an imaging run goes before an install", facts: facts(imaging: imaging),
            expected: .image(imaging)),
        Row(name: "no profile: the local disk", facts: facts(profile: nil),
            expected: .localDisk(record: .nothing)),
        Row(name: "never installed: the installer, a first attempt", facts: facts(state: nil),
            expected: .install(profile, generation: 2, record: .attemptStarted(generation: 2))),
        Row(name: "an older generation installed: the installer again", facts: facts(installed: 1),
            expected: .install(profile, generation: 2, record: .attemptStarted(generation: 2))),
        Row(name: "the desired generation installed: the local disk", facts: facts(state: .installed, installed: 2),
            expected: .localDisk(record: .nothing)),
        Row(name: "a newer generation installed (git went back): the local disk", facts: facts(installed: 3),
            expected: .localDisk(record: .nothing)),
        Row(name: "a boot within the window of an open attempt is that attempt",
            facts: facts(attempts: [attempt(2, startedAt: 3300)]),
            expected: .install(profile, generation: 2, record: .nothing)),
        Row(name: "a shorter server.attemptWindow: a boot past it is a second attempt", facts: {
                var shorter = facts(attempts: [attempt(2, startedAt: 3590)])
                shorter.attemptWindow = 5
                return shorter
            }(), expected: .install(profile, generation: 2, record: .attemptStarted(generation: 2))),
        Row(name: "an open attempt past its window: a second attempt",
            facts: facts(attempts: [attempt(2, startedAt: 0)]),
            expected: .install(profile, generation: 2, record: .attemptStarted(generation: 2))),
        Row(name: "attempts of an older generation do not count",
            facts: facts(attempts: [attempt(1, startedAt: 0), attempt(1, startedAt: 700), attempt(1, startedAt: 1400)]),
            expected: .install(profile, generation: 2, record: .attemptStarted(generation: 2))),
        Row(name: "attempts used up: the generation fails, the local disk",
            facts: facts(attempts: [attempt(2, startedAt: 0), attempt(2, startedAt: 700), attempt(2, startedAt: 1400)]),
            expected: .localDisk(record: .generationFailed(generation: 2, reason: "no callback after 3 install boots; booting the local disk"))),
        Row(name: "a generation already failed: the local disk, nothing more recorded",
            facts: facts(attempts: [attempt(2, startedAt: 0, failed: true)]),
            expected: .localDisk(record: .nothing)),
        Row(name: "a failed generation the planner knows of: the local disk", facts: facts(failed: 2),
            expected: .localDisk(record: .nothing)),
        Row(name: "a stranger asking for the machine: the same installer, nothing recorded", facts: facts(speaks: false),
            expected: .install(profile, generation: 2, record: .nothing)),
        Row(name: "a stranger asking once attempts ran out: the local disk, the generation not failed by it",
            facts: facts(attempts: [attempt(2, startedAt: 0), attempt(2, startedAt: 700), attempt(2, startedAt: 1400)], speaks: false),
            expected: .localDisk(record: .nothing)),
    ]

    @Test("observed state and who asks decide the boot", arguments: rows)
    func decides(_ row: Row) {
        #expect(BootDecider.decide(row.facts) == row.expected)
    }
}
