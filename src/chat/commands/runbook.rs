//! `/mem runbook`: the runbook document itself, privately, as four embeds
//! (each step with the commands the document had people type and the bot
//! command that runs it; causes; resolutions; checklist and escalation).

use super::{Done, Outcome};
use crate::app::App;
use crate::core::commands::Invocation;
use crate::core::text::clip;
use crate::render::{Embed, Message};

pub(super) fn show(app: &App, inv: &Invocation) -> Done {
    let Some(rb) = app.runbooks.get(&inv.runbook) else {
        return Done::refused("That runbook is not loaded.".into(), None).private();
    };
    // Four embeds of at most 1450 characters: within Discord's 6000 for
    // one message (a render test checks the team's runbook fits uncut).
    let mut reply = Message::default().private();
    for (title, text) in crate::render::runbook_sections(rb) {
        reply = reply.with_embed(Embed::titled(clip(&title, 256)).description(clip(&text, 1450)));
    }
    Done::new(reply, None, Outcome::Ok("shown".into()))
}
