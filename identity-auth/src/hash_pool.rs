//! The threads password hashes run on: a few of the hasher's own, started on first use, so that hashing never
//! occupies an async worker and, at [`HashingPriority::Background`], never delays other work for CPU time.

use std::cell::{Cell, RefCell};
use std::sync::mpsc::{Receiver, Sender, channel};
use std::sync::{Arc, Mutex};

use argon2::Block;

use crate::error::Error;

/// How the operating system schedules the hashing threads against the rest of the process. Configuration reads
/// it as `background` or `normal`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum HashingPriority {
    /// Hashes take only CPU time nothing else wants (Linux `SCHED_IDLE`): a flood of logins cannot slow session
    /// checks or any other request down, because a waking request thread preempts a hash at once. Under a load
    /// that keeps every core busy with other work, logins wait. Elsewhere than Linux this is
    /// [`Normal`](Self::Normal).
    #[default]
    Background,
    /// Hashes compete for the cores like every other thread: logins keep their throughput under any load, and
    /// other requests wait for CPU time while the cores hash.
    Normal,
}

type Job = Box<dyn FnOnce() + Send>;

/// A fixed set of threads taking jobs from one queue. Dropping the pool lets the threads finish the queue and
/// exit.
pub(crate) struct HashPool {
    jobs: Sender<Job>,
}

impl HashPool {
    /// Starts `threads` threads at `priority`.
    pub(crate) fn start(threads: usize, priority: HashingPriority) -> Result<Self, Error> {
        let (jobs, queue) = channel::<Job>();
        let queue = Arc::new(Mutex::new(queue));
        for index in 0..threads {
            let queue = Arc::clone(&queue);
            std::thread::Builder::new()
                .name(format!("identity-hash-{index}"))
                .spawn(move || {
                    ON_POOL.set(true);
                    apply(priority);
                    work(&queue);
                })
                .map_err(|e| Error::Background { reason: format!("cannot start a hashing thread: {e}") })?;
        }
        Ok(Self { jobs })
    }

    /// Runs `job` on one of the threads and waits for its result without blocking the async caller.
    pub(crate) async fn run<T: Send + 'static>(&self, job: impl FnOnce() -> T + Send + 'static) -> Result<T, Error> {
        let (done, result) = tokio::sync::oneshot::channel();
        let job: Job = Box::new(move || {
            let _ = done.send(job());
        });
        self.jobs.send(job).map_err(|_| gone())?;
        result.await.map_err(|_| gone())
    }
}

thread_local! {
    static ON_POOL: Cell<bool> = const { Cell::new(false) };
    static BLOCKS: RefCell<Vec<Block>> = const { RefCell::new(Vec::new()) };
}

/// Runs `work` on `count` argon2 memory blocks (1 KiB each). On the pool's threads, when `count` is at most
/// `keep` (the configured cost), the blocks are the thread's own, kept from its last hash: fresh memory for every
/// hash costs its page faults and zeroing, about a tenth of a verify at the default 19 MiB. Elsewhere, and for
/// costlier imported hashes, the memory is allocated for the call, so no other thread keeps megabytes.
///
/// The kept blocks hold the last hash's working state, from which its output could be recomputed: as much as the
/// stored hash itself gives away, and no more than the freed memory of an unpooled hash would hold.
pub(crate) fn with_blocks<T>(count: usize, keep: usize, work: impl FnOnce(&mut [Block]) -> T) -> T {
    if count <= keep && ON_POOL.get() {
        BLOCKS.with_borrow_mut(|blocks| {
            if blocks.len() < count {
                blocks.resize(count, Block::new());
            }
            work(&mut blocks[..count])
        })
    } else {
        work(&mut vec![Block::new(); count])
    }
}

fn gone() -> Error {
    Error::Background { reason: "the hashing threads stopped".into() }
}

fn work(queue: &Mutex<Receiver<Job>>) {
    loop {
        // The lock is held only while taking a job, so the other threads take the next ones meanwhile.
        let next = match queue.lock() {
            Ok(receiver) => receiver.recv(),
            Err(_) => return,
        };
        match next {
            Ok(job) => job(),
            Err(_) => return,
        }
    }
}

#[cfg(target_os = "linux")]
fn apply(priority: HashingPriority) {
    use thread_priority::unix::{
        NormalThreadSchedulePolicy, ThreadSchedulePolicy, set_thread_priority_and_policy, thread_native_id,
    };
    if priority == HashingPriority::Background {
        let idle = ThreadSchedulePolicy::Normal(NormalThreadSchedulePolicy::Idle);
        // SCHED_IDLE needs no privilege; a sandbox that forbids it leaves the thread at normal priority.
        if let Err(error) =
            set_thread_priority_and_policy(thread_native_id(), thread_priority::ThreadPriority::Min, idle)
        {
            tracing::warn!(?error, "hashing threads run at normal priority: SCHED_IDLE was refused");
        }
    }
}

#[cfg(not(target_os = "linux"))]
fn apply(_: HashingPriority) {}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_pools_threads_keep_argon2_memory_up_to_the_configured_cost_and_other_threads_do_not() {
        let pool = HashPool::start(1, HashingPriority::Normal).unwrap();
        let (first, second, costlier, kept) = pool
            .run(|| {
                let first = with_blocks(8, 16, |blocks| blocks.as_ptr() as usize);
                let second = with_blocks(8, 16, |blocks| blocks.as_ptr() as usize);
                let costlier = with_blocks(32, 16, |blocks| blocks.len());
                (first, second, costlier, BLOCKS.with_borrow(Vec::len))
            })
            .await
            .unwrap();
        assert_eq!(first, second, "the second hash reuses the first one's memory");
        assert_eq!(costlier, 32);
        assert_eq!(kept, 8, "a costlier hash is not kept");
        assert_eq!(with_blocks(8, 16, |blocks| blocks.len()), 8);
        assert_eq!(BLOCKS.with_borrow(Vec::len), 0, "a thread outside the pool keeps nothing");
    }

    #[tokio::test]
    async fn jobs_run_on_the_pools_named_threads_and_return_their_results() {
        let pool = HashPool::start(2, HashingPriority::Normal).unwrap();
        let name = pool.run(|| std::thread::current().name().map(str::to_owned)).await.unwrap();
        assert!(name.is_some_and(|name| name.starts_with("identity-hash-")));
        assert_eq!(pool.run(|| 6 * 7).await.unwrap(), 42);
    }

    #[tokio::test]
    async fn jobs_beyond_the_threads_queue_and_all_complete_on_the_pools_threads() {
        let pool = Arc::new(HashPool::start(1, HashingPriority::Normal).unwrap());
        let mut waits = Vec::new();
        for job in 0..8 {
            let pool = pool.clone();
            waits.push(tokio::spawn(async move {
                pool.run(move || (job, std::thread::current().name().map(str::to_owned))).await
            }));
        }
        for (job, wait) in waits.into_iter().enumerate() {
            let (ran, thread) = wait.await.unwrap().unwrap();
            assert_eq!(ran, job);
            assert_eq!(thread.as_deref(), Some("identity-hash-0"));
        }
    }

    #[cfg(target_os = "linux")]
    #[tokio::test]
    async fn background_threads_are_scheduled_idle_and_normal_ones_are_not() {
        use thread_priority::unix::{NormalThreadSchedulePolicy, ThreadSchedulePolicy, thread_schedule_policy};
        let policy = || thread_schedule_policy().ok();
        let background = HashPool::start(1, HashingPriority::Background).unwrap().run(policy).await.unwrap();
        assert_eq!(background, Some(ThreadSchedulePolicy::Normal(NormalThreadSchedulePolicy::Idle)));
        let normal = HashPool::start(1, HashingPriority::Normal).unwrap().run(policy).await.unwrap();
        assert_eq!(normal, Some(ThreadSchedulePolicy::Normal(NormalThreadSchedulePolicy::Other)));
    }
}
