//! Rules of the code's shape that keep promises by construction, checked
//! on the source itself.

use std::path::{Path, PathBuf};

fn sources(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("read src/") {
        let path = entry.expect("entry").path();
        if path.is_dir() {
            sources(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// No raw URL is split or formatted outside src/target.rs, so nothing else
/// can print a URL with its password, or read one by other rules: every
/// URL is a `Target`, parsed by the one grammar and printed by its
/// `Display`. (Unit tests at the end of a file may hold literal URLs.)
#[test]
fn urls_are_split_and_printed_only_by_the_target_module() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    sources(&root.join("src"), &mut files);
    assert!(files.len() > 20, "found {} sources", files.len());
    let mut found = Vec::new();
    for file in files.iter().filter(|f| !f.ends_with("src/target.rs")) {
        let text = std::fs::read_to_string(file).expect("read a source");
        let code = text.split("#[cfg(test)]").next().unwrap_or_default();
        for (n, line) in code.lines().enumerate() {
            let trimmed = line.trim_start();
            if trimmed.starts_with("//") {
                continue;
            }
            let splits = line.contains("(\"://\")");
            let formats = line.contains("://{") || line.contains("}://");
            if splits || formats {
                found.push(format!("{}:{}: {}", file.display(), n + 1, trimmed));
            }
        }
    }
    assert!(
        found.is_empty(),
        "URLs handled outside src/target.rs:\n{}",
        found.join("\n")
    );
}
