//! `--user USER[:GROUP]` against any /etc/passwd and /etc/group contents.
//! Input: `SPEC \0 PASSWD \0 GROUP`. No panic; a numeric user is that uid;
//! the primary group comes first among the groups, with no repeats.

#![no_main]

use berth::run::user::resolve_in;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut parts = data.splitn(3, |&b| b == 0);
    let spec = String::from_utf8_lossy(parts.next().unwrap_or_default());
    let passwd = parts.next().unwrap_or_default();
    let group = parts.next().unwrap_or_default();
    let Ok(c) = resolve_in(&spec, passwd, group) else {
        return;
    };
    let (user, gid) = spec.split_once(':').unwrap_or((&spec, ""));
    if let Ok(n) = user.parse::<u32>() {
        assert_eq!(c.uid.as_raw(), n);
    }
    if let Ok(n) = gid.parse::<u32>() {
        assert_eq!(c.gid.as_raw(), n);
    }
    assert_eq!(c.groups.first(), Some(&c.gid));
    for (i, g) in c.groups.iter().enumerate() {
        assert!(!c.groups[..i].contains(g), "{:?} repeats {g}", c.groups);
    }
});
