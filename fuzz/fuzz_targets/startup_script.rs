//! Any request values in the boot script: either refused, or each value is plain (letters,
//! digits, '.', '-') and the script is the template with those values put in, so no request
//! value can add shell to what the server runs as root.
#![no_main]

use crusoe_ial::backends::crusoe::settings::BootSettings;
use crusoe_ial::backends::crusoe::{Boot, BootVars};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let mut parts = text.split('\u{0}');
    let mut next = || parts.next().unwrap_or("x").to_string();
    let (hostname, server_name, server_id, hub, location, model) =
        (next(), next(), next(), next(), next(), next());
    let mut settings = BootSettings::default();
    settings.ipxe_url = Some("https://ipxe.example/ipxe.efi".into());
    let boot = Boot::new(&settings).expect("the ipxe mode's script loads");
    let vars = BootVars {
        hostname: &hostname,
        server_name: &server_name,
        cycle_server_id: &server_id,
        hub_id: &hub,
        location: &location,
        model: &model,
    };
    if let Ok(script) = boot.render(&vars) {
        let script = script.expect("the ipxe mode gives every server a script");
        for value in [&hostname, &server_name, &server_id, &hub, &location, &model] {
            assert!(
                value.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-'),
                "accepted a value with other characters: {value:?}"
            );
        }
        assert!(script.starts_with("#!/bin/bash\n"));
        assert!(!script.contains("{{"), "every placeholder filled");
    }
});
