//! What the fleet says in the incident channel by itself: a host it can no
//! longer see, and the same host seen again.

use super::message::Message;
use crate::core::incident::span;
use time::OffsetDateTime;

fn clock(t: OffsetDateTime) -> String {
    format!("{:02}:{:02} UTC", t.hour(), t.minute())
}

/// "No data from host web-2 since 14:03 UTC: …". `engine_error` is why its
/// engine is away when its bot is still heard from.
pub fn blind(
    node: &str,
    since: OffsetDateTime,
    bot_alive: bool,
    engine_error: Option<&str>,
) -> Message {
    let why = if bot_alive {
        format!(
            "its bot is running but its Docker engine does not answer ({})",
            crate::core::text::clip(engine_error.unwrap_or("no reason given"), 200)
        )
    } else {
        "its bot has not been heard from (the host is down, or cannot reach the database)"
            .to_string()
    };
    Message::text(format!(
        "⚠️ No data from host **{}** since {}: {why}. Reports leave its containers out, and say so, until it is back.",
        crate::core::text::clip(node, 64),
        clock(since)
    ))
}

/// "Host web-2 is seen again (no data from 14:03 UTC for 12 min)."
pub fn back(node: &str, since: OffsetDateTime, now: OffsetDateTime) -> Message {
    Message::text(format!(
        "✅ Host **{}** is seen again (no data from {} for {}).",
        crate::core::text::clip(node, 64),
        clock(since),
        span(now - since)
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::render::Mentions;
    use time::macros::datetime;

    #[test]
    fn blind_and_back_name_the_host_the_time_and_why() {
        let since = datetime!(2026-03-01 14:03:27 UTC);
        let down = blind("web-2", since, false, None);
        let text = down.content.as_deref().unwrap();
        assert!(
            text.contains("No data from host **web-2** since 14:03 UTC")
                && text.contains("has not been heard from"),
            "{text}"
        );
        let engine = blind("web-2", since, true, Some("connection refused"));
        assert!(engine
            .content
            .as_deref()
            .unwrap()
            .contains("Docker engine does not answer (connection refused)"));
        let up = back("web-2", since, since + time::Duration::minutes(12));
        assert!(
            up.content
                .as_deref()
                .unwrap()
                .contains("**web-2** is seen again (no data from 14:03 UTC for 12 min"),
            "{up:?}"
        );
        // Nobody is pinged by either.
        assert_eq!(
            (&down.mentions, &up.mentions),
            (&Mentions::None, &Mentions::None)
        );
    }
}
