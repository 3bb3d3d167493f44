//! A bounded queue emptied in batches by a background task: how the
//! in-process provider's exposures and both providers' tracking events
//! reach a node without slowing the code that produces them.
//!
//! Pushing never waits: a full queue hands the item back, for the caller to
//! count as dropped. The task takes the first item, waits up to the linger
//! for more, and hands the batch to its [`Deliver`], one batch at a time and
//! in order. A flush sends everything queued before it and answers once
//! that has been delivered (or given up).

use std::time::Duration;

use tokio::runtime::Handle;
use tokio::sync::{mpsc, oneshot};

use crate::client::AbortOnDrop;

/// Sends one batch, retrying as it sees fit, and counts what became of it.
pub(crate) trait Deliver<T>: Send + Sync + 'static {
    /// Returns once the batch was delivered or given up.
    fn deliver(&self, batch: &[T]) -> impl Future<Output = ()> + Send;
}

/// The queue's bounds.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Shape {
    /// Items queued before new ones are refused.
    pub(crate) queue: usize,
    /// The most items in one batch.
    pub(crate) batch: usize,
    /// How long a batch waits to fill before it is sent.
    pub(crate) linger: Duration,
}

/// What the task does when its [`Batcher`] is dropped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum WhenDropped {
    /// Stops at once; what is queued is lost.
    Abort,
    /// Sends what is queued, then ends (if the runtime still runs).
    Finish,
}

/// The queue and the task that empties it.
#[derive(Debug)]
pub(crate) struct Batcher<T> {
    queue: mpsc::Sender<Message<T>>,
    _task: Option<AbortOnDrop>,
}

enum Message<T> {
    Item(T),
    Flush(oneshot::Sender<()>),
}

impl<T: Send + Sync + 'static> Batcher<T> {
    /// Starts the task on `runtime`.
    pub(crate) fn start(
        deliver: impl Deliver<T>,
        shape: Shape,
        when_dropped: WhenDropped,
        runtime: &Handle,
    ) -> Batcher<T> {
        let (queue, receiver) = mpsc::channel(shape.queue.max(1));
        let handle = runtime.spawn(send_batches(receiver, deliver, shape));
        let task = match when_dropped {
            WhenDropped::Abort => Some(AbortOnDrop(handle)),
            // Dropping the queue's sender ends the task once it is empty.
            WhenDropped::Finish => None,
        };
        Batcher { queue, _task: task }
    }

    /// Queues `item` without waiting; false when the queue is full (or
    /// the task is gone) and the item was not queued.
    pub(crate) fn push(&self, item: T) -> bool {
        self.queue.try_send(Message::Item(item)).is_ok()
    }

    /// Sends what is queued and waits until it has been delivered (or
    /// given up).
    pub(crate) async fn flush(&self) {
        let (done, delivered) = oneshot::channel();
        if self.queue.send(Message::Flush(done)).await.is_ok() {
            let _ = delivered.await;
        }
    }
}

/// Takes batches off the queue and delivers them, until the queue is
/// closed and empty.
async fn send_batches<T>(
    mut receiver: mpsc::Receiver<Message<T>>,
    deliver: impl Deliver<T>,
    shape: Shape,
) {
    let size = shape.batch.max(1);
    while let Some(first) = receiver.recv().await {
        let mut batch = Vec::new();
        let mut flushed = Vec::new();
        match first {
            Message::Item(item) => batch.push(item),
            Message::Flush(done) => flushed.push(done),
        }
        let linger = tokio::time::sleep(shape.linger);
        tokio::pin!(linger);
        while batch.len() < size && flushed.is_empty() {
            tokio::select! {
                message = receiver.recv() => match message {
                    Some(Message::Item(item)) => batch.push(item),
                    Some(Message::Flush(done)) => flushed.push(done),
                    None => break,
                },
                () = &mut linger => break,
            }
        }
        // A flush sends everything queued before it.
        if !flushed.is_empty() {
            while let Ok(message) = receiver.try_recv() {
                match message {
                    Message::Item(item) => batch.push(item),
                    Message::Flush(done) => flushed.push(done),
                }
            }
        }
        for chunk in batch.chunks(size) {
            deliver.deliver(chunk).await;
        }
        for done in flushed {
            let _ = done.send(());
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use super::*;

    /// Remembers each batch it is given.
    #[derive(Clone, Default)]
    struct Record(Arc<Mutex<Vec<Vec<u32>>>>);

    impl Deliver<u32> for Record {
        async fn deliver(&self, batch: &[u32]) {
            self.0.lock().unwrap().push(batch.to_vec());
        }
    }

    const SHAPE: Shape = Shape {
        queue: 10,
        batch: 4,
        linger: Duration::from_secs(3600),
    };

    #[tokio::test]
    async fn a_flush_sends_everything_queued_in_batches_of_the_size() {
        let record = Record::default();
        let batcher = Batcher::start(
            record.clone(),
            SHAPE,
            WhenDropped::Abort,
            &Handle::current(),
        );
        for i in 0..10 {
            assert!(batcher.push(i));
        }
        assert!(!batcher.push(10), "the queue holds 10");
        batcher.flush().await;
        let batches = record.0.lock().unwrap().clone();
        assert_eq!(batches, [vec![0, 1, 2, 3], vec![4, 5, 6, 7], vec![8, 9]]);
    }

    #[tokio::test]
    async fn a_finishing_batcher_sends_what_is_queued_when_dropped() {
        let record = Record::default();
        let batcher = Batcher::start(
            record.clone(),
            SHAPE,
            WhenDropped::Finish,
            &Handle::current(),
        );
        assert!(batcher.push(1) && batcher.push(2));
        drop(batcher);
        for _ in 0..500 {
            if !record.0.lock().unwrap().is_empty() {
                break;
            }
            tokio::task::yield_now().await;
        }
        assert_eq!(*record.0.lock().unwrap(), [vec![1, 2]]);
    }
}
