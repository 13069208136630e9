//! Alipay's daily trade bill (business detail, `alipay.data.dataservice.bill.downloadurl.query`),
//! read into statement lines.

use crate::payments::yuan::parse_yuan;
use crate::payments::{ChannelError, StatementLine};

/// Alipay's trade bill (business detail): `支付宝交易号,商户订单号,业务类型,…,订单金额（元）,…`.
pub fn parse_bill(csv_text: &str) -> Result<Vec<StatementLine>, ChannelError> {
    let body: String = csv_text.lines().filter(|l| !l.starts_with('#')).collect::<Vec<_>>().join("\n");
    let mut reader = csv::ReaderBuilder::new().has_headers(true).flexible(true).from_reader(body.as_bytes());
    let headers = reader.headers().map_err(|e| ChannelError::Protocol(e.to_string()))?.clone();
    let column = |name: &str| {
        headers
            .iter()
            .position(|h| h.trim() == name)
            .ok_or_else(|| ChannelError::Protocol(format!("bill has no {name}")))
    };
    let (txn, out_no, kind, amount) =
        (column("支付宝交易号")?, column("商户订单号")?, column("业务类型")?, column("订单金额（元）")?);
    let mut lines = Vec::new();
    for record in reader.records() {
        let record = record.map_err(|e| ChannelError::Protocol(e.to_string()))?;
        let field = |i: usize| record.get(i).unwrap_or_default().trim().to_owned();
        let kind = match field(kind).as_str() {
            "交易" => "PAY",
            "退款" => "REFUND",
            _ => continue,
        };
        let raw = field(amount);
        let fen = parse_yuan(raw.trim_start_matches('-'))
            .ok_or_else(|| ChannelError::Protocol(format!("amount {raw:?}")))?;
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
    fn alipay_bills_skip_comments_and_read_signed_refunds() {
        let bill = "#支付宝业务明细查询\n#账号：[x]\n\
                    支付宝交易号,商户订单号,业务类型,商品名称,创建时间,完成时间,订单金额（元）\n\
                    2026001,FS1A,交易,口红,2026-11-25 10:00:00,2026-11-25 10:00:01,19.80\n\
                    2026001,FS1A,退款,口红,2026-11-25 11:00:00,2026-11-25 11:00:01,-19.80\n\
                    #业务明细列表结束\n";
        let lines = parse_bill(bill).unwrap();
        assert_eq!(lines.len(), 2);
        assert_eq!((lines[0].kind.as_str(), lines[0].amount_fen), ("PAY", 1_980));
        assert_eq!((lines[1].kind.as_str(), lines[1].amount_fen), ("REFUND", 1_980));
        assert!(parse_bill("支付宝交易号,商户订单号,业务类型,订单金额（元）\nx,y,交易,1.234\n").is_err());
    }
}
