//! KDNiao's (快递鸟) open API as it is on the wire: a form post of `RequestData` (the JSON
//! request), `EBusinessID` (the account), `RequestType` (which API: 1007 e-waybill, 1008
//! tracking subscription; 101 is the tracking push KDNiao sends back), `DataSign` and
//! `DataType=2` (JSON); every answer a JSON object with `EBusinessID`, `Success`,
//! `ResultCode` and `Reason`.
//!
//! `DataSign` = base64(md5(RequestData + AppKey)) where md5 is the **lower-case hex digest**
//! (32 ASCII characters) and base64 encodes those characters, not the 16 raw bytes: that is
//! what KDNiao's published demos and the `kdniao` SDK on PyPI compute. The document's
//! "urlencode" step is the form encoding of the field, done once by the form encoder (the
//! receiver reads the form decoded and compares the base64 text).
//!
//! Pure functions and wire types, shared by the client, the bundled sandbox and the tests.
//!
//! Not confirmed from a primary source: the list of failure `ResultCode`s (we rely on
//! `Success`, and use 101 for a bad request and 105 for a bad signature in the sandbox), and
//! that asking 1007 again for an `OrderCode` already issued answers with the same waybill
//! (`ResultCode` 106); the client takes 100 and 106 with a waybill number as success.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use chrono::{FixedOffset, NaiveDateTime, TimeZone};
use engine::Timestamp;
use md5::{Digest, Md5};
use serde::{Deserialize, Serialize};
use subtle::ConstantTimeEq;

/// 电子面单 (e-waybill) order.
pub const EORDER: &str = "1007";
/// 物流跟踪 subscription: pushes follow as `101`.
pub const SUBSCRIBE: &str = "1008";
/// The tracking push KDNiao posts to the account's callback URL.
pub const TRACK_PUSH: &str = "101";
/// `DataType` 2 = JSON.
pub const DATA_TYPE_JSON: &str = "2";
/// Where 1007 is posted, under the API's base URL.
pub const EORDER_PATH: &str = "/api/EOrderService";
/// Where 1008 is posted.
pub const DIST_PATH: &str = "/api/dist";
pub const FORM_CONTENT_TYPE: &str = "application/x-www-form-urlencoded;charset=utf-8";
pub const JSON_CONTENT_TYPE: &str = "application/json;charset=utf-8";
/// `ResultCode` of a success.
pub const OK: &str = "100";
/// `ResultCode` of an e-waybill asked again for an order already issued (taken as success).
pub const ALREADY_ISSUED: &str = "106";

/// The signature of `request_data` under `app_key`: base64 of the md5 hex digest.
pub fn data_sign(request_data: &str, app_key: &str) -> String {
    let mut md5 = Md5::new();
    md5.update(request_data.as_bytes());
    md5.update(app_key.as_bytes());
    STANDARD.encode(hex::encode(md5.finalize()))
}

/// Whether `sign` is `request_data`'s signature under `app_key` (compared in constant time).
pub fn verify_sign(request_data: &str, app_key: &str, sign: &str) -> bool {
    data_sign(request_data, app_key).as_bytes().ct_eq(sign.trim().as_bytes()).into()
}

/// The fields of a KDNiao form post, in both directions.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Form {
    #[serde(rename = "RequestData")]
    pub request_data: String,
    /// Absent from pushes (their account is inside `RequestData`).
    #[serde(rename = "EBusinessID", default, skip_serializing_if = "String::is_empty")]
    pub ebusiness_id: String,
    #[serde(rename = "RequestType")]
    pub request_type: String,
    #[serde(rename = "DataSign")]
    pub data_sign: String,
    #[serde(rename = "DataType", default, skip_serializing_if = "String::is_empty")]
    pub data_type: String,
}

impl Form {
    /// A signed request form.
    pub fn signed(ebusiness_id: &str, app_key: &str, request_type: &str, request_data: String) -> Self {
        Form {
            data_sign: data_sign(&request_data, app_key),
            request_data,
            ebusiness_id: ebusiness_id.to_owned(),
            request_type: request_type.to_owned(),
            data_type: DATA_TYPE_JSON.to_owned(),
        }
    }

    /// `application/x-www-form-urlencoded` body (UTF-8, every value percent-encoded once).
    pub fn encode(&self) -> String {
        serde_urlencoded::to_string(self).expect("a form of strings encodes")
    }

    pub fn decode(body: &[u8]) -> Result<Self, String> {
        serde_urlencoded::from_bytes(body).map_err(|e| format!("not a kdniao form: {e}"))
    }

    /// Whether `DataSign` verifies under `app_key`.
    pub fn verifies(&self, app_key: &str) -> bool {
        verify_sign(&self.request_data, app_key, &self.data_sign)
    }
}

/// Beijing time as KDNiao writes it: `yyyy-MM-dd HH:mm:ss`.
pub fn beijing_time(at: Timestamp) -> String {
    let zone = FixedOffset::east_opt(8 * 3_600).expect("UTC+8 is a valid offset");
    zone.timestamp_millis_opt(at.as_millis())
        .single()
        .map(|t| t.format("%Y-%m-%d %H:%M:%S").to_string())
        .unwrap_or_else(|| "1970-01-01 08:00:00".to_owned())
}

/// The instant of a `yyyy-MM-dd HH:mm:ss` Beijing time.
pub fn parse_beijing_time(text: &str) -> Option<Timestamp> {
    let zone = FixedOffset::east_opt(8 * 3_600)?;
    let naive = NaiveDateTime::parse_from_str(text.trim(), "%Y-%m-%d %H:%M:%S").ok()?;
    let at = zone.from_local_datetime(&naive).single()?;
    Some(Timestamp::from_millis(at.timestamp_millis()))
}

/// A party of an e-waybill (`Sender`, `Receiver`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct WireParty {
    pub name: String,
    /// 手机: one of `Mobile` and `Tel` is required.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub mobile: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub tel: String,
    pub province_name: String,
    pub city_name: String,
    pub exp_area_name: String,
    pub address: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Commodity {
    pub goods_name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub goodsquantity: Option<u32>,
}

/// 1007 `RequestData`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct EOrderRequest {
    pub shipper_code: String,
    pub order_code: String,
    /// 1 现付 (sender pays), 2 到付, 3 月结 (monthly account), 4 third party.
    pub pay_type: u8,
    /// 1 standard parcel.
    pub exp_type: String,
    /// The courier account (电子面单客户号) the aggregator bills, for couriers that need one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub customer_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub customer_pwd: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub month_code: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub send_site: Option<String>,
    pub sender: WireParty,
    pub receiver: WireParty,
    pub commodity: Vec<Commodity>,
    pub quantity: u32,
    /// 0 no, 1 yes (the default): subscribe the waybill for pushes at once.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub is_subscribe: Option<String>,
    /// 0 or 1: return the courier's HTML template too (we print our own label).
    #[serde(rename = "IsReturnPrintTemplate", default, skip_serializing_if = "Option::is_none")]
    pub is_return_print_template: Option<String>,
}

/// The `Order` of a 1007 answer.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct EOrderOrder {
    pub order_code: String,
    pub shipper_code: String,
    pub logistic_code: String,
    /// 大头笔: the sort code printed large on the label.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub mark_destination: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub sorting_code: String,
    /// 集包地.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub package_name: String,
}

/// A 1007 answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct EOrderAnswer {
    #[serde(rename = "EBusinessID", default)]
    pub ebusiness_id: String,
    pub success: bool,
    #[serde(default)]
    pub result_code: String,
    #[serde(default)]
    pub reason: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub order: Option<EOrderOrder>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub uniquer_request_number: String,
}

/// 1008 `RequestData`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct SubscribeRequest {
    pub shipper_code: String,
    pub logistic_code: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub order_code: Option<String>,
    /// A value of ours KDNiao hands back in every push about this waybill.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub callback: Option<String>,
}

/// The answer to 1008 (and the shape of every plain answer).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct PlainAnswer {
    #[serde(rename = "EBusinessID", default)]
    pub ebusiness_id: String,
    #[serde(default)]
    pub update_time: String,
    pub success: bool,
    #[serde(default)]
    pub result_code: String,
    #[serde(default)]
    pub reason: String,
}

/// One scan in a push.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Trace {
    pub accept_time: String,
    pub accept_station: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub remark: String,
}

/// One waybill in a push.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct PushedWaybill {
    #[serde(rename = "EBusinessID", default)]
    pub ebusiness_id: String,
    pub shipper_code: String,
    pub logistic_code: String,
    #[serde(default)]
    pub success: bool,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub reason: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub order_code: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub callback: String,
    /// 0 no trace, 1 collected, 2 in transit, 3 signed for, 4 problem.
    pub state: String,
    #[serde(default)]
    pub traces: Vec<Trace>,
}

/// `RequestData` of a 101 push.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct PushData {
    #[serde(rename = "EBusinessID")]
    pub ebusiness_id: String,
    pub push_time: String,
    pub count: String,
    pub data: Vec<PushedWaybill>,
}

/// The wire `State` of a tracking state, and back.
pub fn state_code(state: crate::couriers::TrackingState) -> &'static str {
    use crate::couriers::TrackingState::*;
    match state {
        NoTrace => "0",
        Collected => "1",
        InTransit => "2",
        Delivered => "3",
        Problem => "4",
    }
}

pub fn parse_state(code: &str) -> Option<crate::couriers::TrackingState> {
    use crate::couriers::TrackingState::*;
    // The value-added product reports finer states (201 到达派件城市, 202 派件中, 301 正常签收 …):
    // their first digit is the coarse state.
    match code.trim().chars().next()? {
        '0' => Some(NoTrace),
        '1' => Some(Collected),
        '2' => Some(InTransit),
        '3' => Some(Delivered),
        '4' => Some(Problem),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Computed apart from this code, with Python:
    /// `base64.b64encode(hashlib.md5((data + key).encode()).hexdigest().encode())`.
    #[test]
    fn data_sign_matches_independent_vectors() {
        let vectors = [
            (
                r#"{"OrderCode":"","ShipperCode":"SF","LogisticCode":"118650888018"}"#,
                "daf0f4e7-8a6b-4f1c-9e25-1a3c2b5f6d7e",
                "MmIzNmNiNDA3Yjk2MGE2ZDg4MTZiNTNiYmU0NWQ3ZWM=",
            ),
            (
                r#"{"ShipperCode":"ZTO","OrderCode":"FS202611250001","Receiver":{"Name":"李四"}}"#,
                "test-app-key",
                "OGM2ZmY4ZTUyN2Y5NDcwMzNlY2RmYmFhYzkxZjJjNTM=",
            ),
            ("", "k", "OGNlNGIxNmIyMmI1ODg5NGFhODZjNDIxZTg3NTlkZjM="),
        ];
        for (data, key, expected) in vectors {
            assert_eq!(data_sign(data, key), expected, "{data}");
            assert!(verify_sign(data, key, expected));
            assert!(!verify_sign(data, "another-key", expected));
            assert!(!verify_sign(&format!("{data} "), key, expected));
        }
    }

    /// The form percent-encodes the signature's `=` and the JSON once, as Python's
    /// `urllib.parse.urlencode` does (checked by hand against its output).
    #[test]
    fn the_form_encodes_each_value_once_and_decodes_back() {
        let form = Form::signed("1234567", "test-app-key", EORDER, r#"{"A":"李 +"}"#.to_owned());
        let body = form.encode();
        assert_eq!(
            body,
            "RequestData=%7B%22A%22%3A%22%E6%9D%8E+%2B%22%7D&EBusinessID=1234567&RequestType=1007\
             &DataSign=YWNjZjI3ZDllNmJlMzIyYmZiODRkNTUwNTgyNWMxM2Y%3D&DataType=2"
        );
        let back = Form::decode(body.as_bytes()).unwrap();
        assert_eq!(back, form);
        assert!(back.verifies("test-app-key"));
        assert!(!back.verifies("wrong"));
    }

    #[test]
    fn beijing_time_round_trips_at_second_precision() {
        // 2023-11-14 22:13:20 UTC is 2023-11-15 06:13:20 in Beijing.
        let at = Timestamp::from_millis(1_700_000_000_000);
        assert_eq!(beijing_time(at), "2023-11-15 06:13:20");
        assert_eq!(parse_beijing_time("2023-11-15 06:13:20"), Some(at));
        assert_eq!(parse_beijing_time("2023-11-15T06:13:20"), None);
    }

    #[test]
    fn states_read_their_first_digit() {
        use crate::couriers::TrackingState;
        assert_eq!(parse_state("3"), Some(TrackingState::Delivered));
        assert_eq!(parse_state("202"), Some(TrackingState::InTransit));
        assert_eq!(parse_state("9"), None);
        assert_eq!(parse_state(""), None);
        for state in [TrackingState::Collected, TrackingState::InTransit, TrackingState::Delivered] {
            assert_eq!(parse_state(state_code(state)), Some(state));
        }
    }
}
