//! Dates and date-times.

use super::core::InvalidValue;

/// A calendar date, as SEARCH uses it.
///
/// `date = date-text / DQUOTE date-text DQUOTE`, `date-text = date-day "-" date-month "-"
/// date-year` (RFC 3501 section 9).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Date {
    year: u16,
    month: u8,
    day: u8,
}

impl Date {
    /// A date; the day must exist in the month (February 29 only in leap years) and the year
    /// must have four digits.
    pub fn new(year: u16, month: u8, day: u8) -> Result<Self, InvalidValue> {
        if !(1..=9999).contains(&year) || !(1..=12).contains(&month) {
            return Err(InvalidValue::new("date", "year or month out of range"));
        }
        let leap =
            (year.is_multiple_of(4) && !year.is_multiple_of(100)) || year.is_multiple_of(400);
        let days = match month {
            2 if leap => 29,
            2 => 28,
            4 | 6 | 9 | 11 => 30,
            _ => 31,
        };
        if day == 0 || day > days {
            return Err(InvalidValue::new("date", "no such day in that month"));
        }
        Ok(Date { year, month, day })
    }

    /// The year.
    pub fn year(&self) -> u16 {
        self.year
    }
    /// The month, 1 to 12.
    pub fn month(&self) -> u8 {
        self.month
    }
    /// The day of the month.
    pub fn day(&self) -> u8 {
        self.day
    }
}

/// An instant with its zone, as INTERNALDATE and APPEND use it.
///
/// `date-time = DQUOTE date-day-fixed "-" date-month "-" date-year SP time SP zone DQUOTE`,
/// `zone = ("+" / "-") 4DIGIT` (RFC 3501 section 9).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct DateTime {
    date: Date,
    hour: u8,
    minute: u8,
    second: u8,
    zone_minutes: i16,
}

impl DateTime {
    /// A date-time; `zone_minutes` is the offset from UTC (at most ±99:59 as the grammar
    /// allows four digits).
    pub fn new(
        date: Date,
        hour: u8,
        minute: u8,
        second: u8,
        zone_minutes: i16,
    ) -> Result<Self, InvalidValue> {
        if hour > 23 || minute > 59 || second > 60 {
            return Err(InvalidValue::new("date-time", "time out of range"));
        }
        if zone_minutes.unsigned_abs() > 99 * 60 + 59 {
            return Err(InvalidValue::new("date-time", "zone out of range"));
        }
        Ok(DateTime {
            date,
            hour,
            minute,
            second,
            zone_minutes,
        })
    }

    /// The date.
    pub fn date(&self) -> Date {
        self.date
    }
    /// Hour, minute and second.
    pub fn time(&self) -> (u8, u8, u8) {
        (self.hour, self.minute, self.second)
    }
    /// The zone's offset from UTC in minutes.
    pub fn zone_minutes(&self) -> i16 {
        self.zone_minutes
    }
}

/// The month names of `date-month`.
pub(crate) const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];
