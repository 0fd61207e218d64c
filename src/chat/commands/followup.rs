//! `/incident followup add|done|list` and `/incident followups`.

use super::{text, Done, Outcome};
use crate::app::followups;
use crate::app::{App, Caller};
use crate::core::commands::{IncidentOp, Invocation, Value};
use crate::render::{self, Message};
use crate::store::StoreError;
use time::OffsetDateTime;

pub(super) async fn run(
    app: &App,
    caller: &Caller,
    inv: &Invocation,
    op: IncidentOp,
) -> Result<Done, StoreError> {
    let today = OffsetDateTime::now_utc().date();
    let about = |id: i64| Some(format!("incident #{id}"));
    Ok(match op {
        IncidentOp::FollowupAdd => {
            // A prevention item, or the text given (the item wins).
            let what = match (text(inv, "item"), text(inv, "text")) {
                (item, _) if !item.is_empty() => item,
                (_, own) => own,
            };
            let owner = match inv.args.get("owner") {
                Some(Value::User(u)) => Some(*u),
                _ => None,
            };
            let days = match inv.args.get("due_days") {
                Some(Value::Integer(d)) => Some(*d),
                _ => None,
            };
            match followups::add(app, caller, &what, owner, days).await? {
                Ok(f) => Done::new(
                    Message::text(format!(
                        "Follow-up #{} of incident #{}: {} (owner <@{}>, due {}).",
                        f.id, f.incident_id, f.text, f.owner_id, f.due_on
                    )),
                    about(f.incident_id),
                    Outcome::Ok(format!("follow-up #{} added", f.id)),
                ),
                Err(sentence) => Done::refused(sentence, None),
            }
        }
        IncidentOp::FollowupDone => {
            let Some(Value::Integer(id)) = inv.args.get("id") else {
                return Ok(Done::refused("Give the follow-up's number.".into(), None));
            };
            match followups::done(app, caller, *id).await? {
                Ok(f) => Done::new(
                    Message::text(format!("Follow-up #{} is done: {}.", f.id, f.text)),
                    about(f.incident_id),
                    Outcome::Ok(format!("follow-up #{} done", f.id)),
                ),
                Err(sentence) => Done::refused(sentence, None),
            }
        }
        IncidentOp::FollowupList => match followups::of_incident(app, caller).await? {
            Ok((id, all)) => Done::new(
                Message::text(render::followups::list(
                    &format!("Follow-ups of incident #{id}"),
                    &all,
                    today,
                    false,
                )),
                about(id),
                Outcome::Ok("ok".into()),
            ),
            Err(sentence) => Done::refused(sentence, None),
        },
        _ => {
            let all = followups::open(app).await?;
            Done::new(
                Message::text(render::followups::list(
                    "Open follow-ups",
                    &all,
                    today,
                    true,
                )),
                None,
                Outcome::Ok("ok".into()),
            )
        }
    })
}
