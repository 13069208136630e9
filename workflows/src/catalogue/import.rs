//! Bulk import of products and their SKUs from CSV or XLSX (read with `calamine`): the file is
//! read into cells, every row checked ([`engine::catalogue::import::check`]), and either
//! reported (a dry run) or the good rows written ([`persistence::catalogue::import`]), keyed
//! by the merchant's product code so that uploading the same file again changes nothing. The
//! template comes as CSV or XLSX.

use std::io::Cursor;

use calamine::{Data, Reader, Xlsx};
use engine::MerchantId;
use engine::catalogue::ProductState;
use engine::catalogue::import::{COLUMNS, Checked, RowFault, check};
use persistence::catalogue::{self as stored, ImportItem, Imported};
use serde::Serialize;

use super::{BannedAction, Catalogue};

/// The file kinds an import reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileKind {
    Csv,
    Xlsx,
}

impl FileKind {
    /// From a file name or content type; XLSX files are also known by their zip signature.
    pub fn detect(name: &str, content_type: &str, bytes: &[u8]) -> Option<Self> {
        let name = name.to_ascii_lowercase();
        if bytes.starts_with(b"PK\x03\x04")
            || name.ends_with(".xlsx")
            || content_type.contains("spreadsheetml")
        {
            Some(Self::Xlsx)
        } else if name.ends_with(".csv")
            || content_type.starts_with("text/")
            || content_type.is_empty()
            || content_type == "application/octet-stream"
        {
            Some(Self::Csv)
        } else {
            None
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("the file is neither CSV nor XLSX")]
    UnsupportedType,
    #[error("the file could not be read: {0}")]
    Unreadable(String),
    #[error("the file has more than {0} rows")]
    TooManyRows(usize),
    #[error("database: {0}")]
    Db(#[from] persistence::DbErr),
}

/// What an import answers: every fault, and on apply what was written.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub dry_run: bool,
    pub rows: usize,
    pub good_rows: usize,
    pub bad_rows: usize,
    pub products: usize,
    pub faults: Vec<RowFault>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub imported: Option<Imported>,
}

/// A cell as the text a person typed: whole numbers without `.0`.
fn cell_text(cell: &Data) -> String {
    match cell {
        Data::Empty => String::new(),
        Data::String(s) => s.clone(),
        Data::Int(i) => i.to_string(),
        Data::Float(f) if f.fract() == 0.0 && f.abs() < 1e15 => format!("{}", *f as i64),
        Data::Float(f) => {
            // a price typed as 59.9 comes back as 59.900000000000006 at worst: two decimals
            let rounded = (f * 100.0).round() / 100.0;
            if ((rounded - f).abs()) < 1e-9 { format!("{rounded}") } else { format!("{f}") }
        }
        Data::Bool(b) => if *b { "是" } else { "否" }.to_owned(),
        other => other.to_string(),
    }
}

/// A file's rows of cells (the first is the header), at most `max_rows` data rows.
pub fn read(kind: FileKind, bytes: &[u8], max_rows: usize) -> Result<Vec<Vec<String>>, ImportError> {
    let rows: Vec<Vec<String>> = match kind {
        FileKind::Csv => {
            let text = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
            let mut reader = csv::ReaderBuilder::new().has_headers(false).flexible(true).from_reader(text);
            let mut rows = Vec::new();
            for record in reader.records() {
                let record = record.map_err(|e| ImportError::Unreadable(e.to_string()))?;
                rows.push(record.iter().map(str::to_owned).collect());
                if rows.len() > max_rows + 1 {
                    return Err(ImportError::TooManyRows(max_rows));
                }
            }
            rows
        }
        FileKind::Xlsx => {
            let mut workbook: Xlsx<_> =
                Xlsx::new(Cursor::new(bytes)).map_err(|e| ImportError::Unreadable(e.to_string()))?;
            let range = workbook
                .worksheet_range_at(0)
                .ok_or_else(|| ImportError::Unreadable("the workbook has no sheet".into()))?
                .map_err(|e| ImportError::Unreadable(e.to_string()))?;
            if range.height() > max_rows + 1 {
                return Err(ImportError::TooManyRows(max_rows));
            }
            // Rows above the range's first are empty: keep the spreadsheet's numbering.
            let top = range.start().map_or(0, |(row, _)| row as usize);
            let left = range.start().map_or(0, |(_, col)| col as usize);
            let mut rows: Vec<Vec<String>> = vec![Vec::new(); top];
            for row in range.rows() {
                let mut cells = vec![String::new(); left];
                cells.extend(row.iter().map(cell_text));
                rows.push(cells);
            }
            rows
        }
    };
    if rows.len() > max_rows + 1 {
        return Err(ImportError::TooManyRows(max_rows));
    }
    Ok(rows)
}

impl Catalogue {
    /// Checks a file and, unless `dry_run`, writes its good rows.
    pub async fn import(
        &self,
        merchant: MerchantId,
        kind: FileKind,
        bytes: Vec<u8>,
        dry_run: bool,
    ) -> Result<Report, ImportError> {
        let max_rows = self.settings.import_max_rows;
        let rows = tokio::task::spawn_blocking(move || read(kind, &bytes, max_rows))
            .await
            .map_err(|e| ImportError::Unreadable(e.to_string()))??;
        let refuse = (self.settings.banned_words_action == BannedAction::Reject).then_some(&self.words);
        let checked: Checked = check(&rows, refuse);
        let bad_rows = {
            let mut rows: Vec<usize> = checked.faults.iter().map(|f| f.row).collect();
            rows.dedup();
            rows.len()
        };
        let mut report = Report {
            dry_run,
            rows: checked.rows,
            good_rows: checked.good_rows(),
            bad_rows,
            products: checked.products.len(),
            faults: checked.faults.clone(),
            imported: None,
        };
        if !dry_run {
            let items: Vec<ImportItem> = checked
                .products
                .iter()
                .map(|product| {
                    let mut texts = vec![product.title.as_str(), product.description.as_str()];
                    for spec in &product.specs {
                        texts.push(&spec.name);
                        texts.extend(spec.values.iter().map(String::as_str));
                    }
                    let words = self.banned_in(&texts);
                    if words.is_empty() {
                        ImportItem { product, state: ProductState::Listed, reason: None }
                    } else {
                        ImportItem {
                            product,
                            state: ProductState::UnderReview,
                            reason: Some(format!("banned words: {}", words.join(", "))),
                        }
                    }
                })
                .collect();
            report.imported = Some(stored::import(&self.db, merchant, &items, self.clock.now()).await?);
        }
        Ok(report)
    }
}

/// The template's example rows: a product of four SKUs and one without specs.
const EXAMPLE: [[&str; 10]; 3] = [
    [
        "TSHIRT-01",
        "纯棉短袖T恤",
        "夏季新款，100g 纯棉",
        "TSHIRT-01-W-M",
        "颜色=白;尺码=M",
        "59.90",
        "100",
        "10",
        "是",
        "buyer",
    ],
    [
        "TSHIRT-01",
        "纯棉短袖T恤",
        "夏季新款，100g 纯棉",
        "TSHIRT-01-W-L",
        "颜色=白;尺码=L",
        "59.90",
        "80",
        "10",
        "是",
        "buyer",
    ],
    ["MUG-01", "陶瓷马克杯", "", "", "", "29", "200", "", "否", "seller"],
];

/// The template as CSV (UTF-8 with a byte-order mark, which spreadsheet programs need).
pub fn template_csv() -> Vec<u8> {
    let mut out = b"\xEF\xBB\xBF".to_vec();
    let mut writer = csv::Writer::from_writer(&mut out);
    writer.write_record(COLUMNS).expect("writing to memory");
    for row in EXAMPLE {
        writer.write_record(row).expect("writing to memory");
    }
    writer.flush().expect("writing to memory");
    drop(writer);
    out
}

/// Rows as an XLSX workbook of one sheet, every cell text (the template, and tests).
pub fn xlsx_of(rows: &[Vec<String>]) -> anyhow::Result<Vec<u8>> {
    let mut workbook = rust_xlsxwriter::Workbook::new();
    let sheet = workbook.add_worksheet();
    for (r, row) in rows.iter().enumerate() {
        for (c, cell) in row.iter().enumerate() {
            sheet.write_string(u32::try_from(r)?, u16::try_from(c)?, cell)?;
        }
    }
    Ok(workbook.save_to_buffer()?)
}

/// The template as XLSX.
pub fn template_xlsx() -> anyhow::Result<Vec<u8>> {
    let mut rows: Vec<Vec<String>> = vec![COLUMNS.iter().map(|c| (*c).to_owned()).collect()];
    rows.extend(EXAMPLE.iter().map(|r| r.iter().map(|c| (*c).to_owned()).collect()));
    xlsx_of(&rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_templates_read_back_clean() {
        for (kind, bytes) in [(FileKind::Csv, template_csv()), (FileKind::Xlsx, template_xlsx().unwrap())] {
            let rows = read(kind, &bytes, 100).unwrap();
            let checked = check(&rows, None);
            assert_eq!(checked.faults, vec![], "{kind:?}");
            assert_eq!((checked.rows, checked.products.len()), (3, 2), "{kind:?}");
        }
    }
}
