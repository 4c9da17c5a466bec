import Foundation

/// Kea DHCPv4: a complete configuration with global host reservations and client classes
/// for network boot, in Kea's JSON format. Subnets and interfaces stay the operator's:
/// they are merged in with Kea's `<?include?>` or by copying.
///
/// Kea cannot test a reservation's class in another class's test without the operator's
/// pools requiring it, so a machine whose profile boots pxelinux or GRUB gets its loader
/// from its reservation, whatever its architecture: pxelinux for BIOS machines, GRUB for
/// UEFI ones (`DHCPBootOptions` says which pair boots what).
public enum KeaConfig {
    public static func config(_ hosts: [DHCPHost], boot: DHCPBootOptions) -> String {
        var reservations: [[String: Any]] = []
        for host in hosts.sorted(by: { $0.name < $1.name }) {
            var reservation: [String: Any] = ["hw-address": host.mac.description, "hostname": host.dhcpName]
            if let ip = host.ipv4 { reservation["ip-address"] = ip }
            switch host.loader {
            case .ipxe: break
            case .pxelinux:
                reservation["boot-file-name"] = boot.pxelinuxFile
                // Sent although the PXE ROM does not ask for it: pxelinux reads that answer.
                reservation["option-data"] = [["name": "dploy-pxelinux-path-prefix", "data": boot.pxelinuxPathPrefix,
                                               "always-send": true]]
            case .grub:
                reservation["boot-file-name"] = boot.grubFile
            }
            reservations.append(reservation)
        }
        let config: [String: Any] = [
            "Dhcp4": [
                "interfaces-config": ["interfaces": [String]()],
                "reservations-global": true,
                "reservations-in-subnet": false,
                "reservations": reservations,
                "option-def": [["name": "dploy-pxelinux-path-prefix", "code": 210, "type": "string", "space": "dhcp4"]],
                "client-classes": [
                    ["name": "ipxe", "test": "option[77].hex == 'iPXE'", "boot-file-name": boot.entryScriptURL],
                    ["name": "efi-http", "test": "not member('ipxe') and substring(option[60].hex,0,10) == 'HTTPClient'",
                     "boot-file-name": boot.httpBootURL, "option-data": [["name": "vendor-class-identifier", "data": "HTTPClient"]]],
                    ["name": "efi-x86_64",
                     "test": "not member('ipxe') and not member('efi-http') and (option[93].hex == 0x0007 or option[93].hex == 0x0009)",
                     "boot-file-name": boot.uefiFile],
                    ["name": "bios", "test": "not member('ipxe') and not member('efi-http') and not member('efi-x86_64')",
                     "boot-file-name": boot.biosFile],
                ],
            ] as [String: Any],
        ]
        let data = try! JSONSerialization.data(withJSONObject: config, options: [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes])
        return String(decoding: data, as: UTF8.self) + "\n"
    }
}
