import DploySpec
import Foundation

extension PowerAction {
    /// Redfish reset types that do it, best first. Forced, because the callers (an install
    /// about to start, an operator in a hurry) do not wait on an OS to shut down.
    var resetTypes: [String] {
        switch self {
        case .on: ["On", "ForceOn", "PushPowerButton"]
        case .off: ["ForceOff", "GracefulShutdown", "PushPowerButton"]
        case .cycle: ["PowerCycle", "ForceRestart", "GracefulRestart"]
        }
    }
}

/// What a power request did.
public struct PowerResult: Hashable, Sendable, Codable {
    /// The reset type posted, or nil when the machine was already as asked.
    public var resetType: String?
    public var before: PowerState
}

extension RedfishClient {
    public func power() async throws -> PowerState {
        try await run { try $0.system().power }
    }

    /// Turns the machine on, off, or power-cycles it, with a reset type the BMC allows
    /// (`ResetType@Redfish.AllowableValues`). On when on and off when off do nothing; a
    /// cycle of a machine that is off turns it on (what an install wants).
    @discardableResult
    public func setPower(_ action: PowerAction) async throws -> PowerResult {
        try await run { try $0.setPower(action) }
    }

    /// The reset type for `action` among those the BMC allows (the preferred one when it
    /// does not say), or nil when none fits.
    public static func resetType(for action: PowerAction, allowed: [String]?) -> String? {
        guard let allowed, !allowed.isEmpty else { return action.resetTypes[0] }
        return action.resetTypes.first(where: allowed.contains)
    }

    /// Polls until the power state is `wanted`, or throws `.timeout`. BMCs apply a reset
    /// after a delay (sushy-tools: 1 to 11 s; real servers: POST may take minutes).
    @discardableResult
    public func waitForPower(_ wanted: PowerState, timeout: Duration, interval: Duration = .milliseconds(500)) async throws -> PowerState {
        let clock = ContinuousClock()
        let deadline = clock.now + timeout
        while true {
            let state = try await power()
            if state == wanted { return state }
            if clock.now >= deadline {
                throw BMCError(.timeout, address: endpoint.address, "the power state is still \(state) after \(timeout); wanted \(wanted)")
            }
            try await Task.sleep(for: interval)
        }
    }
}

extension RedfishConnection {
    func setPower(_ requested: PowerAction) throws -> PowerResult {
        let system = try system()
        var action = requested
        switch (action, system.power) {
        case (.on, .on), (.off, .off): return PowerResult(resetType: nil, before: system.power)
        case (.cycle, .off): action = .on
        default: break
        }
        guard let type = RedfishClient.resetType(for: action, allowed: system.resetTypes) else {
            throw error(.unsupported, "cannot power \(action.rawValue): the BMC allows only \((system.resetTypes ?? []).joined(separator: ", "))")
        }
        guard let target = system.resetTarget else {
            throw error(.unsupported, "the system offers no #ComputerSystem.Reset action")
        }
        _ = try send(.post, target, body: .object(["ResetType": .string(type)]), doing: "\(action.rawValue) (\(type))")
        return PowerResult(resetType: type, before: system.power)
    }
}
