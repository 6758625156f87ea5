//! One HPACK header block, and a Huffman-coded string.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut decoder = berth::check::h2::Decoder::default();
    // Twice: the second block sees the dynamic table the first one left.
    let _ = decoder.decode(data);
    let _ = decoder.decode(data);
    let _ = berth::check::h2::huffman_decode(data);
});
