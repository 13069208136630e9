//! Shared fixtures of the benchmarks: sale terms, requests and orders made the same way in
//! every bench, so that numbers are comparable across them.

use engine::{
    BuyerId, Fen, FlashSaleId, IdempotencyKey, MerchantId, Order, OrderId, OrderState, ProductId, Quantity,
    SaleTerms, Timestamp,
};

pub const NOW: Timestamp = Timestamp(1_800_000_000_000);

/// A sale that is open at [`NOW`], with `quantity` units and one unit per buyer.
pub fn terms(id: i64, quantity: u32) -> SaleTerms {
    SaleTerms {
        id: FlashSaleId(id),
        merchant_id: MerchantId(1),
        product_id: ProductId(1),
        title: "bench".into(),
        price_fen: Fen(990),
        quantity,
        per_buyer_limit: 1,
        starts_at: NOW,
        ends_at: NOW.plus_millis(3_600_000),
        payment_window_secs: 900,
    }
}

pub fn key(n: u64) -> IdempotencyKey {
    IdempotencyKey::parse(&format!("k{n}")).expect("valid key")
}

pub fn one() -> Quantity {
    Quantity::parse(1).expect("1 is a quantity")
}

/// A placed order as the journal carries it.
pub fn order(id: i64, sale: i64) -> Order {
    Order {
        id: OrderId(id),
        flash_sale_id: FlashSaleId(sale),
        merchant_id: MerchantId(1),
        buyer_id: BuyerId(id),
        quantity: 1,
        amount_fen: Fen(990),
        state: OrderState::PendingPayment,
        idempotency_key: key(id as u64),
        client_network: None,
        created_at: NOW,
        expires_at: NOW.plus_millis(900_000),
        updated_at: NOW,
    }
}

/// The benches allocate with what the server allocates with (see `gateway/src/main.rs`).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;
