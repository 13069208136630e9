//! WeChat Pay's daily trade bill (`/v3/bill/tradebill`), read into statement lines.

use crate::payments::yuan::parse_yuan;
use crate::payments::{ChannelError, StatementLine};

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
}
