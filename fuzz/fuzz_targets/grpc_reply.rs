//! What a gRPC server sends back, as bytes after our request: HTTP/2 frames
//! through the client's conversation, then the reply through the verdict.
//! Must end in a reply or an error: never a panic, a hang or a huge
//! allocation.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(reply) = berth::check::h2::replay(data) {
        let _ = berth::check::grpc::verdict(&reply);
    }
});
