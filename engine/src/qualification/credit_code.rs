//! The unified social credit code (统一社会信用代码, GB 32100-2015) that a business licence
//! carries: 18 characters from a 31-character alphabet (the digits and the capital letters
//! without I, O, S, V and Z), the last one a check character over the first seventeen.
//!
//! Layout: 1 registration authority (`9` = market regulation), 2 entity category (under `9`:
//! `1` company, `2` individual business, `3` farmers' cooperative), 3–8 the region code of the
//! registering office, 9–17 the organisation code, 18 the check character.
//!
//! Lowercase letters are refused, not folded: the code is printed in capitals on the licence
//! and is compared byte for byte with what the verification service and the ban list hold, so
//! one spelling per code is kept; the verdict names the position so a form can say "capitals".
//! The organisation code's own check digit (GB 11714) is not enforced: codes of individual
//! businesses registered before 2016 do not all satisfy it, and the overall check character
//! already catches a mistyped character.

use std::fmt;

use serde::{Deserialize, Serialize};
use thiserror::Error;

/// The alphabet in value order: a character's value is its index (`0`–`9` are 0–9, `A` is 10,
/// `Y` is 30).
const ALPHABET: &[u8; 31] = b"0123456789ABCDEFGHJKLMNPQRTUWXY";
/// The weight of position `i` (0-based) is `3^i mod 31`.
const WEIGHTS: [u32; 17] = [1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28];
pub const LENGTH: usize = 18;

/// Why a text is not a unified social credit code. Positions count from 1, in characters.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum CreditCodeError {
    #[error("a unified social credit code has 18 characters, this has {chars}")]
    WrongLength { chars: usize },
    #[error("character {position} ({character:?}) is lowercase: write the code in capital letters")]
    Lowercase { position: usize, character: char },
    #[error("character {position} ({character:?}) cannot appear in a unified social credit code")]
    ForbiddenCharacter { position: usize, character: char },
    #[error("the check character is {found:?} but the first 17 characters give {expected:?}")]
    BadCheckCharacter { expected: char, found: char },
}

/// A unified social credit code whose alphabet and check character are right.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct CreditCode(String);

fn value_of(byte: u8) -> Option<u32> {
    ALPHABET.iter().position(|&c| c == byte).map(|v| v as u32)
}

/// The check character of 17 valid characters' values.
fn check_character(values: &[u32; 17]) -> char {
    let sum: u32 = values.iter().zip(WEIGHTS).map(|(v, w)| v * w).sum();
    ALPHABET[((31 - sum % 31) % 31) as usize] as char
}

impl CreditCode {
    /// Surrounding whitespace is ignored; everything else must be exact.
    pub fn parse(raw: &str) -> Result<Self, CreditCodeError> {
        let text = raw.trim();
        let chars = text.chars().count();
        if chars != LENGTH {
            return Err(CreditCodeError::WrongLength { chars });
        }
        let mut values = [0u32; 17];
        for (index, character) in text.chars().enumerate() {
            let position = index + 1;
            let value = u8::try_from(character).ok().filter(u8::is_ascii).and_then(value_of);
            match value {
                Some(value) if index < 17 => values[index] = value,
                Some(_) => {}
                None if character.is_ascii_lowercase()
                    && value_of(character.to_ascii_uppercase() as u8).is_some() =>
                {
                    return Err(CreditCodeError::Lowercase { position, character });
                }
                None => return Err(CreditCodeError::ForbiddenCharacter { position, character }),
            }
        }
        let expected = check_character(&values);
        let found = text.as_bytes()[17] as char;
        if expected != found {
            return Err(CreditCodeError::BadCheckCharacter { expected, found });
        }
        Ok(Self(text.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Character 1: who registered the entity (`9` market regulation, `1` public institutions,
    /// `5` civil affairs, …).
    pub fn registration_authority(&self) -> char {
        self.0.as_bytes()[0] as char
    }

    /// Character 2: the kind of entity within its authority (`91…` company, `92…` individual
    /// business).
    pub fn entity_category(&self) -> char {
        self.0.as_bytes()[1] as char
    }

    /// Characters 3–8: the administrative division of the registering office.
    pub fn region_code(&self) -> &str {
        &self.0[2..8]
    }
}

impl fmt::Display for CreditCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<String> for CreditCode {
    type Error = CreditCodeError;
    fn try_from(raw: String) -> Result<Self, Self::Error> {
        Self::parse(&raw)
    }
}

impl From<CreditCode> for String {
    fn from(code: CreditCode) -> String {
        code.0
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use CreditCodeError::*;

    /// Valid codes: two published ones (the first is the usual textbook example, the second a
    /// listed company's) and three whose check character was computed apart from this code, in
    /// Python: `ALPHABET[(31 - sum(v*3**i % 31)) % 31]`.
    const VALID: [&str; 5] = [
        "91350100M000100Y43",
        "91110108551385082Q",
        "91110000100000000R",
        "92350203MA2Y1AB2K7",
        "12100000400000624D",
    ];

    #[test]
    fn valid_codes_parse_and_say_what_they_are() {
        for raw in VALID {
            let code = CreditCode::parse(raw).unwrap_or_else(|e| panic!("{raw}: {e}"));
            assert_eq!(code.as_str(), raw);
        }
        let individual = CreditCode::parse(" 92350203MA2Y1AB2K7\n").unwrap();
        assert_eq!(individual.as_str(), "92350203MA2Y1AB2K7");
        assert_eq!((individual.registration_authority(), individual.entity_category()), ('9', '2'));
        assert_eq!(individual.region_code(), "350203");
    }

    #[test]
    fn each_invalid_code_gets_its_exact_verdict() {
        let table: [(&str, CreditCodeError); 14] = [
            ("", WrongLength { chars: 0 }),
            ("91350100M000100Y4", WrongLength { chars: 17 }),
            ("91350100M000100Y433", WrongLength { chars: 19 }),
            ("９1350100M000100Y43", ForbiddenCharacter { position: 1, character: '９' }),
            ("91350100m000100Y43", Lowercase { position: 9, character: 'm' }),
            ("91110108551385082q", Lowercase { position: 18, character: 'q' }),
            ("91350100I000100Y43", ForbiddenCharacter { position: 9, character: 'I' }),
            ("91350100O000100Y43", ForbiddenCharacter { position: 9, character: 'O' }),
            ("91350100S000100Y43", ForbiddenCharacter { position: 9, character: 'S' }),
            ("91350100V000100Y43", ForbiddenCharacter { position: 9, character: 'V' }),
            ("91350100M000100Z43", ForbiddenCharacter { position: 16, character: 'Z' }),
            // lowercase of a forbidden letter is forbidden, not "use capitals"
            ("91350100M000100o43", ForbiddenCharacter { position: 16, character: 'o' }),
            ("91350100M000100Y44", BadCheckCharacter { expected: '3', found: '4' }),
            // two neighbours swapped: the weights differ, so the check catches it
            ("91351000M000100Y43", BadCheckCharacter { expected: 'A', found: '3' }),
        ];
        for (raw, verdict) in table {
            assert_eq!(CreditCode::parse(raw), Err(verdict), "{raw:?}");
        }
    }

    #[test]
    fn serde_goes_through_parse() {
        let code: CreditCode = serde_json::from_str("\"91350100M000100Y43\"").unwrap();
        assert_eq!(serde_json::to_string(&code).unwrap(), "\"91350100M000100Y43\"");
        assert!(serde_json::from_str::<CreditCode>("\"91350100M000100Y44\"").is_err());
    }

    fn body() -> impl Strategy<Value = Vec<u8>> {
        proptest::collection::vec(proptest::sample::select(ALPHABET.to_vec()), 17)
    }

    proptest! {
        /// Any 17 characters of the alphabet with their check character parse, and changing
        /// any one character to another of the alphabet is caught.
        #[test]
        fn one_changed_character_is_always_caught(body in body(), at in 0usize..18, shift in 1u32..31) {
            let values: [u32; 17] = std::array::from_fn(|i| value_of(body[i]).unwrap());
            let mut code: Vec<u8> = body.clone();
            code.push(check_character(&values) as u8);
            let text = String::from_utf8(code.clone()).unwrap();
            prop_assert!(CreditCode::parse(&text).is_ok());
            let old = value_of(code[at]).unwrap();
            code[at] = ALPHABET[((old + shift) % 31) as usize];
            let changed = String::from_utf8(code).unwrap();
            let is_bad_check = matches!(CreditCode::parse(&changed), Err(BadCheckCharacter { .. }));
            prop_assert!(is_bad_check, "{} parsed", changed);
        }
    }
}
