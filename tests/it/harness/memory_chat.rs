//! The application's chat port in memory: what a use case or a loop posts,
//! edits and threads is recorded here instead of going to Discord, so a
//! test can build the application in-process and step its loops
//! (`tick(now)`) with a chosen clock instead of waiting for them. Only
//! Discord is replaced; the database and the engine are real.

use async_trait::async_trait;
use incident_bot::app::port::{Chat, ChatError, Posted, ReadMessage};
use incident_bot::render::Message;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

/// One thing sent through the port.
#[derive(Debug, Clone)]
pub enum Sent {
    Post {
        channel: u64,
        id: u64,
        message: Message,
    },
    Edit {
        channel: u64,
        id: u64,
        edit: Message,
    },
    Thread {
        channel: u64,
        on: u64,
        name: String,
        id: u64,
    },
    Direct {
        user: u64,
        message: Message,
    },
}

#[derive(Default)]
pub struct MemoryChat {
    next: AtomicU64,
    sent: Mutex<Vec<Sent>>,
}

impl MemoryChat {
    fn id(&self) -> u64 {
        1_000_000 + self.next.fetch_add(1, Ordering::Relaxed)
    }

    /// Everything sent so far, in order.
    pub fn sent(&self) -> Vec<Sent> {
        self.sent.lock().unwrap().clone()
    }

    /// The messages posted in `channel`, in order.
    pub fn posts_in(&self, channel: u64) -> Vec<Message> {
        self.sent()
            .into_iter()
            .filter_map(|s| match s {
                Sent::Post {
                    channel: c,
                    message,
                    ..
                } if c == channel => Some(message),
                _ => None,
            })
            .collect()
    }

    /// The edits: (channel, message, edit).
    pub fn edits(&self) -> Vec<(u64, u64, Message)> {
        self.sent()
            .into_iter()
            .filter_map(|s| match s {
                Sent::Edit { channel, id, edit } => Some((channel, id, edit)),
                _ => None,
            })
            .collect()
    }

    /// The direct messages sent: (user, message).
    pub fn directs(&self) -> Vec<(u64, Message)> {
        self.sent()
            .into_iter()
            .filter_map(|s| match s {
                Sent::Direct { user, message } => Some((user, message)),
                _ => None,
            })
            .collect()
    }

    /// The threads opened: (channel, the message it is on, its name, its id).
    pub fn threads(&self) -> Vec<(u64, u64, String, u64)> {
        self.sent()
            .into_iter()
            .filter_map(|s| match s {
                Sent::Thread {
                    channel,
                    on,
                    name,
                    id,
                } => Some((channel, on, name, id)),
                _ => None,
            })
            .collect()
    }

    /// Every posted message, wherever it went: (channel, id, message).
    pub fn posts(&self) -> Vec<(u64, u64, Message)> {
        self.sent()
            .into_iter()
            .filter_map(|s| match s {
                Sent::Post {
                    channel,
                    id,
                    message,
                } => Some((channel, id, message)),
                _ => None,
            })
            .collect()
    }
}

#[async_trait]
impl Chat for MemoryChat {
    async fn post(&self, channel: u64, message: &Message) -> Result<Posted, ChatError> {
        let id = self.id();
        self.sent.lock().unwrap().push(Sent::Post {
            channel,
            id,
            message: message.clone(),
        });
        Ok(Posted {
            channel_id: channel,
            message_id: id,
            link: format!("memory://{channel}/{id}"),
        })
    }

    async fn edit(&self, channel: u64, message: u64, edit: &Message) -> Result<(), ChatError> {
        self.sent.lock().unwrap().push(Sent::Edit {
            channel,
            id: message,
            edit: edit.clone(),
        });
        Ok(())
    }

    async fn read(&self, _channel: u64, _message: u64) -> Result<ReadMessage, ChatError> {
        Err(ChatError("messages are not kept in memory".into()))
    }

    async fn pin(&self, _channel: u64, _message: u64) -> Result<(), ChatError> {
        Ok(())
    }

    async fn direct(&self, user: u64, message: &Message) -> Result<Posted, ChatError> {
        let id = self.id();
        self.sent.lock().unwrap().push(Sent::Direct {
            user,
            message: message.clone(),
        });
        Ok(Posted {
            channel_id: user,
            message_id: id,
            link: format!("memory://dm/{user}/{id}"),
        })
    }

    async fn thread(&self, channel: u64, message: u64, name: &str) -> Result<u64, ChatError> {
        let id = self.id();
        self.sent.lock().unwrap().push(Sent::Thread {
            channel,
            on: message,
            name: name.into(),
            id,
        });
        Ok(id)
    }
}
