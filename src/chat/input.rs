//! Reading a slash command's input as Discord delivers it: the
//! subcommand and its options as core values, the member's roles, and the
//! command as typed (for the audit log, even when it does not parse).

use crate::core::commands::Value;
use serenity::all::{CommandInteraction, ResolvedOption, ResolvedValue};

/// The subcommand's name and its options as core values.
pub(super) fn subcommand_options(
    options: &[ResolvedOption<'_>],
) -> Result<(String, Vec<(String, Value)>), String> {
    let Some(ResolvedOption {
        name,
        value: ResolvedValue::SubCommand(inner),
        ..
    }) = options.first()
    else {
        return Err("That command needs a subcommand.".into());
    };
    let mut given = Vec::new();
    for o in inner {
        let value = match &o.value {
            ResolvedValue::String(s) => Value::Text(s.to_string()),
            ResolvedValue::Autocomplete { value, .. } => Value::Text(value.to_string()),
            ResolvedValue::Integer(n) => Value::Integer(*n),
            ResolvedValue::User(user, _) => Value::User(user.id.get()),
            _ => {
                return Err(format!(
                    "Option {} has a type this bot does not take.",
                    o.name
                ))
            }
        };
        given.push((o.name.to_string(), value));
    }
    Ok((name.to_string(), given))
}

/// The member's role IDs (none outside a server).
pub(super) fn member_roles(c: &CommandInteraction) -> Vec<u64> {
    c.member
        .as_ref()
        .map(|m| m.roles.iter().map(|r| r.get()).collect())
        .unwrap_or_default()
}

/// `/mem status` as the user typed it, even when it did not parse.
pub(super) fn raw_label(c: &CommandInteraction) -> String {
    match c.data.options.first() {
        Some(sub) => format!("/{} {}", c.data.name, sub.name),
        None => format!("/{}", c.data.name),
    }
}
