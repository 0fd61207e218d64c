//! Reading an interaction as Discord delivers it: the subcommand and its
//! options as core values, who asked and where (an [`app::Caller`]), and
//! the command as typed (for the audit log, even when it does not parse).
//!
//! [`app::Caller`]: crate::app::Caller

use crate::app::Caller;
use crate::core::commands::Value;
use serenity::all::{
    ChannelId, CommandInteraction, ComponentInteraction, Member, ResolvedOption, ResolvedValue,
    User,
};

/// The subcommand's name (`group sub` for one in a subcommand group, as
/// the spec names it) and its options as core values.
pub(super) fn subcommand_options(
    options: &[ResolvedOption<'_>],
) -> Result<(String, Vec<(String, Value)>), String> {
    let (name, inner) = match options.first() {
        Some(ResolvedOption {
            name,
            value: ResolvedValue::SubCommand(inner),
            ..
        }) => (name.to_string(), inner),
        Some(ResolvedOption {
            name: group,
            value: ResolvedValue::SubCommandGroup(subs),
            ..
        }) => match subs.first() {
            Some(ResolvedOption {
                name,
                value: ResolvedValue::SubCommand(inner),
                ..
            }) => (format!("{group} {name}"), inner),
            _ => return Err("That command needs a subcommand.".into()),
        },
        _ => return Err("That command needs a subcommand.".into()),
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
    Ok((name, given))
}

fn roles(member: Option<&Member>) -> Vec<u64> {
    member
        .map(|m| m.roles.iter().map(|r| r.get()).collect())
        .unwrap_or_default()
}

fn caller(
    user: &User,
    member: Option<&Member>,
    channel: ChannelId,
    parent: Option<ChannelId>,
) -> Caller {
    Caller {
        user_id: user.id.get(),
        name: user.name.clone(),
        channel_id: channel.get(),
        parent_id: parent.map(ChannelId::get),
        roles: roles(member),
    }
}

/// Who ran a slash command, and where.
pub(super) fn command_caller(c: &CommandInteraction) -> Caller {
    let parent = c.channel.as_ref().and_then(|ch| ch.parent_id);
    caller(&c.user, c.member.as_deref(), c.channel_id, parent)
}

/// Who clicked a button, and where.
pub(super) fn click_caller(b: &ComponentInteraction) -> Caller {
    caller(&b.user, b.member.as_ref(), b.channel_id, None)
}

/// `/mem status` as the user typed it, even when it did not parse.
pub(super) fn raw_label(c: &CommandInteraction) -> String {
    match c.data.options.first() {
        Some(sub) => format!("/{} {}", c.data.name, sub.name),
        None => format!("/{}", c.data.name),
    }
}
