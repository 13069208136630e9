//! A sale's stock counters, published by its actor and read by anyone without a message.

use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};

use crossbeam_utils::CachePadded;
use engine::StockCounts;

/// `available` and `reserved` packed into one atomic word, so that a reader never sees a torn
/// pair (which could make `available + reserved + sold` look wrong mid-update); `sold` follows
/// from the quantity. Written only by the sale's actor. Cache-padded: thousands of gateway
/// threads read it while one actor writes it.
#[derive(Debug)]
///
/// Units leased to live platforms are a word of their own: a reader may see them a change
/// apart from the pair, which only shifts units between `leased` and `sold` in what it reads
/// (the sold-out flag reads `available` alone).
pub struct SaleGauge {
    quantity: u32,
    packed: CachePadded<AtomicU64>,
    leased: AtomicU32,
    /// Held back by an operator (a ban, a takedown): new orders are refused. Written only by
    /// the sale's actor, which also reads it before every reservation.
    suspended: AtomicBool,
}

impl SaleGauge {
    pub fn new(counts: StockCounts) -> Self {
        let gauge = Self {
            quantity: counts.quantity,
            packed: CachePadded::new(AtomicU64::new(0)),
            leased: AtomicU32::new(0),
            suspended: AtomicBool::new(false),
        };
        gauge.publish(counts);
        gauge
    }

    pub fn publish(&self, counts: StockCounts) {
        assert_eq!(counts.quantity, self.quantity);
        assert!(counts.is_balanced());
        let word = (u64::from(counts.available) << 32) | u64::from(counts.reserved);
        self.leased.store(counts.leased, Ordering::Release);
        self.packed.store(word, Ordering::Release);
    }

    pub fn counts(&self) -> StockCounts {
        let word = self.packed.load(Ordering::Acquire);
        let available = (word >> 32) as u32;
        let reserved = word as u32;
        let rest = self.quantity - available - reserved;
        let leased = self.leased.load(Ordering::Acquire).min(rest);
        StockCounts { quantity: self.quantity, available, reserved, sold: rest - leased, leased }
    }

    /// The sold-out flag: no unit is available right now. Not final: expired holds come back.
    pub fn is_sold_out(&self) -> bool {
        self.packed.load(Ordering::Acquire) >> 32 == 0
    }

    /// Whether an operator holds the sale back (orders refused `sale_suspended`).
    pub fn is_suspended(&self) -> bool {
        self.suspended.load(Ordering::SeqCst)
    }

    pub(crate) fn set_suspended(&self, suspended: bool) {
        self.suspended.store(suspended, Ordering::SeqCst);
    }
}
