/// What each page's template reads, one struct per page. swift-mustache reads a struct's
/// stored properties by name through `Mirror` (computed properties are invisible to it), and
/// a nil optional counts as missing, so `{{#field}}` sections skip it. Every page carries
/// `title` and `sourceLabel` for the `head` partial. Encodable so a view can be looked at as
/// JSON when a page looks wrong.
enum WebViews {
    struct Servers: Encodable, Sendable {
        var title: String
        var sourceLabel: String
        var count: Int
        var query: String
        var lastError: String?
        var paging: Paging?
        var machines: [Row]

        struct Paging: Encodable, Sendable {
            var current: Int
            var pages: Int
            /// Links to the neighbouring pages; empty on the first and the last.
            var previous: String
            var next: String
        }

        struct Row: Encodable, Sendable {
            var id: String
            var name: String
            var state: String
            var stateClass: String
            var model: String
            var serial: String
            var address: String
            var generation: String
            var power: String
            var lastInventory: String
            var lastEvent: String
            var links: [MachineLinks.Link]
        }
    }

    struct Machine: Encodable, Sendable {
        var title: String
        var sourceLabel: String
        var name: String
        var mac: String
        var inGit: Bool
        var desired: [DesiredField]
        var state: String
        var stateClass: String
        var installed: String
        var generation: String
        var lastSeen: String
        var address: String
        var power: String
        var lastInventory: String?
        var hardware: Hardware?
        var installs: [Install]
        var hasInstalls: Bool
        var events: [Event]
        var hasEvents: Bool
        var taskRuns: [TaskRun]
        var hasTaskRuns: Bool
        var jobs: [Job]
        var hasJobs: Bool
        var links: [MachineLinks.Link]
        var conditions: [Condition]

        /// A BMC job of the machine (firmware, BIOS), newest first.
        struct Job: Encodable, Sendable {
            var id: String
            var step: String
            var state: String
            var progress: String
            var started: String
            var finished: String
        }

        /// One of the machine's conditions (docs/conditions.md), as the page shows it.
        struct Condition: Encodable, Sendable {
            var type: String
            var status: String
            var reason: String
            var message: String
            var observedAt: String
        }

        struct DesiredField: Encodable, Sendable {
            var field: String
            var value: String
            var origin: String
        }

        struct Hardware: Encodable, Sendable {
            var vendor: String
            var model: String
            var serial: String
            var bios: String
            var cpus: Int
            var cpuModel: String
            var memory: String
            var disks: [String]
            var nics: [String]
        }

        struct Install: Encodable, Sendable {
            var generation: Int
            var started: String
            var finished: String
            var failed: String
        }

        struct Event: Encodable, Sendable {
            var at: String
            var kind: String
            var message: String
        }
    }

    /// A task run, on the machine page (with its task) and on the tasks page.
    struct TaskRun: Encodable, Sendable {
        var task: String
        var machine: String
        var revision: String
        var state: String
        var started: String
        var finished: String
        var exitCode: String
        var error: String
        var output: String
    }

    struct Groups: Encodable, Sendable {
        var title: String
        var sourceLabel: String
        var count: Int
        var groups: [Group]

        struct Group: Encodable, Sendable {
            var name: String
            var priority: Int
            var selector: String
            var members: String
            var machines: [String]
            var defaults: String
        }
    }

    struct Plan: Encodable, Sendable {
        var title: String
        var sourceLabel: String
        var lastRun: LastRun?
        var roleReason: String?
        var pending: Pending?
        var pendingTasks: PendingTasks?
        /// Halted rollouts and closed windows, from the last run's plan.
        var rollouts: [String] = []

        struct LastRun: Encodable, Sendable {
            var finishedAt: String
            var trigger: String
            var result: String
            var message: String
        }

        struct Pending: Encodable, Sendable {
            var summary: String
            var source: String
            var machines: [Machine]
            var shared: [String]

            struct Machine: Encodable, Sendable {
                var machine: String
                var change: String
                var reasons: [String]
                var actions: [String]
            }
        }

        struct PendingTasks: Encodable, Sendable {
            var tasks: [Task]

            struct Task: Encodable, Sendable {
                var task: String
                var revision: String
                var summary: String
                var reason: String
                var targets: String
            }
        }
    }

    struct Tasks: Encodable, Sendable {
        var title: String
        var sourceLabel: String
        var count: Int
        var tasks: [Task]

        struct Task: Encodable, Sendable {
            var task: String
            /// Nil for a task removed from git.
            var revision: String?
            var inGit: Bool
            var summary: String
            var counts: String
            var runs: [TaskRun]
            var hasRuns: Bool
        }
    }

    struct Source: Encodable, Sendable {
        var title: String
        var sourceLabel: String
        var git: Git?
        var sourceError: String?
        var role: String
        var roleReason: String?
        var runs: Int
        var nextRun: String
        var lastError: String?
        /// Every site of a shared store (or of several): who leads it, its leader's last run.
        var sites: [Site] = []
        var hasSites = false
        var sitesError: String?

        struct Site: Encodable, Sendable {
            var name: String
            var led: Bool
            var leader: String
            var lastRun: String
        }

        struct Git: Encodable, Sendable {
            var fetched: String
            var good: String
            var applied: String
        }
    }

    /// Sign in and not found: a message at most.
    struct Message: Encodable, Sendable {
        var title: String
        var sourceLabel: String?
        var message: String?
        /// The sign-in page: no sign-out button in its header.
        var signingIn = false
    }
}
