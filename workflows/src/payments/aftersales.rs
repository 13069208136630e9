//! After-sales refunds: a buyer asks for (part of) an order's payment back within the window
//! (`engine::aftersales::may_ask`); the merchant approves or rejects through its settlement
//! actor, which reverses the capture in proportion, owes the amount to the buyer and tells
//! them, all in one journal event; the refund worker ([`Payments::aftersales_sweep`]) pays it
//! back at the channel under `out_refund_no` = `A` + request id (a retry is the same refund)
//! and posts the confirmation; units the merchant puts back on sale go through the sale's
//! stock actor, once per request, journaled.

use actors::{RestockFailure, SettleError};
use engine::aftersales::{AskError, RefundAsk, RefundRequest, RefundState, Restock, WindowError, may_ask};
use engine::settlement::RefundError;
use engine::{BuyerId, FlashSaleId, MerchantId, OrderId, OrderState, RefundId};
use persistence::refunds::{self as refund_repo, NewRefund};
use persistence::{DbErr, money as money_repo, payments as payment_repo, repo};

use super::{Payments, ReportError};

/// Most requests one page of a listing or one step of the sweep reads.
pub const PAGE_MAX: u64 = 200;

/// Why a refund was not asked for or not decided.
#[derive(Debug, thiserror::Error)]
pub enum AfterSalesError {
    #[error("no such order")]
    OrderNotFound,
    #[error("no such refund request")]
    RefundNotFound,
    #[error("the order has no captured payment to refund")]
    NotPaid,
    #[error(transparent)]
    Window(#[from] WindowError),
    #[error(transparent)]
    Ask(#[from] AskError),
    #[error("the refund request was decided already")]
    AlreadyDecided,
    #[error("units that have shipped cannot go back on sale; restock to the product or not at all")]
    ShippedUnits,
    #[error("{0}")]
    Books(SettleError),
    #[error("{0}")]
    Unreachable(#[from] ReportError),
    #[error("database: {0}")]
    Db(#[from] DbErr),
}

impl From<SettleError> for AfterSalesError {
    fn from(error: SettleError) -> Self {
        match error {
            SettleError::RefundDecided => AfterSalesError::AlreadyDecided,
            SettleError::NothingToRefund => AfterSalesError::NotPaid,
            SettleError::Refund(RefundError::ExceedsPayment { refunded, gross }) => {
                AfterSalesError::Ask(AskError::ExceedsWhatIsLeft { left: gross - refunded, units_left: 0 })
            }
            SettleError::Refund(RefundError::NotPositive) => AfterSalesError::Ask(AskError::NotPositive),
            other => AfterSalesError::Books(other),
        }
    }
}

/// A buyer's request as it arrives.
#[derive(Debug, Clone)]
pub struct RefundAsked {
    pub buyer: BuyerId,
    pub order_id: OrderId,
    pub ask: RefundAsk,
    pub reason: String,
    pub note: String,
}

impl Payments {
    /// A buyer asks for a refund of their order: within the window, never more than is left
    /// (what other requests not rejected ask or took counts as taken).
    pub async fn ask_refund(&self, asked: RefundAsked) -> Result<RefundRequest, AfterSalesError> {
        let order = repo::order(&self.db, asked.order_id)
            .await?
            .filter(|o| o.buyer_id == asked.buyer)
            .ok_or(AfterSalesError::OrderNotFound)?;
        let terms =
            repo::flash_sale(&self.db, order.flash_sale_id).await?.ok_or(AfterSalesError::OrderNotFound)?;
        let no_reason_returns = refund_repo::no_reason_returns(&self.db, terms.product_id).await?;
        // The courier's delivered scan starts the no-reason window; without one the parcel
        // counts as in transit.
        let delivered_at =
            persistence::shipments::of_order(&self.db, order.id).await?.and_then(|s| s.delivered_at);
        may_ask(order.state, delivered_at, self.clock.now(), self.settings.return_policy, no_reason_returns)?;
        let capture =
            money_repo::capture_of_order(&self.db, order.id).await?.ok_or(AfterSalesError::NotPaid)?;
        let taken = refund_repo::taken(&self.db, order.id).await?;
        let amount = asked.ask.amount(capture.settlement.gross_fen, order.quantity, taken)?;
        let new = NewRefund {
            order_id: order.id,
            flash_sale_id: order.flash_sale_id,
            merchant_id: order.merchant_id,
            buyer_id: order.buyer_id,
            payment_id: capture.payment_id,
            amount_fen: amount.amount,
            units: amount.units,
            reason: asked.reason,
            note: asked.note,
        };
        let request = refund_repo::insert(&self.db, new, self.clock.now()).await?;
        metrics::counter!("flashsale_refund_requests_total").increment(1);
        Ok(request)
    }

    /// A buyer's requests on their order.
    pub async fn refunds_of_order(
        &self,
        buyer: BuyerId,
        order_id: OrderId,
    ) -> Result<Vec<RefundRequest>, AfterSalesError> {
        repo::order(&self.db, order_id)
            .await?
            .filter(|o| o.buyer_id == buyer)
            .ok_or(AfterSalesError::OrderNotFound)?;
        Ok(refund_repo::of_order(&self.db, order_id).await?)
    }

    /// A merchant's requests after `after_id`, optionally in one state.
    pub async fn refunds_of_merchant(
        &self,
        merchant: MerchantId,
        state: Option<RefundState>,
        after_id: RefundId,
        limit: u64,
    ) -> Result<Vec<RefundRequest>, DbErr> {
        refund_repo::of_merchant(&self.db, merchant, state, after_id, limit.clamp(1, PAGE_MAX)).await
    }

    /// The merchant approves (`Some` restock) or rejects (`None`, with `reason`) a request of
    /// theirs; returns once the decision (its money and the buyer's notice) is durable. An
    /// approval wakes the refund worker and puts units back on sale if so chosen.
    pub async fn decide_refund(
        &self,
        merchant: MerchantId,
        id: RefundId,
        approve: Option<Restock>,
        reason: String,
    ) -> Result<RefundRequest, AfterSalesError> {
        let request = refund_repo::by_id(&self.db, id)
            .await?
            .filter(|r| r.merchant_id == merchant)
            .ok_or(AfterSalesError::RefundNotFound)?;
        if request.state != RefundState::Requested {
            return Err(AfterSalesError::AlreadyDecided);
        }
        let order = repo::order(&self.db, request.order_id).await?.ok_or(AfterSalesError::OrderNotFound)?;
        if approve == Some(Restock::Sale) && request.units > 0 && order.state != OrderState::Paid {
            return Err(AfterSalesError::ShippedUnits);
        }
        let books = self.settlement_of(merchant).await?;
        let seq = books.decide_refund(request.clone(), approve, reason).await?;
        self.wait_durable(seq).await?;
        if approve.is_some() {
            self.refund_owed();
            if approve == Some(Restock::Sale) && request.units > 0 {
                // The sweep retries what does not go through now.
                if let Err(error) = self.restock(&request, order.flash_sale_id).await {
                    tracing::warn!(refund_id = id.0, %error, "restock not done yet; will retry");
                }
            }
        }
        refund_repo::by_id(&self.db, id).await?.ok_or(AfterSalesError::RefundNotFound)
    }

    /// Puts a request's units back on its sale through the stock actor (once per request).
    async fn restock(&self, request: &RefundRequest, sale: FlashSaleId) -> anyhow::Result<()> {
        let handle = crate::sales::running_or_started(&self.db, &self.stock, sale)
            .await?
            .ok_or_else(|| anyhow::anyhow!("flash sale {sale} is gone"))?;
        let answer = handle
            .try_restock(request.id, request.order_id, request.units)
            .map_err(|_| anyhow::anyhow!("the sale's stock actor is at capacity"))?;
        match answer.await.map_err(|_| anyhow::anyhow!("the sale's stock actor stopped"))? {
            Ok(seq) => Ok(self.wait_durable(seq).await?),
            Err(RestockFailure::Refused(error)) => {
                // Memory and storage disagree; never retried into a loop of errors unseen.
                tracing::error!(refund_id = request.id.0, %error, "restock refused by the sale");
                Err(error.into())
            }
            Err(RestockFailure::Journal(error)) => Err(anyhow::anyhow!("journal: {error:?}")),
        }
    }

    /// One pass over approved requests: each paid back at its channel and posted once the
    /// channel confirms, and units still due back on sale restocked. How many were confirmed.
    pub async fn aftersales_sweep(&self) -> Result<u32, DbErr> {
        let (mut done, mut after_id) = (0, RefundId(0));
        loop {
            let page = refund_repo::in_state(&self.db, RefundState::Approved, after_id, PAGE_MAX).await?;
            let Some(last) = page.last() else { break };
            after_id = last.id;
            for request in &page {
                match self.pay_back(request).await {
                    Ok(true) => done += 1,
                    Ok(false) => {}
                    Err(error) => {
                        tracing::warn!(refund_id = request.id.0, %error, "refund not confirmed yet; will retry")
                    }
                }
            }
        }
        let mut after_id = RefundId(0);
        loop {
            let page = refund_repo::restocks_due(&self.db, after_id, PAGE_MAX).await?;
            let Some((last, _)) = page.last() else { break };
            after_id = last.id;
            for (request, sale) in &page {
                if let Err(error) = self.restock(request, *sale).await {
                    tracing::warn!(refund_id = request.id.0, %error, "restock not done yet; will retry");
                }
            }
        }
        Ok(done)
    }

    async fn pay_back(&self, request: &RefundRequest) -> anyhow::Result<bool> {
        let payment = payment_repo::payments_of_order(&self.db, request.order_id)
            .await?
            .into_iter()
            .find(|p| p.id == request.payment_id)
            .ok_or_else(|| anyhow::anyhow!("payment {} is gone", request.payment_id))?;
        let paid_back = self
            .channels
            .refund_part(
                payment.channel,
                &payment.out_trade_no,
                &request.out_refund_no(),
                request.amount_fen,
                payment.amount_fen,
            )
            .await?;
        if !paid_back {
            return Ok(false); // still processing at the channel
        }
        let books = self.settlement_of(request.merchant_id).await?;
        let seq = books.refund_request_paid(request.clone(), payment.channel).await?;
        self.wait_durable(seq).await?;
        metrics::counter!("flashsale_aftersales_refunds_total", "channel" => payment.channel.as_str())
            .increment(1);
        Ok(true)
    }
}
