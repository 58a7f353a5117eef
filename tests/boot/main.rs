//! The boot tests: the ipxe mode's startup script run for real and the disk it makes booted in
//! QEMU (`qemu.rs`), the whole chain on a live Linux VM (`live.rs`), and CloudSigma's boot of
//! Cycle's ISO from an IDE CD-ROM (`cd_rom.rs`).
//!
//! A test binary of their own, apart from the end-to-end tests (`tests/e2e`): every boot is QEMU
//! in software emulation, a host core busy for 7 to 40 s per boot (minutes for a live VM) with a
//! GiB of memory, and the test runner runs two tests at a time. Their timeouts are set for the
//! boots running two at a time with nothing else on a 2-core machine, and beside them the
//! end-to-end tests' own timing (answers within 200 ms, read and request time limits) would be
//! starved of the cores. Run alone with `cargo test --test boot`.

#[path = "../common/mod.rs"]
mod common;

mod cd_rom;
mod cloudsigma;
mod live;
mod qemu;
