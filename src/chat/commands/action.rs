//! `/mem restart`, `/mem close-idle`, `/mem restart-workers`: a request for
//! a second person's approval, posted for everyone; the person who asked
//! is answered privately.

use super::{Done, Outcome};
use crate::app::approvals::{self, Requested};
use crate::app::{App, Caller};
use crate::core::commands::Invocation;
use crate::core::incident::stamp;
use crate::render::Message;
use time::OffsetDateTime;

pub(super) async fn request(app: &App, caller: &Caller, inv: &Invocation, action: &str) -> Done {
    let now = OffsetDateTime::now_utc();
    match approvals::request(app, caller, inv, action, now).await {
        Requested::Refused { target, sentence } => Done::refused(sentence, target),
        Requested::Failed { target, error } => Done::new(
            Message::text(format!("No request was made: {error}.")),
            target,
            Outcome::Failed(error),
        ),
        Requested::Made {
            request,
            title,
            posted,
        } => {
            let r = &request.rule;
            let sentence = match posted {
                Ok(posted) => format!(
                    "Request #{} to {title} is waiting for {} approval(s) from someone else, until {}: {}",
                    r.id,
                    r.approvals_needed,
                    stamp(r.expires_at),
                    posted.link
                ),
                Err(channel) => format!(
                    "Request #{} was recorded but could not be posted in <#{channel}>.",
                    r.id
                ),
            };
            Done::new(
                Message::text(sentence),
                Some(format!("request #{}", r.id)),
                Outcome::Ok("requested".into()),
            )
        }
    }
}
