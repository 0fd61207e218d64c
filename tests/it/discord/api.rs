//! The value types of the emulator's test-facing API: what a test injects
//! (`Slash`, `Click`, `Member`), what it gets back (`Sent`, `Recorded`), how
//! it breaks the gateway (`GatewayDrop`), and a PNG helper.

use std::time::Instant;

use serde_json::Value;

/// A slash command invocation as a member would type it.
#[derive(Clone, Debug)]
pub struct Slash {
    pub command: String,
    /// `"sub"` or `"group sub"`.
    pub subcommand: Option<String>,
    /// Option values; their types come from the registered command.
    pub options: Vec<(String, Value)>,
    pub member: Member,
    pub channel_id: u64,
}

impl Slash {
    pub fn new(command: &str, member: Member, channel_id: u64) -> Slash {
        Slash {
            command: command.to_string(),
            subcommand: None,
            options: Vec::new(),
            member,
            channel_id,
        }
    }
    pub fn sub(mut self, subcommand: &str) -> Slash {
        self.subcommand = Some(subcommand.to_string());
        self
    }
    pub fn opt(mut self, name: &str, value: impl Into<Value>) -> Slash {
        self.options.push((name.to_string(), value.into()));
        self
    }
}

/// The guild member who acts.
#[derive(Clone, Debug)]
pub struct Member {
    pub user_id: u64,
    pub name: String,
    pub roles: Vec<u64>,
}

impl Member {
    pub fn new(user_id: u64, name: &str) -> Member {
        Member {
            user_id,
            name: name.to_string(),
            roles: Vec::new(),
        }
    }
    pub fn with_roles(mut self, roles: &[u64]) -> Member {
        self.roles = roles.to_vec();
        self
    }
}

/// A click on a component of a message the bot posted. The component kind
/// (button or select) is taken from the stored message.
#[derive(Clone, Debug)]
pub struct Click {
    pub message_id: u64,
    pub custom_id: String,
    pub member: Member,
    /// Chosen values, for select menus only.
    pub values: Vec<String>,
}

impl Click {
    pub fn button(message_id: u64, custom_id: &str, member: Member) -> Click {
        Click {
            message_id,
            custom_id: custom_id.to_string(),
            member,
            values: Vec::new(),
        }
    }
}

/// An interaction the emulator dispatched.
#[derive(Clone, Debug)]
pub struct Sent {
    pub interaction_id: u64,
    pub token: String,
    pub at: Instant,
}

/// One HTTP request the bot made, with the status the emulator answered.
#[derive(Clone, Debug)]
pub struct Recorded {
    pub method: String,
    /// The full path, e.g. `/api/v10/channels/1/messages`.
    pub path: String,
    pub query: String,
    /// The JSON body, or a multipart request's `payload_json`.
    pub json: Option<Value>,
    /// Multipart uploads (`files[N]` parts) in order: (filename, bytes).
    pub files: Vec<(String, Vec<u8>)>,
    pub status: u16,
    pub at: Instant,
}

impl Recorded {
    /// `method` matches and the path ends with `suffix` (e.g.
    /// `"/messages/@original"`).
    pub fn is(&self, method: &str, suffix: &str) -> bool {
        self.method == method && self.path.ends_with(suffix)
    }
    /// The request concerns this interaction (callback or webhook by token).
    pub fn concerns(&self, sent: &Sent) -> bool {
        self.path.contains(&format!("/{}/", sent.token)) || self.path.ends_with(&sent.token)
    }
}

/// Ways to break the gateway connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GatewayDrop {
    /// Close frame with code 4000 (unknown error, resumable).
    Close4000,
    /// Drop the TCP connection without a close frame.
    Tcp,
    /// Op 7 RECONNECT: the client should resume on a new connection.
    Reconnect,
    /// Op 9 INVALID_SESSION (not resumable): the client must re-IDENTIFY
    /// (serenity waits about 5 s before it does).
    InvalidSession,
}

/// A small valid RGB PNG (a diagonal gradient), for attachment tests.
pub fn tiny_png(width: u32, height: u32) -> Vec<u8> {
    let mut out = Vec::new();
    let mut enc = png::Encoder::new(&mut out, width, height);
    enc.set_color(png::ColorType::Rgb);
    enc.set_depth(png::BitDepth::Eight);
    let mut w = enc.write_header().expect("png header");
    let pixels: Vec<u8> = (0..width * height)
        .flat_map(|i| {
            let (x, y) = (i % width, i / width);
            [
                (x * 255 / width.max(1)) as u8,
                (y * 255 / height.max(1)) as u8,
                128,
            ]
        })
        .collect();
    w.write_image_data(&pixels).expect("png data");
    w.finish().expect("png end");
    out
}
