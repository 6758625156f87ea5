//! Arguments are bytes: `to_text` then `to_bytes` gives back exactly the
//! bytes, valid UTF-8 outside the escape range stays as it was, and a flag
//! value is accepted exactly when its bytes are UTF-8.

#![no_main]

use berth::argv;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = argv::to_text(data);
    assert_eq!(argv::to_bytes(&text), data);
    match std::str::from_utf8(data) {
        Ok(s) if !s.chars().any(|c| c >= '\u{10FF80}') => assert_eq!(text, s),
        _ => {}
    }
    let own = argv::own(text, "--flag");
    assert_eq!(own.is_ok(), std::str::from_utf8(data).is_ok());
    if let Ok(value) = own {
        assert_eq!(value.as_bytes(), data);
    }
});
