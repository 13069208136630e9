//! What a log-in may cost and how often it may fail.
//!
//! - [`PasswordWork`]: argon2id takes ~19 MiB and tens of milliseconds per hash. Unbounded, a
//!   burst of log-ins would hold gigabytes (one hash per blocking thread) and starve the rest.
//!   Hashes run under a semaphore sized to the cores, on as many threads of their own: the
//!   allocator keeps a freed 19 MiB block in the arena of the thread that used it, so hashing
//!   on a few long-lived threads, not on whichever blocking thread is free, is what bounds the
//!   memory. A few requests may wait a short while for a slot, the rest are answered 503
//!   `busy` at once.
//! - [`LoginThrottle`]: per account (merchant phone, operator username), repeated failures
//!   block further attempts for a time that doubles with each failure, up to a cap. A blocked
//!   attempt is refused before any hash is computed. Memory is bounded by a number of tracked
//!   accounts.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use thiserror::Error;
use tokio::sync::Semaphore;

type Job = Box<dyn FnOnce() + Send>;

/// How much password work may run and wait at once.
#[derive(Debug, Clone, Copy)]
pub struct PasswordWorkSettings {
    /// Hashes computed at once; 0 = one per core.
    pub concurrency: usize,
    /// Requests that may wait for a slot; beyond them, busy at once.
    pub queue: usize,
    /// How long a request may wait for a slot.
    pub wait: Duration,
    /// What a busy answer tells the caller to wait.
    pub retry_after_secs: u32,
}

/// Why password work was not done.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum WorkError {
    #[error("too many log-ins at once, retry shortly")]
    Busy { retry_after_secs: u32 },
    #[error("the password-work threads stopped")]
    Stopped,
    #[error("password work failed")]
    Failed,
}

/// How often a log-in may fail, and how much the throttle remembers.
#[derive(Debug, Clone, Copy)]
pub struct ThrottleSettings {
    /// Failures in a row before the account is blocked.
    pub failures_allowed: u32,
    /// The longest block.
    pub max_block: Duration,
    /// Accounts remembered at most.
    pub tracked_accounts: usize,
}

/// The account is blocked for now.
#[derive(Debug, Error, PartialEq, Eq)]
#[error("too many failed log-ins for this account, wait and retry")]
pub struct Throttled {
    pub retry_after_secs: u32,
}

/// The gate every password hash and verification goes through.
pub struct PasswordWork {
    permits: Arc<Semaphore>,
    /// To the `slots` hashing threads; never holds more jobs than there are permits.
    jobs: std::sync::mpsc::Sender<Job>,
    slots: usize,
    waiting: AtomicUsize,
    queue: usize,
    wait: Duration,
    retry_after_secs: u32,
}

/// Counts a request waiting for a slot until dropped.
struct Waiting<'a>(&'a AtomicUsize);

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

impl PasswordWork {
    pub fn new(settings: PasswordWorkSettings) -> Self {
        let slots = match settings.concurrency {
            0 => std::thread::available_parallelism().map_or(1, |n| n.get()),
            n => n,
        };
        let (jobs, queue) = std::sync::mpsc::channel::<Job>();
        let queue = Arc::new(Mutex::new(queue));
        for _ in 0..slots {
            let queue = queue.clone();
            std::thread::Builder::new()
                .name("password-work".into())
                .spawn(move || {
                    // Ends when the gate is dropped (the sender with it).
                    while let Ok(job) = queue.lock().recv() {
                        // A panic is the job's failure (its caller sees it), not the thread's.
                        let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(job));
                    }
                })
                .expect("starting a password-work thread");
        }
        Self {
            permits: Arc::new(Semaphore::new(slots)),
            jobs,
            slots,
            waiting: AtomicUsize::new(0),
            queue: settings.queue,
            wait: settings.wait,
            retry_after_secs: settings.retry_after_secs,
        }
    }

    /// Hashes computed at once, at most.
    pub fn slots(&self) -> usize {
        self.slots
    }

    fn busy(&self) -> WorkError {
        metrics::counter!("flashsale_password_work_refused_total").increment(1);
        WorkError::Busy { retry_after_secs: self.retry_after_secs }
    }

    /// Runs `work` (a hash or a verification) on a hashing thread once a slot is free. The
    /// slot is held until `work` returns, even if the request is dropped meanwhile, so the
    /// memory bound holds exactly.
    pub async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, WorkError> {
        let permit = match self.permits.clone().try_acquire_owned() {
            Ok(permit) => permit,
            Err(_) => {
                if self.waiting.fetch_add(1, Ordering::Relaxed) >= self.queue {
                    self.waiting.fetch_sub(1, Ordering::Relaxed);
                    return Err(self.busy());
                }
                let _waiting = Waiting(&self.waiting);
                match tokio::time::timeout(self.wait, self.permits.clone().acquire_owned()).await {
                    Ok(Ok(permit)) => permit,
                    _ => return Err(self.busy()),
                }
            }
        };
        let (reply, done) = tokio::sync::oneshot::channel();
        let job: Job = Box::new(move || {
            let result = work();
            drop(permit);
            let _ = reply.send(result);
        });
        self.jobs.send(job).map_err(|_| WorkError::Stopped)?;
        done.await.map_err(|_| WorkError::Failed)
    }
}

/// Failed log-ins per account, with the block they earned.
pub struct LoginThrottle {
    accounts: Mutex<HashMap<String, Failures>>,
    allowed: u32,
    max_block: Duration,
    capacity: usize,
}

#[derive(Debug, Clone, Copy)]
struct Failures {
    count: u32,
    blocked_until: Option<Instant>,
    last: Instant,
}

impl LoginThrottle {
    pub fn new(settings: ThrottleSettings) -> Self {
        Self {
            accounts: Mutex::new(HashMap::new()),
            allowed: settings.failures_allowed,
            max_block: settings.max_block,
            capacity: settings.tracked_accounts,
        }
    }

    /// `Err(retry_after_secs)` while the account is blocked.
    pub fn check(&self, account: &str, now: Instant) -> Result<(), u32> {
        let accounts = self.accounts.lock();
        match accounts.get(account).and_then(|f| f.blocked_until) {
            Some(until) if until > now => Err(ceil_secs(until - now)),
            _ => Ok(()),
        }
    }

    /// Records a failure; `Some(retry_after_secs)` when it blocks the account.
    pub fn failed(&self, account: &str, now: Instant) -> Option<u32> {
        let mut accounts = self.accounts.lock();
        if !accounts.contains_key(account) && accounts.len() >= self.capacity {
            self.make_room(&mut accounts, now);
        }
        let failures = accounts.entry(account.to_owned()).or_insert(Failures {
            count: 0,
            blocked_until: None,
            last: now,
        });
        failures.count = failures.count.saturating_add(1);
        failures.last = now;
        let beyond = failures.count.checked_sub(self.allowed)?;
        // 1 s at the allowed count, doubling with every further failure, up to the cap.
        let block = Duration::from_secs(1u64 << beyond.min(30)).min(self.max_block);
        failures.blocked_until = Some(now + block);
        metrics::counter!("flashsale_login_blocks_total").increment(1);
        Some(ceil_secs(block))
    }

    pub fn succeeded(&self, account: &str) {
        self.accounts.lock().remove(account);
    }

    /// Forgets accounts that are not blocked and have not failed for a while.
    pub fn forget_idle(&self, now: Instant) {
        let idle = self.max_block.max(Duration::from_secs(60));
        self.accounts.lock().retain(|_, f| f.blocked_until.is_some_and(|u| u > now) || now - f.last < idle);
    }

    pub fn tracked(&self) -> usize {
        self.accounts.lock().len()
    }

    /// Full: drop what is idle, else the account with the fewest failures (an attacker
    /// spraying names evicts its own entries before a blocked one).
    fn make_room(&self, accounts: &mut HashMap<String, Failures>, now: Instant) {
        let idle = self.max_block.max(Duration::from_secs(60));
        accounts.retain(|_, f| f.blocked_until.is_some_and(|u| u > now) || now - f.last < idle);
        if accounts.len() < self.capacity {
            return;
        }
        let least = accounts.iter().min_by_key(|(_, f)| (f.count, f.last)).map(|(k, _)| k.clone());
        if let Some(key) = least {
            accounts.remove(&key);
        }
    }
}

impl LoginThrottle {
    /// Refused while the account is blocked, before any hash is spent on it.
    pub fn admit(&self, account: &str, now: Instant) -> Result<(), Throttled> {
        self.check(account, now).map_err(|retry_after_secs| {
            metrics::counter!("flashsale_http_rejected_total", "reason" => "login_throttled").increment(1);
            Throttled { retry_after_secs }
        })
    }
}

/// An argon2id hash of a password nobody knows, made once (on a blocking thread: call it
/// inside [`PasswordWork::run`]). Unknown accounts are checked against it, so that they cost
/// the same time as a wrong password.
pub fn dummy_hash() -> &'static str {
    static HASH: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    HASH.get_or_init(|| {
        super::passwords::hash_password("no account has this password").expect("hashing works")
    })
}

/// Whether `password` opens the account known to `throttle` as `account`, whose stored hash
/// is `stored` (`None`: no such account, judged against [`dummy_hash`] all the same, so that
/// timing tells nothing); a failure is counted towards the account's block, a success clears it.
pub async fn judge(
    work: &PasswordWork,
    throttle: &LoginThrottle,
    account: &str,
    stored: Option<String>,
    password: String,
) -> Result<bool, WorkError> {
    let known = stored.is_some();
    let matches = work
        .run(move || {
            super::passwords::verify_password(&password, stored.as_deref().unwrap_or_else(|| dummy_hash()))
        })
        .await?;
    if known && matches {
        throttle.succeeded(account);
    } else {
        throttle.failed(account, Instant::now());
    }
    Ok(known && matches)
}

fn ceil_secs(d: Duration) -> u32 {
    d.as_millis().div_ceil(1_000).max(1).min(u32::MAX as u128) as u32
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(allowed: u32, max_secs: u64, capacity: usize) -> ThrottleSettings {
        ThrottleSettings {
            failures_allowed: allowed,
            max_block: Duration::from_secs(max_secs),
            tracked_accounts: capacity,
        }
    }

    fn work(retry_after_secs: u32) -> PasswordWorkSettings {
        PasswordWorkSettings {
            concurrency: 2,
            queue: 1,
            wait: Duration::from_millis(10_000),
            retry_after_secs,
        }
    }

    #[test]
    fn failures_block_for_a_doubling_time_up_to_the_cap() {
        let throttle = LoginThrottle::new(settings(3, 8, 100));
        let t0 = Instant::now();
        assert_eq!(throttle.failed("a", t0), None);
        assert_eq!(throttle.failed("a", t0), None);
        assert_eq!(throttle.check("a", t0), Ok(()));
        assert_eq!(throttle.failed("a", t0), Some(1));
        assert_eq!(throttle.check("a", t0), Err(1));
        assert_eq!(throttle.check("b", t0), Ok(()), "per account");
        let mut now = t0 + Duration::from_secs(1);
        assert_eq!(throttle.check("a", now), Ok(()));
        let mut blocks = Vec::new();
        for _ in 0..5 {
            let block = throttle.failed("a", now).unwrap();
            assert_eq!(throttle.check("a", now), Err(block));
            blocks.push(block);
            now += Duration::from_secs(u64::from(block));
        }
        assert_eq!(blocks, [2, 4, 8, 8, 8]);
        throttle.succeeded("a");
        assert_eq!(throttle.failed("a", now), None, "success starts over");
    }

    #[test]
    fn memory_is_bounded_and_blocked_accounts_are_kept() {
        let throttle = LoginThrottle::new(settings(1, 60, 10));
        let now = Instant::now();
        throttle.failed("victim", now);
        throttle.failed("victim", now);
        for i in 0..1_000 {
            throttle.failed(&format!("spray-{i}"), now);
            assert!(throttle.tracked() <= 10);
        }
        assert!(throttle.check("victim", now).is_err(), "the most-failed account is not evicted");
        throttle.forget_idle(now + Duration::from_secs(3_600));
        assert_eq!(throttle.tracked(), 0);
    }

    #[tokio::test]
    async fn hashing_beyond_the_slots_and_the_queue_is_refused_at_once() {
        let work = Arc::new(PasswordWork::new(work(2)));
        let (release, hold) = std::sync::mpsc::channel::<()>();
        let hold = Arc::new(std::sync::Mutex::new(hold));
        let mut running = Vec::new();
        for _ in 0..2 {
            let (work, hold) = (work.clone(), hold.clone());
            running.push(tokio::spawn(async move {
                work.run(move || hold.lock().unwrap().recv().unwrap()).await
            }));
        }
        // Both slots taken: one request may queue, the next is refused without waiting.
        while work.permits.available_permits() > 0 {
            tokio::task::yield_now().await;
        }
        let queued = tokio::spawn({
            let work = work.clone();
            async move { work.run(|| ()).await }
        });
        while work.waiting.load(Ordering::Relaxed) == 0 {
            tokio::task::yield_now().await;
        }
        let refused = work.run(|| ()).await.unwrap_err();
        assert_eq!(refused, WorkError::Busy { retry_after_secs: 2 });
        release.send(()).unwrap();
        release.send(()).unwrap();
        for task in running {
            task.await.unwrap().unwrap();
        }
        queued.await.unwrap().unwrap();
    }
}
