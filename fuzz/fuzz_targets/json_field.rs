//! `check http --json-field`: any spec against any body, no panic and no
//! runaway recursion; and what is found in a body is found the same way
//! when the body is wrapped in an object (`{"w": BODY}`, path `w.PATH`).

#![no_main]

use berth::check::json::Field;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // The spec up to the first newline, the body after it.
    let Some(nl) = data.iter().position(|&b| b == b'\n') else {
        return;
    };
    let Ok(spec) = std::str::from_utf8(&data[..nl]) else {
        return;
    };
    let body = &data[nl + 1..];
    let Ok(field) = Field::parse(spec) else {
        return;
    };
    let verdict = field.check(body);
    let wrapped_field = Field::parse(&format!("w.{spec}")).expect("a prefixed spec parses");
    let mut wrapped = b"{\"w\": ".to_vec();
    wrapped.extend_from_slice(body);
    wrapped.push(b'}');
    let again = wrapped_field.check(&wrapped);
    // Healthy alone, healthy wrapped (one level deeper stays within the
    // nesting bound only if the body did: skip bodies at the bound).
    if verdict.is_ok() && !again.as_ref().is_err_and(|e| e.contains("nested deeper")) {
        assert!(again.is_ok(), "{spec:?}: {verdict:?} alone, {again:?} wrapped");
    }
});
