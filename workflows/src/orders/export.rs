//! Exports of a merchant's orders as CSV or XLSX. Up to `direct_max_rows` orders are built in
//! memory and answered at once; more (up to `max_rows`) become a job that writes a file and
//! is fetched by its link. Jobs are bounded (`max_jobs`, running or ready; one more is
//! refused), their files live in one directory and are deleted `ttl` after they were made,
//! and a job is only ever shown to the merchant who asked for it.
//!
//! The address of an order still to ship is exported whole (the merchant packs from this
//! sheet); every other address masked, as in the list.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use engine::time::Clock;
use engine::{MerchantId, Timestamp};
use parking_lot::Mutex;
use persistence::order_lists::{self, Cursor, OrderFilter};
use persistence::{DatabaseConnection, DbErr};
use rand::Rng as _;
use thiserror::Error;

use super::{OrderRow, ShownAddress, rows_of};
use crate::fulfilment::shipping::courier_name;
use crate::time::rfc3339;

/// Orders read per query while exporting.
const CHUNK: u64 = 1_000;

#[derive(Debug, Clone)]
pub struct ExportSettings {
    pub direct_max_rows: u64,
    pub max_rows: u64,
    pub max_jobs: usize,
    pub dir: PathBuf,
    pub ttl: Duration,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExportFormat {
    Csv,
    Xlsx,
}

impl ExportFormat {
    pub fn parse(raw: &str) -> Option<Self> {
        match raw {
            "csv" => Some(Self::Csv),
            "xlsx" => Some(Self::Xlsx),
            _ => None,
        }
    }

    pub fn content_type(self) -> &'static str {
        match self {
            Self::Csv => "text/csv; charset=utf-8",
            Self::Xlsx => "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        }
    }

    pub fn extension(self) -> &'static str {
        match self {
            Self::Csv => "csv",
            Self::Xlsx => "xlsx",
        }
    }
}

/// A file to answer with.
pub struct ExportFile {
    pub bytes: Vec<u8>,
    pub format: ExportFormat,
    pub rows: u64,
}

/// What an export request came to.
pub enum ExportOutcome {
    /// Small enough: here it is.
    Direct(ExportFile),
    /// A job was started; ask for it by this id.
    Job(String),
}

#[derive(Debug, Error)]
pub enum ExportError {
    #[error("the export would hold {rows} orders, at most {max} may be exported at once: narrow the range")]
    TooLarge { rows: u64, max: u64 },
    #[error("{max} exports are being prepared or kept already, retry later")]
    Busy { max: usize },
    #[error("export failed: {0}")]
    Failed(String),
    #[error(transparent)]
    Db(#[from] DbErr),
}

/// Where a job is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JobState {
    Running,
    Ready { rows: u64 },
    Failed(String),
}

#[derive(Debug, Clone)]
struct Job {
    merchant: MerchantId,
    format: ExportFormat,
    state: JobState,
    created_at: Timestamp,
    path: PathBuf,
}

/// A job as its merchant sees it.
#[derive(Debug, Clone)]
pub struct JobView {
    pub id: String,
    pub format: ExportFormat,
    pub state: JobState,
    pub created_at: Timestamp,
    pub expires_at: Timestamp,
}

pub struct Exports {
    db: DatabaseConnection,
    clock: Arc<dyn Clock>,
    settings: ExportSettings,
    jobs: Mutex<HashMap<String, Job>>,
}

const HEADER: [&str; 13] = [
    "订单号",
    "下单时间",
    "秒杀场次",
    "状态",
    "数量",
    "金额(元)",
    "收货人",
    "电话",
    "省",
    "市",
    "区",
    "详细地址",
    "快递/运单号",
];

fn cells(row: &OrderRow) -> [String; 13] {
    let o = &row.order;
    let (name, phone, province, city, district, detail) = match &row.address {
        Some(ShownAddress::Whole(a)) => (
            a.name.clone(),
            a.phone.as_str().to_owned(),
            a.province.clone(),
            a.city.clone(),
            a.district.clone(),
            a.detail.clone(),
        ),
        Some(ShownAddress::Masked(a)) => (
            a.name.clone(),
            a.phone.clone(),
            a.province.clone(),
            a.city.clone(),
            a.district.clone(),
            a.detail.clone(),
        ),
        None => Default::default(),
    };
    let shipped = row
        .shipment
        .as_ref()
        .map(|s| format!("{} {}", courier_name(&s.courier), s.waybill_no))
        .unwrap_or_default();
    [
        o.id.0.to_string(),
        rfc3339(o.created_at),
        o.flash_sale_id.0.to_string(),
        o.state.as_str().to_owned(),
        o.quantity.to_string(),
        o.amount_fen.to_string(),
        name,
        phone,
        province,
        city,
        district,
        detail,
        shipped,
    ]
}

/// A spreadsheet program reads a cell starting with `=`, `+`, `-` or `@` as a formula: such
/// text is written with a leading apostrophe (CSV injection).
fn csv_safe(text: &str) -> String {
    if text.starts_with(['=', '+', '-', '@']) { format!("'{text}") } else { text.to_owned() }
}

/// Builds the file from rows.
struct Sheet {
    format: ExportFormat,
    csv: Option<csv::Writer<Vec<u8>>>,
    book: Option<rust_xlsxwriter::Workbook>,
    row: u32,
}

impl Sheet {
    fn new(format: ExportFormat) -> Result<Self, ExportError> {
        let mut sheet = Self { format, csv: None, book: None, row: 0 };
        match format {
            ExportFormat::Csv => {
                // A byte-order mark, so that Excel opens the UTF-8 text as such.
                let mut writer = csv::Writer::from_writer("\u{feff}".as_bytes().to_vec());
                writer.write_record(HEADER).map_err(|e| ExportError::Failed(e.to_string()))?;
                sheet.csv = Some(writer);
            }
            ExportFormat::Xlsx => {
                let mut book = rust_xlsxwriter::Workbook::new();
                let page = book.add_worksheet();
                page.set_name("订单").map_err(|e| ExportError::Failed(e.to_string()))?;
                for (col, title) in HEADER.iter().enumerate() {
                    page.write_string(0, col as u16, *title)
                        .map_err(|e| ExportError::Failed(e.to_string()))?;
                }
                sheet.book = Some(book);
            }
        }
        Ok(sheet)
    }

    fn push(&mut self, row: &OrderRow) -> Result<(), ExportError> {
        let cells = cells(row);
        self.row += 1;
        let failed = |e: &dyn std::fmt::Display| ExportError::Failed(e.to_string());
        if let Some(writer) = &mut self.csv {
            let safe: Vec<String> = cells.iter().map(|c| csv_safe(c)).collect();
            writer.write_record(&safe).map_err(|e| failed(&e))?;
        }
        if let Some(book) = &mut self.book {
            let page = book.worksheet_from_index(0).map_err(|e| failed(&e))?;
            for (col, text) in cells.iter().enumerate() {
                let col = col as u16;
                // Amount and quantity as numbers, so that the sheet can sum them.
                if col == 4 || col == 5 {
                    let value: f64 = text.parse().unwrap_or_default();
                    page.write_number(self.row, col, value).map_err(|e| failed(&e))?;
                } else {
                    page.write_string(self.row, col, text).map_err(|e| failed(&e))?;
                }
            }
        }
        Ok(())
    }

    fn finish(self) -> Result<Vec<u8>, ExportError> {
        match self.format {
            ExportFormat::Csv => self
                .csv
                .expect("a csv sheet has its writer")
                .into_inner()
                .map_err(|e| ExportError::Failed(e.to_string())),
            ExportFormat::Xlsx => self
                .book
                .expect("an xlsx sheet has its book")
                .save_to_buffer()
                .map_err(|e| ExportError::Failed(e.to_string())),
        }
    }
}

impl Exports {
    pub fn new(
        db: DatabaseConnection,
        clock: Arc<dyn Clock>,
        settings: ExportSettings,
    ) -> std::io::Result<Self> {
        std::fs::create_dir_all(&settings.dir)?;
        Ok(Self { db, clock, settings, jobs: Mutex::new(HashMap::new()) })
    }

    /// Every matching order of `merchant` into one file.
    async fn build(
        db: &DatabaseConnection,
        merchant: MerchantId,
        filter: &OrderFilter,
        format: ExportFormat,
        max_rows: u64,
    ) -> Result<(Sheet, u64), ExportError> {
        let mut sheet = Sheet::new(format)?;
        let mut cursor: Option<Cursor> = None;
        let mut rows = 0;
        while rows < max_rows {
            let orders =
                order_lists::merchant_orders(db, merchant, filter, cursor, CHUNK.min(max_rows - rows))
                    .await?;
            let Some(last) = orders.last() else { break };
            cursor = Some(Cursor { created_at: last.created_at, id: last.id.0 });
            let fetched = orders.len() as u64;
            for row in rows_of(db, orders).await? {
                sheet.push(&row)?;
            }
            rows += fetched;
            if fetched < CHUNK {
                break;
            }
        }
        Ok((sheet, rows))
    }

    /// [`Self::build`], then the file made on a blocking thread (zipping a large workbook is
    /// CPU work).
    async fn made(
        db: &DatabaseConnection,
        merchant: MerchantId,
        filter: &OrderFilter,
        format: ExportFormat,
        max_rows: u64,
    ) -> Result<ExportFile, ExportError> {
        let (sheet, rows) = Self::build(db, merchant, filter, format, max_rows).await?;
        let bytes = tokio::task::spawn_blocking(move || sheet.finish())
            .await
            .map_err(|e| ExportError::Failed(e.to_string()))??;
        Ok(ExportFile { bytes, format, rows })
    }

    /// Exports `merchant`'s orders matching `filter`.
    pub async fn export(
        self: &Arc<Self>,
        merchant: MerchantId,
        filter: OrderFilter,
        format: ExportFormat,
    ) -> Result<ExportOutcome, ExportError> {
        let rows = order_lists::count(&self.db, merchant, &filter).await?;
        if rows > self.settings.max_rows {
            return Err(ExportError::TooLarge { rows, max: self.settings.max_rows });
        }
        if rows <= self.settings.direct_max_rows {
            let file = Self::made(&self.db, merchant, &filter, format, self.settings.direct_max_rows).await?;
            return Ok(ExportOutcome::Direct(file));
        }
        let now = self.clock.now();
        let id = format!("{:032x}", rand::rng().random::<u128>());
        let path = self.settings.dir.join(format!("{id}.{}", format.extension()));
        {
            let mut jobs = self.jobs.lock();
            if jobs.len() >= self.settings.max_jobs {
                return Err(ExportError::Busy { max: self.settings.max_jobs });
            }
            let job = Job { merchant, format, state: JobState::Running, created_at: now, path: path.clone() };
            jobs.insert(id.clone(), job);
        }
        let exports = self.clone();
        let job_id = id.clone();
        tokio::spawn(async move {
            let built = Self::made(&exports.db, merchant, &filter, format, exports.settings.max_rows).await;
            let state = match built {
                Ok(file) => match tokio::fs::write(&path, &file.bytes).await {
                    Ok(()) => JobState::Ready { rows: file.rows },
                    Err(e) => JobState::Failed(e.to_string()),
                },
                Err(e) => JobState::Failed(e.to_string()),
            };
            if let JobState::Failed(error) = &state {
                tracing::warn!(%error, job = %job_id, "order export failed");
            }
            if let Some(job) = exports.jobs.lock().get_mut(&job_id) {
                job.state = state;
            }
        });
        Ok(ExportOutcome::Job(id))
    }

    /// A job of `merchant`'s.
    pub fn job(&self, merchant: MerchantId, id: &str) -> Option<JobView> {
        let jobs = self.jobs.lock();
        let job = jobs.get(id).filter(|j| j.merchant == merchant)?;
        Some(JobView {
            id: id.to_owned(),
            format: job.format,
            state: job.state.clone(),
            created_at: job.created_at,
            expires_at: job.created_at.plus_millis(self.settings.ttl.as_millis() as i64),
        })
    }

    /// The file of a ready job of `merchant`'s.
    pub async fn file(&self, merchant: MerchantId, id: &str) -> Option<ExportFile> {
        let (path, format, rows) = {
            let jobs = self.jobs.lock();
            let job = jobs.get(id).filter(|j| j.merchant == merchant)?;
            let JobState::Ready { rows } = job.state else { return None };
            (job.path.clone(), job.format, rows)
        };
        let bytes = tokio::fs::read(path).await.ok()?;
        Some(ExportFile { bytes, format, rows })
    }

    /// Forgets finished jobs older than the time to live and deletes their files; how many.
    pub fn clean_up(&self) -> usize {
        let now = self.clock.now();
        let ttl_ms = self.settings.ttl.as_millis() as i64;
        let mut expired = Vec::new();
        self.jobs.lock().retain(|_, job| {
            let keep =
                job.state == JobState::Running || now.as_millis() - job.created_at.as_millis() < ttl_ms;
            if !keep {
                expired.push(job.path.clone());
            }
            keep
        });
        for path in &expired {
            let _ = std::fs::remove_file(path);
        }
        expired.len()
    }

    /// The clean-up, every `every`.
    pub fn spawn_cleanup(self: Arc<Self>, every: Duration) -> tokio::task::JoinHandle<()> {
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(every);
            loop {
                tick.tick().await;
                self.clean_up();
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cells_that_look_like_formulas_are_defused() {
        assert_eq!(csv_safe("=SUM(A1)"), "'=SUM(A1)");
        assert_eq!(csv_safe("-1"), "'-1");
        assert_eq!(csv_safe("张三"), "张三");
    }
}
