// dploy-bench: in-process figures that a whole-process timing cannot give, for `make bench`.
//
//   dploy-bench FLEET_FOLDER
//
// Commits the generated fleet to a scratch git repository, then measures loading it from
// the commit cold (a new GitSource), incrementally after a one-file commit (the same
// GitSource, as the daemon keeps it), and `git archive | tar -x` plus a load from disk,
// the obvious alternative. Then plan + render for the whole fleet, a first apply, and a
// no-change apply. Prints figures; asserts nothing.
import DployConfig
import DployController
import DployGit
import DployPlan
import DploySpec
import Foundation

@discardableResult
func sh(_ script: String, in folder: String) -> Int32 {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/bin/sh")
    process.arguments = ["-c", script]
    process.currentDirectoryURL = URL(fileURLWithPath: folder)
    var environment = ProcessInfo.processInfo.environment
    environment["GIT_CONFIG_NOSYSTEM"] = "1"
    for role in ["AUTHOR", "COMMITTER"] {
        environment["GIT_\(role)_NAME"] = "bench"
        environment["GIT_\(role)_EMAIL"] = "bench@example.net"
    }
    process.environment = environment
    try! process.run()
    process.waitUntilExit()
    return process.terminationStatus
}

func measure(_ runs: Int, _ body: () throws -> Void) rethrows -> [Double] {
    try (0..<runs).map { _ in
        let start = ContinuousClock.now
        try body()
        let elapsed = ContinuousClock.now - start
        return Double(elapsed.components.seconds) * 1000 + Double(elapsed.components.attoseconds) / 1e15
    }
}

func report(_ label: String, _ times: [Double]) {
    let sorted = times.sorted()
    let median = sorted[sorted.count / 2]
    print("\(label): median \(String(format: "%.1f", median)) ms over \(times.count) runs (min \(String(format: "%.1f", sorted.first!)), max \(String(format: "%.1f", sorted.last!)))")
}

let arguments = CommandLine.arguments
guard arguments.count == 2 else {
    FileHandle.standardError.write(Data("usage: dploy-bench FLEET_FOLDER\n".utf8))
    exit(2)
}
let fleet = URL(fileURLWithPath: arguments[1]).standardizedFileURL.path
let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("dploy-bench-\(UUID().uuidString)").path
defer { try? FileManager.default.removeItem(atPath: scratch) }
try FileManager.default.createDirectory(atPath: scratch, withIntermediateDirectories: true)
guard sh("git init -q -b main repo && cp -r '\(fleet)' repo/fleet && cd repo && git add -A && git commit -q -m fleet",
         in: scratch) == 0 else { fatalError("could not build the bench repository") }
let repository = scratch + "/repo"
let config = GitSourceConfig(repository: repository, path: "fleet")
// DPLOY_BENCH_ONLY=daemon skips to the reconcile figures, for profiling them.
let onlyDaemon = ProcessInfo.processInfo.environment["DPLOY_BENCH_ONLY"] == "daemon"

var machines = 0
if !onlyDaemon {
report("git cold load (new GitSource: resolve, walk, parse, validate)", try measure(5) {
    let source = GitSource(config: config, cacheDirectory: scratch + "/cache")
    let snapshot = try source.load(source.fetch().id)
    precondition(snapshot.result.isValid, "\(snapshot.renderedDiagnostics.prefix(3))")
    machines = snapshot.result.fleet.machines.count
})

let source = GitSource(config: config, cacheDirectory: scratch + "/cache")
_ = try source.load(source.fetch().id)
var incremental: [Double] = []
for round in 1...10 {
    // One machine's generation changes in one rack file, as a reinstall request would.
    guard sh("sed -i 's/name: node-00001$/name: node-00001\\n  # round \(round)/' fleet/machines/rack-r000.yaml"
             + " && git commit -q -am 'round \(round)'", in: repository) == 0 else { fatalError("commit failed") }
    incremental += try measure(1) {
        let snapshot = try source.load(source.fetch().id)
        precondition(snapshot.result.isValid && source.lastParseCount == 1)
    }
}
report("git incremental load after a one-file commit (files re-parsed: \(source.lastParseCount))", incremental)

report("git archive | tar -x, then load from disk", try measure(5) {
    let target = scratch + "/export"
    try? FileManager.default.removeItem(atPath: target)
    try FileManager.default.createDirectory(atPath: target, withIntermediateDirectories: true)
    guard sh("git archive HEAD fleet | tar -x -C '\(target)'", in: repository) == 0 else { fatalError("git archive failed") }
    let (files, known) = try SpecDirectory(root: target + "/fleet").read()
    precondition(SpecLoader(knownPaths: known).load(files).isValid)
})
print("machines per load: \(machines)")
}

// Plan and apply, with the fleet folder as the source and a scratch output.
let configPath = scratch + "/dploy.yaml"
try Data("""
    source: {path: \(fleet)}
    store: {sqlite: \(scratch)/state/dploy.db}
    output: {http: \(scratch)/out/http, tftp: \(scratch)/out/tftp}
    dhcp: {backend: dnsmasq, config: \(scratch)/out/dhcp/dploy.conf, check: "true"}
    server: {url: "http://198.18.0.1:8080"}
    """.utf8).write(to: URL(fileURLWithPath: configPath))
let reconciler = Reconciler(config: try ControllerConfig.load(path: configPath).get(), configPath: configPath)
try reconciler.makeCallbackKey()
var actions = 0
if !onlyDaemon {
report("plan + render, nothing on disk yet (load, resolve, render every file, compare)", try measure(5) {
    actions = try reconciler.plan().plan.actions.count
})
report("first apply (\(actions) actions: write every file atomically)", try measure(1) {
    _ = try reconciler.apply(try reconciler.plan())
})
var written = 0
report("no-change apply (load, observe every file, plan, apply nothing)", try measure(5) {
    let result = try reconciler.plan()
    precondition(!result.plan.hasChanges)
    written = try reconciler.apply(result).written.count
})
precondition(written == 0)
} else {
    _ = try reconciler.apply(try reconciler.plan())
}
// The daemon keeps desired state loaded between runs (the git source reloads only what
// changed) and its observation and render caches, so a reconcile with nothing to do is a
// drain of the output folders' inotify queue (every file is stat-ed only once per
// output.verifyInterval), a plan from cached renders, and an apply of nothing. The loop
// itself skips even that plan when nothing it plans from changed (bench/daemon.py).
let daemon = Reconciler(config: reconciler.config, configPath: configPath, keepingCaches: true)
let desired = try daemon.loadDesired()
_ = try daemon.plan(desired: desired, fingerprint: false)
report("no-change reconcile in the daemon (desired state, observations and renders kept)", try measure(onlyDaemon ? 40 : 5) {
    let result = try daemon.plan(desired: desired, fingerprint: false)
    let applied = try daemon.apply(result)
    precondition(!result.plan.hasChanges && applied.written.isEmpty)
})
report("  of which: observe between verifications (what inotify names, the managed folders stat-ed)", try measure(5) {
    _ = try daemon.observe()
})
// Once per output.verifyInterval (and on a replaced output folder, an overflowed inotify
// queue, a new leader) the daemon's observe stats every file instead: the run that does is
// this much slower than the figure above.
report("  observe at a verification (every file stat-ed, the changed read)", try measure(5) {
    daemon.observationCache?.lastVerified = nil
    _ = try daemon.observe()
})
// A commit that changes one machine's spec, planned as the daemon plans it (every other
// machine keeps its outcome: PlanChanges) and as a full plan does (every machine resolved,
// rendered from its kept digests or anew, and planned).
do {
    let observed = try daemon.observe()
    var changed = desired
    let middle = changed.fleet.machines.count / 2
    var edits = 0
    func planOneEdit() throws -> Bool {
        edits += 1
        changed.fleet.machines[middle].settings.hostname = "bench-edit-\(edits).example.net"
        return try daemon.plan(desired: changed, observed: observed, fingerprint: false).plan.hasChanges
    }
    report("one machine changed: the daemon's plan (the others' outcomes kept)", try measure(onlyDaemon ? 40 : 5) {
        let changes = try planOneEdit()
        precondition(changes)
    })
    daemon.renderCache?.incremental = false
    report("one machine changed: a full plan (every machine worked out)", try measure(5) {
        let changes = try planOneEdit()
        precondition(changes)
    })
    daemon.renderCache?.incremental = true
}
