//! The rows of a bulk import (CSV or XLSX, read into cells by the caller): products keyed by
//! the merchant's product code, one row per SKU. [`check`] reads every row, keeps the good
//! ones grouped by product and reports every bad one with its row number (as a spreadsheet
//! shows it: the header is row 1), column and reason. A row is taken whole or not at all;
//! the other rows of its product still are.

use std::collections::{BTreeMap, HashMap, HashSet};

use serde::Serialize;

use super::{
    DEFAULT_SKU, MAX_DESCRIPTION_CHARS, MAX_SKUS, MAX_SPEC_CHARS, MAX_SPECS, MAX_TITLE_CHARS, ReturnShipping,
    SkuDraft, Spec, code, line, price, stock, threshold,
};
use crate::content::BannedWords;

/// The columns of the template, in its order. `specs` is `颜色=红;尺码=M` (empty: the default
/// SKU); `price` is in yuan with at most two decimals; `no_reason_returns` is 是/否 (empty:
/// 是); `return_shipping` is buyer, seller or insurance (empty: buyer).
pub const COLUMNS: [&str; 10] = [
    "product_code",
    "title",
    "description",
    "sku_code",
    "specs",
    "price",
    "stock",
    "low_stock_threshold",
    "no_reason_returns",
    "return_shipping",
];

/// Columns that must be in the header.
const REQUIRED: [&str; 5] = ["product_code", "title", "sku_code", "price", "stock"];

/// One bad row's fault.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RowFault {
    /// As a spreadsheet numbers it: the header is row 1.
    pub row: usize,
    pub column: String,
    pub reason: String,
}

/// A product of the file, with its good rows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportProduct {
    pub code: String,
    pub title: String,
    pub description: String,
    pub no_reason_returns: bool,
    pub return_shipping: ReturnShipping,
    /// In order of first appearance, names and values.
    pub specs: Vec<Spec>,
    pub skus: Vec<SkuDraft>,
    /// The row of each SKU.
    pub rows: Vec<usize>,
}

/// What a file holds: its good products and every fault.
#[derive(Debug, Clone, Default)]
pub struct Checked {
    pub products: Vec<ImportProduct>,
    pub faults: Vec<RowFault>,
    /// Data rows read (the header and blank rows not counted).
    pub rows: usize,
}

impl Checked {
    pub fn good_rows(&self) -> usize {
        self.products.iter().map(|p| p.skus.len()).sum()
    }
}

/// A price in yuan (`129`, `129.9`, `129.90`) as fen.
pub fn yuan_to_fen(raw: &str) -> Option<i64> {
    let raw = raw.trim();
    let (whole, frac) = raw.split_once('.').unwrap_or((raw, ""));
    if whole.is_empty()
        || whole.len() > 9
        || frac.len() > 2
        || !whole.bytes().all(|b| b.is_ascii_digit())
        || !frac.bytes().all(|b| b.is_ascii_digit())
    {
        return None;
    }
    let fen = whole.parse::<i64>().ok()? * 100 + format!("{frac:0<2}").parse::<i64>().ok()?;
    Some(fen)
}

fn whole_number(raw: &str) -> Option<i64> {
    let raw = raw.trim();
    if raw.is_empty() || raw.len() > 9 || !raw.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    raw.parse().ok()
}

fn yes_no(raw: &str) -> Option<bool> {
    match raw.trim().to_lowercase().as_str() {
        "" | "是" | "yes" | "y" | "true" | "1" => Some(true),
        "否" | "no" | "n" | "false" | "0" => Some(false),
        _ => None,
    }
}

fn shipping(raw: &str) -> Option<ReturnShipping> {
    match raw.trim() {
        "" | "买家" => Some(ReturnShipping::Buyer),
        "卖家" | "商家" => Some(ReturnShipping::Seller),
        "运费险" => Some(ReturnShipping::Insurance),
        other => ReturnShipping::parse(&other.to_lowercase()),
    }
}

/// `颜色=红;尺码=M` → `[(颜色, 红), (尺码, M)]`; full-width `＝`, `：`, `；` and `:` accepted.
fn spec_pairs(raw: &str) -> Result<Vec<(String, String)>, String> {
    let mut pairs: Vec<(String, String)> = Vec::new();
    for part in raw.split([';', '；']).map(str::trim).filter(|p| !p.is_empty()) {
        let Some((name, value)) = part.split_once(['=', '＝', ':', '：']) else {
            return Err(format!("{part:?} is not name=value"));
        };
        let (name, value) = (name.trim(), value.trim());
        let name = line(name, "spec name", MAX_SPEC_CHARS).map_err(|f| f.to_string())?;
        let value = line(value, "spec value", MAX_SPEC_CHARS).map_err(|f| f.to_string())?;
        if pairs.iter().any(|(n, _)| *n == name) {
            return Err(format!("spec {name} is named twice"));
        }
        pairs.push((name, value));
    }
    if pairs.len() > MAX_SPECS {
        return Err(format!("at most {MAX_SPECS} specs"));
    }
    Ok(pairs)
}

/// Reads a file's cells: `rows[0]` is the header. A banned word in a title, description or
/// spec is a fault of its row when `refuse_banned` holds a dictionary (the setting that
/// refuses rather than reviews).
pub fn check(rows: &[Vec<String>], refuse_banned: Option<&BannedWords>) -> Checked {
    let mut out = Checked::default();
    let Some(header) = rows.first() else {
        out.faults.push(RowFault { row: 1, column: "header".into(), reason: "the file is empty".into() });
        return out;
    };
    let index: HashMap<String, usize> = header
        .iter()
        .enumerate()
        .map(|(i, name)| (name.trim().trim_start_matches('\u{FEFF}').to_lowercase(), i))
        .collect();
    let missing: Vec<&str> = REQUIRED.iter().copied().filter(|c| !index.contains_key(*c)).collect();
    if !missing.is_empty() {
        for column in missing {
            out.faults.push(RowFault {
                row: 1,
                column: column.into(),
                reason: "column missing from the header".into(),
            });
        }
        return out;
    }
    let mut by_code: HashMap<String, usize> = HashMap::new();
    let mut sku_codes: HashSet<(String, String)> = HashSet::new();
    let mut combos: HashSet<(String, BTreeMap<String, String>)> = HashSet::new();
    for (i, cells) in rows.iter().enumerate().skip(1) {
        let row = i + 1;
        let cell = |column: &str| index.get(column).and_then(|&at| cells.get(at)).map_or("", |c| c.as_str());
        if COLUMNS.iter().all(|c| cell(c).trim().is_empty()) {
            continue;
        }
        out.rows += 1;
        let mut faults: Vec<RowFault> = Vec::new();
        let mut bad =
            |column: &str, reason: String| faults.push(RowFault { row, column: column.into(), reason });
        let product_code =
            code(cell("product_code"), "product_code").map_err(|f| bad("product_code", f.reason)).ok();
        let title = line(cell("title"), "title", MAX_TITLE_CHARS).map_err(|f| bad("title", f.reason)).ok();
        let description = cell("description").trim().to_owned();
        if description.chars().count() > MAX_DESCRIPTION_CHARS {
            bad("description", format!("is longer than {MAX_DESCRIPTION_CHARS} characters"));
        }
        let sku_raw = cell("sku_code");
        let sku_code = if sku_raw.trim().is_empty() && cell("specs").trim().is_empty() {
            Some(DEFAULT_SKU.to_owned())
        } else {
            code(sku_raw, "sku_code").map_err(|f| bad("sku_code", f.reason)).ok()
        };
        let pairs = spec_pairs(cell("specs")).map_err(|e| bad("specs", e)).ok();
        let price_fen = match yuan_to_fen(cell("price")) {
            Some(fen) => price(fen, "price").map(|()| fen).map_err(|f| bad("price", f.reason)).ok(),
            None => {
                bad("price", "must be a price in yuan with at most two decimals".into());
                None
            }
        };
        let units = match whole_number(cell("stock")) {
            Some(n) => stock(n, "stock").map(|()| n).map_err(|f| bad("stock", f.reason)).ok(),
            None => {
                bad("stock", "must be a whole number of units".into());
                None
            }
        };
        let raw_threshold = cell("low_stock_threshold");
        let low = if raw_threshold.trim().is_empty() {
            Some(0)
        } else {
            match whole_number(raw_threshold) {
                Some(n) => threshold(n, "low_stock_threshold")
                    .map(|()| n)
                    .map_err(|f| bad("low_stock_threshold", f.reason))
                    .ok(),
                None => {
                    bad("low_stock_threshold", "must be a whole number of units".into());
                    None
                }
            }
        };
        let no_reason = yes_no(cell("no_reason_returns"));
        if no_reason.is_none() {
            bad("no_reason_returns", "must be 是 or 否 (yes or no)".into());
        }
        let ship = shipping(cell("return_shipping"));
        if ship.is_none() {
            bad("return_shipping", "must be buyer, seller or insurance".into());
        }
        if let Some(words) = refuse_banned {
            for (column, text) in
                [("title", cell("title")), ("description", cell("description")), ("specs", cell("specs"))]
            {
                let found = words.words_in(text);
                if !found.is_empty() {
                    bad(column, format!("banned words: {}", found.join(", ")));
                }
            }
        }
        let (
            Some(product_code),
            Some(title),
            Some(sku_code),
            Some(pairs),
            Some(price_fen),
            Some(units),
            Some(low),
            Some(no_reason),
            Some(ship),
        ) = (product_code, title, sku_code, pairs, price_fen, units, low, no_reason, ship)
        else {
            out.faults.extend(faults);
            continue;
        };
        if !faults.is_empty() {
            out.faults.extend(faults);
            continue;
        }
        // Against the product's earlier good rows.
        let values: BTreeMap<String, String> = pairs.iter().cloned().collect();
        if let Some(&at) = by_code.get(&product_code) {
            let product = &out.products[at];
            let reason = if product.title != title {
                Some(("title", format!("differs from row {}'s title of the same product", product.rows[0])))
            } else if product.description != description {
                Some((
                    "description",
                    format!("differs from row {}'s description of the same product", product.rows[0]),
                ))
            } else if product.no_reason_returns != no_reason {
                Some((
                    "no_reason_returns",
                    format!("differs from row {} of the same product", product.rows[0]),
                ))
            } else if product.return_shipping != ship {
                Some(("return_shipping", format!("differs from row {} of the same product", product.rows[0])))
            } else if product.specs.len() != pairs.len()
                || product.specs.iter().zip(&pairs).any(|(s, (n, _))| s.name != *n)
            {
                Some(("specs", format!("names other specs than row {} of the same product", product.rows[0])))
            } else if pairs.is_empty() {
                Some(("specs", "a product without specs has one SKU".to_owned()))
            } else if product.skus.len() >= MAX_SKUS {
                Some(("sku_code", format!("a product has at most {MAX_SKUS} SKUs")))
            } else if sku_codes.contains(&(product_code.clone(), sku_code.clone())) {
                Some(("sku_code", "names a SKU of this product twice".to_owned()))
            } else if combos.contains(&(product_code.clone(), values.clone())) {
                Some(("specs", "the same spec values as another SKU of this product".to_owned()))
            } else {
                None
            };
            if let Some((column, reason)) = reason {
                out.faults.push(RowFault { row, column: column.into(), reason });
                continue;
            }
            let product = &mut out.products[at];
            for (spec, (_, value)) in product.specs.iter_mut().zip(&pairs) {
                if !spec.values.contains(value) {
                    spec.values.push(value.clone());
                }
            }
            product.skus.push(SkuDraft {
                code: sku_code.clone(),
                values: values.clone(),
                price_fen,
                stock: units,
                low_stock_threshold: low,
            });
            product.rows.push(row);
        } else {
            by_code.insert(product_code.clone(), out.products.len());
            out.products.push(ImportProduct {
                code: product_code.clone(),
                title,
                description,
                no_reason_returns: no_reason,
                return_shipping: ship,
                specs: pairs.iter().map(|(n, v)| Spec { name: n.clone(), values: vec![v.clone()] }).collect(),
                skus: vec![SkuDraft {
                    code: sku_code.clone(),
                    values: values.clone(),
                    price_fen,
                    stock: units,
                    low_stock_threshold: low,
                }],
                rows: vec![row],
            });
        }
        sku_codes.insert((product_code.clone(), sku_code));
        combos.insert((product_code, values));
    }
    out.faults.sort_by_key(|f| f.row);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rows(lines: &[&str]) -> Vec<Vec<String>> {
        lines.iter().map(|l| l.split(',').map(str::to_owned).collect()).collect()
    }

    const HEADER: &str = "product_code,title,description,sku_code,specs,price,stock,low_stock_threshold,no_reason_returns,return_shipping";

    #[test]
    fn good_rows_group_by_product_and_bad_ones_name_row_and_column() {
        let file = rows(&[
            HEADER,
            "P1,T恤,纯棉,P1-R-M,颜色=红;尺码=M,59.90,10,2,是,buyer",
            "P1,T恤,纯棉,P1-B-M,颜色=蓝;尺码=M,59.9,0,,是,buyer",
            "P2,杯子,,,,19,5,,否,seller",
            "P3,,x,S1,,abc,-1,,maybe,ship",
            "P1,T恤,纯棉,P1-R-M,颜色=绿;尺码=M,59.90,10,2,是,buyer",
            "P4,全网最低 好物,,,,19,5,,,",
            ",,,,,,,,,",
        ]);
        let checked = check(&file, Some(&BannedWords::seed()));
        assert_eq!(checked.rows, 6);
        assert_eq!(checked.products.len(), 2);
        assert_eq!(checked.products[0].skus.len(), 2);
        assert_eq!(checked.products[0].skus[1].price_fen, 5990);
        assert_eq!(checked.products[0].specs[0].values, ["红", "蓝"]);
        assert_eq!(checked.products[1].skus[0].code, DEFAULT_SKU);
        let faults: Vec<(usize, &str)> = checked.faults.iter().map(|f| (f.row, f.column.as_str())).collect();
        assert_eq!(
            faults,
            [
                (5, "title"),
                (5, "price"),
                (5, "stock"),
                (5, "no_reason_returns"),
                (5, "return_shipping"),
                (6, "sku_code"),
                (7, "title"),
            ]
        );
    }

    #[test]
    fn prices_in_yuan() {
        assert_eq!(yuan_to_fen("129"), Some(12_900));
        assert_eq!(yuan_to_fen("0.5"), Some(50));
        assert_eq!(yuan_to_fen("1.234"), None);
        assert_eq!(yuan_to_fen("-1"), None);
        assert_eq!(yuan_to_fen(""), None);
    }

    #[test]
    fn a_missing_column_is_reported_on_the_header() {
        let checked = check(&rows(&["product_code,title", "P1,x"]), None);
        assert_eq!(checked.faults.len(), 3);
        assert!(checked.faults.iter().all(|f| f.row == 1));
    }
}
