//! The bundled table of mainland China's administrative divisions (province, city, district,
//! GB/T 2260 codes), parsed once from `data/divisions.txt` (where it came from and its date
//! are in that file's header), and the one way a province / city / district given by name or
//! by code becomes a [`Region`] that exists and nests.
//!
//! The statistics table names the city level of the four municipalities `市辖区` (and `县` for
//! Chongqing's counties), and gathers county-level cities that report to their province under
//! `省直辖县级行政区划`. People and WeChat's address picker write `北京市 北京市 东城区` and
//! `河南省 济源市 济源市` instead, so those pseudo-cities also answer to the municipality's
//! name and to the county-level city's own name; [`Region::city_name`] shows them that way.

use std::sync::OnceLock;

use thiserror::Error;

const TABLE: &str = include_str!("../data/divisions.txt");

/// City-level entries of the table that are not cities but groupings.
const MUNICIPAL_GROUPS: [&str; 2] = ["市辖区", "县"];
const DIRECT_COUNTY_GROUPS: [&str; 2] = ["省直辖县级行政区划", "自治区直辖县级行政区划"];

/// One division: its code and its name as the table spells it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Division {
    pub code: u32,
    pub name: &'static str,
}

#[derive(Debug)]
struct City {
    division: Division,
    districts: Vec<Division>,
}

#[derive(Debug)]
struct Province {
    division: Division,
    cities: Vec<City>,
}

/// The whole table.
#[derive(Debug)]
pub struct Divisions {
    provinces: Vec<Province>,
}

/// A district that exists, with the city and province it belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Region {
    pub province: Division,
    pub city: Division,
    pub district: Division,
}

impl Region {
    /// The city as a person writes it: a municipality's own name for its `市辖区`/`县`, a
    /// county-level city's own name for `省直辖县级行政区划`.
    pub fn city_name(&self) -> &'static str {
        if MUNICIPAL_GROUPS.contains(&self.city.name) {
            self.province.name
        } else if DIRECT_COUNTY_GROUPS.contains(&self.city.name) {
            self.district.name
        } else {
            self.city.name
        }
    }
}

/// Why a province / city / district was not accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum RegionError {
    #[error("province is not a mainland province")]
    UnknownProvince,
    #[error("city is not in the province")]
    UnknownCity,
    #[error("district is not in the city")]
    UnknownDistrict,
    #[error("district code must be 6 digits of an existing district")]
    UnknownCode,
}

/// The table, parsed on first use.
pub fn divisions() -> &'static Divisions {
    static PARSED: OnceLock<Divisions> = OnceLock::new();
    PARSED.get_or_init(|| Divisions::parse(TABLE))
}

impl Divisions {
    /// Parses the bundled format; a malformed table is a build defect, so it panics.
    fn parse(text: &'static str) -> Self {
        let mut provinces: Vec<Province> = Vec::with_capacity(34);
        for line in text.lines().filter(|l| !l.starts_with('#') && !l.trim().is_empty()) {
            let (code_text, name) = line.split_once(' ').expect("division line: code, space, name");
            let code: u32 = code_text.parse().expect("division code is digits");
            let division = Division { code, name };
            match code_text.len() {
                2 => provinces.push(Province { division, cities: Vec::new() }),
                4 => {
                    let province = provinces.last_mut().expect("a city follows its province");
                    assert_eq!(code / 100, province.division.code, "city {code} outside its province");
                    province.cities.push(City { division, districts: Vec::new() });
                }
                6 => {
                    let city = provinces
                        .last_mut()
                        .and_then(|p| p.cities.last_mut())
                        .expect("a district follows its city");
                    assert_eq!(code / 100, city.division.code, "district {code} outside its city");
                    city.districts.push(division);
                }
                _ => panic!("division code {code_text} is neither 2, 4 nor 6 digits"),
            }
        }
        provinces.sort_by_key(|p| p.division.code);
        for province in &mut provinces {
            province.cities.sort_by_key(|c| c.division.code);
            for city in &mut province.cities {
                city.districts.sort_by_key(|d| d.code);
            }
        }
        Self { provinces }
    }

    pub fn province_count(&self) -> usize {
        self.provinces.len()
    }

    pub fn district_count(&self) -> usize {
        self.provinces.iter().flat_map(|p| &p.cities).map(|c| c.districts.len()).sum()
    }

    /// The district with this 6-digit code.
    pub fn by_code(&self, district_code: &str) -> Result<Region, RegionError> {
        if district_code.len() != 6 || !district_code.bytes().all(|b| b.is_ascii_digit()) {
            return Err(RegionError::UnknownCode);
        }
        let code: u32 = district_code.parse().map_err(|_| RegionError::UnknownCode)?;
        let find = |slice: &[Division], code| slice.binary_search_by_key(&code, |d| d.code).ok();
        let p = self.provinces.binary_search_by_key(&(code / 10_000), |p| p.division.code);
        let province = p.ok().map(|i| &self.provinces[i]).ok_or(RegionError::UnknownCode)?;
        let c = province.cities.binary_search_by_key(&(code / 100), |c| c.division.code);
        let city = c.ok().map(|i| &province.cities[i]).ok_or(RegionError::UnknownCode)?;
        let district =
            find(&city.districts, code).map(|i| city.districts[i]).ok_or(RegionError::UnknownCode)?;
        Ok(Region { province: province.division, city: city.division, district })
    }

    /// The district named `district` in the city named `city` of the province named
    /// `province` (names as the table spells them, or the aliases in the module doc).
    pub fn by_names(&self, province: &str, city: &str, district: &str) -> Result<Region, RegionError> {
        let province = self
            .provinces
            .iter()
            .find(|p| p.division.name == province)
            .ok_or(RegionError::UnknownProvince)?;
        let mut city_known = false;
        for candidate in &province.cities {
            let name = candidate.division.name;
            let group_of_municipality =
                MUNICIPAL_GROUPS.contains(&name) && (city == province.division.name || city == name);
            let direct_counties = DIRECT_COUNTY_GROUPS.contains(&name);
            if !(name == city || group_of_municipality || direct_counties) {
                continue;
            }
            for found in candidate.districts.iter().filter(|d| d.name == district) {
                // Under a direct-county group the city is the county-level city itself.
                if direct_counties && city != name && city != found.name {
                    continue;
                }
                return Ok(Region {
                    province: province.division,
                    city: candidate.division,
                    district: *found,
                });
            }
            city_known |= !direct_counties || candidate.districts.iter().any(|d| d.name == city);
        }
        Err(if city_known { RegionError::UnknownDistrict } else { RegionError::UnknownCity })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_is_whole() {
        let table = divisions();
        // 31 mainland provinces, municipalities and autonomous regions.
        assert_eq!(table.province_count(), 31);
        assert_eq!(table.district_count(), 2_978);
    }

    #[test]
    fn codes_and_names_resolve_to_the_same_region() {
        let table = divisions();
        let cases = [
            ("110105", ("北京市", "北京市", "朝阳区"), "北京市"),
            ("110105", ("北京市", "市辖区", "朝阳区"), "北京市"),
            ("440305", ("广东省", "深圳市", "南山区"), "深圳市"),
            ("500230", ("重庆市", "重庆市", "丰都县"), "重庆市"),
            ("419001", ("河南省", "济源市", "济源市"), "济源市"),
            ("419001", ("河南省", "省直辖县级行政区划", "济源市"), "济源市"),
            ("441900", ("广东省", "东莞市", "东莞市"), "东莞市"),
        ];
        for (code, (province, city, district), shown) in cases {
            let by_code = table.by_code(code).unwrap();
            let by_names = table.by_names(province, city, district).unwrap();
            assert_eq!(by_code, by_names, "{code}");
            assert_eq!(by_code.district.code.to_string(), code);
            assert_eq!(by_code.city_name(), shown);
            assert_eq!(by_code.province.name, province);
        }
    }

    #[test]
    fn what_does_not_exist_or_nest_is_refused() {
        let table = divisions();
        let cases = [
            (("广东省", "深圳市", "朝阳区"), RegionError::UnknownDistrict),
            (("北京市", "深圳市", "朝阳区"), RegionError::UnknownCity),
            (("广东", "深圳市", "南山区"), RegionError::UnknownProvince),
            (("香港特别行政区", "九龙", "观塘区"), RegionError::UnknownProvince),
            (("河北省", "北京市", "朝阳区"), RegionError::UnknownCity),
            (("河南省", "仙桃市", "济源市"), RegionError::UnknownCity),
            (("湖北省", "仙桃市", "济源市"), RegionError::UnknownDistrict),
            (("广东省", "深圳市", ""), RegionError::UnknownDistrict),
        ];
        for ((p, c, d), expected) in cases {
            assert_eq!(table.by_names(p, c, d), Err(expected), "{p} {c} {d}");
        }
        for bad in ["", "11010", "1101050", "11010x", "999999", "110199", "110100"] {
            assert_eq!(table.by_code(bad), Err(RegionError::UnknownCode), "{bad:?}");
        }
    }
}
