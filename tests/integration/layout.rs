//! The workspace's shape, held by tests so it cannot drift back:
//! - the core crate's normal dependency tree holds no runtime, socket, terminal, HTTP or candle
//!   crate (`cargo tree -p microstate-core -e normal`);
//! - no two top-level modules of one crate import each other, directly or around a longer
//!   cycle, and neither do the submodules of one module folder;
//! - every crate's `lib.rs` (and every module file) opens with a `//!` doc.
//!
//! The import graph is read from the sources: `crate::m`, `super::m` (from a top-level module file)
//! and `use crate::{a, b::c}` groups. Test modules (`#[cfg(test)]` to the end of the file) are not
//! part of the graph: a test may reach anywhere.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Crates whose `src` folder the checks walk (the app at the root, then every member).
fn crate_sources() -> Vec<(String, PathBuf)> {
    let mut out = vec![("microstate-tui".to_string(), root().join("src"))];
    let mut names: Vec<_> = std::fs::read_dir(root().join("crates"))
        .expect("crates/ is readable")
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| p.join("src").is_dir())
        .collect();
    names.sort();
    for p in names {
        let name = p
            .file_name()
            .map(|n| format!("microstate-{}", n.to_string_lossy()))
            .unwrap_or_default();
        out.push((name, p.join("src")));
    }
    out
}

fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d)
            .expect("readable source folder")
            .flatten()
        {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|x| x == "rs") {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

/// The source without its trailing `#[cfg(test)]` module, and without comments.
fn code_of(path: &Path) -> String {
    let text = std::fs::read_to_string(path).expect("readable source file");
    let text = match text.find("#[cfg(test)]\nmod tests") {
        Some(i) => &text[..i],
        None => &text[..],
    };
    text.lines()
        .map(|l| match l.find("//") {
            Some(i) => &l[..i],
            None => l,
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Names that follow `prefix` in `code` (`crate::` → `book`, `engine`, …), including the names
/// inside a `prefix{a, b::c}` group.
fn names_after(code: &str, prefix: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let mut rest = code;
    while let Some(i) = rest.find(prefix) {
        let before = rest[..i].chars().last();
        rest = &rest[i + prefix.len()..];
        if before.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == ':') {
            continue;
        }
        if let Some(group) = rest.strip_prefix('{') {
            let end = group.find('}').unwrap_or(group.len());
            for item in group[..end].split(',') {
                let head: String = item
                    .trim()
                    .chars()
                    .take_while(|c| c.is_alphanumeric() || *c == '_')
                    .collect();
                if !head.is_empty() {
                    out.insert(head);
                }
            }
        } else {
            let head: String = rest
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect();
            if !head.is_empty() {
                out.insert(head);
            }
        }
    }
    out
}

/// Top-level modules of a folder holding `lib.rs`/`main.rs`/`mod.rs`: name → its files.
fn modules_of(dir: &Path) -> BTreeMap<String, Vec<PathBuf>> {
    let mut out = BTreeMap::new();
    for e in std::fs::read_dir(dir).expect("readable folder").flatten() {
        let p = e.path();
        let name = p
            .file_stem()
            .map(|s| s.to_string_lossy().to_string())
            .unwrap_or_default();
        if p.is_dir() {
            if p.join("mod.rs").is_file() {
                out.insert(name, rust_files(&p));
            }
        } else if p.extension().is_some_and(|x| x == "rs")
            && !["lib", "main", "mod"].contains(&name.as_str())
        {
            out.insert(name, vec![p]);
        }
    }
    out
}

/// Import edges between the modules of one folder. `crate_path` is how code names the folder
/// (`crate::` for a crate root, `crate::engine::` for a module folder).
fn edges(
    mods: &BTreeMap<String, Vec<PathBuf>>,
    crate_path: &str,
) -> BTreeMap<String, BTreeSet<String>> {
    let mut out = BTreeMap::new();
    for (m, files) in mods {
        let mut to = BTreeSet::new();
        for f in files {
            let code = code_of(f);
            let mut seen = names_after(&code, crate_path);
            // `super::x` from a file directly in the folder names a sibling.
            if f.parent().is_some_and(|p| mods_dir_of(mods, p))
                || f.file_name().is_some_and(|n| n == "mod.rs")
            {
                seen.extend(names_after(&code, "super::"));
            }
            to.extend(seen.into_iter().filter(|o| o != m && mods.contains_key(o)));
        }
        out.insert(m.clone(), to);
    }
    out
}

/// Whether `p` is the folder whose modules `mods` lists (a plain file's parent).
fn mods_dir_of(mods: &BTreeMap<String, Vec<PathBuf>>, p: &Path) -> bool {
    mods.values()
        .any(|fs| fs.len() == 1 && fs[0].parent() == Some(p))
}

/// The cycles of a graph (strongly connected components with more than one node).
fn cycles(g: &BTreeMap<String, BTreeSet<String>>) -> Vec<Vec<String>> {
    // Kosaraju: order by finish time, then walk the reversed graph.
    fn visit(
        v: &str,
        g: &BTreeMap<String, BTreeSet<String>>,
        seen: &mut BTreeSet<String>,
        out: &mut Vec<String>,
    ) {
        if !seen.insert(v.to_string()) {
            return;
        }
        for w in g.get(v).into_iter().flatten() {
            visit(w, g, seen, out);
        }
        out.push(v.to_string());
    }
    let mut order = Vec::new();
    let mut seen = BTreeSet::new();
    for v in g.keys() {
        visit(v, g, &mut seen, &mut order);
    }
    let mut rev: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (v, ws) in g {
        rev.entry(v.clone()).or_default();
        for w in ws {
            rev.entry(w.clone()).or_default().insert(v.clone());
        }
    }
    let mut seen = BTreeSet::new();
    let mut out = Vec::new();
    for v in order.iter().rev() {
        let mut comp = Vec::new();
        visit(v, &rev, &mut seen, &mut comp);
        if comp.len() > 1 {
            comp.sort();
            out.push(comp);
        }
    }
    out
}

#[test]
fn no_import_cycle_between_modules_of_one_crate() {
    let mut found = Vec::new();
    for (krate, src) in crate_sources() {
        let mods = modules_of(&src);
        for c in cycles(&edges(&mods, "crate::")) {
            found.push(format!("{krate}: {}", c.join(" ↔ ")));
        }
        // One level down: the submodules of each module folder.
        for (m, files) in &mods {
            if files.len() > 1 || files[0].file_name().is_some_and(|n| n == "mod.rs") {
                let dir = src.join(m);
                let sub = modules_of(&dir);
                for c in cycles(&edges(&sub, &format!("crate::{m}::"))) {
                    found.push(format!("{krate}::{m}: {}", c.join(" ↔ ")));
                }
            }
        }
    }
    assert!(found.is_empty(), "import cycles:\n{}", found.join("\n"));
}

#[test]
fn the_cycle_finder_finds_cycles() {
    let g: BTreeMap<String, BTreeSet<String>> = [
        ("a", vec!["b"]),
        ("b", vec!["c"]),
        ("c", vec!["a"]),
        ("d", vec!["a"]),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.into_iter().map(String::from).collect()))
    .collect();
    assert_eq!(cycles(&g), vec![vec!["a", "b", "c"]]);
    assert_eq!(
        names_after(
            "use crate::{book::Side, engine};\nlet x = crate::view::View;",
            "crate::"
        ),
        ["book", "engine", "view"].map(String::from).into()
    );
}

#[test]
fn every_module_says_what_it_owns() {
    let mut missing = Vec::new();
    for (_, src) in crate_sources() {
        for f in rust_files(&src) {
            let text = std::fs::read_to_string(&f).expect("readable");
            if !text.trim_start().starts_with("//!") {
                missing.push(f.strip_prefix(root()).unwrap_or(&f).display().to_string());
            }
        }
    }
    assert!(
        missing.is_empty(),
        "files without an opening //! doc:\n{}",
        missing.join("\n")
    );
}

#[test]
fn core_cannot_reach_io() {
    let out = std::process::Command::new(env!("CARGO"))
        .args([
            "tree",
            "--offline",
            "-p",
            "microstate-core",
            "-e",
            "normal",
            "--prefix",
            "none",
            "--format",
            "{p}",
        ])
        .current_dir(root())
        .output()
        .expect("cargo tree runs");
    assert!(
        out.status.success(),
        "cargo tree failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let tree = String::from_utf8_lossy(&out.stdout);
    let names: BTreeSet<&str> = tree
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .collect();
    assert!(names.contains("microstate-core"), "{tree}");
    let forbidden = [
        "tokio",
        "ratatui",
        "crossterm",
        "tokio-tungstenite",
        "tungstenite",
        "candle-core",
        "candle-nn",
        "hyper",
        "reqwest",
        "axum",
        "rustls",
        "mio",
        "zstd",
        "flate2",
    ];
    let bad: Vec<_> = forbidden.iter().filter(|f| names.contains(*f)).collect();
    assert!(
        bad.is_empty(),
        "the core's normal dependencies include {bad:?}:\n{tree}"
    );
}
