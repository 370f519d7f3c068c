//! What the fake Basket checks in a request: the documented keys and types of user and
//! add-on payloads, and form bodies of newsletter calls.

use super::KNOWN_NEWSLETTERS;
use crate::payload::{ADDON_FIELDS, USER_FIELDS, VERSION_FIELDS};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};

pub(super) fn check_keys(object: &Value, expected: &[&str], what: &str) -> Option<String> {
    let Value::Object(map) = object else {
        return Some(format!("{what} must be an object"));
    };
    let got: BTreeSet<&str> = map.keys().map(String::as_str).collect();
    let want: BTreeSet<&str> = expected.iter().copied().collect();
    (got != want).then(|| format!("{what} has keys {got:?}, expected {want:?}"))
}

pub(super) fn check_user(user: &Value) -> Option<String> {
    check_keys(user, &USER_FIELDS, "user")
        .or_else(|| (!user["id"].is_u64()).then(|| "user id must be an integer".to_owned()))
        .or_else(|| {
            (!user["deleted"].is_boolean()).then(|| "user deleted must be a boolean".to_owned())
        })
        .or_else(|| (!user["email"].is_string()).then(|| "user email must be a string".to_owned()))
        .or_else(|| {
            ["display_name", "last_login", "location", "homepage"]
                .iter()
                .find(|key| !(user[**key].is_string() || user[**key].is_null()))
                .map(|key| format!("user {key} must be a string or null"))
        })
}

pub(super) fn check_addon(addon: &Value) -> Option<String> {
    if let Some(problem) = check_keys(addon, &ADDON_FIELDS, "add-on") {
        return Some(problem);
    }
    if !addon["id"].is_u64() || !addon["average_daily_users"].is_u64() {
        return Some("add-on id and average_daily_users must be integers".into());
    }
    if !addon["is_disabled"].is_boolean() || !addon["is_recommended"].is_boolean() {
        return Some("add-on is_disabled and is_recommended must be booleans".into());
    }
    let Some(authors) = addon["authors"].as_array() else {
        return Some("add-on authors must be a list".into());
    };
    if let Some(problem) = authors.iter().find_map(check_user) {
        return Some(format!("author: {problem}"));
    }
    for key in ["current_version", "latest_unlisted_version"] {
        let version = &addon[key];
        if !version.is_null()
            && let Some(problem) = check_keys(version, &VERSION_FIELDS, key)
        {
            return Some(problem);
        }
    }
    let ratings = &addon["ratings"];
    if !(ratings["average"].is_f64()
        && ratings["bayesian_average"].is_f64()
        && ratings["count"].is_u64()
        && ratings["text_count"].is_u64())
    {
        return Some("add-on ratings must hold float averages and integer counts".into());
    }
    if !addon["categories"].is_object() {
        return Some("add-on categories must be an object".into());
    }
    None
}

pub(super) fn form_object(form: &BTreeMap<String, String>) -> Value {
    Value::Object(
        form.iter()
            .map(|(k, v)| (k.clone(), Value::String(v.clone())))
            .collect(),
    )
}

pub(super) fn parse_form(body: &str) -> BTreeMap<String, String> {
    body.split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            (decode(key), decode(value))
        })
        .collect()
}

pub(super) fn decode(text: &str) -> String {
    let bytes = text.replace('+', " ").into_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut index = 0;
    while index < bytes.len() {
        let hex = bytes.get(index + 1..index + 3).map(String::from_utf8_lossy);
        if bytes[index] == b'%'
            && let Some(Ok(byte)) = hex.map(|digits| u8::from_str_radix(&digits, 16))
        {
            out.push(byte);
            index += 3;
            continue;
        }
        out.push(bytes[index]);
        index += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The requested newsletters, or the first unknown one.
pub(super) fn newsletter_list(form: &BTreeMap<String, String>) -> Result<BTreeSet<String>, String> {
    let list: BTreeSet<String> = form
        .get("newsletters")
        .map(|text| {
            text.split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default();
    match list
        .iter()
        .find(|name| !KNOWN_NEWSLETTERS.contains(&name.as_str()))
    {
        Some(unknown) => Err(unknown.clone()),
        None => Ok(list),
    }
}
