//! The port through which the application speaks to chat: post a message,
//! edit one, open a thread, send a direct message. The Discord front end implements it over its
//! REST API (no gateway needed, so loops deliver while the gateway is
//! away); tests implement it in memory.
//!
//! Messages are [`Message`] values: what they may notify is part of the
//! value, so no use case can ping by accident.

use crate::render::Message;

/// A message the chat platform accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Posted {
    pub channel_id: u64,
    pub message_id: u64,
    /// A link people can click to reach it.
    pub link: String,
}

/// A message as read back: who wrote it, when, what (empty when the bot
/// may not read other people's text), and its link.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReadMessage {
    pub author_id: u64,
    pub author: String,
    pub at: time::OffsetDateTime,
    pub content: String,
    pub link: String,
}

/// Why chat refused or could not be reached; one line, without tokens.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{0}")]
pub struct ChatError(pub String);

#[async_trait::async_trait]
pub trait Chat: Send + Sync + 'static {
    /// Posts `message` in `channel` (a channel or a thread).
    async fn post(&self, channel: u64, message: &Message) -> Result<Posted, ChatError>;

    /// Edits message `message` of `channel`: parts of `edit` left empty are
    /// kept (an edit of the text keeps the chart).
    async fn edit(&self, channel: u64, message: u64, edit: &Message) -> Result<(), ChatError>;

    /// Reads message `message` of `channel`.
    async fn read(&self, channel: u64, message: u64) -> Result<ReadMessage, ChatError>;

    /// Pins message `message` of `channel`.
    async fn pin(&self, channel: u64, message: u64) -> Result<(), ChatError>;

    /// Sends `message` to `user` as a direct message.
    async fn direct(&self, user: u64, message: &Message) -> Result<Posted, ChatError>;

    /// Opens a thread named `name` on message `message` of `channel`;
    /// returns the thread's id.
    async fn thread(&self, channel: u64, message: u64, name: &str) -> Result<u64, ChatError>;
}
