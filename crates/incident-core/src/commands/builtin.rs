//! The command groups the bot brings itself, beside the runbooks':
//! `/incident` and `/oncall`.

use super::{
    CommandSpec, IncidentOp, OptionKind, OptionSpec, SubcommandSpec, Target, INCIDENT_GROUP,
    MAX_REASON, MAX_TITLE, ONCALL_GROUP,
};

/// The built-in `/incident` group; `runbooks` are the ids an incident can
/// follow (the first is the default), `severities` every runbook's
/// severity ids (none: no `severity` subcommand), `prevention` the
/// runbooks' prevention items, offered as follow-ups.
pub fn incident_spec(
    runbooks: &[&str],
    severities: &[String],
    prevention: &[String],
) -> CommandSpec {
    let sub = |name: &str, description: &str, op, options| SubcommandSpec {
        name: name.into(),
        description: description.into(),
        target: Target::Incident(op),
        options,
    };
    let title = OptionSpec {
        name: "title".into(),
        description: "What is happening, in a few words".into(),
        required: true,
        kind: OptionKind::Text { max_len: MAX_TITLE },
    };
    let runbook = OptionSpec {
        name: "runbook".into(),
        description: "The runbook to follow (default: the first)".into(),
        required: false,
        kind: OptionKind::Choice {
            values: runbooks.iter().map(|r| r.to_string()).collect(),
        },
    };
    let summary = OptionSpec {
        name: "summary".into(),
        description: "What fixed it".into(),
        required: true,
        kind: OptionKind::Text {
            max_len: MAX_REASON,
        },
    };
    let mut subcommands = vec![
        sub(
            "open",
            "Open an incident with its own thread",
            IncidentOp::Open,
            vec![title, runbook],
        ),
        sub(
            "ack",
            "Acknowledge the incident of this thread",
            IncidentOp::Ack,
            vec![],
        ),
        sub(
            "resolve",
            "Resolve the incident of this thread",
            IncidentOp::Resolve,
            vec![summary],
        ),
        sub(
            "status",
            "Show the incident of this thread",
            IncidentOp::Status,
            vec![],
        ),
        sub(
            "list",
            "List open and recent incidents",
            IncidentOp::List,
            vec![],
        ),
        sub(
            "postmortem",
            "Post the incident's postmortem as Markdown",
            IncidentOp::Postmortem,
            vec![],
        ),
    ];
    subcommands.push(sub(
        "lead",
        "Name who leads the incident of this thread",
        IncidentOp::Lead,
        vec![OptionSpec {
            name: "member".into(),
            description: "Who leads it from now on".into(),
            required: true,
            kind: OptionKind::User,
        }],
    ));
    subcommands.extend(super::followups::subcommands(prevention));
    if !severities.is_empty() {
        let level = OptionSpec {
            name: "level".into(),
            description: "The new severity (highest first)".into(),
            required: true,
            kind: OptionKind::Choice {
                values: severities.to_vec(),
            },
        };
        subcommands.push(sub(
            "severity",
            "Change the severity of the incident of this thread",
            IncidentOp::Severity,
            vec![level],
        ));
    }
    CommandSpec {
        name: INCIDENT_GROUP.into(),
        description: "Open, acknowledge and resolve incidents".into(),
        subcommands,
    }
}

/// The built-in on-call roster group: `/oncall show` and `/oncall set`;
/// `roles` are the roster roles of all runbooks, lowest first.
pub fn oncall_spec(roles: &[String]) -> CommandSpec {
    CommandSpec {
        name: ONCALL_GROUP.into(),
        description: "Who is on the roster that escalations ping".into(),
        subcommands: vec![
            SubcommandSpec {
                name: "show".into(),
                description: "Show the on-call roster".into(),
                target: Target::Oncall { set: false },
                options: vec![],
            },
            SubcommandSpec {
                name: "set".into(),
                description: "Set who holds a roster role".into(),
                target: Target::Oncall { set: true },
                options: vec![
                    OptionSpec {
                        name: "role".into(),
                        description: "The roster role".into(),
                        required: true,
                        kind: OptionKind::Choice {
                            values: roles.to_vec(),
                        },
                    },
                    OptionSpec {
                        name: "member".into(),
                        description: "Who holds it from now on".into(),
                        required: true,
                        kind: OptionKind::User,
                    },
                ],
            },
        ],
    }
}
