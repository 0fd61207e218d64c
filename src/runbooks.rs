//! Reads runbook files from disk and applies configuration to them.
//!
//! The parsing and validation rules live in `core::runbook`; this module does
//! the file I/O around them and the rules that span files (one command group
//! per runbook id). Every problem in every file is reported, not just the
//! first.

use crate::config::Settings;
use crate::core::runbook::{Problem, Runbook};
use std::path::{Path, PathBuf};

/// Loads every `*.toml` in `dir`, in file-name order.
pub fn load_dir(dir: &Path) -> Result<Vec<(PathBuf, Runbook)>, Vec<Problem>> {
    let whole_dir = |message: String| {
        vec![Problem {
            origin: dir.display().to_string(),
            line: 0,
            column: 0,
            message,
        }]
    };
    let entries = std::fs::read_dir(dir).map_err(|e| {
        whole_dir(format!(
            "cannot read the runbook directory: {e} (set runbooks.dir in the config, or run from the directory holding commands/)"
        ))
    })?;
    let mut paths: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "toml") && p.is_file())
        .collect();
    paths.sort();
    if paths.is_empty() {
        return Err(whole_dir("no runbook files (*.toml) here".into()));
    }

    let mut problems = Vec::new();
    let mut loaded: Vec<(PathBuf, Runbook)> = Vec::new();
    for path in paths {
        let origin = path.display().to_string();
        let parsed = std::fs::read_to_string(&path)
            .map_err(|e| {
                vec![Problem {
                    origin: origin.clone(),
                    line: 0,
                    column: 0,
                    message: format!("cannot read: {e}"),
                }]
            })
            .and_then(|text| Runbook::parse(&text, &origin));
        match parsed {
            Ok(rb) => {
                if let Some((first, _)) = loaded.iter().find(|(_, other)| other.id() == rb.id()) {
                    problems.push(Problem {
                        origin,
                        line: 1,
                        column: 1,
                        message: format!(
                            "runbook id '{}' is already used by {}: each runbook is its own command group",
                            rb.id(),
                            first.display()
                        ),
                    });
                } else {
                    loaded.push((path, rb));
                }
            }
            Err(mut found) => problems.append(&mut found),
        }
    }
    if problems.is_empty() {
        Ok(loaded)
    } else {
        Err(problems)
    }
}

/// The runbooks the settings point at, with threshold overrides applied.
pub fn load_configured(settings: &Settings) -> Result<Vec<Runbook>, Vec<Problem>> {
    let mut runbooks: Vec<Runbook> = load_dir(&settings.runbooks.dir)?
        .into_iter()
        .map(|(_, rb)| rb)
        .collect();
    let mut problems = Vec::new();
    for (id, steps) in &settings.thresholds {
        match runbooks.iter_mut().find(|rb| rb.id() == id) {
            Some(rb) => {
                if let Err(mut found) = rb.apply_overrides(steps, "configuration") {
                    problems.append(&mut found);
                }
            }
            None => problems.push(Problem {
                origin: "configuration".into(),
                line: 0,
                column: 0,
                message: format!("thresholds.{id}: no runbook has the id '{id}'"),
            }),
        }
    }
    if problems.is_empty() {
        Ok(runbooks)
    } else {
        Err(problems)
    }
}
