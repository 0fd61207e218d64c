//! A chat message as plain data: text, embeds, files, buttons, and whom it
//! may notify. The application builds these; the chat front end turns them
//! into its platform's requests in one place (`chat::outgoing`), so no use
//! case knows the platform and none can forget the mentions.
//!
//! On an edit, a part left empty (no content, no embeds, no files, no
//! buttons) is kept as it is on the message: an edit of a report's text
//! keeps its chart.

/// Who a message may notify. People's text (titles, reasons, summaries)
/// is shown, never obeyed: every message notifies nobody unless it names
/// exactly whom, as an escalation does.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Mentions {
    /// Nobody, whatever the text mentions (`@everyone` included).
    #[default]
    None,
    /// Exactly these users and roles (an escalation's targets).
    Exactly { users: Vec<u64>, roles: Vec<u64> },
}

/// One message, or one edit of a message.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Message {
    /// The text; clipped to what the platform accepts when sent.
    pub content: Option<String>,
    pub embeds: Vec<Embed>,
    pub files: Vec<Attachment>,
    /// One row of buttons.
    pub buttons: Vec<Button>,
    pub mentions: Mentions,
    /// An interaction reply only the person who asked sees.
    pub private: bool,
}

impl Message {
    /// A message of text that notifies nobody.
    pub fn text(content: impl Into<String>) -> Message {
        Message {
            content: Some(content.into()),
            ..Message::default()
        }
    }

    /// A message of one embed.
    pub fn embed(embed: Embed) -> Message {
        Message::default().with_embed(embed)
    }

    /// A message that notifies exactly `users` and `roles`, whatever else
    /// its text mentions.
    pub fn ping(content: impl Into<String>, users: &[u64], roles: &[u64]) -> Message {
        Message {
            mentions: Mentions::Exactly {
                users: users.to_vec(),
                roles: roles.to_vec(),
            },
            ..Message::text(content)
        }
    }

    pub fn with_content(mut self, content: impl Into<String>) -> Message {
        self.content = Some(content.into());
        self
    }

    pub fn with_embed(mut self, embed: Embed) -> Message {
        self.embeds.push(embed);
        self
    }

    /// Adds files: an `Option` of one, or a `Vec`.
    pub fn with_file(mut self, files: impl IntoIterator<Item = Attachment>) -> Message {
        self.files.extend(files);
        self
    }

    pub fn with_buttons(mut self, buttons: Vec<Button>) -> Message {
        self.buttons = buttons;
        self
    }

    /// Seen only by the person who asked (interaction replies).
    pub fn private(mut self) -> Message {
        self.private = true;
        self
    }
}

/// A rich block: title, description, colour, fields, footer, image.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Embed {
    pub title: Option<String>,
    pub description: Option<String>,
    /// 0xRRGGBB.
    pub colour: Option<u32>,
    pub fields: Vec<Field>,
    pub footer: Option<String>,
    /// An image, usually `attachment://<file>` of the same message.
    pub image: Option<String>,
}

impl Embed {
    pub fn titled(title: impl Into<String>) -> Embed {
        Embed {
            title: Some(title.into()),
            ..Embed::default()
        }
    }

    pub fn description(mut self, text: impl Into<String>) -> Embed {
        self.description = Some(text.into());
        self
    }

    pub fn colour(mut self, colour: u32) -> Embed {
        self.colour = Some(colour);
        self
    }

    pub fn field(
        mut self,
        name: impl Into<String>,
        value: impl Into<String>,
        inline: bool,
    ) -> Embed {
        self.fields.push(Field {
            name: name.into(),
            value: value.into(),
            inline,
        });
        self
    }

    pub fn footer(mut self, text: impl Into<String>) -> Embed {
        self.footer = Some(text.into());
        self
    }

    pub fn image(mut self, url: impl Into<String>) -> Embed {
        self.image = Some(url.into());
        self
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Field {
    pub name: String,
    pub value: String,
    pub inline: bool,
}

/// A file sent with a message (a chart, a profile, a postmortem).
#[derive(Debug, Clone, PartialEq)]
pub struct Attachment {
    pub name: String,
    pub bytes: Vec<u8>,
}

impl Attachment {
    pub fn new(name: impl Into<String>, bytes: Vec<u8>) -> Attachment {
        Attachment {
            name: name.into(),
            bytes,
        }
    }
}

/// A button; its id is all a click brings back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Button {
    pub id: String,
    pub label: String,
    pub style: ButtonStyle,
    pub disabled: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ButtonStyle {
    Success,
    Danger,
}
