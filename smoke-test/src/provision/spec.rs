//! What `provision` creates: roles, names, queue settings, table schemas, notification rules.
//! The same shapes as `infra/` (its `lib/shapes.ts` emits them from the CDK templates).
use std::time::Duration;

/// Queue roles, named as in `infra/lib/names.ts`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum QueueRole {
    Chunking,
    VideoWorker,
    SegmentOutput,
    Reassembly,
}

impl QueueRole {
    pub const ALL: [QueueRole; 4] = [
        QueueRole::Chunking,
        QueueRole::VideoWorker,
        QueueRole::SegmentOutput,
        QueueRole::Reassembly,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            QueueRole::Chunking => "chunking",
            QueueRole::VideoWorker => "video-worker",
            QueueRole::SegmentOutput => "segment-output",
            QueueRole::Reassembly => "reassembly",
        }
    }

    /// Visibility timeout of the deployed queue.
    pub fn default_visibility(self) -> Duration {
        Duration::from_secs(match self {
            QueueRole::Chunking => 900,
            QueueRole::VideoWorker => 1800,
            QueueRole::SegmentOutput => 300,
            QueueRole::Reassembly => 600,
        })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BucketRole {
    Input,
    Output,
}

impl BucketRole {
    pub const ALL: [BucketRole; 2] = [BucketRole::Input, BucketRole::Output];
    pub fn as_str(self) -> &'static str {
        match self {
            BucketRole::Input => "input",
            BucketRole::Output => "output",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TableRole {
    Jobs,
    SegmentCompletions,
    ReassemblyTriggered,
}

impl TableRole {
    pub const ALL: [TableRole; 3] = [
        TableRole::Jobs,
        TableRole::SegmentCompletions,
        TableRole::ReassemblyTriggered,
    ];
    pub fn as_str(self) -> &'static str {
        match self {
            TableRole::Jobs => "jobs",
            TableRole::SegmentCompletions => "segment-completions",
            TableRole::ReassemblyTriggered => "reassembly-triggered",
        }
    }
}

/// The event every notification subscribes to.
pub const CREATED_EVENT: &str = "s3:ObjectCreated:*";

/// One bucket notification rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NotificationRule {
    pub bucket: BucketRole,
    pub id: &'static str,
    pub prefix: Option<&'static str>,
    pub suffix: Option<&'static str>,
    pub queue: QueueRole,
}

/// Input `input/*` (any container: the media-worker probes it) -> chunking; input `segments/` -> video-worker; output `jobs/*.mp4` ->
/// segment-output (the reassembler ignores final.mp4 events).
pub const NOTIFICATIONS: &[NotificationRule] = &[
    NotificationRule {
        bucket: BucketRole::Input,
        id: "chunking-input",
        prefix: Some("input/"),
        suffix: None,
        queue: QueueRole::Chunking,
    },
    NotificationRule {
        bucket: BucketRole::Input,
        id: "video-worker-segments",
        prefix: Some("segments/"),
        suffix: None,
        queue: QueueRole::VideoWorker,
    },
    NotificationRule {
        bucket: BucketRole::Output,
        id: "segment-output-jobs-mp4",
        prefix: Some("jobs/"),
        suffix: Some(".mp4"),
        queue: QueueRole::SegmentOutput,
    },
];

/// A key attribute: name and DynamoDB scalar type (S, N, B).
pub type KeyAttr = (&'static str, &'static str);

#[derive(Debug, Clone, Copy)]
pub struct GsiSpec {
    pub name: &'static str,
    pub partition: KeyAttr,
    pub sort: Option<KeyAttr>,
}

#[derive(Debug, Clone, Copy)]
pub struct TableSpec {
    pub role: TableRole,
    pub partition: KeyAttr,
    pub sort: Option<KeyAttr>,
    pub gsis: &'static [GsiSpec],
    pub ttl_attribute: Option<&'static str>,
}

pub const TABLES: &[TableSpec] = &[
    TableSpec {
        role: TableRole::Jobs,
        partition: ("job_id", "S"),
        sort: None,
        gsis: &[
            GsiSpec {
                name: pipeline_core::adapters::aws::dynamo_items::index::BY_CREATED,
                partition: ("status", "S"),
                sort: Some(("created_at", "N")),
            },
            GsiSpec {
                name: pipeline_core::adapters::aws::dynamo_items::index::BY_COMPLETED,
                partition: ("status", "S"),
                sort: Some(("completed_at", "N")),
            },
        ],
        ttl_attribute: None,
    },
    TableSpec {
        role: TableRole::SegmentCompletions,
        partition: ("job_id", "S"),
        sort: Some(("segment_index", "N")),
        gsis: &[],
        ttl_attribute: None,
    },
    TableSpec {
        role: TableRole::ReassemblyTriggered,
        partition: ("job_id", "S"),
        sort: None,
        gsis: &[],
        ttl_attribute: Some("ttl"),
    },
];

/// Names of every resource, derived from one prefix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResourceNames {
    pub prefix: String,
}

impl ResourceNames {
    pub fn new(prefix: impl Into<String>) -> ResourceNames {
        ResourceNames {
            prefix: prefix.into(),
        }
    }

    /// `stereospot-test-<8 random hex digits>`: a fresh namespace per test.
    pub fn random() -> ResourceNames {
        use std::hash::{BuildHasher, Hasher};
        let mut h = std::collections::hash_map::RandomState::new().build_hasher();
        h.write_u128(
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos())
                .unwrap_or(0),
        );
        ResourceNames::new(format!("stereospot-test-{:08x}", h.finish() as u32))
    }

    /// Prefixes must suit bucket names (the strictest): lowercase letters, digits and inner
    /// hyphens, at most 40 characters (room for the suffixes).
    pub fn validate(&self) -> Result<(), String> {
        let p = &self.prefix;
        let ok = (3..=40).contains(&p.len())
            && p.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            && !p.starts_with('-')
            && !p.ends_with('-');
        if ok {
            Ok(())
        } else {
            Err(format!(
                "resource prefix {p:?}: use 3-40 lowercase letters, digits and inner hyphens"
            ))
        }
    }

    pub fn bucket(&self, role: BucketRole) -> String {
        format!("{}-{}", self.prefix, role.as_str())
    }

    pub fn queue(&self, role: QueueRole) -> String {
        format!("{}-{}", self.prefix, role.as_str())
    }

    pub fn dead_letter_queue(&self, role: QueueRole) -> String {
        format!("{}-{}-dlq", self.prefix, role.as_str())
    }

    pub fn table(&self, role: TableRole) -> String {
        format!("{}-{}", self.prefix, role.as_str())
    }
}

/// Knobs tests may turn (short visibility timeouts for kill/redelivery tests).
#[derive(Debug, Clone)]
pub struct ProvisionOptions {
    pub visibility: Vec<(QueueRole, Duration)>,
    /// Receives before SQS moves a message to the dead-letter queue.
    pub max_receive_count: u32,
}

/// maxReceiveCount of every queue's redrive policy (the workers read it from the queue at
/// start-up and give up on that receive).
pub const DEFAULT_MAX_RECEIVE_COUNT: u32 = 4;
/// Dead-letter queues keep messages 14 days (the SQS maximum).
pub const DLQ_RETENTION_SECONDS: u32 = 14 * 24 * 3600;

impl Default for ProvisionOptions {
    fn default() -> Self {
        ProvisionOptions {
            visibility: QueueRole::ALL
                .iter()
                .map(|r| (*r, r.default_visibility()))
                .collect(),
            max_receive_count: DEFAULT_MAX_RECEIVE_COUNT,
        }
    }
}

impl ProvisionOptions {
    pub fn with_visibility(mut self, role: QueueRole, timeout: Duration) -> Self {
        self.visibility.retain(|(r, _)| *r != role);
        self.visibility.push((role, timeout));
        self
    }

    pub fn with_max_receive_count(mut self, n: u32) -> Self {
        self.max_receive_count = n;
        self
    }

    pub fn visibility_of(&self, role: QueueRole) -> Duration {
        self.visibility
            .iter()
            .find(|(r, _)| *r == role)
            .map(|(_, d)| *d)
            .unwrap_or_else(|| role.default_visibility())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_derive_from_the_prefix_and_are_valid() {
        let n = ResourceNames::random();
        assert!(n.prefix.starts_with("stereospot-test-") && n.prefix.len() == 24);
        assert!(n.validate().is_ok());
        assert_ne!(n, ResourceNames::random());
        assert_eq!(n.bucket(BucketRole::Input), format!("{}-input", n.prefix));
        assert_eq!(
            n.dead_letter_queue(QueueRole::VideoWorker),
            format!("{}-video-worker-dlq", n.prefix)
        );
        for bad in ["", "ab", "Upper", "a_b", "-a-", &"x".repeat(41)] {
            assert!(ResourceNames::new(bad).validate().is_err(), "{bad}");
        }
    }

    #[test]
    fn options_override_one_queue() {
        let o = ProvisionOptions::default()
            .with_visibility(QueueRole::VideoWorker, Duration::from_secs(5));
        assert_eq!(
            o.visibility_of(QueueRole::VideoWorker),
            Duration::from_secs(5)
        );
        assert_eq!(
            o.visibility_of(QueueRole::Chunking),
            Duration::from_secs(900)
        );
        assert_eq!(o.max_receive_count, 4);
    }
}
