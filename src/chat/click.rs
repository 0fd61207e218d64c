//! A click on a request's Approve or Deny button: acknowledged at once as
//! a deferred update (the request message is then edited in place by the
//! application), the vote decided by `app::approvals::click`, and any
//! refusal said privately to the person who clicked.

use super::input::click_caller;
use super::outgoing;
use super::reply::{already_acknowledged, redacted};
use super::responder::Responder;
use crate::app::App;
use serenity::all::{ComponentInteraction, CreateInteractionResponse};

pub(super) async fn click(app: &App, r: &Responder, b: ComponentInteraction) {
    if let Err(e) = r
        .first(b.id, &b.token, CreateInteractionResponse::Acknowledge)
        .await
    {
        // Another instance answering it first is not a failure: that one
        // records the click.
        if already_acknowledged(&e) {
            tracing::info!(interaction = %b.id, "another instance answered this click");
        } else {
            tracing::warn!(error = %redacted(&e, &b.token), "could not acknowledge a click");
        }
        return;
    }
    let caller = click_caller(&b);
    let said =
        crate::app::approvals::click(app, &caller, &b.data.custom_id, b.message.id.get()).await;
    if let Some(sentence) = said {
        let msg = outgoing::followup_private(&sentence);
        if let Err(e) = b.create_followup(&r.http, msg).await {
            tracing::warn!(error = %redacted(&e, &b.token), "could not reply to a click");
        }
    }
}
