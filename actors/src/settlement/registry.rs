//! Finds or starts the settlement actor of a merchant.
//!
//! Every settlement actor runs on the registry's own arbiter (one thread), apart from the HTTP
//! workers and the stock actors. A merchant's actor is started from its stored books on first
//! use, exactly once even when many requests for a new merchant arrive at the same moment:
//! the first loads the books and starts it, the others wait for that and share it.

use std::future::Future;
use std::sync::Arc;

use actix::prelude::*;
use dashmap::DashMap;
use engine::MerchantId;
use engine::books::Books;
use parking_lot::Mutex;
use tokio::sync::OnceCell;

use super::actor::SettlementActor;
use super::{SettlementHandle, SettlementSettings};
use crate::{Clock, Journal, OrderIds};

/// Why a merchant's settlement actor did not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError<E> {
    /// Reading the books failed (the caller's error).
    #[error(transparent)]
    Load(E),
    /// The stored books do not add up; the merchant's money stays untouched.
    #[error("merchant {merchant_id}: {problem}")]
    Books { merchant_id: MerchantId, problem: String },
    #[error("the settlement thread has stopped")]
    Stopped,
}

/// Every running settlement actor, by merchant, on one dedicated thread.
pub struct SettlementRegistry {
    /// A cell per merchant that was ever asked for; filled once, by the first caller.
    actors: DashMap<MerchantId, Arc<OnceCell<SettlementHandle>>>,
    arbiter: Mutex<Option<Arbiter>>,
    handle: ArbiterHandle,
    journal: Journal,
    clock: Arc<dyn Clock>,
    ids: Arc<OrderIds>,
    settings: Arc<SettlementSettings>,
}

impl SettlementRegistry {
    /// Starts the thread. `ids` mints withdrawal numbers.
    pub fn new(
        settings: SettlementSettings,
        journal: Journal,
        clock: Arc<dyn Clock>,
        ids: Arc<OrderIds>,
    ) -> Self {
        assert!(settings.mailbox_capacity > 0);
        let arbiter = Arbiter::new();
        let handle = arbiter.handle();
        Self {
            actors: DashMap::new(),
            arbiter: Mutex::new(Some(arbiter)),
            handle,
            journal,
            clock,
            ids,
            settings: Arc::new(settings),
        }
    }

    /// The running actor of a merchant, if it was started.
    pub fn get(&self, merchant_id: MerchantId) -> Option<SettlementHandle> {
        self.actors.get(&merchant_id).and_then(|cell| cell.get().cloned())
    }

    /// The actor of a merchant, started from `load_books()` if it is not running yet. Concurrent
    /// first calls for one merchant load and start once; if loading fails, the next call tries
    /// again.
    pub async fn get_or_start<F, Fut, E>(
        &self,
        merchant_id: MerchantId,
        load_books: F,
    ) -> Result<SettlementHandle, StartError<E>>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<Books, E>>,
    {
        if let Some(running) = self.get(merchant_id) {
            return Ok(running);
        }
        // The map's guard is dropped before the await: only the cell is shared.
        let cell = self.actors.entry(merchant_id).or_default().clone();
        let handle = cell
            .get_or_try_init(|| async {
                let books = load_books().await.map_err(StartError::Load)?;
                self.start(merchant_id, books)
            })
            .await?;
        Ok(handle.clone())
    }

    /// Starts an actor with its mailbox sized before its address exists.
    fn start<E>(&self, merchant_id: MerchantId, books: Books) -> Result<SettlementHandle, StartError<E>> {
        let actor = SettlementActor::from_books(
            merchant_id,
            books,
            self.journal.clone(),
            self.clock.clone(),
            self.ids.clone(),
            self.settings.clone(),
        )
        .map_err(|problem| StartError::Books { merchant_id, problem })?;
        let (sender, receiver) = actix::dev::channel::channel(self.settings.mailbox_capacity);
        let spawned = self.handle.spawn_fn(move || {
            let context = Context::with_receiver(receiver);
            actix::spawn(context.into_future(actor));
        });
        if !spawned {
            return Err(StartError::Stopped);
        }
        Ok(SettlementHandle::new(Addr::new(sender)))
    }

    /// How many actors are running.
    pub fn len(&self) -> usize {
        self.actors.iter().filter(|cell| cell.initialized()).count()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Stops every actor (they finish the message in hand) and joins the thread.
    pub fn shutdown(&self) {
        self.actors.clear();
        if let Some(arbiter) = self.arbiter.lock().take() {
            arbiter.stop();
            let _ = arbiter.join();
        }
    }
}
