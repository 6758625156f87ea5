//! Configuration from the environment, for compose files and Kubernetes
//! manifests. Every variable may instead name a file with `NAME_FILE`, the
//! convention of the official Docker images for secrets.

use crate::exit::{Error, usage};

/// The value of `name`, or the contents of the file named by `name_FILE`
/// (one trailing newline removed). Both set is an error, as in the official
/// images: it is ambiguous which one the user meant.
pub fn var(name: &str) -> Result<Option<String>, Error> {
    let file_var = format!("{name}_FILE");
    let direct = std::env::var_os(name);
    let file = std::env::var_os(&file_var);
    match (direct, file) {
        (Some(_), Some(_)) => Err(usage(format!(
            "both {name} and {file_var} are set; unset one of them"
        ))),
        (Some(v), None) => v
            .into_string()
            .map(Some)
            .map_err(|_| usage(format!("{name} is not valid UTF-8"))),
        (None, Some(path)) => {
            let text = std::fs::read_to_string(&path).map_err(|e| {
                usage(format!(
                    "{file_var}: cannot read {}: {}",
                    path.to_string_lossy(),
                    crate::exit::io_reason(&e)
                ))
            })?;
            let text = text.strip_suffix('\n').unwrap_or(&text);
            let text = text.strip_suffix('\r').unwrap_or(text);
            Ok(Some(text.to_string()))
        }
        (None, None) => Ok(None),
    }
}

/// A yes/no variable: 1/true/yes/on or 0/false/no/off (empty is no).
pub fn flag(name: &str) -> Result<bool, Error> {
    match var(name)?
        .as_deref()
        .map(str::to_ascii_lowercase)
        .as_deref()
    {
        None | Some("" | "0" | "false" | "no" | "off") => Ok(false),
        Some("1" | "true" | "yes" | "on") => Ok(true),
        Some(other) => Err(usage(format!(
            "{name}={other}: expected 1/true/yes or 0/false/no"
        ))),
    }
}

/// A list: the flag's values when given, else the variable split on `sep`
/// (empty items dropped).
pub fn list(flag_values: Vec<String>, name: &str, sep: char) -> Result<Vec<String>, Error> {
    if !flag_values.is_empty() {
        return Ok(flag_values);
    }
    Ok(var(name)?
        .map(|v| {
            v.split(sep)
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(String::from)
                .collect()
        })
        .unwrap_or_default())
}

/// A list of URLs: the flag's values when given, else the variable split
/// where another URL starts (`target::split_list`), so a ',' in a password
/// or a PostgreSQL host list stays in its URL.
pub fn urls(flag_values: Vec<String>, name: &str) -> Result<Vec<String>, Error> {
    if !flag_values.is_empty() {
        return Ok(flag_values);
    }
    Ok(var(name)?
        .map(|v| crate::target::split_list(&v))
        .unwrap_or_default())
}

/// A single value: the flag's when given, else the variable's.
pub fn one(flag_value: Option<String>, name: &str) -> Result<Option<String>, Error> {
    match flag_value {
        Some(v) => Ok(Some(v)),
        None => var(name),
    }
}

/// For tests of what reads the environment through a lookup function
/// (PostgreSQL's and MySQL's connection settings): these variables only.
#[cfg(test)]
pub fn fixed(
    vars: &'static [(&'static str, &'static str)],
) -> impl Fn(&str) -> Result<Option<String>, String> {
    move |name| {
        Ok(vars
            .iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.to_string()))
    }
}
