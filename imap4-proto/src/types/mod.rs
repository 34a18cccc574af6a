//! Typed IMAP4 values: what the grammar describes, with invalid values unrepresentable where
//! practical. Every type is built through `TryFrom` or a checked constructor; their docs quote
//! the ABNF rule they hold.

mod body;
mod code;
mod command;
mod core;
mod datetime;
mod fetch;
mod flag;
mod mailbox;
mod response;
mod search;
mod sequence;
mod status;

pub use body::{
    Address, BodyExtension, BodyFields, BodyParameters, BodyStructure, Disposition,
    DispositionExtension, Envelope, Language, LanguageExtension, MultipartExtension,
    SinglePartExtension, SinglePartKind,
};
pub use code::ResponseCode;
pub use command::{
    Command, CommandBody, ListPattern, ListReturnOption, ListSelectOption, SelectParameter,
};
pub use core::{
    is_astring_char, is_atom_char, is_text_char, Atom, IString, InvalidValue, NString, NonZero,
    Password, Tag, Text,
};
pub(crate) use datetime::MONTHS;
pub use datetime::{Date, DateTime};
pub use fetch::{
    FetchAttribute, FetchItems, FetchModifier, MessageDataItem, Payload, Rfc822Kind, Section,
    SectionText,
};
pub use flag::{Flag, FlagPerm, MailboxAttribute, StoreMode};
pub use mailbox::{Mailbox, MailboxName};
pub use response::{
    Continuation, Data, ExtendedValue, ListItem, NamespaceDescription, Response, StatusKind,
    StatusResponse,
};
pub use search::{SearchKey, SearchReturnData, SearchReturnOption};
pub use sequence::{SeqNumber, Sequence, SequenceSet};
pub use status::{StatusAttribute, StatusItem};
