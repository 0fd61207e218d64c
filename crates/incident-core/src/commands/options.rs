//! The options of a runbook's subcommands, from its steps' checks and its
//! actions' effects.

use super::{clip, OptionKind, OptionSpec, SilenceOp, SubcommandSpec, Target, MAX_REASON};
use crate::runbook::{ActionEffect, Check, Paging};

pub(super) fn step_options(check: &Check) -> Vec<OptionSpec> {
    match check {
        Check::MemoryTrend { window_minutes, .. } => vec![
            service("The service to watch", vec![]),
            OptionSpec {
                name: "window".into(),
                description: format!("Minutes of history to fit (default {window_minutes})"),
                required: false,
                kind: OptionKind::Integer {
                    min: 1,
                    max: 7 * 24 * 60,
                },
            },
        ],
        Check::ExecProfile { profilers, .. } => vec![service(
            "The service to profile",
            profilers.iter().map(|p| p.service.clone()).collect(),
        )],
        Check::ContainerMemory(_)
        | Check::PgConnections { .. }
        | Check::OomScan { .. }
        | Check::HttpProbe { .. } => vec![],
    }
}

pub(super) fn action_options(effect: &ActionEffect) -> Vec<OptionSpec> {
    match effect {
        ActionEffect::RestartService { services, .. } => {
            vec![service("The service to restart", services.clone())]
        }
        ActionEffect::CloseIdleConnections {
            default_older_than_minutes,
            ..
        } => vec![OptionSpec {
            name: "older_than".into(),
            description: format!(
                "Close sessions idle longer than this many minutes (default {default_older_than_minutes}; 0: all)"
            ),
            required: false,
            kind: OptionKind::Integer {
                min: 0,
                max: 24 * 60,
            },
        }],
        ActionEffect::RecreateWithCommand { params, .. } => params
            .iter()
            .map(|p| OptionSpec {
                name: p.name.clone(),
                description: clip(&format!("{} to {} (default {})", p.min, p.max, p.default)),
                required: false,
                kind: OptionKind::Integer {
                    min: p.min,
                    max: p.max,
                },
            })
            .collect(),
    }
}

fn service(description: &str, allowed: Vec<String>) -> OptionSpec {
    OptionSpec {
        name: "service".into(),
        description: description.into(),
        required: true,
        kind: OptionKind::Service { allowed },
    }
}

pub(super) fn reason(description: &str) -> OptionSpec {
    OptionSpec {
        name: "reason".into(),
        description: description.into(),
        required: true,
        kind: OptionKind::Text {
            max_len: MAX_REASON,
        },
    }
}

/// `id:`, the number of a recorded thing (a silence, a follow-up),
/// required.
pub(super) fn id_option(description: &str) -> OptionSpec {
    OptionSpec {
        name: "id".into(),
        description: description.into(),
        required: true,
        kind: OptionKind::Integer {
            min: 1,
            max: i64::MAX,
        },
    }
}

/// `host:`, a fleet's node, optional.
pub(super) fn host_option(description: &str) -> OptionSpec {
    OptionSpec {
        name: "host".into(),
        description: description.into(),
        required: false,
        kind: OptionKind::Host,
    }
}

/// `silence`, `silences` and `unsilence`, for a runbook that pages.
pub(super) fn silence_subcommands(paging: &Paging) -> Vec<SubcommandSpec> {
    let sub = |name: &str, description: &str, op, options| SubcommandSpec {
        name: name.into(),
        description: description.into(),
        target: Target::Silence(op),
        options,
    };
    let minutes = OptionSpec {
        name: "minutes".into(),
        description: format!(
            "How long (default {}, at most {})",
            paging.silence_default_minutes, paging.silence_max_minutes
        ),
        required: false,
        kind: OptionKind::Integer {
            min: 1,
            max: i64::from(paging.silence_max_minutes),
        },
    };
    let id = id_option("The silence's number (see silences)");
    vec![
        sub(
            "silence",
            "Silence a service's alerts and pages for planned work",
            SilenceOp::Add,
            vec![
                service("The service, or all", vec![]),
                minutes,
                reason("Why (shown in every report while it lasts)"),
            ],
        ),
        sub("silences", "The silences in force", SilenceOp::List, vec![]),
        sub("unsilence", "End a silence now", SilenceOp::End, vec![id]),
    ]
}
