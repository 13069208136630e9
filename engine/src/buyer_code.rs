//! One-time login codes that prove a buyer holds a phone number: when a code may be sent
//! (resend window, daily caps per phone and per network), and whether a presented code opens a
//! session (expiry, tries, lock, one use). Values in, values out; time is passed in.
//!
//! Caps are checked by counting codes that already include the new one, so the storage can
//! insert first, count, and withdraw a code that went over: concurrent requests then never
//! leave more codes standing than a cap allows (they may both withdraw, never both stay).
//! A cap of `0` is switched off.

use std::fmt;

use thiserror::Error;

use crate::input::InputError;
use crate::time::Timestamp;

pub const HOUR_MS: i64 = 3_600_000;
/// Daily caps are over the last 24 hours, not a calendar day: no burst at midnight.
pub const DAY_MS: i64 = 24 * HOUR_MS;

/// The six digits a fan types. `Debug` never shows them, so a stray `{:?}` cannot log one.
#[derive(Clone, PartialEq, Eq)]
pub struct LoginCode(String);

impl LoginCode {
    pub const DIGITS: usize = 6;

    pub fn parse(raw: &str) -> Result<Self, InputError> {
        let raw = raw.trim();
        let ok = raw.len() == Self::DIGITS && raw.bytes().all(|b| b.is_ascii_digit());
        if ok { Ok(Self(raw.to_owned())) } else { Err(InputError::LoginCode) }
    }

    /// A code from a number below 10^6 (the caller draws it from a CSPRNG).
    pub fn from_number(n: u32) -> Self {
        assert!(n < 1_000_000, "a login code has six digits");
        Self(format!("{n:06}"))
    }

    /// The digits, for the message to the phone and the keyed hash; never for logs or answers.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for LoginCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("LoginCode(******)")
    }
}

/// The rules of codes, from configuration. Each cap is `0` when off.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CodeRules {
    pub ttl_ms: i64,
    /// Wrong tries a code takes; the next try after them finds it locked.
    pub max_wrong_attempts: u32,
    /// A new code for the same phone only after this long.
    pub resend_after_ms: i64,
    pub phone_daily_cap: u64,
    pub network_daily_cap: u64,
    /// New sessions opened from one network per hour.
    pub network_hourly_sessions: u64,
}

/// A code as stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CodeState {
    pub issued_at: Timestamp,
    pub expires_at: Timestamp,
    pub wrong_attempts: u32,
    /// It opened a session already.
    pub used: bool,
}

/// Codes counted after the new one was stored, the new one included.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IssueCounts {
    /// Codes of the phone issued within the resend window.
    pub phone_recent: u64,
    /// The earliest of those (the one that sets when a resend is allowed).
    pub phone_recent_first: Timestamp,
    pub phone_day: u64,
    pub network_day: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum IssueRefusal {
    #[error("a code was sent to this phone less than a minute ago; try again in {retry_after_secs}s")]
    TooSoon { retry_after_secs: u64 },
    #[error("this phone has had as many codes as it may have today")]
    PhoneDailyCap,
    #[error("this network has asked for as many codes as it may today")]
    NetworkDailyCap,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum CodeRefusal {
    #[error("no code is pending for this phone; request one first")]
    NoCode,
    #[error("the code has expired; request a new one")]
    Expired,
    #[error("the code is wrong; {remaining} tries left")]
    Wrong { remaining: u32 },
    #[error("too many wrong tries; request a new code")]
    Locked,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
#[error("this network has opened as many sessions as it may this hour")]
pub struct SessionCapReached;

fn within(cap: u64, count: u64) -> bool {
    cap == 0 || count <= cap
}

impl CodeRules {
    /// The state of a code issued `now`.
    pub fn issue(&self, now: Timestamp) -> CodeState {
        CodeState { issued_at: now, expires_at: now.plus_millis(self.ttl_ms), wrong_attempts: 0, used: false }
    }

    /// Where the windows of [`IssueCounts`] start.
    pub fn resend_window_start(&self, now: Timestamp) -> Timestamp {
        now.plus_millis(-self.resend_after_ms.max(0))
    }

    /// Whether the code just stored may stand, given the counts that include it.
    pub fn check_issue(&self, counts: IssueCounts, now: Timestamp) -> Result<(), IssueRefusal> {
        if self.resend_after_ms > 0 && counts.phone_recent > 1 {
            let allowed_at = counts.phone_recent_first.plus_millis(self.resend_after_ms);
            let wait_ms = (allowed_at.as_millis() - now.as_millis()).max(1_000);
            return Err(IssueRefusal::TooSoon { retry_after_secs: (wait_ms as u64).div_ceil(1_000) });
        }
        if !within(self.phone_daily_cap, counts.phone_day) {
            return Err(IssueRefusal::PhoneDailyCap);
        }
        if !within(self.network_daily_cap, counts.network_day) {
            return Err(IssueRefusal::NetworkDailyCap);
        }
        Ok(())
    }

    /// What presenting a code does to the newest code of the phone (`None`: there is none).
    /// `matches` is whether the presented digits are this code's. A wrong try is only counted
    /// when the answer is [`CodeRefusal::Wrong`]; every other answer leaves the code as it is.
    pub fn check_code(
        &self,
        code: Option<&CodeState>,
        matches: bool,
        now: Timestamp,
    ) -> Result<(), CodeRefusal> {
        let code = code.filter(|c| !c.used).ok_or(CodeRefusal::NoCode)?;
        if now >= code.expires_at {
            return Err(CodeRefusal::Expired);
        }
        if code.wrong_attempts >= self.max_wrong_attempts {
            return Err(CodeRefusal::Locked);
        }
        if !matches {
            return Err(CodeRefusal::Wrong { remaining: self.max_wrong_attempts - code.wrong_attempts - 1 });
        }
        Ok(())
    }

    /// Whether a session just opened may stand, given the sessions of its network this hour
    /// (itself included).
    pub fn check_session(&self, network_hour: u64) -> Result<(), SessionCapReached> {
        if within(self.network_hourly_sessions, network_hour) { Ok(()) } else { Err(SessionCapReached) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const RULES: CodeRules = CodeRules {
        ttl_ms: 300_000,
        max_wrong_attempts: 5,
        resend_after_ms: 60_000,
        phone_daily_cap: 10,
        network_daily_cap: 100,
        network_hourly_sessions: 30,
    };
    const T0: Timestamp = Timestamp(1_800_000_000_000);

    fn counts(phone_recent: u64, phone_day: u64, network_day: u64) -> IssueCounts {
        IssueCounts { phone_recent, phone_recent_first: T0, phone_day, network_day }
    }

    #[test]
    fn codes_parse_as_six_digits_and_never_show_in_debug() {
        assert_eq!(LoginCode::parse(" 012345 ").unwrap().expose(), "012345");
        for bad in ["", "12345", "1234567", "12345a", "１２３４５６", "-12345"] {
            assert_eq!(LoginCode::parse(bad), Err(InputError::LoginCode), "{bad}");
        }
        assert_eq!(LoginCode::from_number(42).expose(), "000042");
        assert!(!format!("{:?}", LoginCode::from_number(987_654)).contains("987654"));
    }

    #[test]
    fn a_code_opens_a_session_until_it_expires() {
        let code = RULES.issue(T0);
        assert_eq!(code.expires_at, T0.plus_millis(300_000));
        assert_eq!(RULES.check_code(Some(&code), true, T0.plus_millis(299_999)), Ok(()));
        assert_eq!(RULES.check_code(Some(&code), true, T0.plus_millis(300_000)), Err(CodeRefusal::Expired));
        assert_eq!(RULES.check_code(None, true, T0), Err(CodeRefusal::NoCode));
        let used = CodeState { used: true, ..code };
        assert_eq!(RULES.check_code(Some(&used), true, T0), Err(CodeRefusal::NoCode));
    }

    #[test]
    fn five_wrong_tries_then_the_code_is_locked_even_for_the_right_digits() {
        let mut code = RULES.issue(T0);
        for remaining in (0..5).rev() {
            assert_eq!(RULES.check_code(Some(&code), false, T0), Err(CodeRefusal::Wrong { remaining }));
            code.wrong_attempts += 1;
        }
        assert_eq!(RULES.check_code(Some(&code), false, T0), Err(CodeRefusal::Locked));
        assert_eq!(RULES.check_code(Some(&code), true, T0), Err(CodeRefusal::Locked));
    }

    #[test]
    fn resend_waits_a_minute_and_says_how_long() {
        assert_eq!(RULES.check_issue(counts(1, 1, 1), T0), Ok(()));
        assert_eq!(
            RULES.check_issue(counts(2, 2, 2), T0.plus_millis(20_500)),
            Err(IssueRefusal::TooSoon { retry_after_secs: 40 })
        );
        let off = CodeRules { resend_after_ms: 0, ..RULES };
        assert_eq!(off.check_issue(counts(2, 2, 2), T0), Ok(()));
    }

    #[test]
    fn daily_caps_hold_and_zero_switches_them_off() {
        assert_eq!(RULES.check_issue(counts(1, 10, 100), T0), Ok(()));
        assert_eq!(RULES.check_issue(counts(1, 11, 11), T0), Err(IssueRefusal::PhoneDailyCap));
        assert_eq!(RULES.check_issue(counts(1, 1, 101), T0), Err(IssueRefusal::NetworkDailyCap));
        let off = CodeRules { phone_daily_cap: 0, network_daily_cap: 0, ..RULES };
        assert_eq!(off.check_issue(counts(1, 1_000, 1_000_000), T0), Ok(()));
    }

    #[test]
    fn sessions_per_network_per_hour() {
        assert_eq!(RULES.check_session(30), Ok(()));
        assert_eq!(RULES.check_session(31), Err(SessionCapReached));
        assert_eq!(CodeRules { network_hourly_sessions: 0, ..RULES }.check_session(u64::MAX), Ok(()));
    }
}
