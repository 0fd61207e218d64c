//! The application's chat port over Discord's REST API. Posting needs no
//! gateway session, so loops deliver while the gateway reconnects.

use super::outgoing;
use crate::app::port::{Chat, ChatError, Posted, ReadMessage};
use crate::render::Message;
use serenity::all::{AutoArchiveDuration, ChannelId, CreateThread, Http, MessageId, UserId};
use std::sync::Arc;

/// Discord, as the application's [`Chat`].
pub struct DiscordChat {
    http: Arc<Http>,
}

impl DiscordChat {
    pub fn new(http: Arc<Http>) -> DiscordChat {
        DiscordChat { http }
    }
}

fn failed(e: serenity::Error) -> ChatError {
    ChatError(e.to_string())
}

#[async_trait::async_trait]
impl Chat for DiscordChat {
    async fn post(&self, channel: u64, message: &Message) -> Result<Posted, ChatError> {
        let m = ChannelId::new(channel)
            .send_message(&self.http, outgoing::create(message))
            .await
            .map_err(failed)?;
        Ok(Posted {
            channel_id: m.channel_id.get(),
            message_id: m.id.get(),
            link: m.link(),
        })
    }

    async fn edit(&self, channel: u64, message: u64, edit: &Message) -> Result<(), ChatError> {
        ChannelId::new(channel)
            .edit_message(&self.http, MessageId::new(message), outgoing::edit(edit))
            .await
            .map(|_| ())
            .map_err(failed)
    }

    async fn read(&self, channel: u64, message: u64) -> Result<ReadMessage, ChatError> {
        let m = ChannelId::new(channel)
            .message(&self.http, MessageId::new(message))
            .await
            .map_err(failed)?;
        let at = time::OffsetDateTime::from_unix_timestamp(m.timestamp.unix_timestamp())
            .unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
        Ok(ReadMessage {
            author_id: m.author.id.get(),
            author: m.author.name.clone(),
            at,
            content: m.content.clone(),
            link: m.link(),
        })
    }

    async fn pin(&self, channel: u64, message: u64) -> Result<(), ChatError> {
        ChannelId::new(channel)
            .pin(&self.http, MessageId::new(message))
            .await
            .map_err(failed)
    }

    async fn direct(&self, user: u64, message: &Message) -> Result<Posted, ChatError> {
        // Discord gives the same DM channel again for the same person.
        let dm = UserId::new(user)
            .create_dm_channel(&self.http)
            .await
            .map_err(failed)?;
        self.post(dm.id.get(), message).await
    }

    async fn thread(&self, channel: u64, message: u64, name: &str) -> Result<u64, ChatError> {
        let thread = ChannelId::new(channel)
            .create_thread_from_message(
                &self.http,
                MessageId::new(message),
                CreateThread::new(name).auto_archive_duration(AutoArchiveDuration::OneDay),
            )
            .await
            .map_err(failed)?;
        Ok(thread.id.get())
    }
}
