//! A merchant's catalogue as values: a product's state and the moves between states, its
//! specs (colour × size…) and SKUs (each its own code, price, stock and low-stock threshold),
//! its after-sales policy, and the rows of a bulk import, each checked with the row and column
//! of every fault.
//!
//! A product without specs has one default SKU (code `default`, no spec values).

use std::collections::{BTreeMap, HashSet};

use serde::{Deserialize, Serialize};

use crate::sale::SaleTerms;

pub mod import;

/// Most specs a product has (colour, size, material).
pub const MAX_SPECS: usize = 3;
/// Most values one spec has.
pub const MAX_SPEC_VALUES: usize = 20;
/// Most SKUs one product has.
pub const MAX_SKUS: usize = 200;
/// Most units one SKU may hold.
pub const MAX_STOCK: i64 = 10_000_000;
pub const MAX_TITLE_CHARS: usize = 120;
pub const MAX_DESCRIPTION_CHARS: usize = 5_000;
pub const MAX_CODE_CHARS: usize = 64;
pub const MAX_SPEC_CHARS: usize = 30;
/// The code of the one SKU of a product without specs.
pub const DEFAULT_SKU: &str = "default";

/// Where a product stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ProductState {
    /// Being written; not offered.
    Draft,
    /// A banned word was found: an operator decides.
    UnderReview,
    /// Offered: flash sales may be opened on it.
    Listed,
    /// Taken off by its merchant, by an operator's rejection, or sold out (relisted by itself
    /// when restocked).
    Delisted,
}

impl ProductState {
    pub const ALL: [ProductState; 4] =
        [ProductState::Draft, ProductState::UnderReview, ProductState::Listed, ProductState::Delisted];

    pub const fn as_str(self) -> &'static str {
        match self {
            ProductState::Draft => "draft",
            ProductState::UnderReview => "under_review",
            ProductState::Listed => "listed",
            ProductState::Delisted => "delisted",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str() == raw)
    }

    /// The moves a merchant may ask for. Asking to list goes through the banned-word check,
    /// which may land the product in `under_review` instead; only an operator leaves it.
    pub fn merchant_may_move(self, to: ProductState) -> bool {
        use ProductState::*;
        matches!(
            (self, to),
            (Draft, Listed) | (Listed, Delisted) | (Delisted, Listed) | (Delisted, Draft) | (Listed, Draft)
        )
    }
}

/// Why a product is delisted: a sold-out product comes back by itself when restocked; the
/// others only when someone lists it again.
pub const REASON_SOLD_OUT: &str = "sold_out";
pub const REASON_MERCHANT: &str = "merchant";

/// Who pays the postage of a return.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum ReturnShipping {
    /// The buyer pays the return postage (the default of no-reason returns).
    #[default]
    Buyer,
    /// The merchant pays it.
    Seller,
    /// Return-shipping insurance (运费险) pays it.
    Insurance,
}

impl ReturnShipping {
    pub const ALL: [ReturnShipping; 3] =
        [ReturnShipping::Buyer, ReturnShipping::Seller, ReturnShipping::Insurance];

    pub const fn as_str(self) -> &'static str {
        match self {
            ReturnShipping::Buyer => "buyer",
            ReturnShipping::Seller => "seller",
            ReturnShipping::Insurance => "insurance",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str() == raw)
    }
}

/// A spec and the values it takes, in the merchant's order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Spec {
    pub name: String,
    pub values: Vec<String>,
}

/// A SKU as a merchant writes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SkuDraft {
    pub code: String,
    /// Spec name → value; empty for the default SKU.
    #[serde(default)]
    pub values: BTreeMap<String, String>,
    pub price_fen: i64,
    pub stock: i64,
    #[serde(default)]
    pub low_stock_threshold: i64,
}

/// A field that does not pass, named as the API names it (`skus[2].price_fen`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {reason}")]
pub struct FieldFault {
    pub field: String,
    pub reason: String,
}

fn fault(field: impl Into<String>, reason: impl Into<String>) -> FieldFault {
    FieldFault { field: field.into(), reason: reason.into() }
}

/// A plain one-line text of 1 to `max` characters, trimmed; control characters refused.
pub fn line(raw: &str, field: &str, max: usize) -> Result<String, FieldFault> {
    let text = raw.trim();
    if text.is_empty() {
        return Err(fault(field, "is empty"));
    }
    if text.chars().count() > max {
        return Err(fault(field, format!("is longer than {max} characters")));
    }
    if text.chars().any(char::is_control) {
        return Err(fault(field, "has control characters"));
    }
    Ok(text.to_owned())
}

/// A merchant's code (product or SKU): letters, digits, `-`, `_`, `.`, up to 64.
pub fn code(raw: &str, field: &str) -> Result<String, FieldFault> {
    let text = raw.trim();
    if text.is_empty() {
        return Err(fault(field, "is empty"));
    }
    if text.len() > MAX_CODE_CHARS || !text.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
    {
        return Err(fault(field, format!("must be 1 to {MAX_CODE_CHARS} letters, digits, '-', '_' or '.'")));
    }
    Ok(text.to_owned())
}

pub fn price(value: i64, field: &str) -> Result<(), FieldFault> {
    if (1..=SaleTerms::MAX_PRICE_FEN).contains(&value) {
        Ok(())
    } else {
        Err(fault(field, format!("must be from 1 to {} fen", SaleTerms::MAX_PRICE_FEN)))
    }
}

pub fn stock(value: i64, field: &str) -> Result<(), FieldFault> {
    if (0..=MAX_STOCK).contains(&value) {
        Ok(())
    } else {
        Err(fault(field, format!("must be from 0 to {MAX_STOCK}")))
    }
}

pub fn threshold(value: i64, field: &str) -> Result<(), FieldFault> {
    if (0..=MAX_STOCK).contains(&value) {
        Ok(())
    } else {
        Err(fault(field, format!("must be from 0 to {MAX_STOCK}")))
    }
}

/// Checks specs and SKUs together: names and values plain and distinct, each SKU naming one
/// value of every spec and no other, no two SKUs alike in code or values. Every fault at once.
pub fn check_skus(specs: &[Spec], skus: &[SkuDraft]) -> Vec<FieldFault> {
    let mut faults = Vec::new();
    if specs.len() > MAX_SPECS {
        faults.push(fault("specs", format!("at most {MAX_SPECS} specs")));
    }
    let mut names = HashSet::new();
    for (i, spec) in specs.iter().enumerate() {
        if let Err(f) = line(&spec.name, &format!("specs[{i}].name"), MAX_SPEC_CHARS) {
            faults.push(f);
        }
        if !names.insert(spec.name.trim()) {
            faults.push(fault(format!("specs[{i}].name"), "names a spec twice"));
        }
        if spec.values.is_empty() || spec.values.len() > MAX_SPEC_VALUES {
            faults.push(fault(format!("specs[{i}].values"), format!("needs 1 to {MAX_SPEC_VALUES} values")));
        }
        let mut seen = HashSet::new();
        for (j, value) in spec.values.iter().enumerate() {
            if let Err(f) = line(value, &format!("specs[{i}].values[{j}]"), MAX_SPEC_CHARS) {
                faults.push(f);
            }
            if !seen.insert(value.trim()) {
                faults.push(fault(format!("specs[{i}].values[{j}]"), "names a value twice"));
            }
        }
    }
    if skus.is_empty() || skus.len() > MAX_SKUS {
        faults.push(fault("skus", format!("needs 1 to {MAX_SKUS} SKUs")));
    }
    if specs.is_empty() && skus.len() > 1 {
        faults.push(fault("skus", "a product without specs has one SKU"));
    }
    let mut codes = HashSet::new();
    let mut combos = HashSet::new();
    for (i, sku) in skus.iter().enumerate() {
        let at = |what: &str| format!("skus[{i}].{what}");
        match code(&sku.code, &at("code")) {
            Ok(c) if !codes.insert(c.clone()) => faults.push(fault(at("code"), "names a SKU twice")),
            Ok(_) => {}
            Err(f) => faults.push(f),
        }
        for check in [
            price(sku.price_fen, &at("price_fen")),
            stock(sku.stock, &at("stock")),
            threshold(sku.low_stock_threshold, &at("low_stock_threshold")),
        ] {
            if let Err(f) = check {
                faults.push(f);
            }
        }
        let fits = sku.values.len() == specs.len()
            && specs.iter().all(|s| sku.values.get(&s.name).is_some_and(|v| s.values.contains(v)));
        if !fits {
            faults.push(fault(at("values"), "must name one listed value of every spec"));
        } else if !combos.insert(sku.values.clone()) {
            faults.push(fault(at("values"), "the same values as another SKU"));
        }
    }
    faults
}

/// The texts the banned-word check reads before a product is listed: title, description,
/// spec names and values.
pub fn texts_to_check<'a>(title: &'a str, description: &'a str, specs: &'a [Spec]) -> Vec<&'a str> {
    let mut texts = vec![title, description];
    for spec in specs {
        texts.push(&spec.name);
        texts.extend(spec.values.iter().map(String::as_str));
    }
    texts
}

/// Whether `stock` is at or under a SKU's threshold (0: no warning).
pub fn is_low(stock: i64, threshold: i64) -> bool {
    threshold > 0 && stock <= threshold
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sku(code: &str, values: &[(&str, &str)]) -> SkuDraft {
        SkuDraft {
            code: code.into(),
            values: values.iter().map(|(k, v)| ((*k).into(), (*v).into())).collect(),
            price_fen: 100,
            stock: 5,
            low_stock_threshold: 0,
        }
    }

    #[test]
    fn states_move_only_as_allowed() {
        use ProductState::*;
        assert!(Draft.merchant_may_move(Listed));
        assert!(Listed.merchant_may_move(Delisted));
        assert!(Delisted.merchant_may_move(Listed));
        assert!(!UnderReview.merchant_may_move(Listed));
        assert!(!Draft.merchant_may_move(UnderReview));
        assert!(!Listed.merchant_may_move(Listed));
        for s in ProductState::ALL {
            assert_eq!(ProductState::parse(s.as_str()), Some(s));
        }
    }

    #[test]
    fn skus_must_fit_the_specs() {
        let specs = vec![
            Spec { name: "颜色".into(), values: vec!["红".into(), "蓝".into()] },
            Spec { name: "尺码".into(), values: vec!["M".into(), "L".into()] },
        ];
        let good =
            [sku("R-M", &[("颜色", "红"), ("尺码", "M")]), sku("B-L", &[("颜色", "蓝"), ("尺码", "L")])];
        assert_eq!(check_skus(&specs, &good), vec![]);
        let bad = [
            sku("R-M", &[("颜色", "红"), ("尺码", "M")]),
            sku("R-M", &[("颜色", "绿"), ("尺码", "M")]),
            sku("x y", &[("颜色", "红"), ("尺码", "M")]),
        ];
        let fields: Vec<String> = check_skus(&specs, &bad).into_iter().map(|f| f.field).collect();
        assert_eq!(fields, ["skus[1].code", "skus[1].values", "skus[2].code", "skus[2].values"]);
        assert_eq!(check_skus(&[], &[sku("default", &[])]), vec![]);
    }

    #[test]
    fn low_stock_needs_a_threshold() {
        assert!(!is_low(0, 0));
        assert!(is_low(3, 3));
        assert!(!is_low(4, 3));
    }
}
