/// Why the plan does something, or why a machine is as it is: a stable code for programs
/// and alerts, and a sentence for people. Codes never change meaning once released; a new
/// situation gets a new code. `docs/plan.md` lists them all, and `schemas/plan.schema.json`
/// enumerates them (a test keeps the two in step with `Code.allCases`).
public struct Reason: Hashable, Sendable, Codable, CustomStringConvertible {
    public enum Code: String, CaseIterable, Hashable, Sendable, Codable {
        // A machine's plan: why it is in the plan at all.
        /// In git, and none of its boot files exist yet.
        case newMachine
        /// The installed generation is below the desired one: it reinstalls.
        case generationBehind
        /// Its boot files differ from what its spec renders now.
        case bootFilesChanged
        /// The install of the desired generation failed: it boots its disk until the generation changes.
        case installFailed
        /// It is installing the desired generation now: no power step interrupts it.
        case installInProgress
        /// A reinstall is owed but the machine has no BMC: it happens at its next network boot.
        case noBMC
        /// The BMC reports a power state other than the desired one.
        case powerDrift
        /// A firmware component is below its baseline.
        case firmwareDrift
        /// The baseline names models and the BMC reports another: left as it is.
        case firmwareModelMismatch
        /// BIOS attributes differ from the machine's `bios.attributes`, and the pending settings do not hold them yet.
        case biosDrift
        /// Logical drives in `storage.logicalDrives` are missing on free drives: they are created.
        case raidDrift
        /// A RAID step deletes (or changes) logical drives that exist, allowed by `allowDestructive` or a reinstall: their data is lost.
        case raidDestructive
        /// It is in its imaging environment: BMC steps wait until the run ends.
        case imagingInProgress
        /// Gone from git while its files remain (or its files sit under a MAC it no longer has).
        case orphaned

        // One action: why this step.
        /// A file dploy writes that does not exist yet.
        case fileMissing
        /// A file whose contents differ from the render.
        case fileChanged
        /// A file the machine no longer needs (an installer answer after the install).
        case fileNotNeeded
        /// The shared iPXE entry script every loader chains into.
        case ipxeEntry
        /// GRUB's first config, which loads each machine's own from dploy.
        case grubEntry
        /// The DHCP configuration: the reservations of the fleet.
        case dhcpReservations
        /// The DHCP configuration changed, so the server rereads it.
        case dhcpChanged
        /// An earlier apply changed the DHCP files but its reload did not finish.
        case dhcpReloadOwed

        // A task's pending runs.
        /// A task never run before: once on each target.
        case newTask
        /// The task was edited since it last ran: once more on each target.
        case taskEdited
        /// The task ran at this revision, and new machines match it since.
        case newTargets

        // Notes: things the plan leaves alone, and says so.
        /// Machines removed from git keep their files because prune is off.
        case pruneDisabled
        /// More removals than `prune.maxRemovals` allows in one apply.
        case removalsHeldBack
        /// A machine booted and reported itself, and no Machine document names it.
        case discoveredNotInGit
        /// A task whose targets match no machine.
        case taskTargetsNothing
        /// Profiles boot pxelinux or GRUB, but DHCP gives those machines iPXE: no TFTP served, or GRUB behind a proxyDHCP.
        case loaderNotServed
        /// BIOS attributes dploy wrote to the pending settings: the BIOS takes them at the machine's next reboot.
        case biosPendingReboot
        /// Its BIOS refuses `bios.attributes` (a name it does not list, a value of another type): its BIOS step is withheld, the rest of the fleet is planned.
        case biosInvalid
        /// Its BIOS attributes differ, but the BIOS names no settings object to write them to: no BIOS step is planned.
        case biosNoSettings
        /// It has `bios` and its BMC was read, but its BIOS settings could not be: nothing is planned for them, and the error says why.
        case biosUnread
        /// A RAID change would delete or change logical drives that exist, and the machine allows no destruction: that part is withheld.
        case raidDestructiveWithheld
        /// Smart Array changes dploy wrote to SmartStorageConfig: the controller takes them at the machine's next reboot.
        case raidPendingReboot
        /// Its controllers cannot take `storage.logicalDrives` as written (drives it does not have or that stay in use, a RAID level it does not create): its RAID step is withheld.
        case raidInvalid
        /// It has `storage` and its BMC was read, but its storage could not be: nothing is planned for it, and the error says why.
        case raidUnread
        /// A BMC job (firmware, BIOS) for this step is queued or running: the plan adds none, and says how far it is.
        case bmcJobActive
        /// A firmware job for this exact step failed: it is not flashed again until the baseline changes or `dploy jobs retry` queues it.
        case bmcJobFailed
        /// A firmware job for this exact step succeeded, yet the inventory still reports the old version (it activates at a reboot): not flashed again.
        case firmwareFlashed
        /// Its power and boot steps wait for its BMC job: no reset while firmware is flashed or BIOS settings are written.
        case waitsForBMCJob
        /// The boot-once or power cycle that starts this generation's reinstall was sent: not sent again while the machine boots.
        case reinstallStarted
        /// A phase of a rollout (a baseline's, or a group's BIOS and RAID settings; canaries, a wave): its machines and where it stands or when it starts.
        case rolloutPhase
        /// A rollout failed more jobs than its `maxFailures`: nothing more starts until `dploy rollout resume` or an edit of what it rolls out.
        case rolloutHalted
        /// A rollout is outside its window: nothing starts until it opens.
        case rolloutWindowClosed
        /// The machine's firmware (or BIOS and RAID) steps wait for its turn in the rollout, or failed in it.
        case rolloutWaiting
    }

    public var code: Code
    public var message: String

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { message }
}
