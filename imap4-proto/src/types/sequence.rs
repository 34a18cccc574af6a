//! Sequence sets of message numbers and UIDs.

use super::core::{InvalidValue, NonZero};

/// One end of a range: a number or `*`, the largest number in use.
///
/// `seq-number = nz-number / "*"` (RFC 3501 section 9).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SeqNumber {
    /// A message sequence number or UID.
    Value(NonZero),
    /// `*`.
    Largest,
}

/// A single number or a range.
///
/// `seq-range = seq-number ":" seq-number` (RFC 3501 section 9); the ends may come in either
/// order and are kept as written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Sequence {
    /// `seq-number`.
    Single(SeqNumber),
    /// `seq-range`.
    Range(SeqNumber, SeqNumber),
}

/// A non-empty set of messages.
///
/// `sequence-set = (seq-number / seq-range) ["," sequence-set]` (RFC 3501 section 9).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SequenceSet(Vec<Sequence>);

impl SequenceSet {
    /// The members, in the order written.
    pub fn items(&self) -> &[Sequence] {
        &self.0
    }

    /// Whether `number` is in the set, given the largest number in use (`*`).
    pub fn contains(&self, number: u32, largest: u32) -> bool {
        let value = |end: SeqNumber| match end {
            SeqNumber::Value(n) => n.get(),
            SeqNumber::Largest => largest,
        };
        self.0.iter().any(|sequence| match *sequence {
            Sequence::Single(one) => value(one) == number,
            Sequence::Range(a, b) => {
                let (low, high) = (value(a).min(value(b)), value(a).max(value(b)));
                (low..=high).contains(&number)
            }
        })
    }
}

impl TryFrom<Vec<Sequence>> for SequenceSet {
    type Error = InvalidValue;
    fn try_from(value: Vec<Sequence>) -> Result<Self, Self::Error> {
        if value.is_empty() {
            return Err(InvalidValue::new("sequence-set", "empty"));
        }
        Ok(SequenceSet(value))
    }
}

impl From<NonZero> for SequenceSet {
    fn from(value: NonZero) -> Self {
        SequenceSet(vec![Sequence::Single(SeqNumber::Value(value))])
    }
}
