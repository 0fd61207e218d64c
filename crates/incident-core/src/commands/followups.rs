//! The follow-up subcommands of `/incident`: `followup add|done|list` (a
//! subcommand group) and `followups`.

use super::{IncidentOp, OptionKind, OptionSpec, SubcommandSpec, Target, MAX_REASON};

/// Longest follow-up text.
pub const MAX_FOLLOWUP: u16 = 200;

/// Discord's caps on a choice's value and on the number of choices.
const MAX_CHOICE: usize = 100;
const MAX_CHOICES: usize = 25;

/// The subcommands; `prevention` (the runbooks' items) are offered as
/// choices of `followup add item:` (those that fit Discord's choices).
pub(super) fn subcommands(prevention: &[String]) -> Vec<SubcommandSpec> {
    let sub = |name: &str, description: &str, op, options| SubcommandSpec {
        name: name.into(),
        description: description.into(),
        target: Target::Incident(op),
        options,
    };
    let items: Vec<String> = prevention
        .iter()
        .filter(|p| !p.is_empty() && p.chars().count() <= MAX_CHOICE)
        .take(MAX_CHOICES)
        .cloned()
        .collect();
    let mut add = Vec::new();
    if !items.is_empty() {
        add.push(OptionSpec {
            name: "item".into(),
            description: "One of the runbook's prevention items".into(),
            required: false,
            kind: OptionKind::Choice { values: items },
        });
    }
    add.extend([
        OptionSpec {
            name: "text".into(),
            description: "Or what is to be done, in your words".into(),
            required: false,
            kind: OptionKind::Text {
                max_len: MAX_FOLLOWUP.min(MAX_REASON),
            },
        },
        OptionSpec {
            name: "owner".into(),
            description: "Who owns it (default: you)".into(),
            required: false,
            kind: OptionKind::User,
        },
        OptionSpec {
            name: "due_days".into(),
            description: "Due in this many days (default: the runbook's)".into(),
            required: false,
            kind: OptionKind::Integer { min: 1, max: 365 },
        },
    ]);
    let id = super::options::id_option("The follow-up's number");
    vec![
        sub(
            "followup add",
            "Add a follow-up to this incident",
            IncidentOp::FollowupAdd,
            add,
        ),
        sub(
            "followup done",
            "Mark a follow-up done",
            IncidentOp::FollowupDone,
            vec![id],
        ),
        sub(
            "followup list",
            "This incident's follow-ups",
            IncidentOp::FollowupList,
            vec![],
        ),
        sub(
            "followups",
            "Open follow-ups of every incident",
            IncidentOp::Followups,
            vec![],
        ),
    ]
}
