//! The nine resource names every worker needs, read from the environment.
use crate::config::env_names as n;

/// Buckets, queue URLs and table names (values of [`n::RESOURCE_VARS`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AwsResources {
    pub input_bucket: String,
    pub output_bucket: String,
    pub chunking_queue_url: String,
    pub video_worker_queue_url: String,
    pub segment_output_queue_url: String,
    pub reassembly_queue_url: String,
    pub jobs_table: String,
    pub segment_completions_table: String,
    pub reassembly_triggered_table: String,
}

impl AwsResources {
    /// Read every resource variable from the process environment. The error names the first
    /// missing (or empty) one: "missing environment variable INPUT_BUCKET".
    pub fn from_env() -> Result<AwsResources, String> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Same as [`AwsResources::from_env`] over any lookup (tests, env files).
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<AwsResources, String> {
        let req = |name: &str| {
            get(name)
                .map(|v| v.trim().to_string())
                .filter(|v| !v.is_empty())
                .ok_or_else(|| format!("missing environment variable {name}"))
        };
        // Field order follows RESOURCE_VARS so the first missing one is reported.
        Ok(AwsResources {
            input_bucket: req(n::INPUT_BUCKET)?,
            output_bucket: req(n::OUTPUT_BUCKET)?,
            chunking_queue_url: req(n::CHUNKING_QUEUE_URL)?,
            video_worker_queue_url: req(n::VIDEO_WORKER_QUEUE_URL)?,
            segment_output_queue_url: req(n::SEGMENT_OUTPUT_QUEUE_URL)?,
            reassembly_queue_url: req(n::REASSEMBLY_QUEUE_URL)?,
            jobs_table: req(n::JOBS_TABLE)?,
            segment_completions_table: req(n::SEGMENT_COMPLETIONS_TABLE)?,
            reassembly_triggered_table: req(n::REASSEMBLY_TRIGGERED_TABLE)?,
        })
    }

    /// `(NAME, value)` for every resource variable, in [`n::RESOURCE_VARS`] order.
    pub fn to_env_pairs(&self) -> Vec<(&'static str, String)> {
        vec![
            (n::INPUT_BUCKET, self.input_bucket.clone()),
            (n::OUTPUT_BUCKET, self.output_bucket.clone()),
            (n::CHUNKING_QUEUE_URL, self.chunking_queue_url.clone()),
            (
                n::VIDEO_WORKER_QUEUE_URL,
                self.video_worker_queue_url.clone(),
            ),
            (
                n::SEGMENT_OUTPUT_QUEUE_URL,
                self.segment_output_queue_url.clone(),
            ),
            (n::REASSEMBLY_QUEUE_URL, self.reassembly_queue_url.clone()),
            (n::JOBS_TABLE, self.jobs_table.clone()),
            (
                n::SEGMENT_COMPLETIONS_TABLE,
                self.segment_completions_table.clone(),
            ),
            (
                n::REASSEMBLY_TRIGGERED_TABLE,
                self.reassembly_triggered_table.clone(),
            ),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn full() -> HashMap<String, String> {
        n::RESOURCE_VARS
            .iter()
            .map(|v| (v.to_string(), format!("value-of-{v}")))
            .collect()
    }

    #[test]
    fn round_trips_through_env_pairs_in_resource_var_order() {
        let env = full();
        let r = AwsResources::from_lookup(|k| env.get(k).cloned()).unwrap();
        assert_eq!(r.jobs_table, "value-of-JOBS_TABLE");
        let pairs = r.to_env_pairs();
        let names: Vec<&str> = pairs.iter().map(|(k, _)| *k).collect();
        assert_eq!(names, n::RESOURCE_VARS);
        for (k, v) in pairs {
            assert_eq!(env.get(k), Some(&v));
        }
    }

    #[test]
    fn error_names_the_first_missing_variable() {
        for (i, missing) in n::RESOURCE_VARS.iter().enumerate() {
            let mut env = full();
            env.remove(*missing);
            // Also drop a later one: the first missing is still the one reported.
            if let Some(later) = n::RESOURCE_VARS.get(i + 1) {
                env.remove(*later);
            }
            let err = AwsResources::from_lookup(|k| env.get(k).cloned()).unwrap_err();
            assert_eq!(err, format!("missing environment variable {missing}"));
        }
        let mut env = full();
        env.insert(n::JOBS_TABLE.into(), "  ".into());
        assert_eq!(
            AwsResources::from_lookup(|k| env.get(k).cloned()).unwrap_err(),
            "missing environment variable JOBS_TABLE"
        );
    }
}
