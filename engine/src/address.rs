//! Shipping addresses: parsed once at the edge into a [`ShippingAddress`] whose region exists
//! in the bundled division table and nests, and masked for every list that is not the
//! order's merchant's packing slip.
//!
//! Limits follow what the label and the couriers take: a receiver's name of at most 25
//! characters (the longest Taobao and the e-waybill aggregators accept), a street address of
//! 4 to 120. Control characters and the invisible formatting characters that reorder or hide
//! text (bidi overrides, zero-width marks) are refused rather than cleaned: a label must print
//! what the buyer saw.

use serde::Serialize;
use thiserror::Error;

use crate::Phone;
use crate::divisions::{Region, RegionError, divisions};

pub const NAME_MAX_CHARS: usize = 25;
pub const DETAIL_MIN_CHARS: usize = 4;
pub const DETAIL_MAX_CHARS: usize = 120;
/// Characters of the street address a masked address keeps.
pub const MASKED_DETAIL_CHARS: usize = 6;
/// Saved addresses one buyer may keep.
pub const MAX_SAVED_ADDRESSES: u64 = 20;

/// What a buyer typed or picked. The region is named (`province`, `city`, `district`) or
/// coded (`district_code`, 6 digits); when both are given they must agree.
#[derive(Debug, Clone, Default)]
pub struct AddressInput<'a> {
    pub name: &'a str,
    pub phone: &'a str,
    pub province: &'a str,
    pub city: &'a str,
    pub district: &'a str,
    pub district_code: Option<&'a str>,
    pub detail: &'a str,
}

/// A validated shipping address. Region names are the table's, whatever alias was typed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ShippingAddress {
    pub name: String,
    pub phone: Phone,
    pub province_code: u32,
    pub province: String,
    pub city_code: u32,
    /// As a person writes it ([`Region::city_name`]).
    pub city: String,
    pub district_code: u32,
    pub district: String,
    pub detail: String,
}

/// The same address as lists show it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MaskedAddress {
    pub name: String,
    pub phone: String,
    pub province: String,
    pub city: String,
    pub district: String,
    pub detail: String,
}

/// Which field was wrong, and why; `field()` names it for the error next to it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum AddressError {
    #[error("name must be 1 to {NAME_MAX_CHARS} characters without control or invisible characters")]
    Name,
    #[error("phone must be a mainland mobile number of 11 digits")]
    Phone,
    #[error(transparent)]
    Region(RegionError),
    #[error("the district code and the district's name do not agree")]
    RegionMismatch,
    #[error(
        "detail must be {DETAIL_MIN_CHARS} to {DETAIL_MAX_CHARS} characters without control or invisible characters"
    )]
    Detail,
}

impl AddressError {
    pub fn field(&self) -> &'static str {
        match self {
            AddressError::Name => "name",
            AddressError::Phone => "phone",
            AddressError::Region(RegionError::UnknownProvince) => "province",
            AddressError::Region(RegionError::UnknownCity) => "city",
            AddressError::Region(RegionError::UnknownDistrict) => "district",
            AddressError::Region(RegionError::UnknownCode) | AddressError::RegionMismatch => "district_code",
            AddressError::Detail => "detail",
        }
    }
}

/// Characters that hide or reorder text: zero-width marks, bidi embeddings and overrides,
/// invisible operators, the byte-order mark.
fn invisible(c: char) -> bool {
    matches!(c, '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2060}'..='\u{2064}' | '\u{2066}'..='\u{2069}' | '\u{FEFF}' | '\u{00AD}')
}

/// Trimmed text of `min..=max` characters with nothing a label could not print honestly.
fn text(raw: &str, min: usize, max: usize) -> Option<String> {
    let trimmed = raw.trim();
    let chars = trimmed.chars().count();
    let clean = trimmed.chars().all(|c| !c.is_control() && !invisible(c));
    (clean && (min..=max).contains(&chars)).then(|| trimmed.to_owned())
}

impl ShippingAddress {
    pub fn parse(input: &AddressInput<'_>) -> Result<Self, AddressError> {
        let name = text(input.name, 1, NAME_MAX_CHARS).ok_or(AddressError::Name)?;
        let phone = Phone::parse(input.phone).map_err(|_| AddressError::Phone)?;
        let region = region(input)?;
        let detail = text(input.detail, DETAIL_MIN_CHARS, DETAIL_MAX_CHARS).ok_or(AddressError::Detail)?;
        Ok(Self::in_region(name, phone, &region, detail))
    }

    fn in_region(name: String, phone: Phone, region: &Region, detail: String) -> Self {
        Self {
            name,
            phone,
            province_code: region.province.code,
            province: region.province.name.to_owned(),
            city_code: region.city.code,
            city: region.city_name().to_owned(),
            district_code: region.district.code,
            district: region.district.name.to_owned(),
            detail,
        }
    }

    /// An address read back from storage, its region taken from the table by its code (names
    /// follow the table, so a stored row cannot smuggle in a region that does not exist).
    pub fn restore(name: String, phone: Phone, district_code: u32, detail: String) -> Option<Self> {
        let region = divisions().by_code(&format!("{district_code:06}")).ok()?;
        Some(Self::in_region(name, phone, &region, detail))
    }

    /// For lists: `张*`, `138****8000`, the street address cut.
    pub fn masked(&self) -> MaskedAddress {
        MaskedAddress {
            name: mask_name(&self.name),
            phone: mask_phone(&self.phone),
            province: self.province.clone(),
            city: self.city.clone(),
            district: self.district.clone(),
            detail: cut_detail(&self.detail),
        }
    }

    /// One line, as a label or a message prints it.
    pub fn one_line(&self) -> String {
        let city = if self.city == self.province { "" } else { self.city.as_str() };
        format!("{}{}{}{}", self.province, city, self.district, self.detail)
    }
}

fn region(input: &AddressInput<'_>) -> Result<Region, AddressError> {
    let table = divisions();
    let named = [input.province, input.city, input.district].iter().any(|s| !s.trim().is_empty());
    match input.district_code {
        Some(code) => {
            let region = table.by_code(code.trim()).map_err(AddressError::Region)?;
            if named {
                let by_names = table
                    .by_names(input.province.trim(), input.city.trim(), input.district.trim())
                    .map_err(|_| AddressError::RegionMismatch)?;
                if by_names != region {
                    return Err(AddressError::RegionMismatch);
                }
            }
            Ok(region)
        }
        None => table
            .by_names(input.province.trim(), input.city.trim(), input.district.trim())
            .map_err(AddressError::Region),
    }
}

/// The first character, then one `*` whatever the length (the length is a hint too).
pub fn mask_name(name: &str) -> String {
    let mut chars = name.chars();
    match chars.next() {
        Some(first) => format!("{first}*"),
        None => String::new(),
    }
}

/// `138****8000`: the operator prefix and the last four digits.
pub fn mask_phone(phone: &Phone) -> String {
    let digits = phone.as_str();
    format!("{}****{}", &digits[..3], &digits[7..])
}

/// The first [`MASKED_DETAIL_CHARS`] characters (the street, not the door) and `…`; at most
/// half of a short address.
pub fn cut_detail(detail: &str) -> String {
    let chars = detail.chars().count();
    let keep = MASKED_DETAIL_CHARS.min(chars / 2);
    let mut cut: String = detail.chars().take(keep).collect();
    cut.push('…');
    cut
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input<'a>(name: &'a str, phone: &'a str, region: [&'a str; 3], detail: &'a str) -> AddressInput<'a> {
        AddressInput {
            name,
            phone,
            province: region[0],
            city: region[1],
            district: region[2],
            district_code: None,
            detail,
        }
    }

    const SZ: [&str; 3] = ["广东省", "深圳市", "南山区"];

    #[test]
    fn good_addresses_parse_to_the_table_names_and_codes() {
        let address =
            ShippingAddress::parse(&input(" 张三 ", "13800138000", SZ, " 科技园南区1栋101 ")).unwrap();
        assert_eq!(address.name, "张三");
        assert_eq!((address.province_code, address.city_code, address.district_code), (44, 4403, 440305));
        assert_eq!(address.detail, "科技园南区1栋101");
        assert_eq!(address.one_line(), "广东省深圳市南山区科技园南区1栋101");
        let beijing = ShippingAddress::parse(&AddressInput {
            district_code: Some("110105"),
            ..input("李四", "19912345678", ["", "", ""], "建国路88号")
        })
        .unwrap();
        assert_eq!((beijing.province.as_str(), beijing.city.as_str()), ("北京市", "北京市"));
        assert_eq!(beijing.one_line(), "北京市朝阳区建国路88号");
        let restored = ShippingAddress::restore(
            beijing.name.clone(),
            beijing.phone.clone(),
            110105,
            beijing.detail.clone(),
        );
        assert_eq!(restored.as_ref(), Some(&beijing));
        assert_eq!(ShippingAddress::restore("x".into(), beijing.phone.clone(), 110199, "abcd".into()), None);
    }

    #[test]
    fn every_bad_field_is_named() {
        let long_name = "张".repeat(NAME_MAX_CHARS + 1);
        let long_detail = "路".repeat(DETAIL_MAX_CHARS + 1);
        let max_name = "张".repeat(NAME_MAX_CHARS);
        let max_detail = "路".repeat(DETAIL_MAX_CHARS);
        let ok = AddressInput::default();
        let cases: Vec<(AddressInput<'_>, Option<&str>)> = vec![
            (input("", "13800138000", SZ, "科技园1栋"), Some("name")),
            (input("   ", "13800138000", SZ, "科技园1栋"), Some("name")),
            (input(&long_name, "13800138000", SZ, "科技园1栋"), Some("name")),
            (input(&max_name, "13800138000", SZ, "科技园1栋"), None),
            (input("张\n三", "13800138000", SZ, "科技园1栋"), Some("name")),
            (input("张\u{202E}三", "13800138000", SZ, "科技园1栋"), Some("name")),
            (input("张\u{200B}三", "13800138000", SZ, "科技园1栋"), Some("name")),
            (input("张三", "1380013800", SZ, "科技园1栋"), Some("phone")),
            (input("张三", "12800138000", SZ, "科技园1栋"), Some("phone")),
            (input("张三", "+8613800138000", SZ, "科技园1栋"), Some("phone")),
            (input("张三", "13800138000", ["广东", "深圳市", "南山区"], "科技园1栋"), Some("province")),
            (input("张三", "13800138000", ["广东省", "北京市", "南山区"], "科技园1栋"), Some("city")),
            (input("张三", "13800138000", ["广东省", "深圳市", "朝阳区"], "科技园1栋"), Some("district")),
            (input("张三", "13800138000", SZ, "1栋"), Some("detail")),
            (input("张三", "13800138000", SZ, &long_detail), Some("detail")),
            (input("张三", "13800138000", SZ, &max_detail), None),
            (input("张三", "13800138000", SZ, "科技园\t1栋"), Some("detail")),
            (input("张三", "13800138000", SZ, "科技园\u{0}1栋"), Some("detail")),
            (
                AddressInput {
                    district_code: Some("440305"),
                    ..input("张三", "13800138000", SZ, "科技园1栋")
                },
                None,
            ),
            (
                AddressInput {
                    district_code: Some("110105"),
                    ..input("张三", "13800138000", SZ, "科技园1栋")
                },
                Some("district_code"),
            ),
            (
                AddressInput {
                    district_code: Some("4403O5"),
                    ..input("张三", "13800138000", SZ, "科技园1栋")
                },
                Some("district_code"),
            ),
            (AddressInput { district_code: Some("999999"), ..ok.clone() }, Some("name")),
        ];
        for (case, expected) in cases {
            let outcome = ShippingAddress::parse(&case).map_err(|e| e.field());
            assert_eq!(outcome.err(), expected, "{case:?}");
        }
    }

    #[test]
    fn lists_show_masked_addresses() {
        let address =
            ShippingAddress::parse(&input("欧阳娜娜", "13812348000", SZ, "科技园南区1栋101室")).unwrap();
        let masked = address.masked();
        assert_eq!(masked.name, "欧*");
        assert_eq!(masked.phone, "138****8000");
        assert_eq!(masked.detail, "科技园南区…");
        assert_eq!((masked.province.as_str(), masked.district.as_str()), ("广东省", "南山区"));
        assert_eq!(mask_name("张三"), "张*");
        assert_eq!(cut_detail("一二三四"), "一二…");
        assert_eq!(cut_detail("一二三四五六七八九十十一十二"), "一二三四五六…");
    }
}
