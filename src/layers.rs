//! The layers of the crate, lowest first, and the test that keeps imports
//! pointing down them: a module may use its own layer and the ones below,
//! never a stage later in the flow. Shared vocabulary is layer 0 so that no
//! stage has to reach into another for a date or a tier name.
//!
//! The check reads `src/` as text: every `crate::NAME` outside a comment is
//! an edge from the file's top-level module to `NAME`.

/// Top-level modules by layer; the flow is config → storage → sources →
/// quality → transforms → sinks → manifest, and `run` walks it.
const LAYERS: &[&[&str]] = &[
    &[
        "error",
        "calendar",
        "domain",
        "host",
        "crashpoint",
        "memory",
        "progress",
    ],
    &["config"],
    &["storage", "scratch", "session", "lock"],
    &["sources"],
    &["quality"],
    &["transforms"],
    &["sinks"],
    &["summary", "manifest", "report"],
    &["run", "backfill", "sample", "inspect", "cluster"],
    &["signals"],
];

fn layer_of(module: &str) -> Option<usize> {
    LAYERS.iter().position(|l| l.contains(&module))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::{Path, PathBuf};

    fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                rust_files(&path, out);
            } else if path.extension().is_some_and(|e| e == "rs") {
                out.push(path);
            }
        }
    }

    /// `src/sources/csv.rs` → `sources`; `None` for the crate roots.
    fn module_of(src: &Path, file: &Path) -> Option<String> {
        let first = file.strip_prefix(src).ok()?.components().next()?;
        let name = first.as_os_str().to_str()?.trim_end_matches(".rs");
        (!matches!(name, "lib" | "main" | "layers")).then(|| name.to_owned())
    }

    /// The top-level modules a file names as `crate::NAME`.
    fn uses(text: &str) -> Vec<String> {
        let names = regex::Regex::new(r"\bcrate::([a-z_]+)").unwrap();
        text.lines()
            .filter(|line| !line.trim_start().starts_with("//"))
            .flat_map(|line| names.captures_iter(line).map(|c| c[1].to_owned()))
            .collect()
    }

    #[test]
    fn every_module_has_a_layer() {
        let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
        let mut files = Vec::new();
        rust_files(&src, &mut files);
        let unplaced: Vec<String> = files
            .iter()
            .filter_map(|f| module_of(&src, f))
            .filter(|m| layer_of(m).is_none())
            .collect();
        assert!(unplaced.is_empty(), "not in LAYERS: {unplaced:?}");
    }

    #[test]
    fn no_module_imports_from_a_later_stage() {
        let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
        let mut files = Vec::new();
        rust_files(&src, &mut files);
        let mut upward = Vec::new();
        for file in &files {
            let Some(module) = module_of(&src, file) else {
                continue;
            };
            let own = layer_of(&module).unwrap_or(0);
            for used in uses(&std::fs::read_to_string(file).unwrap()) {
                if layer_of(&used).is_some_and(|l| l > own) {
                    upward.push(format!("{} uses crate::{used}", file.display()));
                }
            }
        }
        assert!(
            upward.is_empty(),
            "imports up the flow:\n{}",
            upward.join("\n")
        );
    }

    #[test]
    fn the_check_sees_an_upward_import() {
        assert_eq!(uses("use crate::sinks::x;\n// crate::run\n"), ["sinks"]);
        assert!(layer_of("sinks") > layer_of("sources"));
    }
}
