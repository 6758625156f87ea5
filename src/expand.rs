//! `${NAME}` in the arguments of `berth check` and `berth wait` and in
//! `berth run`'s own flags, for exec-form
//! `HEALTHCHECK ["/berth", "check", "http://127.0.0.1:${PORT}/"]`, exec-form
//! ENTRYPOINTs and Kubernetes exec probes, which no shell expands. The one
//! rule:
//!
//! - `${NAME}` is the variable's value (or, as for every variable berth
//!   reads, the contents of the file `NAME_FILE` names: `crate::env::var`);
//!   unset, it is an error that names it;
//! - `${NAME:-default}` is the value, or `default` when the variable is
//!   unset or empty (the shell's meaning); the default is taken as written
//!   and may not hold another `${` (no nesting: one level is all a probe
//!   needs, and `}` ends the first);
//! - `$$` is one `$`;
//! - any other `$` is itself: `$NAME` without braces is *not* expanded, so
//!   a password with a `$` in it keeps working, and `${` is the only
//!   syntax to learn (Docker's exec form expands nothing at all).
//!
//! A value that came from a variable may be a secret. Report lines print
//! URLs through the grammar, which masks passwords; error messages may echo
//! an argument, so `args` hands every expanded argument (and every
//! substituted value) with how it was written to `log::show_as_written`,
//! and `log::error` shows each as written.

use crate::exit::{Error, usage};

/// Values shorter than this are not searched for in error lines: they
/// would match unrelated text ("1" in "argument 1"), and are no secret.
const MIN_HIDDEN: usize = 4;

/// Expands every argument (the one rule above) and remembers how each was
/// written, for error lines.
#[inline(never)] // its own frame, not main's: see `dispatch` in main.rs
pub fn args(args: &[&str]) -> Result<Vec<String>, Error> {
    let mut out = Vec::with_capacity(args.len());
    let mut whole = Vec::new();
    let mut values = Vec::new();
    for &arg in args {
        let expanded = one(arg, &mut |name, value| {
            if value.len() >= MIN_HIDDEN {
                values.push((value.to_string(), format!("${{{name}}}")));
            }
        })?;
        if expanded != arg {
            whole.push((expanded.clone(), arg.to_string()));
        }
        out.push(expanded);
    }
    // Whole arguments first: a value inside one goes with it.
    whole.extend(values);
    crate::log::show_as_written(whole);
    Ok(out)
}

/// Expands one argument; `seen(name, value)` is told each substitution.
pub fn one(arg: &str, seen: &mut dyn FnMut(&str, &str)) -> Result<String, Error> {
    let mut out = String::with_capacity(arg.len());
    let mut rest = arg;
    while let Some(i) = rest.find('$') {
        out.push_str(&rest[..i]);
        let after = &rest[i + 1..];
        if let Some(tail) = after.strip_prefix('$') {
            out.push('$');
            rest = tail;
        } else if let Some(body) = after.strip_prefix('{') {
            let end = body.find('}').ok_or_else(|| {
                usage("'${' without its '}' in an argument: write ${NAME}, or $$ for a '$'")
            })?;
            out.push_str(&value(&body[..end], seen)?);
            rest = &body[end + 1..];
        } else {
            out.push('$');
            rest = after;
        }
    }
    out.push_str(rest);
    Ok(out)
}

/// The text of `${inside}`: NAME or NAME:-default.
fn value(inside: &str, seen: &mut dyn FnMut(&str, &str)) -> Result<String, Error> {
    let (name, default) = match inside.split_once(":-") {
        Some((n, d)) if d.contains("${") => {
            return Err(usage(format!(
                "${{{n}:-...}} in an argument: a default cannot hold another ${{...}}"
            )));
        }
        Some((n, d)) => (n, Some(d)),
        None => (inside, None),
    };
    let valid = name.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if !valid {
        let shown: String = name.chars().filter(|c| !c.is_control()).take(40).collect();
        return Err(usage(format!(
            "'${{{shown}...}}' in an argument: expected ${{NAME}} or ${{NAME:-default}} \
             (NAME: letters, digits, '_'); $$ is a literal '$'"
        )));
    }
    match (crate::env::var(name)?, default) {
        (Some(v), Some(d)) if v.is_empty() => Ok(d.to_string()),
        (Some(v), _) => {
            seen(name, &v);
            Ok(v)
        }
        (None, Some(d)) => Ok(d.to_string()),
        (None, None) => Err(usage(format!(
            "${{{name}}} in an argument: {name} is not set (set it, or give a default: ${{{name}:-VALUE}})"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn expand(arg: &str) -> Result<String, String> {
        one(arg, &mut |_, _| {}).map_err(|e| e.to_string())
    }

    // Variables named for these tests alone: the test binary's other
    // threads never read or write them.
    #[test]
    fn the_rule() {
        unsafe {
            std::env::set_var("BERTH_EXPAND_T_PORT", "8080");
            std::env::set_var("BERTH_EXPAND_T_EMPTY", "");
            std::env::remove_var("BERTH_EXPAND_T_UNSET");
        }
        let ok = |arg: &str, want: &str| assert_eq!(expand(arg).unwrap(), want, "{arg}");
        ok(
            "http://127.0.0.1:${BERTH_EXPAND_T_PORT}/health",
            "http://127.0.0.1:8080/health",
        );
        ok("${BERTH_EXPAND_T_PORT}${BERTH_EXPAND_T_PORT}", "80808080");
        ok("${BERTH_EXPAND_T_UNSET:-5432}", "5432");
        ok("${BERTH_EXPAND_T_EMPTY:-dflt}", "dflt");
        ok("${BERTH_EXPAND_T_EMPTY}", "");
        ok("${BERTH_EXPAND_T_PORT:-1}", "8080");
        ok("${BERTH_EXPAND_T_UNSET:-}", "");
        ok("${BERTH_EXPAND_T_UNSET:-a:-b}", "a:-b");
        ok("$$", "$");
        ok("$${BERTH_EXPAND_T_PORT}", "${BERTH_EXPAND_T_PORT}");
        ok("p@$$w0rd", "p@$w0rd");
        ok("$BERTH_EXPAND_T_PORT", "$BERTH_EXPAND_T_PORT");
        ok("pa$word$", "pa$word$");
        ok("no dollar", "no dollar");
        ok("", "");
        ok("é${BERTH_EXPAND_T_UNSET:-ü}ß", "éüß");

        let err = |arg: &str, want: &str| {
            let e = expand(arg).unwrap_err();
            assert!(e.contains(want), "{arg}: {e}");
        };
        err(
            "x${BERTH_EXPAND_T_UNSET}",
            "${BERTH_EXPAND_T_UNSET} in an argument: BERTH_EXPAND_T_UNSET is not set",
        );
        err("${BERTH_EXPAND_T_PORT", "without its '}'");
        err("${}", "expected ${NAME}");
        err("${1X}", "expected ${NAME}");
        err("${A B}", "expected ${NAME}");
        err("${A-b}", "expected ${NAME}");
        err("${A:-${B}}", "a default cannot hold another ${...}");
    }

    #[test]
    fn the_file_convention_holds_here_too() {
        let dir = std::env::temp_dir().join(format!("berth-expand-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("secret");
        std::fs::write(&file, "from-a-file\n").unwrap();
        unsafe {
            std::env::set_var("BERTH_EXPAND_T_SECRET_FILE", &file);
        }
        let mut seen = Vec::new();
        let got = one("redis://:${BERTH_EXPAND_T_SECRET}@h", &mut |n, v| {
            seen.push((n.to_string(), v.to_string()))
        })
        .unwrap();
        assert_eq!(got, "redis://:from-a-file@h");
        assert_eq!(
            seen,
            [(
                "BERTH_EXPAND_T_SECRET".to_string(),
                "from-a-file".to_string()
            )]
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
