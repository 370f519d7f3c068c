//! Payload digests for skipping unchanged sends: a provider that turns on
//! [`skips_unchanged_payloads`](crate::OutboundSyncProvider::skips_unchanged_payloads) is not
//! called for an external object whose evaluated request is the same as at the last
//! successful send.

use crate::provider::SyncRequest;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

/// SHA-256 (hex) of what a request would send: the external object type, identifier field
/// and value, and every property's field, value and update mode, in mapping order.
///
/// JSON objects inside values are written with sorted keys, so the digest does not depend
/// on the order the source listed them in.
pub fn request_digest(request: &SyncRequest<'_>) -> String {
    let properties: Vec<Value> = request
        .properties
        .iter()
        .map(|property| {
            json!([
                property.external_field.as_ref(),
                property.value,
                property.mode.as_str()
            ])
        })
        .collect();
    let content = json!([
        request.mapping.external_object_type(),
        request.external_id_field,
        request.id_value,
        properties
    ]);
    let mut text = String::new();
    write_canonical(&content, &mut text);
    hex(&Sha256::digest(text.as_bytes()))
}

/// Writes `value` as JSON with object keys sorted at every level (whatever order the map
/// keeps them in, e.g. with serde_json's `preserve_order`).
fn write_canonical(value: &Value, out: &mut String) {
    match value {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            out.push('{');
            for (index, key) in keys.into_iter().enumerate() {
                if index > 0 {
                    out.push(',');
                }
                out.push_str(&Value::from(key.as_str()).to_string());
                out.push(':');
                write_canonical(&map[key], out);
            }
            out.push('}');
        }
        Value::Array(items) => {
            out.push('[');
            for (index, item) in items.iter().enumerate() {
                if index > 0 {
                    out.push(',');
                }
                write_canonical(item, out);
            }
            out.push(']');
        }
        scalar => out.push_str(&scalar.to_string()),
    }
}

fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes.iter().fold(String::new(), |mut out, byte| {
        let _ = write!(out, "{byte:02x}");
        out
    })
}
