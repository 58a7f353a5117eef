//! The guest, as far as Crusoe's API can see it. The simulator runs no operating system and no
//! script; it models one thing a guest does that changes what Crusoe reports: a startup script
//! that powers the machine off leaves the VM in `STATE_SHUTOFF` one operation delay after each
//! boot (creation, start, reset), as a real guest does some time after its script runs. That is
//! what `crusoe-ial image build` waits for. A script powers off when one of its lines is
//! `poweroff`, `systemctl poweroff`, `shutdown -h now` or `echo o > /proc/sysrq-trigger`;
//! anything else a script says has no effect here.

const POWER_OFF: &[&str] = &[
    "poweroff",
    "systemctl poweroff",
    "shutdown -h now",
    "echo o > /proc/sysrq-trigger",
];

pub fn powers_off(script: &str) -> bool {
    script.lines().map(str::trim).any(|line| {
        POWER_OFF.iter().any(|cmd| {
            line == *cmd
                || line
                    .strip_prefix(cmd)
                    .is_some_and(|rest| rest.starts_with([' ', ';']))
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_power_off_command_powers_off() {
        assert!(powers_off(
            "#!/bin/bash\nset -e\n  echo o > /proc/sysrq-trigger\n"
        ));
        assert!(powers_off("#!/bin/bash\npoweroff || true\n"));
        assert!(powers_off("#!/bin/bash\nsystemctl poweroff\n"));
        assert!(!powers_off("#!/bin/bash\necho b > /proc/sysrq-trigger\n"));
        assert!(!powers_off("#!/bin/bash\n# poweroff\necho poweroff\n"));
        assert!(!powers_off("#!/bin/bash\npoweroffx\n"));
    }
}
