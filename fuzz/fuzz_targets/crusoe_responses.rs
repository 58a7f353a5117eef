//! Any bytes a Crusoe endpoint (or something pretending to be one) answers: decoding them as the
//! client does never panics.
#![no_main]

use crusoe_sdk::types::*;
use crusoe_sdk::ApiError;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|body: &[u8]| {
    let _ = serde_json::from_slice::<VmPage>(body);
    let _ = serde_json::from_slice::<Vm>(body);
    let _ = serde_json::from_slice::<Operation>(body);
    let _ = serde_json::from_slice::<AsyncOperationResponse>(body);
    let _ = serde_json::from_slice::<Items<Disk>>(body);
    let _ = serde_json::from_slice::<Items<VpcNetwork>>(body);
    let _ = serde_json::from_slice::<Items<VpcSubnet>>(body);
    let _ = serde_json::from_slice::<Items<FirewallRule>>(body);
    let _ = serde_json::from_slice::<Items<LoadBalancer>>(body);
    let _ = serde_json::from_slice::<Items<VmType>>(body);
    let _ = serde_json::from_slice::<Items<Capacity>>(body);
    let _ = serde_json::from_slice::<Project>(body);
    for status in [400, 401, 403, 404, 409, 429, 500, 503] {
        let _ = ApiError::from_body(status, body);
    }
});
