//! A merchant's qualification and the local checks of it: everything that can be decided
//! without asking anyone. The licence number's and the ID number's check characters, the date
//! of birth, the categories and the permit each regulated category needs. What the checks find
//! is a list of reasons, one or more per field, so a form can show each next to its field;
//! only a form with no reason becomes a [`Qualification`], which the verification service is
//! then asked about.

pub mod credit_code;
pub mod resident_id;
pub mod rules;

use serde::{Deserialize, Serialize};

pub use credit_code::{CreditCode, CreditCodeError};
pub use resident_id::{ResidentId, ResidentIdError};
pub use rules::{CategoryRule, PermitRule, QualificationRules};

use crate::{BeijingDay, Phone};

/// Who the merchant is in law.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EntityType {
    /// A person selling without a business licence (个人).
    Individual,
    /// 个体工商户: a licence whose code starts `92`.
    IndividualBusiness,
    /// 企业: a licence whose code starts `91`.
    Company,
}

impl EntityType {
    pub fn parse(raw: &str) -> Option<Self> {
        match raw {
            "individual" => Some(Self::Individual),
            "individual_business" => Some(Self::IndividualBusiness),
            "company" => Some(Self::Company),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Individual => "individual",
            Self::IndividualBusiness => "individual_business",
            Self::Company => "company",
        }
    }

    /// The first two characters its licence code must have; `None` if it has no licence.
    pub fn licence_prefix(self) -> Option<&'static str> {
        match self {
            Self::Individual => None,
            Self::IndividualBusiness => Some("92"),
            Self::Company => Some("91"),
        }
    }
}

/// Where a merchant's qualification review is. Only `Approved` merchants open flash sales.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReviewState {
    /// Nothing submitted yet.
    None,
    /// Submitted; the automated review has not decided.
    Pending,
    /// Waiting for a person: the verification service could not decide, or was down.
    Manual,
    Approved,
    /// With reasons per field; a new submission is reviewed again.
    Rejected,
}

impl ReviewState {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::None => "none",
            Self::Pending => "pending",
            Self::Manual => "manual",
            Self::Approved => "approved",
            Self::Rejected => "rejected",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        [Self::None, Self::Pending, Self::Manual, Self::Approved, Self::Rejected]
            .into_iter()
            .find(|s| s.as_str() == raw)
    }
}

/// A permit as the merchant declares it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PermitInput {
    pub kind: String,
    pub number: String,
}

/// A qualification as submitted, unchecked (the JSON body of `PUT
/// /api/v1/merchants/me/qualification`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QualificationInput {
    pub entity_type: String,
    /// The registered name on the licence; required with a licence.
    #[serde(default)]
    pub business_name: Option<String>,
    #[serde(default)]
    pub licence_number: Option<String>,
    pub legal_person_name: String,
    pub legal_person_id_no: String,
    pub contact_name: String,
    pub contact_phone: String,
    #[serde(default)]
    pub categories: Vec<String>,
    #[serde(default)]
    pub permits: Vec<PermitInput>,
}

/// Why one field is not acceptable: `field` is the JSON field (with an index or a permit kind
/// where there are several), `code` a stable machine word, `message` for people.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldReason {
    pub field: String,
    pub code: String,
    pub message: String,
}

impl FieldReason {
    pub fn new(field: impl Into<String>, code: &str, message: impl Into<String>) -> Self {
        Self { field: field.into(), code: code.to_owned(), message: message.into() }
    }
}

/// A permit whose kind is known and whose number has its shape.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Permit {
    pub kind: String,
    pub number: String,
}

/// A qualification that passed every local check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Qualification {
    pub entity_type: EntityType,
    /// Present exactly when the entity type has a licence, as is the business name.
    pub business_name: Option<String>,
    pub licence_number: Option<CreditCode>,
    pub legal_person_name: String,
    pub legal_person_id: ResidentId,
    pub contact_name: String,
    pub contact_phone: Phone,
    pub categories: Vec<String>,
    pub permits: Vec<Permit>,
}

pub const MAX_NAME_CHARS: usize = 30;
pub const MAX_BUSINESS_NAME_CHARS: usize = 100;

/// A person's name as on the ID card: 2 to 30 characters, letters (Han or other scripts) and
/// the middle dot of transliterated names, no digits, punctuation or spaces inside.
fn name_is_plausible(name: &str) -> bool {
    let chars = name.chars().count();
    (2..=MAX_NAME_CHARS).contains(&chars)
        && name.chars().all(|c| c.is_alphabetic() || c == '·')
        && !name.starts_with('·')
        && !name.ends_with('·')
}

fn credit_code_reason(error: &CreditCodeError) -> &'static str {
    match error {
        CreditCodeError::WrongLength { .. } => "wrong_length",
        CreditCodeError::Lowercase { .. } => "lowercase",
        CreditCodeError::ForbiddenCharacter { .. } => "forbidden_character",
        CreditCodeError::BadCheckCharacter { .. } => "bad_check_character",
    }
}

fn resident_id_reason(error: &ResidentIdError) -> &'static str {
    match error {
        ResidentIdError::WrongLength { .. } => "wrong_length",
        ResidentIdError::Lowercase { .. } => "lowercase",
        ResidentIdError::ForbiddenCharacter { .. } => "forbidden_character",
        ResidentIdError::BadCheckCharacter { .. } => "bad_check_character",
        ResidentIdError::BadRegion { .. } => "bad_region",
        ResidentIdError::ImpossibleBirthDate { .. } => "impossible_birth_date",
        ResidentIdError::BirthDateInFuture { .. } => "birth_date_in_future",
    }
}

/// Checks `input` against `rules` on `today` (Beijing): the typed qualification, or every
/// reason found (all fields are checked, not only up to the first problem).
pub fn check(
    input: &QualificationInput,
    rules: &QualificationRules,
    today: BeijingDay,
) -> Result<Qualification, Vec<FieldReason>> {
    let mut reasons = Vec::new();
    let entity_type = EntityType::parse(input.entity_type.trim());
    if entity_type.is_none() {
        reasons.push(FieldReason::new(
            "entity_type",
            "unknown_entity_type",
            "entity_type must be individual, individual_business or company",
        ));
    }
    let licence_text = input.licence_number.as_deref().map(str::trim).filter(|t| !t.is_empty());
    let licence_number = match (entity_type, licence_text) {
        (None, _) | (Some(EntityType::Individual), None) => None,
        (Some(EntityType::Individual), Some(_)) => {
            reasons.push(FieldReason::new(
                "licence_number",
                "licence_for_individual",
                "an individual has no business licence: choose individual_business or company",
            ));
            None
        }
        (Some(_), None) => {
            reasons.push(FieldReason::new(
                "licence_number",
                "required",
                "the business licence number is required",
            ));
            None
        }
        (Some(entity_type), Some(text)) => match CreditCode::parse(text) {
            Ok(code) => match entity_type.licence_prefix() {
                Some(prefix) if !code.as_str().starts_with(prefix) => {
                    reasons.push(FieldReason::new(
                        "licence_number",
                        "entity_type_mismatch",
                        format!(
                            "a licence of a {} starts with {prefix}; this one starts with {}",
                            entity_type.as_str(),
                            &code.as_str()[..2]
                        ),
                    ));
                    None
                }
                _ => Some(code),
            },
            Err(error) => {
                reasons.push(FieldReason::new(
                    "licence_number",
                    credit_code_reason(&error),
                    error.to_string(),
                ));
                None
            }
        },
    };
    let business_name = input.business_name.as_deref().map(str::trim).filter(|n| !n.is_empty());
    let needs_business_name = entity_type.and_then(EntityType::licence_prefix).is_some();
    let business_name = match business_name {
        Some(name) if name.chars().count() > MAX_BUSINESS_NAME_CHARS => {
            reasons.push(FieldReason::new(
                "business_name",
                "too_long",
                format!("the registered name has at most {MAX_BUSINESS_NAME_CHARS} characters"),
            ));
            None
        }
        None if needs_business_name => {
            reasons.push(FieldReason::new(
                "business_name",
                "required",
                "the name on the licence is required",
            ));
            None
        }
        Some(name) if needs_business_name => Some(name.to_owned()),
        _ => None,
    };
    let legal_person_name = input.legal_person_name.trim();
    if !name_is_plausible(legal_person_name) {
        reasons.push(FieldReason::new(
            "legal_person_name",
            "bad_name",
            format!("the name must be 2 to {MAX_NAME_CHARS} letters, as on the identity card"),
        ));
    }
    let legal_person_id = match ResidentId::parse(&input.legal_person_id_no, today) {
        Ok(id) if id.age_on(today) < rules.min_legal_person_age => {
            reasons.push(FieldReason::new(
                "legal_person_id_no",
                "under_age",
                format!("the legal person must be at least {} years old", rules.min_legal_person_age),
            ));
            None
        }
        Ok(id) => Some(id),
        Err(error) => {
            reasons.push(FieldReason::new(
                "legal_person_id_no",
                resident_id_reason(&error),
                error.to_string(),
            ));
            None
        }
    };
    let contact_name = input.contact_name.trim();
    if contact_name.is_empty() || contact_name.chars().count() > MAX_NAME_CHARS {
        reasons.push(FieldReason::new(
            "contact_name",
            "bad_name",
            format!("the contact's name must be 1 to {MAX_NAME_CHARS} characters"),
        ));
    }
    let contact_phone = Phone::parse(&input.contact_phone)
        .map_err(|e| reasons.push(FieldReason::new("contact_phone", "bad_phone", e.to_string())))
        .ok();
    let categories = check_categories(input, rules, &mut reasons);
    let permits = check_permits(input, rules, &categories, &mut reasons);
    match (entity_type, legal_person_id, contact_phone) {
        (Some(entity_type), Some(legal_person_id), Some(contact_phone)) if reasons.is_empty() => {
            Ok(Qualification {
                entity_type,
                business_name,
                licence_number,
                legal_person_name: legal_person_name.to_owned(),
                legal_person_id,
                contact_name: contact_name.to_owned(),
                contact_phone,
                categories,
                permits,
            })
        }
        _ => Err(reasons),
    }
}

fn check_categories(
    input: &QualificationInput,
    rules: &QualificationRules,
    reasons: &mut Vec<FieldReason>,
) -> Vec<String> {
    if input.categories.is_empty() || input.categories.len() > rules.max_categories {
        reasons.push(FieldReason::new(
            "categories",
            "bad_count",
            format!("choose from 1 to {} product categories", rules.max_categories),
        ));
    }
    let mut categories: Vec<String> = Vec::with_capacity(input.categories.len());
    for (index, category) in input.categories.iter().take(rules.max_categories).enumerate() {
        let category = category.trim();
        if rules.category(category).is_none() {
            reasons.push(FieldReason::new(
                format!("categories[{index}]"),
                "unknown_category",
                format!("{category:?} is not a product category"),
            ));
        } else if categories.iter().any(|c| c == category) {
            reasons.push(FieldReason::new(
                format!("categories[{index}]"),
                "duplicate",
                "this category is listed twice",
            ));
        } else {
            categories.push(category.to_owned());
        }
    }
    categories
}

fn check_permits(
    input: &QualificationInput,
    rules: &QualificationRules,
    categories: &[String],
    reasons: &mut Vec<FieldReason>,
) -> Vec<Permit> {
    let mut permits: Vec<Permit> = Vec::with_capacity(input.permits.len());
    for (index, permit) in input.permits.iter().take(rules.permits.len().max(1) * 2).enumerate() {
        let kind = permit.kind.trim();
        let number = permit.number.trim();
        let Some(rule) = rules.permit(kind) else {
            reasons.push(FieldReason::new(
                format!("permits[{index}].kind"),
                "unknown_permit",
                format!("{kind:?} is not a permit kind"),
            ));
            continue;
        };
        if permits.iter().any(|p| p.kind == kind) {
            reasons.push(FieldReason::new(
                format!("permits[{index}].kind"),
                "duplicate",
                "this permit is listed twice",
            ));
        } else if !rule.matches(number) {
            reasons.push(FieldReason::new(
                format!("permits[{index}].number"),
                "bad_permit_number",
                format!("a {} number is {}", rule.name, rule.shape()),
            ));
        } else {
            permits.push(Permit { kind: kind.to_owned(), number: number.to_owned() });
        }
    }
    if input.permits.len() > rules.permits.len().max(1) * 2 {
        reasons.push(FieldReason::new("permits", "bad_count", "too many permits"));
    }
    for category in categories {
        let Some(rule) = rules.category(category) else { continue };
        let has_one = rule.permits_any_of.is_empty()
            || rule.permits_any_of.iter().any(|kind| permits.iter().any(|p| &p.kind == kind));
        // A permit given but malformed already has its reason; do not add a second one.
        let malformed = input.permits.iter().any(|p| rule.permits_any_of.iter().any(|k| k == p.kind.trim()));
        if !has_one && !malformed {
            let names: Vec<&str> =
                rule.permits_any_of.iter().filter_map(|k| rules.permit(k)).map(|p| p.name.as_str()).collect();
            reasons.push(FieldReason::new(
                "permits",
                "permit_required",
                format!("selling {} needs one of: {}", rule.name, names.join("、")),
            ));
        }
    }
    permits
}

#[cfg(test)]
mod tests;
