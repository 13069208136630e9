//! From paid to completed: a merchant ships a paid order (with a waybill number it typed, or
//! an e-waybill the courier issues now), prints its label, the courier's signed pushes record
//! where the parcel is, and the order completes when its buyer confirms receipt or, by
//! itself, some days after delivery ([`Fulfilment::complete_due`], a bounded sweep on the
//! injected clock).
//!
//! Each state change is one transaction with the notice that reports it
//! (`persistence::shipments`): `shipped` and `delivered` reach the buyer through the outbox.
//! The courier is called before that transaction, never inside it: a slow courier holds no
//! lock, and asking again for the same order finds the same e-waybill.

use std::sync::Arc;
use std::time::Duration;

use engine::address::{AddressError, AddressInput, ShippingAddress};
use engine::notification::Notice;
use engine::time::Clock;
use engine::{BuyerId, MerchantId, Order, OrderId, OrderState, Timestamp};
use persistence::shipments::{
    self, Completer, NewShipment, SenderRecord, ShipmentError, ShipmentRecord, TrackingRecord,
};
use persistence::{DatabaseConnection, DbErr, addresses, repo};
use providers::couriers::{
    Courier, CourierError, CourierGateway, Party, PushAnswer, PushError, TrackingState, UnknownCourier,
    WaybillRequest,
};
use thiserror::Error;

use super::label::{self, Label, LabelError, LabelFont};

/// The longest waybill number a merchant may type (couriers' own run to 15 characters).
pub const WAYBILL_MAX_CHARS: usize = 32;

/// What the fulfilment workflow is told by the deployment.
#[derive(Debug, Clone)]
pub struct FulfilmentSettings {
    /// A delivered order completes by itself this long after delivery.
    pub auto_complete_after_ms: i64,
    /// How often the completion sweep looks.
    pub sweep_interval: Duration,
    /// Orders one sweep completes at most.
    pub sweep_batch: u64,
    /// Scans an order's page shows at most.
    pub tracking_shown: u64,
}

impl Default for FulfilmentSettings {
    fn default() -> Self {
        Self {
            auto_complete_after_ms: 7 * 24 * 3_600_000,
            sweep_interval: Duration::from_secs(60),
            sweep_batch: 500,
            tracking_shown: 100,
        }
    }
}

/// The fulfilment workflow's narrow context.
pub struct Fulfilment {
    pub db: DatabaseConnection,
    pub courier: Arc<dyn CourierGateway>,
    clock: Arc<dyn Clock>,
    pub settings: FulfilmentSettings,
    /// `None` when the label font could not be read: labels are refused, shipping works.
    font: Option<LabelFont>,
}

/// Why an order was not shipped.
#[derive(Debug, Error)]
pub enum ShipFailure {
    #[error(transparent)]
    UnknownCourier(#[from] UnknownCourier),
    #[error("waybill_no must be 6 to {WAYBILL_MAX_CHARS} letters, digits or dashes")]
    InvalidWaybill,
    #[error("sender {}: {}", .0.field(), .0)]
    InvalidSender(AddressError),
    #[error("an e-waybill needs the sender's address: send `sender` once, later shipments reuse it")]
    SenderRequired,
    /// Not the merchant's order (or none).
    #[error("no such order")]
    NotFound,
    #[error("the order is {}, only a paid order ships", .0.as_str())]
    NotPaid(OrderState),
    #[error("the order has no shipping address")]
    NoAddress,
    #[error("the waybill number is already used by another order")]
    WaybillTaken,
    /// The courier could not be reached.
    #[error("the courier is unreachable, retry shortly ({0})")]
    CourierUnavailable(String),
    /// The courier refused or answered nonsense.
    #[error("the courier refused: {0}")]
    CourierRefused(String),
    #[error(transparent)]
    Db(#[from] DbErr),
}

impl From<CourierError> for ShipFailure {
    fn from(error: CourierError) -> Self {
        match error {
            CourierError::UnknownCourier(e) => ShipFailure::UnknownCourier(e),
            CourierError::Transport(e) => ShipFailure::CourierUnavailable(e),
            refused @ (CourierError::Refused { .. } | CourierError::BadAnswer(_)) => {
                ShipFailure::CourierRefused(refused.to_string())
            }
        }
    }
}

/// What the merchant asks for.
#[derive(Debug, Clone, Default)]
pub struct ShipRequest<'a> {
    pub courier: &'a str,
    pub waybill_no: Option<&'a str>,
    pub sender: Option<AddressInput<'a>>,
}

/// Why no label was printed.
#[derive(Debug, Error)]
pub enum LabelFailure {
    #[error("order {0} not found")]
    NotFound(OrderId),
    #[error("order {0} has not shipped")]
    NotShipped(OrderId),
    /// Delivered or completed: the label (and the whole address on it) is no longer needed.
    #[error("order {0} was delivered, its label is no longer printed")]
    Delivered(OrderId),
    #[error("at most {} labels at once", label::MAX_LABELS_PER_PDF)]
    TooMany,
    #[error("no orders given")]
    Empty,
    #[error("labels cannot be printed: {0}")]
    Unavailable(String),
    #[error(transparent)]
    Db(#[from] DbErr),
}

/// Why an order was not completed.
#[derive(Debug, Error)]
pub enum ReceiptFailure {
    #[error("no such order")]
    NotFound,
    #[error("the order is {}, only a shipped order is received", .0.as_str())]
    NotShipped(OrderState),
    #[error(transparent)]
    Db(#[from] DbErr),
}

/// What a courier push came to: the protocol's answer, and why it was refused, if it was.
pub struct PushOutcome {
    pub answer: PushAnswer,
    pub refused: Option<PushError>,
    /// Waybills of ours the push moved (unknown waybills are taken and ignored).
    pub updated: usize,
}

fn party_of(address: &ShippingAddress) -> Party {
    Party {
        name: address.name.clone(),
        phone: address.phone.as_str().to_owned(),
        province: address.province.clone(),
        city: address.city.clone(),
        district: address.district.clone(),
        detail: address.detail.clone(),
    }
}

fn sender_party(sender: &SenderRecord) -> Party {
    Party {
        name: sender.name.clone(),
        phone: sender.phone.clone(),
        province: sender.province.clone(),
        city: sender.city.clone(),
        district: sender.district.clone(),
        detail: sender.detail.clone(),
    }
}

fn valid_waybill(raw: &str) -> Option<String> {
    let trimmed = raw.trim();
    let ok = (6..=WAYBILL_MAX_CHARS).contains(&trimmed.len())
        && trimmed.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-');
    ok.then(|| trimmed.to_owned())
}

/// How far along a parcel is, for "only forward": a problem is news at any point, but a
/// delivered parcel stays delivered.
fn rank(state: &str) -> u8 {
    match state {
        "no_trace" => 0,
        "collected" => 1,
        "in_transit" => 2,
        "problem" => 3,
        "delivered" => 4,
        _ => 0,
    }
}

/// Whether the whole address may be shown to the order's merchant: while there is something
/// to ship — paid, or shipped and not yet delivered (the label is printed then).
pub fn address_is_whole(state: OrderState, shipment: Option<&ShipmentRecord>) -> bool {
    match state {
        OrderState::Paid => true,
        OrderState::Shipped => shipment.is_none_or(|s| s.delivered_at.is_none()),
        _ => false,
    }
}

impl Fulfilment {
    pub fn new(
        db: DatabaseConnection,
        courier: Arc<dyn CourierGateway>,
        clock: Arc<dyn Clock>,
        settings: FulfilmentSettings,
        font: Option<LabelFont>,
    ) -> Self {
        Self { db, courier, clock, settings, font }
    }

    pub fn now(&self) -> Timestamp {
        self.clock.now()
    }

    /// Ships `order_id` for `merchant`.
    pub async fn ship(
        &self,
        merchant: MerchantId,
        order_id: OrderId,
        request: ShipRequest<'_>,
    ) -> Result<ShipmentRecord, ShipFailure> {
        let courier = Courier::parse(request.courier)?;
        let typed = match request.waybill_no {
            Some(raw) => Some(valid_waybill(raw).ok_or(ShipFailure::InvalidWaybill)?),
            None => None,
        };
        let given_sender = match &request.sender {
            Some(input) => Some(ShippingAddress::parse(input).map_err(ShipFailure::InvalidSender)?),
            None => None,
        };
        let order = repo::order(&self.db, order_id)
            .await?
            .filter(|o| o.merchant_id == merchant)
            .ok_or(ShipFailure::NotFound)?;
        if order.state != OrderState::Paid {
            return Err(ShipFailure::NotPaid(order.state));
        }
        let receiver = addresses::of_order(&self.db, order.id).await?.ok_or(ShipFailure::NoAddress)?;
        let sender = match given_sender {
            Some(address) => Some(SenderRecord {
                name: address.name,
                phone: address.phone.as_str().to_owned(),
                province: address.province,
                city: address.city,
                district: address.district,
                detail: address.detail,
            }),
            None => shipments::last_sender(&self.db, merchant).await?,
        };
        let order_no = order.id.0.to_string();
        let (waybill_no, sort_code, package_center) = match typed {
            Some(number) => {
                self.courier.subscribe(courier, &number, Some(&order_no)).await?;
                (number, None, None)
            }
            None => {
                let sender = sender.as_ref().ok_or(ShipFailure::SenderRequired)?;
                let goods_name = repo::flash_sale(&self.db, order.flash_sale_id)
                    .await?
                    .map_or_else(|| format!("订单{order_no}"), |terms| terms.title);
                let request = WaybillRequest {
                    courier,
                    order_no: order_no.clone(),
                    sender: sender_party(sender),
                    receiver: party_of(&receiver),
                    goods_name,
                    quantity: order.quantity,
                };
                let waybill = self.courier.request_waybill(&request).await?;
                (waybill.waybill_no, waybill.sort_code, waybill.package_center)
            }
        };
        let new = NewShipment {
            courier: courier.code.to_owned(),
            electronic_waybill: request.waybill_no.is_none(),
            waybill_no: waybill_no.clone(),
            sort_code,
            package_center,
            sender,
            tracking_state: TrackingState::NoTrace.as_str().to_owned(),
        };
        let now = self.clock.now();
        let notice = Notice::order_shipped(order.id, courier.name, &waybill_no, now);
        shipments::ship(&self.db, order.id, merchant, &new, &notice, now).await.map_err(|e| match e {
            ShipmentError::NotFound => ShipFailure::NotFound,
            ShipmentError::WrongState(state) => ShipFailure::NotPaid(state),
            ShipmentError::WaybillTaken => ShipFailure::WaybillTaken,
            ShipmentError::Db(e) => ShipFailure::Db(e),
        })
    }

    /// One PDF with a label per order, in the order given, for `merchant`.
    pub async fn labels(&self, merchant: MerchantId, order_ids: &[OrderId]) -> Result<Vec<u8>, LabelFailure> {
        if order_ids.is_empty() {
            return Err(LabelFailure::Empty);
        }
        if order_ids.len() > label::MAX_LABELS_PER_PDF {
            return Err(LabelFailure::TooMany);
        }
        let mut labels = Vec::with_capacity(order_ids.len());
        for &id in order_ids {
            let order = repo::order(&self.db, id)
                .await?
                .filter(|o| o.merchant_id == merchant)
                .ok_or(LabelFailure::NotFound(id))?;
            let shipment = shipments::of_order(&self.db, id).await?.ok_or(LabelFailure::NotShipped(id))?;
            if !address_is_whole(order.state, Some(&shipment)) {
                return Err(LabelFailure::Delivered(id));
            }
            let receiver = addresses::of_order(&self.db, id).await?.ok_or(LabelFailure::NotShipped(id))?;
            let sender = match &shipment.sender {
                Some(sender) => sender_party(sender),
                None => {
                    let (name, phone) = repo::merchant_contact(&self.db, merchant).await?.unwrap_or_default();
                    Party {
                        name,
                        phone,
                        province: String::new(),
                        city: String::new(),
                        district: String::new(),
                        detail: String::new(),
                    }
                }
            };
            let courier = Courier::parse(&shipment.courier)
                .map_err(|e| DbErr::Custom(format!("shipment {id} courier: {e}")))?;
            labels.push(Label {
                courier,
                waybill_no: shipment.waybill_no,
                sort_code: shipment.sort_code,
                package_center: shipment.package_center,
                order_no: id.0.to_string(),
                sender,
                receiver: party_of(&receiver),
            });
        }
        let font = self.font.clone().ok_or_else(|| LabelFailure::Unavailable("no label font".into()))?;
        // Laying out and subsetting a font is CPU work: off the async threads.
        tokio::task::spawn_blocking(move || label::render(&labels, &font))
            .await
            .map_err(|e| LabelFailure::Unavailable(e.to_string()))?
            .map_err(|e: LabelError| LabelFailure::Unavailable(e.to_string()))
    }

    /// Takes a courier push (the raw body): verified, then each update of a waybill of ours
    /// stored. A refused push changes nothing; storage failing answers failure, so the courier
    /// pushes again.
    pub async fn take_push(&self, body: &[u8]) -> PushOutcome {
        let now = self.clock.now();
        let push = match self.courier.verify_push(body, now) {
            Ok(push) => push,
            Err(refused) => {
                tracing::warn!(error = %refused, "courier push refused");
                let answer = self.courier.answer_push(Err(&refused.to_string()), now);
                return PushOutcome { answer, refused: Some(refused), updated: 0 };
            }
        };
        let mut updated = 0;
        for update in &push.updates {
            let stored = match shipments::by_waybill(&self.db, update.courier.code, &update.waybill_no).await
            {
                Ok(Some(stored)) => stored,
                Ok(None) => continue,
                Err(error) => return self.push_failed(&error, now, updated),
            };
            let events: Vec<TrackingRecord> = update
                .events
                .iter()
                .map(|e| TrackingRecord { at: e.at, description: e.description.chars().take(500).collect() })
                .collect();
            let state = update.state.as_str();
            let further = |current: &str| rank(state) > rank(current);
            let delivered = (update.state == TrackingState::Delivered)
                .then(|| Notice::order_delivered(stored.order_id, now));
            let recorded = shipments::record_tracking(
                &self.db,
                stored.order_id,
                state,
                further,
                &events,
                delivered.as_ref(),
                now,
            )
            .await;
            match recorded {
                Ok(_) => updated += 1,
                Err(error) => return self.push_failed(&error, now, updated),
            }
        }
        PushOutcome { answer: self.courier.answer_push(Ok(()), now), refused: None, updated }
    }

    fn push_failed(&self, error: &DbErr, now: Timestamp, updated: usize) -> PushOutcome {
        tracing::error!(%error, "courier push not stored");
        PushOutcome {
            answer: self.courier.answer_push(Err("temporary failure"), now),
            refused: None,
            updated,
        }
    }

    /// The buyer confirms receipt: `shipped → completed`.
    pub async fn confirm_receipt(&self, buyer: BuyerId, order_id: OrderId) -> Result<(), ReceiptFailure> {
        shipments::complete(&self.db, order_id, Completer::Buyer(buyer), self.clock.now()).await.map_err(
            |e| match e {
                ShipmentError::NotFound | ShipmentError::WaybillTaken => ReceiptFailure::NotFound,
                ShipmentError::WrongState(state) => ReceiptFailure::NotShipped(state),
                ShipmentError::Db(e) => ReceiptFailure::Db(e),
            },
        )
    }

    /// Completes up to `sweep_batch` orders delivered at least `auto_complete_after_ms` ago;
    /// how many it completed.
    pub async fn complete_due(&self) -> Result<usize, DbErr> {
        let now = self.clock.now();
        let cutoff = now.plus_millis(-self.settings.auto_complete_after_ms);
        let due = shipments::due_for_completion(&self.db, cutoff, self.settings.sweep_batch).await?;
        let mut completed = 0;
        for order_id in due {
            match shipments::complete(&self.db, order_id, Completer::Sweep, now).await {
                Ok(()) => completed += 1,
                // Refunded or completed by its buyer meanwhile.
                Err(ShipmentError::WrongState(_) | ShipmentError::NotFound) => {}
                Err(ShipmentError::Db(e)) => return Err(e),
                Err(ShipmentError::WaybillTaken) => {}
            }
        }
        if completed > 0 {
            tracing::info!(completed, "delivered orders completed by themselves");
        }
        Ok(completed)
    }

    /// The completion sweep, every `sweep_interval`.
    pub fn spawn_sweep(self: Arc<Self>) -> tokio::task::JoinHandle<()> {
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(self.settings.sweep_interval);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                if let Err(error) = self.complete_due().await {
                    tracing::warn!(%error, "completion sweep failed");
                }
            }
        })
    }

    /// An order's shipment and its scans, if it shipped.
    pub async fn tracking(
        &self,
        order: &Order,
    ) -> Result<Option<(ShipmentRecord, Vec<TrackingRecord>)>, DbErr> {
        let Some(shipment) = shipments::of_order(&self.db, order.id).await? else { return Ok(None) };
        let events = shipments::tracking_of(&self.db, order.id, self.settings.tracking_shown).await?;
        Ok(Some((shipment, events)))
    }
}

/// The Chinese name of a courier code, as a fan reads it.
pub fn courier_name(code: &str) -> &'static str {
    Courier::parse(code).map_or("快递", |c| c.name)
}

/// The Chinese name of a stored tracking state.
pub fn tracking_chinese(state: &str) -> &'static str {
    match state {
        "collected" => TrackingState::Collected.chinese(),
        "in_transit" => TrackingState::InTransit.chinese(),
        "delivered" => TrackingState::Delivered.chinese(),
        "problem" => TrackingState::Problem.chinese(),
        _ => TrackingState::NoTrace.chinese(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waybill_numbers_are_checked_and_states_only_move_forward() {
        assert_eq!(valid_waybill(" SF1234567890123 ").as_deref(), Some("SF1234567890123"));
        for bad in ["12345", "SF 123456", "运单123456", &"1".repeat(33)] {
            assert_eq!(valid_waybill(bad), None, "{bad}");
        }
        assert!(rank("delivered") > rank("in_transit") && rank("in_transit") > rank("collected"));
        assert!(rank("collected") > rank("no_trace"));
    }
}
