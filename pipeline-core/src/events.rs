//! Queue message bodies: S3 object-created notifications (parsed, and produced by the local
//! directory store so the local run follows the same event flow) and reassembly requests.
use crate::domain::JobId;
use percent_encoding::{percent_decode_str, utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

/// One created object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectCreated {
    pub bucket: String,
    /// Decoded key (`input/my film.mp4`).
    pub key: String,
    /// ETag without quotes ("" when the event lacks it).
    pub etag: String,
    pub size: u64,
}

/// What a queue message turned out to be.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum S3Message {
    /// `s3:TestEvent`, sent once when a notification is configured: delete and move on.
    TestEvent,
    /// Created objects (other event types are filtered out; may be empty).
    Created(Vec<ObjectCreated>),
}

/// S3 URL-encodes keys in notifications, with `+` for spaces (moto also encodes `/`).
pub fn decode_key(raw: &str) -> String {
    let plus = raw.replace('+', " ");
    percent_decode_str(&plus).decode_utf8_lossy().into_owned()
}

const KEY_ENCODE: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'/')
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~')
    .remove(b' ');

/// Encode a key the way S3 does in notifications.
pub fn encode_key(key: &str) -> String {
    utf8_percent_encode(key, KEY_ENCODE)
        .to_string()
        .replace(' ', "+")
}

/// Parse an SQS body carrying an S3 notification. Errors are one-line reasons (malformed JSON,
/// missing required fields); unknown event types are skipped, optional fields may be absent.
pub fn parse_s3_message(body: &str) -> Result<S3Message, String> {
    let v: Value = serde_json::from_str(body).map_err(|e| format!("not JSON: {e}"))?;
    if v.get("Event").and_then(Value::as_str) == Some("s3:TestEvent") {
        return Ok(S3Message::TestEvent);
    }
    // Notifications relayed through SNS carry the S3 event as a string in "Message".
    if let Some(inner) = v.get("Message").and_then(Value::as_str) {
        if v.get("Type").and_then(Value::as_str) == Some("Notification") {
            return parse_s3_message(inner);
        }
    }
    let records = v
        .get("Records")
        .and_then(Value::as_array)
        .ok_or_else(|| "no Records array (not an S3 notification)".to_string())?;
    let mut out = Vec::new();
    for (i, r) in records.iter().enumerate() {
        let name = r.get("eventName").and_then(Value::as_str).unwrap_or("");
        if !name.starts_with("ObjectCreated:") {
            continue;
        }
        let bucket = r
            .pointer("/s3/bucket/name")
            .and_then(Value::as_str)
            .ok_or_else(|| format!("record {i}: missing s3.bucket.name"))?;
        let key = r
            .pointer("/s3/object/key")
            .and_then(Value::as_str)
            .ok_or_else(|| format!("record {i}: missing s3.object.key"))?;
        let etag = r
            .pointer("/s3/object/eTag")
            .and_then(Value::as_str)
            .unwrap_or("");
        let size = r
            .pointer("/s3/object/size")
            .and_then(Value::as_u64)
            .unwrap_or(0);
        out.push(ObjectCreated {
            bucket: bucket.to_string(),
            key: decode_key(key),
            etag: etag.trim_matches('"').to_string(),
            size,
        });
    }
    Ok(S3Message::Created(out))
}

/// An S3-shaped `ObjectCreated:Put` notification (what the local store sends).
pub fn s3_notification(ev: &ObjectCreated) -> String {
    json!({"Records": [{
        "eventVersion": "2.1",
        "eventSource": "aws:s3",
        "eventName": "ObjectCreated:Put",
        "s3": {
            "bucket": {"name": ev.bucket},
            "object": {"key": encode_key(&ev.key), "size": ev.size, "eTag": ev.etag}
        }
    }]})
    .to_string()
}

/// Body of a reassembly-queue message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReassemblyRequest {
    pub job_id: JobId,
}

impl ReassemblyRequest {
    pub fn to_body(&self) -> String {
        json!({"job_id": self.job_id}).to_string()
    }

    pub fn parse(body: &str) -> Result<Self, String> {
        serde_json::from_str(body).map_err(|e| format!("not a reassembly request: {e}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_event_is_recognised() {
        let b = r#"{"Service":"Amazon S3","Event":"s3:TestEvent","Time":"2026-01-01T00:00:00Z","Bucket":"b"}"#;
        assert_eq!(parse_s3_message(b).unwrap(), S3Message::TestEvent);
    }

    #[test]
    fn keys_are_url_decoded_and_etag_unquoted() {
        let b = r#"{"Records":[{"eventName":"ObjectCreated:Put","s3":{"bucket":{"name":"in"},
            "object":{"key":"input%2Fmy+film%C3%A9.mp4","size":12,"eTag":"\"abc\""}}}]}"#;
        let S3Message::Created(v) = parse_s3_message(b).unwrap() else {
            panic!("not created")
        };
        assert_eq!(v[0].key, "input/my filmé.mp4");
        assert_eq!((v[0].etag.as_str(), v[0].size), ("abc", 12));
    }

    #[test]
    fn other_events_skipped_and_optional_fields_tolerated() {
        let b = r#"{"Records":[{"eventName":"ObjectRemoved:Delete","s3":{"bucket":{"name":"in"},"object":{"key":"a"}}},
            {"eventName":"ObjectCreated:CompleteMultipartUpload","s3":{"bucket":{"name":"in"},"object":{"key":"input/b.mp4"}}}]}"#;
        let S3Message::Created(v) = parse_s3_message(b).unwrap() else {
            panic!("not created")
        };
        assert_eq!(v.len(), 1);
        assert_eq!(
            (v[0].key.as_str(), v[0].etag.as_str(), v[0].size),
            ("input/b.mp4", "", 0)
        );
    }

    #[test]
    fn malformed_bodies_are_errors_not_panics() {
        for b in [
            "",
            "{",
            "[]",
            "{\"Records\":5}",
            r#"{"Records":[{"eventName":"ObjectCreated:Put"}]}"#,
        ] {
            assert!(parse_s3_message(b).is_err(), "{b}");
        }
    }

    #[test]
    fn produced_notifications_parse_back() {
        let ev = ObjectCreated {
            bucket: "b".into(),
            key: "input/a b+c%.mp4".into(),
            etag: "e".into(),
            size: 5,
        };
        assert_eq!(
            parse_s3_message(&s3_notification(&ev)).unwrap(),
            S3Message::Created(vec![ev])
        );
    }

    #[test]
    fn reassembly_request_round_trips() {
        let r = ReassemblyRequest {
            job_id: JobId::derive("a", "b", "c", ""),
        };
        assert_eq!(ReassemblyRequest::parse(&r.to_body()).unwrap(), r);
        assert!(ReassemblyRequest::parse(r#"{"job_id":"../x"}"#).is_err());
    }
}
