//! WeChat Pay's daily trade bill (`/v3/bill/tradebill`): the file as it travels (gzipped
//! when asked with `tar_type=GZIP`, its integrity given as `hash_type` `SHA1` and
//! `hash_value`, the digest of the original, uncompressed file) and read into statement lines.

use std::io::{Read as _, Write as _};

use sha1::{Digest as _, Sha1};

use crate::payments::yuan::parse_yuan;
use crate::payments::{ChannelError, StatementLine};

/// The largest bill we unpack: far above a day of one merchant's trades, and a bound on what
/// a corrupt or hostile file can make us allocate.
const MAX_BILL_BYTES: u64 = 256 * 1024 * 1024;

/// `hash_value` of a bill: SHA1 of the original file, lowercase hex.
pub fn bill_hash(plain: &[u8]) -> String {
    Sha1::digest(plain).iter().map(|b| format!("{b:02x}")).collect()
}

/// A bill as sent for `tar_type=GZIP`.
pub fn gzip_bill(plain: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    encoder.write_all(plain).expect("writing into memory does not fail");
    encoder.finish().expect("writing into memory does not fail")
}

/// The bill file as downloaded (gzip, or plain when the channel did not compress it), checked
/// against the `hash_type`/`hash_value` of the signed answer that gave its URL.
pub fn unpack_bill(
    downloaded: &[u8],
    hash_type: Option<&str>,
    hash_value: Option<&str>,
) -> Result<String, ChannelError> {
    let plain = if downloaded.starts_with(&[0x1f, 0x8b]) {
        let mut plain = Vec::new();
        flate2::read::GzDecoder::new(downloaded)
            .take(MAX_BILL_BYTES)
            .read_to_end(&mut plain)
            .map_err(|e| ChannelError::Protocol(format!("bill is not valid gzip: {e}")))?;
        plain
    } else {
        downloaded.to_vec()
    };
    match (hash_type, hash_value) {
        (Some("SHA1"), Some(expected)) if expected.eq_ignore_ascii_case(&bill_hash(&plain)) => {}
        (Some("SHA1"), Some(expected)) => {
            return Err(ChannelError::Protocol(format!(
                "bill SHA1 is {}, the answer said {expected}",
                bill_hash(&plain)
            )));
        }
        (hash_type, _) => return Err(ChannelError::Protocol(format!("bill hash_type {hash_type:?}"))),
    }
    String::from_utf8(plain).map_err(|_| ChannelError::Protocol("bill is not UTF-8".into()))
}

/// WeChat Pay's trade bill: a header row, then rows whose fields start with a backtick.
pub fn parse_bill(csv_text: &str) -> Result<Vec<StatementLine>, ChannelError> {
    let mut reader =
        csv::ReaderBuilder::new().has_headers(true).flexible(true).from_reader(csv_text.as_bytes());
    let headers = reader.headers().map_err(|e| ChannelError::Protocol(e.to_string()))?.clone();
    let column = |name: &str| {
        headers
            .iter()
            .position(|h| h == name)
            .ok_or_else(|| ChannelError::Protocol(format!("bill has no {name}")))
    };
    let (txn, out_no, state, amount, refund) = (
        column("微信订单号")?,
        column("商户订单号")?,
        column("交易状态")?,
        column("应结订单金额")?,
        column("退款金额")?,
    );
    let mut lines = Vec::new();
    for record in reader.records() {
        let record = record.map_err(|e| ChannelError::Protocol(e.to_string()))?;
        let field = |i: usize| record.get(i).unwrap_or_default().trim_start_matches('`').to_owned();
        if field(0).starts_with("总") {
            break; // the summary section
        }
        let (kind, yuan) = match field(state).as_str() {
            "SUCCESS" => ("PAY", field(amount)),
            "REFUND" => ("REFUND", field(refund)),
            _ => continue,
        };
        let fen = parse_yuan(&yuan).ok_or_else(|| ChannelError::Protocol(format!("amount {yuan:?}")))?;
        lines.push(StatementLine {
            transaction_id: field(txn),
            out_trade_no: field(out_no),
            kind: kind.into(),
            amount_fen: fen.as_i64(),
        });
    }
    Ok(lines)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wechat_bills_read_payments_and_refunds_and_stop_at_the_summary() {
        let bill = "交易时间,公众账号ID,商户号,微信订单号,商户订单号,交易状态,应结订单金额,微信退款单号,商户退款单号,退款金额\n\
                    `2026-11-25 10:00:00,`wx1,`1900000109,`4200001,`FS1W,`SUCCESS,`19.80,`,`,`0.00\n\
                    `2026-11-25 10:05:00,`wx1,`1900000109,`4200002,`FS2W,`REFUND,`0.00,`5030001,`RFS2W,`9.90\n\
                    `2026-11-25 10:06:00,`wx1,`1900000109,`4200003,`FS3W,`CLOSED,`0.00,`,`,`0.00\n\
                    总交易单数,应结订单总金额,退款总金额\n\
                    `2,`19.80,`9.90\n";
        let lines = parse_bill(bill).unwrap();
        assert_eq!(lines.len(), 2);
        assert_eq!(
            (lines[0].transaction_id.as_str(), lines[0].kind.as_str(), lines[0].amount_fen),
            ("4200001", "PAY", 1_980)
        );
        assert_eq!(
            (lines[1].out_trade_no.as_str(), lines[1].kind.as_str(), lines[1].amount_fen),
            ("FS2W", "REFUND", 990)
        );
        assert!(parse_bill("交易时间,微信订单号\n`x,`y\n").is_err(), "a bill without its columns");
    }

    #[test]
    fn a_gzipped_bill_unpacks_only_with_the_sha1_of_the_original() {
        let plain = "交易时间,微信订单号\n`2026-11-25 10:00:00,`4200001\n";
        let hash = bill_hash(plain.as_bytes());
        assert_eq!(hash.len(), 40);
        let packed = gzip_bill(plain.as_bytes());
        assert_eq!(unpack_bill(&packed, Some("SHA1"), Some(&hash)).unwrap(), plain);
        assert_eq!(unpack_bill(plain.as_bytes(), Some("SHA1"), Some(&hash)).unwrap(), plain);
        assert!(unpack_bill(&packed, Some("SHA1"), Some(&bill_hash(b"other"))).is_err());
        assert!(unpack_bill(&packed, Some("SHA1"), Some("")).is_err(), "an empty hash_value proves nothing");
        assert!(unpack_bill(&packed, Some("MD5"), Some(&hash)).is_err());
        assert!(unpack_bill(&packed[..10], Some("SHA1"), Some(&hash)).is_err(), "a cut gzip");
        // The digest WeChat Pay documents is plain SHA1: the digest of "abc".
        assert_eq!(bill_hash(b"abc"), "a9993e364706816aba3e25717850c26c9cd0d89d");
    }
}
