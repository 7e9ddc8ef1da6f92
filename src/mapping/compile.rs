//! Loads a mapping file and its scripts and checks everything, collecting every problem (with the
//! file and, where known, line and column) instead of stopping at the first.

use crate::mapping::Mapping;
use std::path::Path;

/// Every problem found while loading a mapping, one per line when displayed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoadError {
    pub problems: Vec<String>,
}

impl std::fmt::Display for LoadError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for (i, p) in self.problems.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            f.write_str(p)?;
        }
        Ok(())
    }
}

impl std::error::Error for LoadError {}

/// Reads and compiles the mapping at `path` (scripts are resolved relative to it).
/// `base_url_override` is the config's `app.base_url`, if any.
pub fn load_mapping(path: &Path, base_url_override: Option<&str>) -> Result<Mapping, LoadError> {
    let text = std::fs::read_to_string(path).map_err(|e| LoadError {
        problems: vec![format!("{}: cannot read: {e}", path.display())],
    })?;
    load_mapping_str(&text, path, base_url_override, &|p| {
        std::fs::read_to_string(p)
    })
}

/// Compiles a mapping from text; `read` loads scripts (so the demo can embed its files).
pub fn load_mapping_str(
    text: &str,
    path: &Path,
    base_url_override: Option<&str>,
    read: &dyn Fn(&Path) -> std::io::Result<String>,
) -> Result<Mapping, LoadError> {
    let _ = (text, base_url_override, read);
    Err(LoadError {
        problems: vec![format!(
            "{}: mapping compilation not implemented",
            path.display()
        )],
    })
}
