//! Optional type conversion between a source field's type and the external field's.

use super::value::value_to_string;
use crate::schema::FieldType;
use chrono::{DateTime, NaiveDate};
use serde_json::{Number, Value};
use std::fmt;
use std::str::FromStr;

/// A conversion applied to a property's value after the value map (`"convert"` in JSON).
/// `null` stays `null` under every conversion.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Conversion {
    /// To text (numbers and booleans as JSON text, lists joined later).
    String,
    /// To a JSON number, parsing text.
    Number,
    /// To a whole JSON number, parsing text; fractions are an error.
    Integer,
    /// To `true`/`false` from booleans, numbers, or `true/false/yes/no/1/0/on/off` text.
    Boolean,
    /// An RFC 3339 date-time (or a date) to `YYYY-MM-DD`.
    Date,
    /// An RFC 3339 date-time to whole seconds since 1970-01-01 UTC.
    UnixTimestamp,
}

impl Conversion {
    /// All conversions.
    pub const ALL: [Conversion; 6] = [
        Self::String,
        Self::Number,
        Self::Integer,
        Self::Boolean,
        Self::Date,
        Self::UnixTimestamp,
    ];

    /// The name used in JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::String => "string",
            Self::Number => "number",
            Self::Integer => "integer",
            Self::Boolean => "boolean",
            Self::Date => "date",
            Self::UnixTimestamp => "unix_timestamp",
        }
    }

    /// Whether a field of `field_type` can be converted this way (checked at load time).
    pub fn accepts(self, field_type: FieldType) -> bool {
        match self {
            Self::String => true,
            Self::Number | Self::Integer | Self::Boolean => !matches!(
                field_type,
                FieldType::EnumList | FieldType::Datetime | FieldType::Json
            ),
            Self::Date | Self::UnixTimestamp => {
                matches!(field_type, FieldType::Datetime | FieldType::String)
            }
        }
    }

    /// Converts `value`; the error says why the value does not fit.
    pub fn apply(self, value: Value) -> Result<Value, String> {
        if value.is_null() {
            return Ok(value);
        }
        match self {
            Self::String => Ok(match value {
                Value::Array(_) | Value::String(_) => value,
                other => Value::String(value_to_string(&other)),
            }),
            Self::Number => to_number(&value, false),
            Self::Integer => to_number(&value, true),
            Self::Boolean => to_boolean(&value),
            Self::Date => {
                let text = value_to_string(&value);
                if let Ok(moment) = DateTime::parse_from_rfc3339(&text) {
                    Ok(Value::String(moment.date_naive().to_string()))
                } else if let Ok(date) = NaiveDate::from_str(&text) {
                    Ok(Value::String(date.to_string()))
                } else {
                    Err(format!("{value} is not a date or RFC 3339 date-time"))
                }
            }
            Self::UnixTimestamp => DateTime::parse_from_rfc3339(&value_to_string(&value))
                .map(|moment| Value::from(moment.timestamp()))
                .map_err(|_| format!("{value} is not an RFC 3339 date-time")),
        }
    }
}

fn to_number(value: &Value, whole: bool) -> Result<Value, String> {
    let number = match value {
        Value::Number(number) => number.clone(),
        Value::Bool(flag) => Number::from(u8::from(*flag)),
        Value::String(text) => {
            let trimmed = text.trim();
            if let Ok(int) = trimmed.parse::<i64>() {
                Number::from(int)
            } else {
                trimmed
                    .parse::<f64>()
                    .ok()
                    .and_then(Number::from_f64)
                    .ok_or_else(|| format!("{value} is not a number"))?
            }
        }
        _ => return Err(format!("{value} is not a number")),
    };
    if !whole || number.is_i64() || number.is_u64() {
        return Ok(Value::Number(number));
    }
    match number.as_f64() {
        Some(float) if float.fract() == 0.0 && float.abs() < 9.0e15 =>
        {
            #[allow(clippy::cast_possible_truncation)]
            Ok(Value::from(float as i64))
        }
        _ => Err(format!("{value} is not a whole number")),
    }
}

fn to_boolean(value: &Value) -> Result<Value, String> {
    match value {
        Value::Bool(_) => Ok(value.clone()),
        Value::Number(number) => Ok(Value::Bool(number.as_f64() != Some(0.0))),
        Value::String(text) => match text.trim().to_ascii_lowercase().as_str() {
            "true" | "yes" | "1" | "on" | "y" => Ok(Value::Bool(true)),
            "false" | "no" | "0" | "off" | "n" | "" => Ok(Value::Bool(false)),
            _ => Err(format!("{value} is not a boolean")),
        },
        _ => Err(format!("{value} is not a boolean")),
    }
}

impl fmt::Display for Conversion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Conversion {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|conversion| conversion.as_str() == text)
            .ok_or_else(|| {
                format!(
                    "\"{text}\" is not a conversion; use one of string, number, integer, boolean, date, unix_timestamp"
                )
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn converts_and_reports() {
        assert_eq!(Conversion::Number.apply(json!("12.50")), Ok(json!(12.5)));
        assert_eq!(Conversion::Integer.apply(json!("7")), Ok(json!(7)));
        assert_eq!(Conversion::Integer.apply(json!(7.0)), Ok(json!(7)));
        assert!(Conversion::Integer.apply(json!(7.5)).is_err());
        assert_eq!(Conversion::String.apply(json!(3)), Ok(json!("3")));
        assert_eq!(Conversion::Boolean.apply(json!("yes")), Ok(json!(true)));
        assert!(Conversion::Boolean.apply(json!("perhaps")).is_err());
        assert_eq!(
            Conversion::Date.apply(json!("2026-03-01T23:30:00+01:00")),
            Ok(json!("2026-03-01"))
        );
        assert_eq!(
            Conversion::UnixTimestamp.apply(json!("1970-01-01T00:01:00Z")),
            Ok(json!(60))
        );
        assert_eq!(Conversion::Number.apply(json!(null)), Ok(json!(null)));
        assert!(
            Conversion::Number
                .apply(json!("abc"))
                .unwrap_err()
                .contains("\"abc\"")
        );
    }
}
