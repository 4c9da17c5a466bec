import DployApply
import DployBMC
import DployPlan

/// One RAID step on one controller, on the job worker's thread: exactly what the plan said.
enum RAIDApply {
    static func run(_ change: RAIDChange, on driver: BMCDriver) throws {
        switch change.interface {
        case .smartStorageConfig:
            // One request: the controller validates the whole array at its next reboot.
            try driver.writeSmartStorageConfig(change.target, keep: change.keep, delete: change.delete, create: change.create,
                                               ifMatch: change.ifMatch)
        case .volumes:
            // Deletions first: a changed volume's drives are free only once it is gone.
            for volume in change.delete { try driver.deleteVolume(volume.id) }
            for drive in change.create {
                let drives = change.drivePaths[drive.name] ?? []
                guard drives.count == drive.drives.count else {
                    throw BMCStepRefused("the plan found no drive links for the volume \(drive.name); nothing more was sent")
                }
                try driver.createVolume(in: change.target, drive, drives: drives, spares: change.sparePaths[drive.name] ?? [])
            }
        }
    }
}
