//! A maildrop that answers the server session's events, shared by the session tests.
#![allow(dead_code)]

use pop3_proto::server::{
    Event, LoginRejection, MaildropEntry, MessageProgress, MessageShape, ServerSession,
};

/// A maildrop for the session: messages as stored (any line ends).
pub struct Maildrop {
    pub messages: Vec<Vec<u8>>,
    pub password: &'static str,
    pub removed: Vec<u32>,
    pub chunk: usize,
    pub reading: Option<(u32, usize)>,
    pub in_use: bool,
}

impl Maildrop {
    pub fn new(messages: &[&[u8]]) -> Self {
        Maildrop {
            messages: messages.iter().map(|m| m.to_vec()).collect(),
            password: "tanstaaf",
            removed: Vec::new(),
            chunk: 7,
            reading: None,
            in_use: false,
        }
    }

    pub fn wire_size(message: &[u8]) -> u64 {
        let bare = message
            .iter()
            .enumerate()
            .filter(|&(i, &b)| b == b'\n' && (i == 0 || message[i - 1] != b'\r'))
            .count();
        (message.len() + bare) as u64
    }

    pub fn answer(
        &mut self,
        session: &mut ServerSession,
        event: Event,
    ) -> Result<(), mail_session::OutOfTurn> {
        match event {
            Event::Login { credentials } => {
                if self.in_use {
                    session.reject_login(LoginRejection::InUse)?;
                } else if credentials.username == "mrose"
                    && credentials.password.matches(self.password)
                {
                    let listing = self
                        .messages
                        .iter()
                        .enumerate()
                        .map(|(i, m)| MaildropEntry {
                            size: Self::wire_size(m),
                            unique_id: format!("uid-{}", i + 1),
                        })
                        .collect();
                    session.accept_login(listing)?;
                } else {
                    session.reject_login(LoginRejection::Credentials)?;
                }
            }
            Event::Retrieve { message, .. } => {
                self.reading = Some((message, 0));
                session.start_message(MessageShape::default())?;
            }
            Event::MessageData { message } => {
                let (reading, offset) = self.reading.expect("reading");
                assert_eq!(reading, message);
                let body = &self.messages[message as usize - 1];
                if offset >= body.len() {
                    session.end_message()?;
                    self.reading = None;
                } else {
                    let end = (offset + self.chunk).min(body.len());
                    match session.push_message_data(&body[offset..end])? {
                        MessageProgress::More => self.reading = Some((message, end)),
                        MessageProgress::Done => self.reading = None,
                    }
                }
            }
            Event::Update { deleted } => {
                self.removed = deleted;
                session.finish_update(Ok(()))?;
            }
            _ => unreachable!(),
        }
        Ok(())
    }
}
