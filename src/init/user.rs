//! `--user USER[:GROUP]`: names and numbers resolved the way `docker run
//! --user` resolves them, against the image's /etc/passwd and /etc/group
//! (musl reads those files directly: no NSS, so it works FROM scratch).

use nix::unistd::{Gid, Group, Uid, User, getgrouplist};

use super::spawn::Credentials;
use crate::exit::{Error, usage};

pub fn resolve(spec: &str) -> Result<Credentials, Error> {
    let bad = |why: String| usage(format!("--user/BERTH_USER '{spec}': {why}"));
    let (user, group) = match spec.split_once(':') {
        Some((u, g)) => (u, Some(g)),
        None => (spec, None),
    };
    if user.is_empty() {
        return Err(bad("no user given".into()));
    }
    let lookup_err = |e: nix::Error| bad(format!("cannot read the user database: {}", e.desc()));
    // A number need not exist in /etc/passwd (as in Docker); a name must.
    let entry = match user.parse::<u32>() {
        Ok(n) => User::from_uid(Uid::from_raw(n)).map_err(lookup_err)?,
        Err(_) => Some(
            User::from_name(user)
                .map_err(lookup_err)?
                .ok_or_else(|| bad(format!("no user '{user}' in /etc/passwd")))?,
        ),
    };
    let uid = match (&entry, user.parse::<u32>()) {
        (_, Ok(n)) => Uid::from_raw(n),
        (Some(e), Err(_)) => e.uid,
        (None, Err(_)) => unreachable!("a name without an entry was rejected above"),
    };
    let gid = match group {
        Some("") => return Err(bad("empty group".into())),
        Some(g) => match g.parse::<u32>() {
            Ok(n) => Gid::from_raw(n),
            Err(_) => {
                Group::from_name(g)
                    .map_err(lookup_err)?
                    .ok_or_else(|| bad(format!("no group '{g}' in /etc/group")))?
                    .gid
            }
        },
        None => entry.as_ref().map_or(Gid::from_raw(0), |e| e.gid),
    };
    // Supplementary groups from /etc/group when the user has a name there;
    // otherwise just the primary group, so none of berth's own groups leak
    // to the app.
    let groups = match &entry {
        Some(e) => {
            let name =
                std::ffi::CString::new(e.name.as_str()).map_err(|_| bad("bad user name".into()))?;
            getgrouplist(&name, gid).map_err(lookup_err)?
        }
        None => vec![gid],
    };
    Ok(Credentials { uid, gid, groups })
}
