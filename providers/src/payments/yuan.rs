//! Amounts as both channels write them in text: yuan with up to two decimals (`"19.80"`),
//! parsed into fen exactly, never through a float; in JSON also as numbers (`19.8`).

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

/// A yuan amount in JSON, exactly: a string (`"19.80"`, as the channels write amounts) or a
/// number (`19.8`, as clients such as python-alipay-sdk send them). A number is read from its
/// own text, never through a float, so `0.01` is 1 fen and `0.001` is refused.
pub fn parse_yuan_json(raw: &serde_json::value::RawValue) -> Option<Fen> {
    let text = raw.get().trim();
    if text.starts_with('"') {
        parse_yuan(&serde_json::from_str::<String>(text).ok()?)
    } else {
        parse_yuan(text)
    }
}

/// The yuan amount `field` of a JSON object's text, exactly (see [`parse_yuan_json`]); `None`
/// when it is absent or not an amount.
pub fn yuan_field(object_text: &str, field: &str) -> Option<Fen> {
    let fields: std::collections::BTreeMap<String, Box<serde_json::value::RawValue>> =
        serde_json::from_str(object_text).ok()?;
    parse_yuan_json(fields.get(field)?)
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
        let biz = r#"{"a":"19.80","b":19.8,"c":0.01,"d":0.001,"e":1e-2,"f":-1,"g":"x","h":600000}"#;
        let expected = [("a", Some(1_980)), ("b", Some(1_980)), ("c", Some(1)), ("d", None), ("e", None)];
        for (field, fen) in expected.into_iter().chain([("f", None), ("g", None), ("h", Some(60_000_000))]) {
            assert_eq!(yuan_field(biz, field), fen.map(Fen), "{field}");
        }
        assert_eq!(yuan_field(biz, "missing"), None);
        assert_eq!(format_yuan(Fen(5)), "0.05");
    }
}
