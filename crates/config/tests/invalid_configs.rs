//! Invalid configs as data: every `tests/invalid/<case>.toml` must be refused with exactly the
//! message in `tests/invalid/<case>.expected` (the file is named `<case>.toml` in it).
//!
//! Owns: running the folder and reporting every mismatch at once. Must not touch: the checks
//! (the crate's sections own them). To add a case, write the `.toml` (first line: a comment
//! saying what is wrong) and its `.expected`; `UPDATE_EXPECTED=1 cargo test -p
//! microstate-config --test invalid_configs` writes the `.expected` files of mismatching cases
//! from what the config says now, and still fails, so the new text is read in `git diff` before
//! it is kept.

use std::path::{Path, PathBuf};

use microstate_config::Config;

/// The `.toml` and `.expected` files of the folder, each list sorted.
fn cases(dir: &Path) -> (Vec<PathBuf>, Vec<PathBuf>) {
    let mut tomls = Vec::new();
    let mut expected = Vec::new();
    for entry in std::fs::read_dir(dir).expect("tests/invalid is a folder") {
        let path = entry.expect("a folder entry").path();
        match path.extension().and_then(|e| e.to_str()) {
            Some("toml") => tomls.push(path),
            Some("expected") => expected.push(path),
            _ => panic!(
                "{}: only .toml and .expected files belong here",
                path.display()
            ),
        }
    }
    tomls.sort();
    expected.sort();
    (tomls, expected)
}

#[test]
fn every_invalid_config_is_refused_with_its_message() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/invalid");
    let (tomls, expected) = cases(&dir);
    assert!(
        tomls.len() >= 70,
        "only {} cases in {}: files went missing",
        tomls.len(),
        dir.display()
    );
    let update = std::env::var_os("UPDATE_EXPECTED").is_some();
    let mut problems = Vec::new();

    for path in &expected {
        if !path.with_extension("toml").is_file() {
            problems.push(format!("{}: no .toml beside it", path.display()));
        }
    }
    for path in &tomls {
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .expect("a UTF-8 file name");
        let text = std::fs::read_to_string(path).expect("a readable case");
        let got = match Config::from_toml(&text, name) {
            Ok(_) => {
                problems.push(format!("{name}: accepted, but it must be refused"));
                continue;
            }
            Err(e) => e.to_string(),
        };
        let want_path = path.with_extension("expected");
        let want = std::fs::read_to_string(&want_path).ok();
        if want.as_deref().map(|w| w.trim_end_matches('\n')) == Some(got.as_str()) {
            continue;
        }
        if update {
            std::fs::write(&want_path, format!("{got}\n")).expect("write .expected");
            problems.push(format!("{name}: wrote {}", want_path.display()));
        } else {
            problems.push(match want {
                None => format!("{name}: no .expected beside it; the config says\n    {got}"),
                Some(w) => format!(
                    "{name}:\n  expected: {}\n  got:      {got}",
                    w.trim_end_matches('\n')
                ),
            });
        }
    }
    assert!(
        problems.is_empty(),
        "{} of {} invalid configs in {} are off:\n\n{}\n",
        problems.len(),
        tomls.len(),
        dir.display(),
        problems.join("\n\n")
    );
}
