//! The wire shapes of Tencent Cloud's two verification actions and what their answers mean.
//!
//! - FaceID `IdCardVerification` (service `faceid`, version `2018-03-01`, host
//!   `faceid.tencentcloudapi.com`, no region): `{"IdCard","Name"}` →
//!   `{"Result","Description","RequestId"}`. `Result` is a string: `0` the name and the number
//!   belong together, `-1` they do not (both billed); `-2` invalid number, `-3` invalid name,
//!   `-4` the ID source is failing, `-5` no record of the number, `-6` the source is being
//!   upgraded, `-7` the day's limit reached (not billed).
//! - OCR `VerifyEnterpriseFourFactors` (service `ocr`, version `2018-11-19`, host
//!   `ocr.tencentcloudapi.com`, a region): `{"RealName","IdCard","EnterpriseName",
//!   "EnterpriseMark"}` (the mark is the credit code) → `{"State","Detail":{"Result","Desc"},
//!   "RequestId"}`. `State` 1 consistent, 2 inconsistent, 3 no record; when inconsistent,
//!   `Detail.Result` says which: -21 the name does not belong to the mark, -22 the person's
//!   name, -23 the person's ID number, -24 the enterprise name, -25 the mark. When consistent,
//!   `Detail.Result` may say the person's role: 7 legal person or principal, 6 shareholder,
//!   5 manager.
//!
//! Confirmed from Tencent's SDK models and CLI examples: the action, version and field names,
//! the `Result` and `State` codes. Not confirmed: whether `Detail` is present when `State` is
//! 1 and the person is not the legal person (we treat a consistent answer naming a shareholder
//! or manager as "cannot say", so a person decides), and which of several mismatching fields
//! `Detail` names first (the sandbox names the enterprise name, then the person's name, then
//! the number).

use serde::{Deserialize, Serialize};

use super::super::{Field, Verdict};

pub const FACEID_SERVICE: &str = "faceid";
pub const FACEID_VERSION: &str = "2018-03-01";
pub const ID_CARD_VERIFICATION: &str = "IdCardVerification";
pub const OCR_SERVICE: &str = "ocr";
pub const OCR_VERSION: &str = "2018-11-19";
pub const VERIFY_ENTERPRISE_FOUR_FACTORS: &str = "VerifyEnterpriseFourFactors";

#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct IdCardVerificationRequest {
    pub id_card: String,
    pub name: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct IdCardVerificationResponse {
    pub result: String,
    pub description: String,
    pub request_id: String,
}

#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct VerifyEnterpriseFourFactorsRequest {
    pub real_name: String,
    pub id_card: String,
    pub enterprise_name: String,
    pub enterprise_mark: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct EnterpriseDetail {
    pub result: i64,
    pub desc: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct VerifyEnterpriseFourFactorsResponse {
    pub state: i64,
    #[serde(default)]
    pub detail: Option<EnterpriseDetail>,
    pub request_id: String,
}

/// `IdCardVerification`'s `Result` codes.
pub mod person_result {
    pub const MATCH: &str = "0";
    pub const MISMATCH: &str = "-1";
    pub const INVALID_ID: &str = "-2";
    pub const INVALID_NAME: &str = "-3";
    pub const SOURCE_FAILING: &str = "-4";
    pub const NO_RECORD: &str = "-5";
    pub const UPGRADING: &str = "-6";
    pub const DAILY_LIMIT: &str = "-7";
}

/// `VerifyEnterpriseFourFactors`'s `State` and `Detail.Result` codes.
pub mod enterprise_result {
    pub const CONSISTENT: i64 = 1;
    pub const INCONSISTENT: i64 = 2;
    pub const NO_RECORD: i64 = 3;
    pub const LEGAL_PERSON: i64 = 7;
    pub const SHAREHOLDER: i64 = 6;
    pub const MANAGER: i64 = 5;
    pub const NAME_NOT_OF_MARK: i64 = -21;
    pub const PERSON_NAME: i64 = -22;
    pub const PERSON_ID: i64 = -23;
    pub const ENTERPRISE_NAME: i64 = -24;
    pub const MARK: i64 = -25;
}

/// What an `IdCardVerification` answer means.
pub fn person_verdict(answer: &IdCardVerificationResponse) -> Verdict {
    use person_result::*;
    let detail = answer.description.clone();
    match answer.result.as_str() {
        MATCH => Verdict::Match,
        // the name and the number do not belong together: either may be wrong
        MISMATCH => {
            Verdict::Mismatch { fields: vec![Field::LegalPersonName, Field::LegalPersonIdNo], detail }
        }
        INVALID_ID => Verdict::Mismatch { fields: vec![Field::LegalPersonIdNo], detail },
        INVALID_NAME => Verdict::Mismatch { fields: vec![Field::LegalPersonName], detail },
        _ => Verdict::Unsure { detail: format!("{} ({})", detail, answer.result) },
    }
}

/// What a `VerifyEnterpriseFourFactors` answer means.
pub fn enterprise_verdict(answer: &VerifyEnterpriseFourFactorsResponse) -> Verdict {
    use enterprise_result::*;
    let detail = answer.detail.as_ref().map(|d| d.desc.clone()).unwrap_or_default();
    let code = answer.detail.as_ref().map(|d| d.result);
    match (answer.state, code) {
        (CONSISTENT, None | Some(LEGAL_PERSON)) => Verdict::Match,
        (CONSISTENT, Some(role)) => Verdict::Unsure {
            detail: format!("the person is on record with another role ({role}): {detail}"),
        },
        (INCONSISTENT, Some(code)) => {
            let fields = match code {
                NAME_NOT_OF_MARK => vec![Field::BusinessName, Field::LicenceNumber],
                PERSON_NAME => vec![Field::LegalPersonName],
                PERSON_ID => vec![Field::LegalPersonIdNo],
                ENTERPRISE_NAME => vec![Field::BusinessName],
                MARK => vec![Field::LicenceNumber],
                other => {
                    return Verdict::Unsure {
                        detail: format!("inconsistent, unknown detail {other}: {detail}"),
                    };
                }
            };
            Verdict::Mismatch { fields, detail }
        }
        (INCONSISTENT, None) => Verdict::Unsure { detail: "inconsistent, without detail".into() },
        (NO_RECORD, _) => Verdict::Unsure { detail: "no record of the enterprise".into() },
        (state, _) => Verdict::Unsure { detail: format!("unknown state {state}") },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn person_answers_mean_what_the_codes_say() {
        let answer = |result: &str| IdCardVerificationResponse {
            result: result.into(),
            description: "d".into(),
            request_id: "r".into(),
        };
        assert_eq!(person_verdict(&answer("0")), Verdict::Match);
        assert_eq!(
            person_verdict(&answer("-1")),
            Verdict::Mismatch {
                fields: vec![Field::LegalPersonName, Field::LegalPersonIdNo],
                detail: "d".into()
            }
        );
        assert_eq!(
            person_verdict(&answer("-3")),
            Verdict::Mismatch { fields: vec![Field::LegalPersonName], detail: "d".into() }
        );
        for unsure in ["-4", "-5", "-6", "-7", "1", ""] {
            assert!(matches!(person_verdict(&answer(unsure)), Verdict::Unsure { .. }), "{unsure}");
        }
    }

    #[test]
    fn enterprise_answers_mean_what_the_codes_say() {
        let answer = |state: i64, detail: Option<i64>| VerifyEnterpriseFourFactorsResponse {
            state,
            detail: detail.map(|result| EnterpriseDetail { result, desc: "d".into() }),
            request_id: "r".into(),
        };
        assert_eq!(enterprise_verdict(&answer(1, None)), Verdict::Match);
        assert_eq!(enterprise_verdict(&answer(1, Some(7))), Verdict::Match);
        assert!(matches!(enterprise_verdict(&answer(1, Some(6))), Verdict::Unsure { .. }));
        let fields = |state, code| match enterprise_verdict(&answer(state, Some(code))) {
            Verdict::Mismatch { fields, .. } => fields,
            other => panic!("{other:?}"),
        };
        assert_eq!(fields(2, -21), [Field::BusinessName, Field::LicenceNumber]);
        assert_eq!(fields(2, -22), [Field::LegalPersonName]);
        assert_eq!(fields(2, -23), [Field::LegalPersonIdNo]);
        assert_eq!(fields(2, -24), [Field::BusinessName]);
        assert_eq!(fields(2, -25), [Field::LicenceNumber]);
        assert!(matches!(enterprise_verdict(&answer(2, Some(-99))), Verdict::Unsure { .. }));
        assert!(matches!(enterprise_verdict(&answer(2, None)), Verdict::Unsure { .. }));
        assert!(matches!(enterprise_verdict(&answer(3, None)), Verdict::Unsure { .. }));
    }

    /// The field names as Tencent's SDKs send them (`IdCard`, not `IdCardNo`).
    #[test]
    fn requests_use_the_api_field_names() {
        let person = IdCardVerificationRequest { id_card: "1".into(), name: "张三".into() };
        assert_eq!(serde_json::to_string(&person).unwrap(), r#"{"IdCard":"1","Name":"张三"}"#);
        let enterprise = VerifyEnterpriseFourFactorsRequest {
            real_name: "a".into(),
            id_card: "b".into(),
            enterprise_name: "c".into(),
            enterprise_mark: "d".into(),
        };
        assert_eq!(
            serde_json::to_string(&enterprise).unwrap(),
            r#"{"RealName":"a","IdCard":"b","EnterpriseName":"c","EnterpriseMark":"d"}"#
        );
        let answer: VerifyEnterpriseFourFactorsResponse = serde_json::from_str(
            r#"{"State":2,"Detail":{"Result":-22,"Desc":"姓名不一致"},"RequestId":"8d9627c4"}"#,
        )
        .unwrap();
        assert_eq!(answer.detail.unwrap().result, -22);
    }
}
