//! An in-process queue with SQS semantics: at-least-once delivery, visibility timeouts,
//! receive counts, long polling.
use crate::ports::{Queue, ReceivedMessage};
use crate::{PipelineError, Result};
use std::collections::VecDeque;
use std::sync::Mutex;
use std::time::{Duration, Instant};
use tokio::sync::Notify;

/// Visibility timeout given to received messages unless changed.
pub const DEFAULT_VISIBILITY: Duration = Duration::from_secs(600);

struct Entry {
    id: u64,
    body: String,
    visible_at: Instant,
    receive_count: u32,
    receipt: Option<String>,
}

pub struct MemQueue {
    name: String,
    entries: Mutex<VecDeque<Entry>>,
    next_id: Mutex<u64>,
    notify: Notify,
}

impl MemQueue {
    pub fn new(name: &str) -> MemQueue {
        MemQueue {
            name: name.into(),
            entries: Mutex::new(VecDeque::new()),
            next_id: Mutex::new(0),
            notify: Notify::new(),
        }
    }

    /// Messages not yet deleted (visible or in flight).
    pub fn len(&self) -> usize {
        self.entries.lock().map(|e| e.len()).unwrap_or(0)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn take_visible(&self, max: usize) -> Vec<ReceivedMessage> {
        let now = Instant::now();
        let Ok(mut entries) = self.entries.lock() else {
            return Vec::new();
        };
        let mut out = Vec::new();
        for e in entries.iter_mut().filter(|e| e.visible_at <= now).take(max) {
            e.receive_count += 1;
            e.visible_at = now + DEFAULT_VISIBILITY;
            let receipt = format!("{}-{}", e.id, e.receive_count);
            e.receipt = Some(receipt.clone());
            out.push(ReceivedMessage {
                id: e.id.to_string(),
                body: e.body.clone(),
                receipt,
                receive_count: e.receive_count,
            });
        }
        out
    }

    /// Earliest instant a hidden message becomes visible again.
    fn next_visible(&self) -> Option<Instant> {
        self.entries.lock().ok()?.iter().map(|e| e.visible_at).min()
    }

    fn with_receipt<T>(
        &self,
        receipt: &str,
        f: impl FnOnce(&mut VecDeque<Entry>, usize) -> T,
    ) -> Result<T> {
        let mut entries = self
            .entries
            .lock()
            .map_err(|_| PipelineError::backend("queue", "poisoned", false))?;
        let idx = entries
            .iter()
            .position(|e| e.receipt.as_deref() == Some(receipt))
            .ok_or_else(|| {
                PipelineError::backend(
                    "queue",
                    format!("{}: unknown or stale receipt {receipt}", self.name),
                    false,
                )
            })?;
        Ok(f(&mut entries, idx))
    }
}

#[async_trait::async_trait]
impl Queue for MemQueue {
    fn name(&self) -> &str {
        &self.name
    }

    async fn send(&self, body: &str) -> Result<()> {
        let id = {
            let mut n = self
                .next_id
                .lock()
                .map_err(|_| PipelineError::backend("queue", "poisoned", false))?;
            *n += 1;
            *n
        };
        let entry = Entry {
            id,
            body: body.to_string(),
            visible_at: Instant::now(),
            receive_count: 0,
            receipt: None,
        };
        self.entries
            .lock()
            .map_err(|_| PipelineError::backend("queue", "poisoned", false))?
            .push_back(entry);
        self.notify.notify_waiters();
        Ok(())
    }

    async fn receive(&self, max: usize, wait: Duration) -> Result<Vec<ReceivedMessage>> {
        let deadline = Instant::now() + wait;
        loop {
            // Register for wake-ups before looking, so a send in between is not missed.
            let notified = self.notify.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            let got = self.take_visible(max.max(1));
            if !got.is_empty() {
                return Ok(got);
            }
            let now = Instant::now();
            if now >= deadline {
                return Ok(Vec::new());
            }
            let until = self
                .next_visible()
                .map_or(deadline, |v| v.min(deadline))
                .max(now + Duration::from_millis(1));
            let _ = tokio::time::timeout(until - now, notified).await;
        }
    }

    async fn delete(&self, receipt: &str) -> Result<()> {
        self.with_receipt(receipt, |entries, idx| {
            entries.remove(idx);
        })
    }

    async fn set_visibility(&self, receipt: &str, timeout: Duration) -> Result<()> {
        self.with_receipt(receipt, |entries, idx| {
            entries[idx].visible_at = Instant::now() + timeout
        })?;
        self.notify.notify_waiters();
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn visibility_redelivery_and_delete() {
        let q = MemQueue::new("t");
        q.send("a").await.unwrap();
        let m = q.receive(10, Duration::from_millis(5)).await.unwrap();
        assert_eq!((m.len(), m[0].receive_count), (1, 1));
        assert!(
            q.receive(10, Duration::from_millis(5))
                .await
                .unwrap()
                .is_empty(),
            "in flight"
        );
        q.set_visibility(&m[0].receipt, Duration::ZERO)
            .await
            .unwrap();
        let m2 = q.receive(10, Duration::from_millis(5)).await.unwrap();
        assert_eq!(m2[0].receive_count, 2);
        assert!(q.delete(&m[0].receipt).await.is_err(), "stale receipt");
        q.delete(&m2[0].receipt).await.unwrap();
        assert!(q.is_empty());
    }

    #[tokio::test]
    async fn long_poll_wakes_on_send() {
        let q = std::sync::Arc::new(MemQueue::new("t"));
        let q2 = q.clone();
        let t = tokio::spawn(async move { q2.receive(1, Duration::from_secs(5)).await });
        tokio::time::sleep(Duration::from_millis(20)).await;
        let start = Instant::now();
        q.send("x").await.unwrap();
        let got = t.await.unwrap().unwrap();
        assert_eq!(got[0].body, "x");
        assert!(start.elapsed() < Duration::from_secs(1));
    }
}
