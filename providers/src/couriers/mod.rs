//! Couriers: e-waybills (电子面单) and tracking behind the [`CourierGateway`] port, and its
//! adapter for KDNiao (快递鸟), the aggregator that speaks to SF, the 四通一达 and the rest
//! with one protocol.
//!
//! A merchant ships with one of the [`Courier`]s the platform knows (an unknown code is
//! refused before anything is sent); the gateway asks for a waybill number, subscribes it for
//! tracking, and later receives signed pushes of its progress (collected, in transit,
//! delivered), which it verifies and answers the protocol's way.

pub mod kdniao;

use std::future::Future;
use std::pin::Pin;

use engine::Timestamp;
use thiserror::Error;

/// A courier the platform ships with: its code in the aggregator's protocol and its Chinese
/// name (printed on labels and shown to fans).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Courier {
    pub code: &'static str,
    pub name: &'static str,
}

/// Every courier a shipment may name, by KDNiao's `ShipperCode`. J&T is `JTSD` in KDNiao's
/// code table (the carrier's own English name, J&T Express, is not a code there).
pub const COURIERS: [Courier; 10] = [
    Courier { code: "SF", name: "顺丰速运" },
    Courier { code: "ZTO", name: "中通快递" },
    Courier { code: "YTO", name: "圆通速递" },
    Courier { code: "STO", name: "申通快递" },
    Courier { code: "YD", name: "韵达速递" },
    Courier { code: "HTKY", name: "百世快递" },
    Courier { code: "JTSD", name: "极兔速递" },
    Courier { code: "EMS", name: "EMS" },
    Courier { code: "JD", name: "京东快递" },
    Courier { code: "DBL", name: "德邦快递" },
];

/// A courier code the platform does not ship with.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("unknown courier {0:?}")]
pub struct UnknownCourier(pub String);

impl Courier {
    /// The courier with this code (exactly as the protocol spells it: upper case).
    pub fn parse(code: &str) -> Result<Courier, UnknownCourier> {
        COURIERS.iter().find(|c| c.code == code).copied().ok_or_else(|| UnknownCourier(code.to_owned()))
    }
}

/// One end of a shipment: who sends or receives, and where. The address is split the way
/// couriers route it (province, city, district) with the street detail apart.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Party {
    pub name: String,
    /// A mobile number (11 digits) or a landline; couriers take either.
    pub phone: String,
    pub province: String,
    pub city: String,
    pub district: String,
    pub detail: String,
}

impl Party {
    /// The address in one line, as printed on a label: 广东省深圳市南山区科技园路1号.
    pub fn full_address(&self) -> String {
        // Municipalities repeat themselves (上海 上海市): print the city once.
        if self.city.starts_with(self.province.trim_end_matches('市')) {
            format!("{}{}{}", self.city, self.district, self.detail)
        } else {
            format!("{}{}{}{}", self.province, self.city, self.district, self.detail)
        }
    }
}

/// What an e-waybill is asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WaybillRequest {
    pub courier: Courier,
    /// The platform's order number; the courier keys the waybill by it, so asking again for
    /// the same order finds the same waybill rather than a second one.
    pub order_no: String,
    pub sender: Party,
    pub receiver: Party,
    /// What is in the parcel (the protocol's `Commodity[].GoodsName`, required).
    pub goods_name: String,
    pub quantity: u32,
}

/// A waybill the courier issued.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Waybill {
    pub courier: Courier,
    pub waybill_no: String,
    /// The sort code printed large on the label (大头笔, `MarkDestination`), when the courier
    /// gives one.
    pub sort_code: Option<String>,
    /// The consolidation centre (集包地, `PackageName`), when given.
    pub package_center: Option<String>,
}

/// Where a parcel is, in the protocol's coarse states (`State` 0–4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum TrackingState {
    /// 暂无轨迹信息: nothing scanned yet.
    NoTrace,
    /// 已揽收: the courier has the parcel.
    Collected,
    /// 在途中 / 运输中.
    InTransit,
    /// 签收: delivered.
    Delivered,
    /// 问题件: held, returned, refused, lost.
    Problem,
}

impl TrackingState {
    pub fn as_str(self) -> &'static str {
        match self {
            TrackingState::NoTrace => "no_trace",
            TrackingState::Collected => "collected",
            TrackingState::InTransit => "in_transit",
            TrackingState::Delivered => "delivered",
            TrackingState::Problem => "problem",
        }
    }

    /// 揽收, 运输中, 签收 … as a fan reads it.
    pub fn chinese(self) -> &'static str {
        match self {
            TrackingState::NoTrace => "暂无轨迹",
            TrackingState::Collected => "已揽收",
            TrackingState::InTransit => "运输中",
            TrackingState::Delivered => "已签收",
            TrackingState::Problem => "问题件",
        }
    }
}

/// One scan of a parcel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrackingEvent {
    pub at: Timestamp,
    /// What happened where, as the courier wrote it (`AcceptStation`).
    pub description: String,
}

/// What a push says about one waybill: its state now and every scan so far.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrackingUpdate {
    pub courier: Courier,
    pub waybill_no: String,
    pub order_no: Option<String>,
    pub state: TrackingState,
    pub events: Vec<TrackingEvent>,
}

/// A verified tracking push.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrackingPush {
    pub pushed_at: Timestamp,
    pub updates: Vec<TrackingUpdate>,
}

/// Why a call to the courier did not give what was asked.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum CourierError {
    #[error(transparent)]
    UnknownCourier(#[from] UnknownCourier),
    /// The courier could not be reached or did not answer in time, after every retry.
    #[error("courier unreachable: {0}")]
    Transport(String),
    /// The courier refused the request (`Success: false`).
    #[error("courier refused the request: {code}: {reason}")]
    Refused { code: String, reason: String },
    /// The answer was not what the protocol promises.
    #[error("courier answered something unexpected: {0}")]
    BadAnswer(String),
}

/// Why a push was not taken. None of these changes anything on our side.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum PushError {
    /// Not the protocol's form, or its `RequestData` is not the promised JSON.
    #[error("malformed push: {0}")]
    Malformed(String),
    /// `DataSign` does not match `RequestData` under our key.
    #[error("push signature does not verify")]
    BadSignature,
    /// Signed, but for another account (`EBusinessID`).
    #[error("push is for another account")]
    WrongAccount,
    /// Signed, but pushed too long ago (or too far ahead): a replay, refused.
    #[error("push is stale")]
    Stale,
}

/// What to answer a push with, whatever its outcome.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PushAnswer {
    pub content_type: &'static str,
    pub body: String,
}

/// The future a gateway call returns.
pub type CourierFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T, CourierError>> + Send + 'a>>;

/// One courier aggregator: e-waybills, tracking subscriptions, and the pushes it sends back.
pub trait CourierGateway: Send + Sync {
    /// Issues (or finds again, for the same order) the waybill of a shipment.
    fn request_waybill<'a>(&'a self, request: &'a WaybillRequest) -> CourierFuture<'a, Waybill>;

    /// Asks for pushes about a waybill (one the merchant typed, or one issued without them).
    fn subscribe<'a>(
        &'a self,
        courier: Courier,
        waybill_no: &'a str,
        order_no: Option<&'a str>,
    ) -> CourierFuture<'a, ()>;

    /// Verifies a push as received (the raw form body) at `now`, and reads it.
    fn verify_push(&self, body: &[u8], now: Timestamp) -> Result<TrackingPush, PushError>;

    /// The answer the aggregator expects: success when the push was taken, so that it stops
    /// retrying; failure (it retries later) otherwise.
    fn answer_push(&self, taken: Result<(), &str>, now: Timestamp) -> PushAnswer;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn couriers_are_known_by_their_exact_code() {
        assert_eq!(Courier::parse("SF").unwrap().name, "顺丰速运");
        assert_eq!(Courier::parse("JTSD").unwrap().name, "极兔速递");
        assert_eq!(Courier::parse("sf"), Err(UnknownCourier("sf".into())));
        assert_eq!(Courier::parse("UPS"), Err(UnknownCourier("UPS".into())));
        assert_eq!(Courier::parse(""), Err(UnknownCourier(String::new())));
    }

    #[test]
    fn full_addresses_print_a_municipality_once() {
        let mut party = Party {
            name: "张三".into(),
            phone: "13800000000".into(),
            province: "广东省".into(),
            city: "深圳市".into(),
            district: "南山区".into(),
            detail: "科技园路1号".into(),
        };
        assert_eq!(party.full_address(), "广东省深圳市南山区科技园路1号");
        party.province = "上海".into();
        party.city = "上海市".into();
        party.district = "浦东新区".into();
        assert_eq!(party.full_address(), "上海市浦东新区科技园路1号");
    }
}
