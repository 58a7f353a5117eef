//! Deterministic names: every resource the bridge makes is named from Cycle's ids, so that any
//! replica, after any crash, finds what exists with one list call (design decision 1 in ARCHITECTURE.md).
//! `server_id`, the bridge's id Cycle keeps, is the VM's name.

use super::error::CoreError;

pub const PREFIX: &str = "cycle-";
/// Longest id accepted from Cycle (its object ids have 24 characters).
const MAX_ID: usize = 40;

/// An id from Cycle that goes into a resource name: letters, digits and `-` only.
pub fn cycle_id<'a>(id: &'a str, pointer: &str) -> Result<&'a str, CoreError> {
    let ok = !id.is_empty()
        && id.len() <= MAX_ID
        && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        && !id.starts_with('-')
        && !id.ends_with('-');
    if ok {
        Ok(id)
    } else {
        Err(CoreError::invalid(
            format!(
                "{pointer} must be 1 to {MAX_ID} letters, digits or inner dashes, got {:?}",
                shown(id)
            ),
            pointer,
        ))
    }
}

fn shown(id: &str) -> String {
    id.chars()
        .take(48)
        .map(|c| if c.is_control() { '?' } else { c })
        .collect()
}

/// The VM of a Cycle server; also the `server_id` returned to Cycle.
pub fn server_name(cycle_server_id: &str) -> String {
    format!("{PREFIX}{cycle_server_id}")
}

/// Checks a `server_id` Cycle sends back: it must be one the bridge made.
pub fn parse_server_id(server_id: &str, pointer: &str) -> Result<String, CoreError> {
    match server_id.strip_prefix(PREFIX) {
        Some(rest) => cycle_id(rest, pointer).map(server_name),
        None => Err(CoreError::invalid(
            format!(
                "{pointer} {:?} is not a server id this bridge issued",
                shown(server_id)
            ),
            pointer,
        )),
    }
}

pub fn data_disk_name(server_name: &str) -> String {
    format!("{server_name}-data")
}

/// The hub's own network, subnets and firewall rules.
pub fn network_name(hub: &str) -> String {
    format!("{PREFIX}hub-{hub}")
}

pub fn subnet_name(hub: &str, location: &str) -> String {
    format!("{PREFIX}hub-{hub}-{location}")
}

pub fn firewall_rule_name(hub: &str, protocol: &str) -> String {
    format!("{PREFIX}hub-{hub}-ingress-{protocol}")
}

/// The load balancer holding the address of one Cycle server in one IP pool.
pub fn ip_load_balancer_name(server_name: &str, pool: &str) -> String {
    format!("{server_name}-ip-{pool}")
}

/// The prefix of every load balancer made for a server.
pub fn ip_load_balancer_prefix(server_name: &str) -> String {
    format!("{server_name}-ip-")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_derived_from_cycle_ids() {
        let vm = server_name("5f1e2d3c4b5a69788796a5b4");
        assert_eq!(vm, "cycle-5f1e2d3c4b5a69788796a5b4");
        assert_eq!(data_disk_name(&vm), "cycle-5f1e2d3c4b5a69788796a5b4-data");
        assert_eq!(parse_server_id(&vm, "/request/server_id").unwrap(), vm);
        assert!(ip_load_balancer_name(&vm, "p1").starts_with(&ip_load_balancer_prefix(&vm)));
    }

    #[test]
    fn hostile_or_foreign_ids_are_refused() {
        for bad in [
            "",
            "../x",
            "a/b",
            "x?y",
            "a b",
            "a\nb",
            "-a",
            "é",
            &"a".repeat(41),
        ] {
            assert!(cycle_id(bad, "/p").is_err(), "{bad:?}");
        }
        for bad in ["vm-123", "cycle-", "cycle-../x", "CYCLE-abc"] {
            assert!(parse_server_id(bad, "/p").is_err(), "{bad:?}");
        }
        let err = parse_server_id("cycle-a\u{7}b", "/request/server_id").unwrap_err();
        assert!(!err.to_string().contains('\u{7}'));
    }
}
