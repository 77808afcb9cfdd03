//! Replays the inputs kept for a fuzz target (its seed corpus and its crash regressions) through the target's own
//! function, so that a normal `cargo test` runs every input that ever crashed it. Compiled into the fuzz crate and,
//! by `#[path]`, into the test of the crate each target exercises.

use std::path::{Path, PathBuf};

/// Feeds every file under `<fuzz_dir>/corpus/<target>/` and `<fuzz_dir>/regressions/<target>/` to `run`, in name
/// order, and returns how many there were. A panic in `run` names the file.
pub fn replay(fuzz_dir: &Path, target: &str, run: impl Fn(&[u8])) -> usize {
    let mut replayed = 0;
    for kind in ["corpus", "regressions"] {
        for path in inputs(&fuzz_dir.join(kind).join(target)) {
            let data = std::fs::read(&path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
            eprintln!("replaying {}", path.display());
            run(&data);
            replayed += 1;
        }
    }
    replayed
}

fn inputs(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else { return Vec::new() };
    let mut paths: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .map(|entry| entry.path())
        .filter(|path| path.is_file() && !path.file_name().is_some_and(|name| name.to_string_lossy().starts_with('.')))
        .collect();
    paths.sort();
    paths
}
