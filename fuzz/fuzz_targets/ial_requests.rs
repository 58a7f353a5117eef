//! Any body Cycle (or anyone) can send, decoded as every IAL endpoint decodes it: never a panic,
//! and whatever decodes serialises again and decodes to the same value.
#![no_main]

use crusoe_ial::ial::request::{decode, decode_auth_only, Wrapping};
use crusoe_ial::ial::types::*;
use libfuzzer_sys::fuzz_target;
use serde::de::DeserializeOwned;
use serde::Serialize;

fn round_trip<T: DeserializeOwned + Serialize + PartialEq + std::fmt::Debug>(
    body: &[u8],
    wrapping: Wrapping,
) {
    if let Ok(call) = decode::<T>(body, wrapping) {
        let again = serde_json::to_vec(&serde_json::json!({"auth": call.auth, "request": call.request}))
            .expect("a decoded request serialises");
        let back = decode::<T>(&again, Wrapping::Required).expect("a serialised request decodes");
        assert_eq!(back.request, call.request);
        assert_eq!(back.auth, call.auth);
    }
}

fuzz_target!(|body: &[u8]| {
    let _ = decode_auth_only(body);
    round_trip::<ConfigureLocation>(body, Wrapping::Required);
    round_trip::<ProvisionServer>(body, Wrapping::Required);
    round_trip::<ProvisionStatus>(body, Wrapping::Required);
    round_trip::<ServerRef>(body, Wrapping::Required);
    round_trip::<AllocateIp>(body, Wrapping::Required);
    round_trip::<ReleaseIp>(body, Wrapping::Optional);
});
