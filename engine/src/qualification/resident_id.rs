//! The resident identity card number (公民身份号码, GB 11643-1999): 18 characters, six of the
//! region where it was issued, eight of the date of birth (`YYYYMMDD`), three of a sequence
//! number (odd for men) and a check character, a digit or `X` (for 10), over the first
//! seventeen with the weights `2^(17-i) mod 11`.
//!
//! A lowercase `x` is refused (the card prints `X`, and the number is compared byte for byte
//! with the verification service and the ban list); the verdict says so. The old 15-digit
//! numbers are refused by length: every card in use carries 18. The region must be of a
//! province-level division that issues numbers (the mainland's, and 71/81/82/83 used by
//! residence permits) and not all zeros; the date of birth must be a real date from 1900 on
//! and not after `today`, which is passed in.

use std::fmt;

use serde::Serialize;
use thiserror::Error;

use crate::BeijingDay;

const WEIGHTS: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
/// The check character for `sum mod 11`.
const CHECK: &[u8; 11] = b"10X98765432";
pub const LENGTH: usize = 18;
const EARLIEST_BIRTH_YEAR: i32 = 1900;
/// The first two digits of every province-level division that issues numbers.
const PROVINCES: [u32; 35] = [
    11, 12, 13, 14, 15, 21, 22, 23, 31, 32, 33, 34, 35, 36, 37, 41, 42, 43, 44, 45, 46, 50, 51, 52, 53, 54,
    61, 62, 63, 64, 65, 71, 81, 82, 83,
];

/// Why a text is not a resident identity number. Positions count from 1, in characters.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ResidentIdError {
    #[error("an identity number has 18 characters, this has {chars}")]
    WrongLength { chars: usize },
    #[error("character {position} is a lowercase x: write it as a capital X")]
    Lowercase { position: usize },
    #[error("character {position} ({character:?}) cannot appear there: 17 digits, then a digit or X")]
    ForbiddenCharacter { position: usize, character: char },
    #[error("the check character is {found:?} but the first 17 digits give {expected:?}")]
    BadCheckCharacter { expected: char, found: char },
    #[error("{code} is not the code of a region that issues identity numbers")]
    BadRegion { code: String },
    #[error("{digits} is not a possible date of birth")]
    ImpossibleBirthDate { digits: String },
    #[error("the date of birth {digits} is in the future")]
    BirthDateInFuture { digits: String },
}

/// A resident identity number whose form, check character, region and date of birth are right.
#[derive(Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(into = "String")]
pub struct ResidentId {
    number: String,
    born: BeijingDay,
}

impl ResidentId {
    /// Surrounding whitespace is ignored; everything else must be exact. `today` bounds the
    /// date of birth.
    pub fn parse(raw: &str, today: BeijingDay) -> Result<Self, ResidentIdError> {
        let text = raw.trim();
        let chars = text.chars().count();
        if chars != LENGTH {
            return Err(ResidentIdError::WrongLength { chars });
        }
        let mut sum = 0;
        for (index, character) in text.chars().enumerate() {
            let position = index + 1;
            match (index, character) {
                (0..17, '0'..='9') => sum += character.to_digit(10).expect("a digit") * WEIGHTS[index],
                (17, '0'..='9' | 'X') => {}
                (17, 'x') => return Err(ResidentIdError::Lowercase { position }),
                _ => return Err(ResidentIdError::ForbiddenCharacter { position, character }),
            }
        }
        let expected = CHECK[(sum % 11) as usize] as char;
        let found = text.as_bytes()[17] as char;
        if expected != found {
            return Err(ResidentIdError::BadCheckCharacter { expected, found });
        }
        let region = &text[..6];
        let province: u32 = region[..2].parse().expect("digits");
        if !PROVINCES.contains(&province) {
            return Err(ResidentIdError::BadRegion { code: region.to_owned() });
        }
        let digits = &text[6..14];
        let (year, month, day) = (
            digits[..4].parse().expect("digits"),
            digits[4..6].parse().expect("digits"),
            digits[6..].parse().expect("digits"),
        );
        let born = BeijingDay::from_ymd(year, month, day)
            .filter(|_| year >= EARLIEST_BIRTH_YEAR)
            .ok_or_else(|| ResidentIdError::ImpossibleBirthDate { digits: digits.to_owned() })?;
        if born > today {
            return Err(ResidentIdError::BirthDateInFuture { digits: digits.to_owned() });
        }
        Ok(Self { number: text.to_owned(), born })
    }

    pub fn as_str(&self) -> &str {
        &self.number
    }

    pub fn born(&self) -> BeijingDay {
        self.born
    }

    /// The region code of the office that issued the number.
    pub fn region_code(&self) -> &str {
        &self.number[..6]
    }

    /// Whole years of age on `today`.
    pub fn age_on(&self, today: BeijingDay) -> u32 {
        let (by, bm, bd) = self.born.ymd();
        let (ty, tm, td) = today.ymd();
        let had_birthday = (tm, td) >= (bm, bd);
        (ty - by - i32::from(!had_birthday)).max(0) as u32
    }

    /// The number with all but the first and last few characters hidden, for logs and pages.
    pub fn masked(&self) -> String {
        format!("{}**********{}", &self.number[..4], &self.number[14..])
    }
}

/// Never prints the whole number: it is personal data.
impl fmt::Debug for ResidentId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ResidentId({})", self.masked())
    }
}

impl From<ResidentId> for String {
    fn from(id: ResidentId) -> String {
        id.number
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use ResidentIdError::*;

    fn day(y: i32, m: u32, d: u32) -> BeijingDay {
        BeijingDay::from_ymd(y, m, d).unwrap()
    }

    const TODAY: (i32, u32, u32) = (2026, 11, 26);

    fn parse(raw: &str) -> Result<ResidentId, ResidentIdError> {
        ResidentId::parse(raw, day(TODAY.0, TODAY.1, TODAY.2))
    }

    /// `11010519491231002X` is the standard's own example; the others' check characters were
    /// computed apart from this code, in Python: `"10X98765432"[sum(d*w) % 11]`.
    #[test]
    fn valid_numbers_parse() {
        let table = [
            ("11010519491231002X", (1949, 12, 31)),
            ("440301200002291237", (2000, 2, 29)),
            ("510108199003071232", (1990, 3, 7)),
            ("310115198001018763", (1980, 1, 1)),
            ("110105194912310003", (1949, 12, 31)),
        ];
        for (raw, born) in table {
            let id = parse(raw).unwrap_or_else(|e| panic!("{raw}: {e}"));
            assert_eq!(id.as_str(), raw);
            assert_eq!(id.born().ymd(), born);
        }
        let id = parse("11010519491231002X").unwrap();
        assert_eq!(id.region_code(), "110105");
        assert_eq!(id.age_on(day(2026, 12, 30)), 76);
        assert_eq!(id.age_on(day(2026, 12, 31)), 77);
        assert_eq!(format!("{id:?}"), "ResidentId(1101**********002X)");
    }

    /// Each invalid number differs from a valid one in one way; where the check must still
    /// hold (region, date), it was recomputed in Python for the changed digits.
    #[test]
    fn each_invalid_number_gets_its_exact_verdict() {
        let table: [(&str, ResidentIdError); 13] = [
            ("", WrongLength { chars: 0 }),
            ("110105491231002", WrongLength { chars: 15 }),
            ("11010519491231002X0", WrongLength { chars: 19 }),
            ("11010519491231002x", Lowercase { position: 18 }),
            ("1101051949123100XX", ForbiddenCharacter { position: 17, character: 'X' }),
            ("11010519491231O02X", ForbiddenCharacter { position: 15, character: 'O' }),
            ("11010519491231002Ｘ", ForbiddenCharacter { position: 18, character: 'Ｘ' }),
            ("110105194912310021", BadCheckCharacter { expected: 'X', found: '1' }),
            ("11010519491321002X", BadCheckCharacter { expected: '0', found: 'X' }),
            ("000000194912310027", BadRegion { code: "000000".into() }),
            ("990105194912310023", BadRegion { code: "990105".into() }),
            ("110105202302290014", ImpossibleBirthDate { digits: "20230229".into() }),
            ("11010520300101001X", BirthDateInFuture { digits: "20300101".into() }),
        ];
        for (raw, verdict) in table {
            assert_eq!(parse(raw).map(|id| id.as_str().to_owned()), Err(verdict), "{raw:?}");
        }
    }

    #[test]
    fn born_today_is_fine_and_tomorrow_is_not_and_1899_is_impossible() {
        // check characters from Python for 20261126 / 20261127 / 18991231
        assert_eq!(parse("110105202611260011").unwrap().born().ymd(), (2026, 11, 26));
        assert_eq!(parse("110105202611270017"), Err(BirthDateInFuture { digits: "20261127".into() }));
        assert_eq!(parse("110105189912310015"), Err(ImpossibleBirthDate { digits: "18991231".into() }));
    }

    proptest! {
        /// Any single changed digit in the first seventeen is caught by the check character.
        #[test]
        fn one_changed_digit_is_always_caught(at in 0usize..17, shift in 1u8..10) {
            let mut bytes = b"11010519491231002X".to_vec();
            bytes[at] = b'0' + (bytes[at] - b'0' + shift) % 10;
            let changed = String::from_utf8(bytes).unwrap();
            let is_bad_check = matches!(parse(&changed), Err(BadCheckCharacter { .. }));
            prop_assert!(is_bad_check, "{} parsed", changed);
        }
    }
}
