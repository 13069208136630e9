//! Calendar days in Beijing time (UTC+8, no daylight saving): the days that withdrawal limits
//! count in, that the channels' bills cover and that the nightly reconciliation checks.

use std::fmt;

use crate::Timestamp;

const DAY_MS: i64 = 86_400_000;
/// Beijing is eight hours ahead of UTC all year round.
const OFFSET_MS: i64 = 8 * 3_600_000;

/// A calendar day in Beijing, counted in days from 1970-01-01 (Beijing).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct BeijingDay(i64);

impl BeijingDay {
    /// The Beijing day an instant falls on.
    pub const fn of(at: Timestamp) -> BeijingDay {
        BeijingDay(at.as_millis().saturating_add(OFFSET_MS).div_euclid(DAY_MS))
    }

    /// The day of a date in the proleptic Gregorian calendar; `None` if there is no such date.
    pub fn from_ymd(year: i32, month: u32, day: u32) -> Option<BeijingDay> {
        if !(1..=12).contains(&month) || !(1..=31).contains(&day) {
            return None;
        }
        // Howard Hinnant's days_from_civil: years start in March, so the leap day comes last.
        let year = i64::from(year) - i64::from(month <= 2);
        let era = year.div_euclid(400);
        let year_of_era = year - era * 400;
        let month_from_march = i64::from((month + 9) % 12);
        let day_of_year = (153 * month_from_march + 2) / 5 + i64::from(day) - 1;
        let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
        let found = BeijingDay(era * 146_097 + day_of_era - 719_468);
        // 31 April and 29 February of a common year roll over into the next month.
        (found.ymd().1 == month).then_some(found)
    }

    /// `(year, month, day)` of the day.
    pub const fn ymd(self) -> (i32, u32, u32) {
        // Howard Hinnant's civil_from_days.
        let days = self.0 + 719_468;
        let era = days.div_euclid(146_097);
        let day_of_era = days - era * 146_097;
        let year_of_era =
            (day_of_era - day_of_era / 1_460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
        let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
        let month_from_march = (5 * day_of_year + 2) / 153;
        let day = day_of_year - (153 * month_from_march + 2) / 5 + 1;
        let month = if month_from_march < 10 { month_from_march + 3 } else { month_from_march - 9 };
        let year = year_of_era + era * 400 + if month <= 2 { 1 } else { 0 };
        (year as i32, month as u32, day as u32)
    }

    /// The day's first instant (00:00 in Beijing).
    pub const fn start(self) -> Timestamp {
        Timestamp(self.0 * DAY_MS - OFFSET_MS)
    }

    /// The next day's first instant: the day is `[start, end)`.
    pub const fn end(self) -> Timestamp {
        self.next().start()
    }

    pub const fn next(self) -> BeijingDay {
        BeijingDay(self.0 + 1)
    }

    pub const fn previous(self) -> BeijingDay {
        BeijingDay(self.0 - 1)
    }
}

impl fmt::Display for BeijingDay {
    /// `yyyy-MM-dd`, as the channels name the day of a bill.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (year, month, day) = self.ymd();
        write!(f, "{year:04}-{month:02}-{day:02}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_day_runs_from_midnight_to_midnight_in_beijing() {
        // 2026-11-25 00:00 Beijing = 2026-11-24 16:00 UTC = 1_795_536_000 s.
        let midnight = Timestamp(1_795_536_000_000);
        let day = BeijingDay::of(midnight);
        assert_eq!(day, BeijingDay::from_ymd(2026, 11, 25).unwrap());
        assert_eq!(day.to_string(), "2026-11-25");
        assert_eq!((day.start(), day.end()), (midnight, Timestamp(midnight.0 + DAY_MS)));
        assert_eq!(BeijingDay::of(Timestamp(midnight.0 - 1)), day.previous());
        assert_eq!(BeijingDay::of(Timestamp(midnight.0 + DAY_MS - 1)), day);
        assert_eq!(BeijingDay::of(Timestamp(0)).to_string(), "1970-01-01");
        assert_eq!(BeijingDay::of(Timestamp(-OFFSET_MS - 1)).to_string(), "1969-12-31");
    }

    #[test]
    fn dates_round_trip_and_impossible_ones_are_refused() {
        for (y, m, d) in
            [(1970, 1, 1), (2000, 2, 29), (2024, 12, 31), (2026, 3, 1), (1600, 3, 1), (2400, 2, 29)]
        {
            assert_eq!(BeijingDay::from_ymd(y, m, d).unwrap().ymd(), (y, m, d));
        }
        for (y, m, d) in
            [(2026, 2, 29), (1900, 2, 29), (2026, 4, 31), (2026, 13, 1), (2026, 0, 1), (2026, 1, 0)]
        {
            assert_eq!(BeijingDay::from_ymd(y, m, d), None, "{y}-{m}-{d}");
        }
        let mut day = BeijingDay::from_ymd(1999, 12, 31).unwrap();
        for _ in 0..1_000 {
            let next = day.next();
            assert_eq!(BeijingDay::from_ymd(next.ymd().0, next.ymd().1, next.ymd().2), Some(next));
            day = next;
        }
    }
}
