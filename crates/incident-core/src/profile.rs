//! Runbook step 3, profiling: the profiler the runbook declares for a
//! service, run inside its container; the output is for people to read, so
//! the verdict only says whether it ran cleanly and completely.

use super::runbook::Step;
use super::verdict::{Outcome, Verdict};
use serde::Serialize;

/// What a profiler run produced.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ProfileReport {
    pub service: String,
    pub container: String,
    /// The runbook's command, as it ran (argv joined for display).
    pub command: String,
    pub exit_code: Option<i64>,
    pub truncated: bool,
    pub timed_out: bool,
    /// The output (stdout and stderr), lossily decoded.
    pub output: String,
    pub verdict: Verdict,
}

/// What the adapter observed.
#[derive(Debug, Clone, PartialEq)]
pub struct ProfileRun {
    pub service: String,
    pub container: String,
    pub argv: Vec<String>,
    pub output: Vec<u8>,
    pub exit_code: Option<i64>,
    pub truncated: bool,
    pub timed_out: bool,
    pub timeout_secs: u32,
    pub max_output_kib: u32,
}

pub fn judge_profile(step: &Step, run: ProfileRun) -> ProfileReport {
    let output = String::from_utf8_lossy(&run.output).into_owned();
    let lines = output.lines().count();
    let (outcome, observed) = if run.timed_out {
        (
            Outcome::Warn,
            format!(
                "the profiler did not finish within {} s; {lines} line(s) of output so far",
                run.timeout_secs
            ),
        )
    } else if run.truncated {
        (
            Outcome::Warn,
            format!(
                "the output was cut at {} KiB ({lines} lines kept)",
                run.max_output_kib
            ),
        )
    } else {
        match run.exit_code {
            Some(0) => (
                Outcome::Pass,
                format!("the profiler ran in {} and printed {lines} line(s): read the top allocations in the attached file", run.container),
            ),
            Some(code) => (
                Outcome::Fail,
                format!("the profiler exited with status {code} in {} ({lines} line(s) of output)", run.container),
            ),
            None => (Outcome::Unknown, "the profiler's exit status is unknown".into()),
        }
    };
    ProfileReport {
        service: run.service,
        container: run.container,
        command: run.argv.join(" "),
        exit_code: run.exit_code,
        truncated: run.truncated,
        timed_out: run.timed_out,
        output,
        verdict: Verdict::of(step, observed, outcome, vec![], vec![]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runbook::Check;

    fn run(exit: Option<i64>, truncated: bool, timed_out: bool) -> ProfileRun {
        ProfileRun {
            service: "web".into(),
            container: "p-web-1".into(),
            argv: vec!["python".into(), "-c".into(), "print(1)".into()],
            output: b"a\nb\n".to_vec(),
            exit_code: exit,
            truncated,
            timed_out,
            timeout_secs: 60,
            max_output_kib: 256,
        }
    }

    #[test]
    fn outcomes() {
        let step = Step {
            id: "profile".into(),
            title: "t".into(),
            expected: "e".into(),
            if_different: "Identify and optimize memory-intensive operations".into(),
            shell: vec![],
            check: Check::OomScan {
                log_patterns: vec![],
            },
        };
        let cases = [
            (run(Some(0), false, false), Outcome::Pass),
            (run(Some(1), false, false), Outcome::Fail),
            (run(None, true, false), Outcome::Warn),
            (run(None, false, true), Outcome::Warn),
        ];
        for (r, want) in cases {
            let report = judge_profile(&step, r.clone());
            assert_eq!(report.verdict.outcome, want, "{r:?}");
            assert_eq!(report.command, "python -c print(1)");
        }
    }
}
