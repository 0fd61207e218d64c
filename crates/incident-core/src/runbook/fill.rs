//! Filling a runbook-declared command with typed values: the only way a
//! number a person typed reaches an argv, and only where the runbook put a
//! `{placeholder}` for a declared, range-checked parameter.

use super::check::{placeholders, ActionParam};

/// The argv a `recreate_with_command` action runs: the runbook's command
/// with each `{name}` replaced by the typed value of that parameter (or its
/// default). Values outside a parameter's range are refused here too.
pub fn fill_command(
    command: &[String],
    params: &[ActionParam],
    values: &std::collections::BTreeMap<String, i64>,
) -> Result<Vec<String>, String> {
    let mut filled = Vec::with_capacity(command.len());
    for arg in command {
        let mut out = arg.clone();
        for name in placeholders(arg) {
            let p = params
                .iter()
                .find(|p| p.name == name)
                .ok_or_else(|| format!("{{{name}}} is not a declared parameter"))?;
            let v = values.get(name).copied().unwrap_or(p.default);
            if !(p.min..=p.max).contains(&v) {
                return Err(format!(
                    "{name} must be between {} and {}, not {v}",
                    p.min, p.max
                ));
            }
            out = out.replace(&format!("{{{name}}}"), &v.to_string());
        }
        filled.push(out);
    }
    Ok(filled)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    #[test]
    fn placeholders_take_typed_values_or_defaults() {
        let params = vec![
            ActionParam {
                name: "concurrency".into(),
                min: 1,
                max: 16,
                default: 2,
            },
            ActionParam {
                name: "max_tasks_per_child".into(),
                min: 1,
                max: 10000,
                default: 100,
            },
        ];
        let cmd: Vec<String> = [
            "celery",
            "-A",
            "rota",
            "worker",
            "--concurrency={concurrency}",
            "--max-tasks-per-child={max_tasks_per_child}",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        let got = fill_command(
            &cmd,
            &params,
            &BTreeMap::from([("concurrency".to_string(), 4)]),
        )
        .unwrap();
        assert_eq!(got[4..], ["--concurrency=4", "--max-tasks-per-child=100"]);
        let err = fill_command(
            &cmd,
            &params,
            &BTreeMap::from([("concurrency".to_string(), 99)]),
        )
        .unwrap_err();
        assert!(err.contains("between 1 and 16"), "{err}");
    }
}
