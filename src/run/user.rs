//! `--user USER[:GROUP]`: names and numbers resolved the way `docker run
//! --user` resolves them, against the image's /etc/passwd and /etc/group.
//!
//! berth reads those two files itself, as musl does (no NSS, so it works FROM
//! scratch): the lookup is then a pure function of the spec and the files'
//! contents, which the fuzz target `user` exercises.

use nix::unistd::{Gid, Uid};

use super::spawn::Credentials;
use crate::exit::{Error, usage};

/// Resolves `spec` against the system's /etc/passwd and /etc/group. A
/// missing file is an empty database (a FROM scratch image may have none:
/// numbers still work).
pub fn resolve(spec: &str) -> Result<Credentials, Error> {
    let read = |path: &str| match std::fs::read(path) {
        Ok(bytes) => Ok(bytes),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
        Err(e) => Err(usage(format!(
            "--user/BERTH_USER '{spec}': cannot read {path}: {}",
            crate::exit::io_reason(&e)
        ))),
    };
    resolve_in(spec, &read("/etc/passwd")?, &read("/etc/group")?)
}

/// One entry of /etc/passwd or /etc/group: name, then the numeric field
/// (uid or gid), then what follows (the group's members).
struct Entry<'a> {
    name: &'a [u8],
    id: u32,
    /// /etc/passwd: gid:gecos:home:shell; /etc/group: the comma-separated
    /// members.
    rest: &'a [u8],
}

/// The well-formed entries of a passwd (`name:x:uid:gid:...`) or group
/// (`name:x:gid:members`) file; malformed lines are skipped, as the C
/// libraries skip them.
fn entries(file: &[u8]) -> impl Iterator<Item = Entry<'_>> {
    file.split(|&b| b == b'\n').filter_map(|line| {
        let mut fields = line.splitn(4, |&b| b == b':');
        let name = fields.next().filter(|n| !n.is_empty())?;
        let _password = fields.next()?;
        let id = number(fields.next()?)?;
        let rest = fields.next()?;
        Some(Entry { name, id, rest })
    })
}

/// A decimal id; text, not a number, is `None`.
fn number(field: &[u8]) -> Option<u32> {
    std::str::from_utf8(field).ok()?.parse().ok()
}

/// `resolve` on given file contents.
pub fn resolve_in(spec: &str, passwd: &[u8], group_file: &[u8]) -> Result<Credentials, Error> {
    let bad = |why: String| usage(format!("--user/BERTH_USER '{spec}': {why}"));
    let (user, group) = match spec.split_once(':') {
        Some((u, g)) => (u, Some(g)),
        None => (spec, None),
    };
    if user.is_empty() {
        return Err(bad("no user given".into()));
    }
    // A number need not exist in /etc/passwd (as in Docker); a name must.
    let numeric = user.parse::<u32>().ok();
    let entry = match numeric {
        Some(n) => entries(passwd).find(|e| e.id == n),
        None => Some(
            entries(passwd)
                .find(|e| e.name == user.as_bytes())
                .ok_or_else(|| bad(format!("no user '{user}' in /etc/passwd")))?,
        ),
    };
    let uid = numeric.or(entry.as_ref().map(|e| e.id)).unwrap_or(0);
    let primary = entry.as_ref().and_then(|e| number(passwd_field(e.rest, 0)));
    // The passwd entry's home, or "/" for a user it does not list: what
    // `docker run --user` and gosu give the process.
    let home = entry
        .as_ref()
        .map(|e| passwd_field(e.rest, 2))
        .filter(|h| !h.is_empty())
        .unwrap_or(b"/")
        .to_vec();
    let gid = match group {
        Some("") => return Err(bad("empty group".into())),
        Some(g) => match g.parse::<u32>() {
            Ok(n) => n,
            Err(_) => {
                entries(group_file)
                    .find(|e| e.name == g.as_bytes())
                    .ok_or_else(|| bad(format!("no group '{g}' in /etc/group")))?
                    .id
            }
        },
        None => primary.unwrap_or(0),
    };
    // Supplementary groups from /etc/group when the user has a name there
    // (as getgrouplist(3) finds them); otherwise just the primary group, so
    // none of berth's own groups leak to the app.
    let mut groups = vec![gid];
    if let Some(e) = &entry {
        for g in entries(group_file) {
            let member = g.rest.split(|&b| b == b',').any(|m| m == e.name);
            if member && !groups.contains(&g.id) {
                groups.push(g.id);
            }
        }
    }
    Ok(Credentials {
        uid: Uid::from_raw(uid),
        gid: Gid::from_raw(gid),
        groups: groups.into_iter().map(Gid::from_raw).collect(),
        home,
    })
}

/// Field `n` of what follows the uid in a passwd entry (gid, gecos, home,
/// shell); empty when missing.
fn passwd_field(rest: &[u8], n: usize) -> &[u8] {
    rest.split(|&b| b == b':').nth(n).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    const PASSWD: &[u8] = b"root:x:0:0:root:/root:/bin/sh\n\
        broken line\n\
        app:x:1000:1000::/app:/bin/false\n\
        bad:x:notanumber:1:::\n";
    const GROUP: &[u8] = b"root:x:0:\napp:x:1000:\nlogs:x:4:app,other\nweb:x:33:app\n";

    fn ids(spec: &str) -> (u32, u32, Vec<u32>) {
        let c = resolve_in(spec, PASSWD, GROUP).unwrap();
        (
            c.uid.as_raw(),
            c.gid.as_raw(),
            c.groups.iter().map(|g| g.as_raw()).collect(),
        )
    }

    #[test]
    fn names_numbers_and_groups() {
        assert_eq!(ids("app"), (1000, 1000, vec![1000, 4, 33]));
        assert_eq!(ids("app:logs"), (1000, 4, vec![4, 33]));
        assert_eq!(ids("1000"), (1000, 1000, vec![1000, 4, 33]));
        // A number unknown to /etc/passwd is taken as is, with group 0.
        assert_eq!(ids("4242"), (4242, 0, vec![0]));
        assert_eq!(ids("4242:7"), (4242, 7, vec![7]));
        let home = |spec| resolve_in(spec, PASSWD, GROUP).unwrap().home;
        assert_eq!(home("root"), b"/root");
        assert_eq!(home("1000:4"), b"/app");
        assert_eq!(home("4242"), b"/");
        for bad in ["", ":0", "nobody", "app:", "app:nogroup", "bad"] {
            assert!(resolve_in(bad, PASSWD, GROUP).is_err(), "{bad}");
        }
    }
}
