//! What a merchant's console shows in figures: a period's report (orders, GMV, average order
//! value, buyers, top products, fans by province) with its CSV and XLSX exports, and a sale's
//! live board figures, kept for a second so that many open boards cost one read a second.
//!
//! Every figure counts *placed* orders: pending payment or paid (and later states, refunds
//! included), not expired or cancelled ones. GMV is their amount; the paid part is shown apart.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use engine::{BeijingDay, Fen, FlashSaleId, MerchantId, ProductId, Timestamp};
use persistence::reports::{self, OrderFigures};
use persistence::{DatabaseConnection, DbErr, repo};
use tokio::sync::OnceCell;

/// A period of the dashboard, in Beijing days.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Period {
    Day(BeijingDay),
    /// The Monday-to-Sunday week containing the day.
    Week(BeijingDay),
    /// The calendar month containing the day.
    Month(BeijingDay),
}

/// Days since 1970-01-01 in Beijing.
fn day_number(day: BeijingDay) -> i64 {
    (day.start().as_millis() + 8 * 3_600_000).div_euclid(86_400_000)
}

impl Period {
    /// `[first day, day after the last)`.
    pub fn days(self) -> (BeijingDay, BeijingDay) {
        match self {
            Period::Day(day) => (day, day.next()),
            Period::Week(day) => {
                // 1970-01-01 was a Thursday: three days after a Monday.
                let from_monday = (day_number(day) + 3).rem_euclid(7);
                let mut first = day;
                for _ in 0..from_monday {
                    first = first.previous();
                }
                let mut end = first;
                for _ in 0..7 {
                    end = end.next();
                }
                (first, end)
            }
            Period::Month(day) => {
                let (year, month, _) = day.ymd();
                let first = BeijingDay::from_ymd(year, month, 1).expect("the first of a month exists");
                let (next_year, next_month) = if month == 12 { (year + 1, 1) } else { (year, month + 1) };
                let end =
                    BeijingDay::from_ymd(next_year, next_month, 1).expect("the first of a month exists");
                (first, end)
            }
        }
    }

    /// `[from, to)` as instants.
    pub fn bounds(self) -> (Timestamp, Timestamp) {
        let (first, end) = self.days();
        (first.start(), end.start())
    }

    /// `2026-11-26`, `2026-11-23 – 2026-11-29`, `2026-11`.
    pub fn label(self) -> String {
        let (first, end) = self.days();
        match self {
            Period::Day(day) => day.to_string(),
            Period::Week(_) => format!("{first} – {}", end.previous()),
            Period::Month(day) => {
                let (year, month, _) = day.ymd();
                format!("{year:04}-{month:02}")
            }
        }
    }
}

/// One product's share of a period.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProductLine {
    pub product_id: ProductId,
    pub title: String,
    pub figures: OrderFigures,
}

/// A province's share of a period (orders that carry a shipping address).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegionLine {
    pub province: String,
    pub orders: u64,
    pub amount_fen: i64,
}

/// A merchant's period.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    pub period: Period,
    pub totals: OrderFigures,
    pub buyers: u64,
    /// Products by GMV, largest first, at most [`TOP_PRODUCTS`].
    pub top_products: Vec<ProductLine>,
    /// Provinces by orders, most first; empty when no order of the period carries an address.
    pub regions: Vec<RegionLine>,
}

pub const TOP_PRODUCTS: usize = 10;

/// GMV over placed orders, rounded down to the fen; 0 without orders.
pub fn average_order_fen(figures: &OrderFigures) -> i64 {
    if figures.orders == 0 { 0 } else { figures.amount_fen / figures.orders as i64 }
}

/// The report of a merchant's period: grouped reads only (per sale and state, per province).
pub async fn report(db: &DatabaseConnection, merchant: MerchantId, period: Period) -> Result<Report, DbErr> {
    let (from, to) = period.bounds();
    let by_sale = reports::merchant_figures_by_sale(db, merchant, from, to).await?;
    let mut totals = OrderFigures::default();
    let mut by_product: HashMap<ProductId, ProductLine> = HashMap::new();
    for (sale, figures) in by_sale {
        totals.absorb(&figures);
        // Sales per merchant are capped (live and scheduled), so these reads are few.
        let Some(terms) = repo::flash_sale(db, sale).await? else { continue };
        let line = match by_product.entry(terms.product_id) {
            std::collections::hash_map::Entry::Occupied(entry) => entry.into_mut(),
            std::collections::hash_map::Entry::Vacant(entry) => {
                let title = repo::product(db, terms.product_id)
                    .await?
                    .map_or_else(|| terms.title.clone(), |p| p.title);
                entry.insert(ProductLine {
                    product_id: terms.product_id,
                    title,
                    figures: OrderFigures::default(),
                })
            }
        };
        line.figures.absorb(&figures);
    }
    let mut top_products: Vec<ProductLine> = by_product.into_values().collect();
    top_products.sort_by(|a, b| {
        b.figures.amount_fen.cmp(&a.figures.amount_fen).then(a.product_id.0.cmp(&b.product_id.0))
    });
    top_products.truncate(TOP_PRODUCTS);
    let buyers = reports::merchant_buyers(db, merchant, from, to).await?;
    let regions = reports::merchant_regions(db, merchant, from, to)
        .await?
        .into_iter()
        .map(|(province, orders, amount_fen)| RegionLine { province, orders, amount_fen })
        .collect();
    Ok(Report { period, totals, buyers, top_products, regions })
}

/// The rows every export writes: a summary block, the top products, the provinces.
fn rows(report: &Report) -> Vec<Vec<String>> {
    let yuan = |fen: i64| Fen(fen).to_string();
    let t = &report.totals;
    let mut rows = vec![
        vec!["period".into(), report.period.label()],
        vec!["orders".into(), t.orders.to_string()],
        vec!["units".into(), t.units.to_string()],
        vec!["gmv_cny".into(), yuan(t.amount_fen)],
        vec!["paid_orders".into(), t.paid_orders.to_string()],
        vec!["paid_cny".into(), yuan(t.paid_fen)],
        vec!["average_order_cny".into(), yuan(average_order_fen(t))],
        vec!["buyers".into(), report.buyers.to_string()],
        vec![],
        vec![
            "product_id".into(),
            "title".into(),
            "orders".into(),
            "units".into(),
            "gmv_cny".into(),
            "paid_cny".into(),
        ],
    ];
    for line in &report.top_products {
        let f = &line.figures;
        rows.push(vec![
            line.product_id.0.to_string(),
            line.title.clone(),
            f.orders.to_string(),
            f.units.to_string(),
            yuan(f.amount_fen),
            yuan(f.paid_fen),
        ]);
    }
    rows.push(vec![]);
    rows.push(vec!["province".into(), "orders".into(), "gmv_cny".into()]);
    for region in &report.regions {
        rows.push(vec![region.province.clone(), region.orders.to_string(), yuan(region.amount_fen)]);
    }
    rows
}

/// The report as CSV (UTF-8 with a byte-order mark, which spreadsheet programs need to read
/// Chinese titles right).
pub fn csv(report: &Report) -> Result<Vec<u8>, csv::Error> {
    let mut writer = csv::WriterBuilder::new().flexible(true).from_writer(b"\xEF\xBB\xBF".to_vec());
    for row in rows(report) {
        writer.write_record(&row)?;
    }
    writer.into_inner().map_err(|e| csv::Error::from(e.into_error()))
}

/// The report as an Excel workbook, one sheet, numbers as numbers.
pub fn xlsx(report: &Report) -> Result<Vec<u8>, rust_xlsxwriter::XlsxError> {
    let mut book = rust_xlsxwriter::Workbook::new();
    let sheet = book.add_worksheet();
    sheet.set_name("dashboard")?;
    for (r, row) in rows(report).iter().enumerate() {
        let r = u32::try_from(r).expect("a report has few rows");
        for (c, cell) in row.iter().enumerate() {
            let c = u16::try_from(c).expect("a report has few columns");
            match cell.parse::<f64>() {
                Ok(number) => sheet.write_number(r, c, number)?,
                Err(_) => sheet.write_string(r, c, cell)?,
            };
        }
    }
    sheet.set_column_width(1, 28)?;
    book.save_to_buffer()
}

/// How long a sale's board figures are reused.
const BOARD_FRESH_FOR: Duration = Duration::from_secs(1);
/// Sales whose figures are kept at once; past it the memory is emptied.
const BOARD_CAPACITY: usize = 1_024;

type BoardCell = Arc<OnceCell<(OrderFigures, u64)>>;

/// The live boards' order figures per sale: at most one grouped read per sale per second,
/// however many boards are open; concurrent first reads share one.
#[derive(Default)]
pub struct Boards {
    entries: Mutex<HashMap<FlashSaleId, (Instant, BoardCell)>>,
}

impl Boards {
    /// `(placed orders, buyers)` of a sale, at most [`BOARD_FRESH_FOR`] old.
    pub async fn figures(
        &self,
        db: &DatabaseConnection,
        sale: FlashSaleId,
    ) -> Result<(OrderFigures, u64), DbErr> {
        let cell = {
            let mut entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
            let now = Instant::now();
            let stale = entries.get(&sale).is_none_or(|(at, _)| now.duration_since(*at) >= BOARD_FRESH_FOR);
            if stale {
                if entries.len() >= BOARD_CAPACITY {
                    entries.clear();
                }
                entries.insert(sale, (now, Arc::new(OnceCell::new())));
            }
            entries[&sale].1.clone()
        };
        Ok(*cell.get_or_try_init(|| reports::sale_figures(db, sale)).await?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn periods_are_beijing_days_weeks_and_months() {
        let day = BeijingDay::from_ymd(2026, 11, 26).unwrap(); // a Thursday
        assert_eq!(Period::Day(day).label(), "2026-11-26");
        assert_eq!(Period::Week(day).label(), "2026-11-23 – 2026-11-29");
        assert_eq!(Period::Month(day).label(), "2026-11");
        let monday = BeijingDay::from_ymd(2026, 11, 23).unwrap();
        assert_eq!(Period::Week(monday).days().0, monday);
        let sunday = BeijingDay::from_ymd(2026, 11, 29).unwrap();
        assert_eq!(Period::Week(sunday).days().0, monday);
        let (first, end) = Period::Month(BeijingDay::from_ymd(2026, 12, 31).unwrap()).days();
        assert_eq!((first.to_string(), end.to_string()), ("2026-12-01".into(), "2027-01-01".into()));
        // 00:00 Beijing is 16:00 UTC the day before.
        assert_eq!(Period::Day(day).bounds().0, Timestamp(1_795_622_400_000));
    }

    #[test]
    fn the_average_order_is_floored_and_zero_without_orders() {
        let mut figures = OrderFigures { orders: 3, amount_fen: 1_000, ..OrderFigures::default() };
        assert_eq!(average_order_fen(&figures), 333);
        figures.orders = 0;
        assert_eq!(average_order_fen(&figures), 0);
    }
}
