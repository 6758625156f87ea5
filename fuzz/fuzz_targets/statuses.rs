//! `--status` lists: no panic; what parses prints back to a list that parses
//! to the same thing, and allows exactly the codes in its ranges.

#![no_main]

use berth::check::http::Statuses;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(statuses) = Statuses::parse(text) else {
        return;
    };
    let printed = statuses.to_string();
    let again = Statuses::parse(&printed).expect("a printed list parses");
    assert_eq!(again, statuses, "{text:?} printed as {printed:?}");
    for code in 0..1100u16 {
        let listed = text.split(',').any(|item| match item.split_once('-') {
            Some((lo, hi)) => (lo.trim().parse::<u16>().unwrap()
                ..=hi.trim().parse::<u16>().unwrap())
                .contains(&code),
            None => item.trim().parse::<u16>().unwrap() == code,
        });
        assert_eq!(statuses.allows(code), listed, "{text:?} and {code}");
    }
});
