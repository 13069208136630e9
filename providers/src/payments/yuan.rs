//! Amounts as both channels write them in text: yuan with up to two decimals (`"19.80"`),
//! parsed into fen exactly, never through a float.

use engine::Fen;

/// `"19.8"` → 1,980 fen. No sign, no exponent, at most two decimals.
pub fn parse_yuan(raw: &str) -> Option<Fen> {
    let (whole, fraction) = raw.split_once('.').unwrap_or((raw, ""));
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if !digits(whole) || (raw.contains('.') && !digits(fraction)) || fraction.len() > 2 || whole.len() > 12 {
        return None;
    }
    let yuan: i64 = whole.parse().ok()?;
    let fen: i64 = format!("{fraction:0<2}").parse().ok()?;
    yuan.checked_mul(100)?.checked_add(fen).map(Fen)
}

/// 1,980 fen → `"19.80"`.
pub fn format_yuan(amount: Fen) -> String {
    assert!(amount.as_i64() >= 0);
    format!("{}.{:02}", amount.as_i64() / 100, amount.as_i64() % 100)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn yuan_amounts_parse_exactly() {
        assert_eq!(parse_yuan("19.80"), Some(Fen(1_980)));
        assert_eq!(parse_yuan("19.8"), Some(Fen(1_980)));
        assert_eq!(parse_yuan("0.01"), Some(Fen(1)));
        assert_eq!(parse_yuan("600000"), Some(Fen(60_000_000)));
        for bad in ["", ".5", "1.", "1.234", "-1.00", "1e3", "1,00", " 1.00", "0x10"] {
            assert_eq!(parse_yuan(bad), None, "{bad:?}");
        }
        assert_eq!(format_yuan(Fen(1_980)), "19.80");
        assert_eq!(format_yuan(Fen(5)), "0.05");
    }
}
