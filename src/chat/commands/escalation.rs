//! `/mem escalate reason:<…>` (the next roster role up, at once) and
//! `/oncall` (who holds which role; `set` puts someone on the roster).

use super::{text, Done, Outcome};
use crate::app::escalation::{self, Escalated};
use crate::app::{App, Caller};
use crate::core::commands::{Invocation, Value};
use crate::render::Message;
use crate::store::StoreError;

fn failed(e: StoreError) -> Done {
    Done::new(
        Message::text(format!(
            "Nothing was recorded: {e}. Diagnosis commands still work."
        )),
        None,
        Outcome::Failed(e.to_string()),
    )
}

pub(super) async fn manual(app: &App, caller: &Caller, inv: &Invocation) -> Done {
    match escalation::manual(app, caller, &text(inv, "reason")).await {
        Ok(Escalated::Scheduled {
            incident,
            role,
            title,
        }) => Done::new(
            Message::text(format!(
                "Escalating incident #{incident} to the {title}; the ping follows in its thread."
            )),
            Some(format!("incident #{incident}")),
            Outcome::Ok(format!("escalated to {role}")),
        ),
        Ok(Escalated::Refused { incident, sentence }) => {
            Done::refused(sentence, incident.map(|i| format!("incident #{i}")))
        }
        Err(e) => failed(e),
    }
}

pub(super) async fn oncall(app: &App, caller: &Caller, inv: &Invocation, set: bool) -> Done {
    if set {
        let (Some(Value::Text(role)), Some(Value::User(user))) =
            (inv.args.get("role"), inv.args.get("member"))
        else {
            return Done::refused("Give a role and a member.".into(), None);
        };
        return match escalation::set_roster(app, caller, role, *user).await {
            Ok(()) => Done::new(
                Message::text(format!("<@{user}> is now {role} on the roster.")),
                None,
                Outcome::Ok(format!("set {role} = {user}")),
            ),
            Err(e) => failed(e),
        };
    }
    match escalation::roster(app).await {
        Ok(roster) => {
            let lines: Vec<String> = roster
                .iter()
                .map(|(title, who)| {
                    let who = who.map_or("nobody".to_string(), |u| format!("<@{u}>"));
                    format!("{title}: {who}")
                })
                .collect();
            Done::new(
                Message::text(lines.join("\n")),
                None,
                Outcome::Ok("ok".into()),
            )
        }
        Err(e) => failed(e),
    }
}
