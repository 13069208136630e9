//! A merchant's ledger statement for a spreadsheet or an accountant.

use engine::{Fen, Timestamp};
use persistence::money::StatementLine;

use crate::time::rfc3339;

/// The merchant-facing name of a ledger account (`merchant_available:42` → `available`).
pub fn account_name(raw: &str) -> &str {
    raw.split(':').next().unwrap_or(raw).trim_start_matches("merchant_")
}

/// The lines as CSV with a header row; amounts both in fen and in yuan.
pub fn csv(lines: &[StatementLine]) -> Result<Vec<u8>, csv::Error> {
    let mut writer = csv::Writer::from_writer(Vec::new());
    writer.write_record([
        "created_at",
        "op_id",
        "kind",
        "order_id",
        "account",
        "amount_fen",
        "amount_cny",
    ])?;
    for line in lines {
        writer.write_record([
            rfc3339(Timestamp(line.created_at)),
            line.op_id.clone(),
            line.kind.clone(),
            line.order_id.map(|o| o.to_string()).unwrap_or_default(),
            account_name(&line.account).to_owned(),
            line.amount_fen.to_string(),
            Fen(line.amount_fen).to_string(),
        ])?;
    }
    writer.into_inner().map_err(|e| csv::Error::from(e.into_error()))
}
