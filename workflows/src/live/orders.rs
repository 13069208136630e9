//! A platform's paid order as an order of ours, and the waybill back to the platform.
//!
//! Once a platform order is recorded against its door's slice and the platform says it is paid,
//! it becomes an order of ours: paid, of [`engine::PLATFORM_BUYER`], with a payment on the
//! platform's channel, credited to the merchant at once by its settlement actor (the platform's
//! fee from `[live]`, MCN splits as for our own orders), shipping to the receiver the platform
//! gave. The settlement actor knows every operation id it posted (`pay:{platform}:{order}`,
//! restored from the database at start), so each platform order is credited once however often
//! it is applied — by a push, its retries, or the polling backstop, which reads every order
//! again after a restart. A crash between the slice and the credit is repaired by that first
//! polling round.
//!
//! What the platform does to the order afterwards moves ours ([`Live::follow_platform_order`]):
//! refunded there (a paid order cancelled, or an after-sales refund the merchant agreed to), the
//! capture is reversed through the merchant's settlement actor, once per platform order
//! (`platform-refund:{platform}:{order}`), and our order and its payment become `refunded`;
//! shipped in the platform's own console, ours is shipped with the platform's courier and
//! waybill; completed there (the buyer confirmed receipt on the platform), our shipped order
//! completes.
//! A platform order is followed under its own lock, so its credit and its refund are never
//! decided at once; and every application follows it again, so a step a crash cut short is
//! taken by the next push or polling round.
//!
//! When the merchant ships such an order from our console (the ordinary shipments flow), the
//! waybill is sent to the platform by [`Live::send_waybills`], a sweep over shipped platform
//! orders whose waybill the platform has not taken: each attempt counted, failures retried
//! after a doubling backoff up to `waybill_max_attempts`, and a taken waybill marked once. The
//! platforms accept the same waybill for the same order again, so an attempt whose answer was
//! lost and is made again ships nothing twice.

use actors::{PaymentOutcome, PlatformPayment, SettlementHandle};
use engine::address::{AddressInput, ShippingAddress};
use engine::notification::Notice;
use engine::{IdempotencyKey, Order, OrderState, PLATFORM_BUYER, Timestamp};
use persistence::live::SaleBinding;
use persistence::live_orders as links;
use persistence::shipments::{Completer, NewShipment, ShipmentError};
use providers::couriers::{Courier, TrackingState};
use providers::live::{
    OrderStatus, Platform, PlatformOrder, PlatformShipment, Receiver, Shipment, courier_code, our_courier,
};

use super::Live;
use super::doors::{ApplyError, door_of};

/// What one waybill sweep did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WaybillReport {
    pub sent: u32,
    pub failed: u32,
}

/// The receiver as a shipping address of ours, when it is one.
fn receiver_address(receiver: &Receiver) -> Option<ShippingAddress> {
    ShippingAddress::parse(&AddressInput {
        name: &receiver.name,
        phone: &receiver.phone,
        province: &receiver.province,
        city: &receiver.city,
        district: &receiver.district,
        district_code: None,
        detail: &receiver.detail,
    })
    .ok()
}

impl Live {
    async fn settlement_of(&self, merchant: engine::MerchantId) -> Result<SettlementHandle, ApplyError> {
        let settlements = self
            .settlements
            .as_ref()
            .ok_or_else(|| ApplyError::Internal(anyhow::anyhow!("no settlement registry")))?;
        settlements
            .get_or_start(merchant, || persistence::money::books(&self.db, merchant))
            .await
            .map_err(|e| ApplyError::Internal(anyhow::anyhow!("settlement actor: {e}")))
    }

    /// Makes a paid platform order an order of ours, credited (once; a repeat is a no-op).
    /// Unpaid and cancelled orders make nothing.
    pub(super) async fn credit_platform_order(
        &self,
        binding: &SaleBinding,
        merchant: engine::MerchantId,
        platform: Platform,
        order: &PlatformOrder,
    ) -> Result<(), ApplyError> {
        let paid = matches!(order.status, OrderStatus::Paid | OrderStatus::Shipped | OrderStatus::Completed);
        let Some(paid_at) = order.paid_at.filter(|_| paid) else { return Ok(()) };
        let key = IdempotencyKey::parse(&format!("{}-{}", platform.as_str(), order.order_id))
            .map_err(|_| ApplyError::Internal(anyhow::anyhow!("platform order id {:?}", order.order_id)))?;
        let receiver = order.receiver.as_ref().and_then(|r| {
            let parsed = receiver_address(r);
            if parsed.is_none() {
                tracing::warn!(platform = platform.as_str(), order = %order.order_id,
                    "the platform's receiver is not an address of ours; the order cannot be shipped from here");
            }
            parsed
        });
        let ours = Order {
            id: self.registry.order_ids().next(),
            flash_sale_id: binding.flash_sale_id,
            merchant_id: merchant,
            buyer_id: PLATFORM_BUYER,
            quantity: order.quantity,
            amount_fen: order.amount_fen,
            state: OrderState::Paid,
            idempotency_key: key,
            client_network: None,
            created_at: order.created_at,
            expires_at: paid_at,
            updated_at: paid_at,
        };
        let payment = PlatformPayment {
            order: ours,
            door: door_of(platform),
            platform_order_id: order.order_id.clone(),
            receiver,
        };
        let outcome = self
            .settlement_of(merchant)
            .await?
            .platform_order(payment)
            .await
            .map_err(|e| ApplyError::Internal(anyhow::anyhow!("crediting a platform order: {e}")))?;
        if let PaymentOutcome::Credited { .. } = outcome {
            metrics::counter!("flashsale_live_orders_credited_total", "platform" => platform.as_str())
                .increment(1);
        }
        match tokio::time::timeout(self.settings.ack_timeout, self.journal.wait_durable(outcome.seq())).await
        {
            Ok(Ok(())) => Ok(()),
            _ => Err(ApplyError::Busy),
        }
    }

    /// Moves our order made from `order` the way the platform moved it: refunded there →
    /// reversed and refunded here; completed there → completed here (from shipped). Nothing
    /// when no order of ours was made from it (never paid, or not credited yet: the credit
    /// reads the platform's state and makes nothing of a refunded order).
    pub(super) async fn follow_platform_order(
        &self,
        merchant: engine::MerchantId,
        platform: Platform,
        order: &PlatformOrder,
    ) -> Result<(), ApplyError> {
        let refunded = order.status == OrderStatus::Cancelled && order.paid_at.is_some();
        let shipped = matches!(order.status, OrderStatus::Shipped | OrderStatus::Completed);
        if !refunded && !shipped {
            return Ok(());
        }
        let Some(link) = links::link_of_platform_order(&self.db, platform.as_str(), &order.order_id).await?
        else {
            return Ok(());
        };
        if shipped && let Some(package) = &order.shipment {
            self.record_platform_shipment(&link, platform, package).await?;
        }
        if !refunded && order.status != OrderStatus::Completed {
            return Ok(());
        }
        if refunded {
            let settlement = self.settlement_of(merchant).await?;
            let seq = match settlement
                .platform_refund(link.order_id, door_of(platform), order.order_id.clone())
                .await
            {
                Ok(seq) => seq,
                // Nothing of it is credited (a capture rejected in review was owed back already).
                Err(actors::SettleError::NothingToRefund) => return Ok(()),
                Err(e) => {
                    return Err(ApplyError::Internal(anyhow::anyhow!("refunding a platform order: {e}")));
                }
            };
            return match tokio::time::timeout(self.settings.ack_timeout, self.journal.wait_durable(seq)).await
            {
                Ok(Ok(())) => Ok(()),
                _ => Err(ApplyError::Busy),
            };
        }
        match persistence::shipments::complete(&self.db, link.order_id, Completer::Platform, self.clock.now())
            .await
        {
            // Completed now, or before; not shipped from our side (shipped from the platform's
            // own console, which has no waybill of ours) or refunded: left as it is.
            Ok(()) | Err(ShipmentError::WrongState(_) | ShipmentError::NotFound) => Ok(()),
            Err(e) => Err(ApplyError::Internal(anyhow::anyhow!("completing a platform order: {e}"))),
        }
    }

    /// A platform order the merchant shipped in the platform's own console: ours, still to
    /// ship, becomes shipped with the platform's courier and waybill (the buyer's notice and
    /// the shipment in one transaction, as from our console), and its waybill is marked as held
    /// by the platform, so the waybill sweep sends nothing. Shipped from our side already:
    /// nothing. A courier we have no code for is logged and left to the merchant.
    async fn record_platform_shipment(
        &self,
        link: &links::PlatformOrderLink,
        platform: Platform,
        package: &PlatformShipment,
    ) -> Result<(), ApplyError> {
        let Some(courier) = our_courier(platform, &package.company_code).and_then(|c| Courier::parse(c).ok())
        else {
            tracing::warn!(order = %link.order_id, platform = platform.as_str(), company = %package.company_code,
                "shipped on the platform with a courier we have no code for; left to ship from here");
            return Ok(());
        };
        let now = self.clock.now();
        let new = NewShipment {
            courier: courier.code.to_owned(),
            waybill_no: package.waybill_no.clone(),
            electronic_waybill: false,
            sort_code: None,
            package_center: None,
            sender: None,
            tracking_state: TrackingState::NoTrace.as_str().to_owned(),
        };
        let notice = Notice::order_shipped(link.order_id, courier.name, &package.waybill_no, now);
        let merchant = engine::MerchantId(link.merchant_id);
        match persistence::shipments::ship(&self.db, link.order_id, merchant, &new, &notice, now).await {
            Ok(_) => {
                links::mark_waybill_sent(&self.db, link.order_id, now).await?;
                Ok(())
            }
            Err(ShipmentError::WrongState(_) | ShipmentError::NotFound) => Ok(()),
            Err(ShipmentError::WaybillTaken) => {
                tracing::warn!(order = %link.order_id, waybill = %package.waybill_no,
                    "the platform's waybill is another order's here; left to ship from here");
                Ok(())
            }
            Err(ShipmentError::Db(e)) => Err(e.into()),
        }
    }

    /// One sweep: the waybills of shipped platform orders that are due, sent to their
    /// platforms. Bounded: at most 100 orders per sweep.
    pub async fn send_waybills(&self) -> Result<WaybillReport, ApplyError> {
        let now = self.clock.now();
        let due = links::waybills_due(&self.db, now, self.settings.waybill_max_attempts, 100).await?;
        let mut report = WaybillReport::default();
        for item in due {
            match self.send_waybill(&item).await {
                Ok(()) => {
                    links::mark_waybill_sent(&self.db, item.link.order_id, self.clock.now()).await?;
                    report.sent += 1;
                }
                Err(error) => {
                    report.failed += 1;
                    let attempt = item.link.waybill_attempts.min(20);
                    let wait = self.settings.waybill_retry_base_ms.saturating_mul(1 << attempt);
                    let next = Timestamp(now.as_millis().saturating_add(wait));
                    tracing::warn!(order = %item.link.order_id, platform = %item.link.platform, %error,
                        attempts = attempt + 1, "sending a waybill to the platform failed");
                    links::record_waybill_failure(&self.db, item.link.order_id, next, &error).await?;
                }
            }
        }
        Ok(report)
    }

    async fn send_waybill(&self, item: &links::WaybillDue) -> Result<(), String> {
        let platform = Platform::parse(&item.link.platform).ok_or("unknown platform")?;
        let client = self.platform(platform).ok_or("platform not offered here")?;
        let company = courier_code(platform, &item.courier)
            .ok_or_else(|| format!("courier {} has no code at {}", item.courier, platform.as_str()))?;
        let binding =
            persistence::live::binding_of_sale(&self.db, item.link.flash_sale_id, platform.as_str())
                .await
                .map_err(|e| e.to_string())?
                .ok_or("the sale is not bound to the platform")?;
        let shop = persistence::live::shop(&self.db, binding.live_shop_id)
            .await
            .map_err(|e| e.to_string())?
            .filter(|s| s.status == persistence::live::CONNECTED)
            .ok_or("the shop is not connected")?;
        let grant = self.grant_of(&shop).map_err(|e| e.to_string())?;
        let shipment = Shipment {
            order_id: item.link.platform_order_id.clone(),
            company_code: company.to_owned(),
            waybill_no: item.waybill_no.clone(),
        };
        client.ship(&grant.access_token, &shipment).await.map_err(|e| {
            if e.is_revoked() {
                tracing::warn!(shop = shop.id, "a revoked grant refused a waybill");
            }
            e.to_string()
        })
    }
}
