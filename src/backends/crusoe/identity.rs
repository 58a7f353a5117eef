//! The identity provision-status reports, in the form Cycle's iPXE presents it when the server
//! boots: iPXE prints `${uuid}` (the SMBIOS system UUID, which is Crusoe's VM id) in lower case,
//! and `${net0/mac}` in lower case with colons. Crusoe's own spelling may differ, so both are
//! normalised here rather than passed through.

/// A VM id as iPXE's `${uuid}` spells the machine's SMBIOS UUID.
pub fn smbios_uuid(vm_id: &str) -> Result<String, String> {
    uuid::Uuid::try_parse(vm_id.trim())
        .map(|u| u.hyphenated().to_string())
        .map_err(|_| {
            format!(
                "Crusoe's VM id {vm_id:?} is not a UUID, so it cannot be the machine's SMBIOS UUID"
            )
        })
}

/// A MAC address as iPXE's `${net0/mac}` spells it: six lower-case hex pairs joined by colons.
/// Crusoe's may come with colons or dashes, in either case.
pub fn ipxe_mac(mac: &str) -> Result<String, String> {
    let bad = || format!("Crusoe's MAC address {mac:?} is not six hexadecimal pairs");
    let pairs: Vec<&str> = mac.trim().split([':', '-']).collect();
    if pairs.len() != 6
        || !pairs
            .iter()
            .all(|p| p.len() == 2 && p.bytes().all(|b| b.is_ascii_hexdigit()))
    {
        return Err(bad());
    }
    Ok(pairs.join(":").to_ascii_lowercase())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uuids_come_out_as_ipxe_prints_them() {
        for id in [
            "5D9C8D8E-3F0A-4B7E-9A55-1A2B3C4D5E6F",
            "5d9c8d8e-3f0a-4b7e-9a55-1a2b3c4d5e6f",
            " 5d9c8d8e3f0a4b7e9a551a2b3c4d5e6f ",
        ] {
            assert_eq!(
                smbios_uuid(id).unwrap(),
                "5d9c8d8e-3f0a-4b7e-9a55-1a2b3c4d5e6f"
            );
        }
        assert!(smbios_uuid("vm-42").is_err());
    }

    #[test]
    fn macs_come_out_lower_case_with_colons() {
        for mac in [
            "02:AB:cd:00:11:22",
            "02-ab-CD-00-11-22",
            "02:ab:cd:00:11:22",
        ] {
            assert_eq!(ipxe_mac(mac).unwrap(), "02:ab:cd:00:11:22");
        }
        for bad in [
            "",
            "02:ab:cd:00:11",
            "02:ab:cd:00:11:2g",
            "02ab.cd00.1122",
            "2:ab:cd:0:11:22",
        ] {
            assert!(ipxe_mac(bad).is_err(), "{bad}");
        }
    }
}
