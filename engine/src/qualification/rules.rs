//! What each product category requires: the permit table. Regulated categories (food, health
//! food, cosmetics…) need one of their permits, each permit number of a known format. The
//! table is configuration (`[qualification]` in `config.toml`); [`QualificationRules::default`]
//! is the shipped table.
//!
//! Formats, as printed on the permits:
//! - 食品生产许可证 (food production): `SC` + 14 digits (food category, province, city,
//!   county, sequence, a check digit).
//! - 食品经营许可证 (food operation): `JY` + 14 digits (main business type, region, sequence,
//!   check digit).
//! - 化妆品生产许可证 (cosmetics production): a province's abbreviation, `妆`, 8 digits
//!   (year of issue and sequence), e.g. `粤妆20160001`.
//!
//! The check digits inside SC and JY numbers are not verified: their algorithm is not
//! published, so only the shape is checked here and the number itself goes to review.

use serde::{Deserialize, Serialize};

/// A permit and the shapes its number takes: one of `prefixes`, then exactly `digits` ASCII
/// digits.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PermitRule {
    /// The key merchants send, e.g. `food_production`.
    pub kind: String,
    /// The permit's name as printed, e.g. `食品生产许可证`.
    pub name: String,
    pub prefixes: Vec<String>,
    pub digits: usize,
}

impl PermitRule {
    /// Whether `number` (already trimmed) has this permit's shape.
    pub fn matches(&self, number: &str) -> bool {
        self.prefixes.iter().any(|prefix| {
            number
                .strip_prefix(prefix.as_str())
                .is_some_and(|rest| rest.len() == self.digits && rest.bytes().all(|b| b.is_ascii_digit()))
        })
    }

    /// A human description of the shape, for error messages: `SC + 14 digits`.
    pub fn shape(&self) -> String {
        let prefixes = if self.prefixes.len() > 3 {
            format!("{} … {}", self.prefixes[0], self.prefixes[self.prefixes.len() - 1])
        } else {
            self.prefixes.join(" or ")
        };
        format!("{prefixes} + {} digits", self.digits)
    }
}

/// A product category and the permits of which a merchant selling it needs one (none for an
/// unregulated category).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CategoryRule {
    pub category: String,
    pub name: String,
    #[serde(default)]
    pub permits_any_of: Vec<String>,
}

/// The permit table and the categories a merchant may choose from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QualificationRules {
    pub permits: Vec<PermitRule>,
    pub categories: Vec<CategoryRule>,
    /// At most this many categories per merchant.
    pub max_categories: usize,
    /// The legal person must be at least this old.
    pub min_legal_person_age: u32,
}

/// The provinces' one-character abbreviations, as in `粤妆…`.
const PROVINCE_ABBREVIATIONS: [&str; 31] = [
    "京", "津", "冀", "晋", "蒙", "辽", "吉", "黑", "沪", "苏", "浙", "皖", "闽", "赣", "鲁", "豫", "鄂",
    "湘", "粤", "桂", "琼", "渝", "川", "贵", "云", "藏", "陕", "甘", "青", "宁", "新",
];

impl Default for QualificationRules {
    fn default() -> Self {
        let permit = |kind: &str, name: &str, prefixes: Vec<String>, digits| PermitRule {
            kind: kind.into(),
            name: name.into(),
            prefixes,
            digits,
        };
        let category = |category: &str, name: &str, permits: &[&str]| CategoryRule {
            category: category.into(),
            name: name.into(),
            permits_any_of: permits.iter().map(|p| (*p).to_owned()).collect(),
        };
        let food = ["food_production", "food_operation"];
        Self {
            permits: vec![
                permit("food_production", "食品生产许可证", vec!["SC".into()], 14),
                permit("food_operation", "食品经营许可证", vec!["JY".into()], 14),
                permit(
                    "cosmetics_production",
                    "化妆品生产许可证",
                    PROVINCE_ABBREVIATIONS.iter().map(|p| format!("{p}妆")).collect(),
                    8,
                ),
            ],
            categories: vec![
                category("food", "食品", &food),
                category("health_food", "保健食品", &food),
                category("infant_formula", "婴幼儿配方食品", &food),
                category("cosmetics", "化妆品", &["cosmetics_production"]),
                category("apparel", "服饰鞋包", &[]),
                category("digital", "数码家电", &[]),
                category("home", "家居日用", &[]),
                category("toys", "玩具乐器", &[]),
                category("jewellery", "珠宝饰品", &[]),
            ],
            max_categories: 10,
            min_legal_person_age: 18,
        }
    }
}

impl QualificationRules {
    pub fn permit(&self, kind: &str) -> Option<&PermitRule> {
        self.permits.iter().find(|p| p.kind == kind)
    }

    pub fn category(&self, category: &str) -> Option<&CategoryRule> {
        self.categories.iter().find(|c| c.category == category)
    }

    /// Every category's permits are in the table; the configuration is refused otherwise.
    pub fn check(&self) -> Result<(), String> {
        for category in &self.categories {
            for kind in &category.permits_any_of {
                if self.permit(kind).is_none() {
                    return Err(format!("category {:?} names unknown permit {kind:?}", category.category));
                }
            }
        }
        if self.permits.iter().any(|p| p.prefixes.is_empty() || p.digits == 0) {
            return Err("every permit needs a prefix and a number of digits".into());
        }
        if self.max_categories == 0 {
            return Err("max_categories must be at least 1".into());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn permit_numbers_have_their_shapes() {
        let rules = QualificationRules::default();
        rules.check().unwrap();
        let table = [
            ("food_production", "SC10644011500123", true),
            ("food_production", "SC1064401150012", false),
            ("food_production", "SC106440115001234", false),
            ("food_production", "sc10644011500123", false),
            ("food_production", "JY10644011500123", false),
            ("food_production", "SC1064401150012A", false),
            ("food_operation", "JY14403050012345", true),
            ("food_operation", "JY1440305001234５", false),
            ("cosmetics_production", "粤妆20160001", true),
            ("cosmetics_production", "新妆20230012", true),
            ("cosmetics_production", "港妆20160001", false),
            ("cosmetics_production", "粤妆2016001", false),
        ];
        for (kind, number, ok) in table {
            assert_eq!(rules.permit(kind).unwrap().matches(number), ok, "{kind} {number}");
        }
        assert_eq!(rules.permit("food_production").unwrap().shape(), "SC + 14 digits");
        assert_eq!(rules.permit("cosmetics_production").unwrap().shape(), "京妆 … 新妆 + 8 digits");
    }

    #[test]
    fn a_table_naming_an_unknown_permit_is_refused() {
        let mut rules = QualificationRules::default();
        rules.categories[0].permits_any_of.push("liquor".into());
        assert_eq!(rules.check(), Err("category \"food\" names unknown permit \"liquor\"".into()));
    }

    /// The table is configuration: it reads from the same shape it is written in.
    #[test]
    fn the_table_round_trips_through_serde() {
        let rules = QualificationRules::default();
        let json = serde_json::to_string(&rules).unwrap();
        assert_eq!(serde_json::from_str::<QualificationRules>(&json).unwrap(), rules);
    }
}
