//! Checks shared by the services: trimmed text with a length limit, a choice from a
//! list, and committing a transaction with the store's error mapping.

use waterdesk_store::StoreError;

use crate::{ServiceError, ServiceResult};

/// A required text, trimmed, at most `max` characters.
pub(crate) fn text(field: &str, v: &str, max: usize) -> ServiceResult<String> {
    let v = v.trim();
    if v.is_empty() {
        return Err(ServiceError::validation(field, "required", "must not be empty"));
    }
    opt_text(field, v, max)
}

/// An optional text, trimmed, at most `max` characters.
pub(crate) fn opt_text(field: &str, v: &str, max: usize) -> ServiceResult<String> {
    let v = v.trim();
    if v.chars().count() > max {
        return Err(ServiceError::validation(field, "too_long", format!("at most {max} characters")));
    }
    Ok(v.to_string())
}

/// One of the allowed values.
pub(crate) fn one_of(field: &str, v: &str, allowed: &[&str]) -> ServiceResult<String> {
    if allowed.contains(&v) {
        Ok(v.to_string())
    } else {
        Err(ServiceError::validation(field, "invalid_choice", format!("one of: {}", allowed.join(", "))))
    }
}

/// Commits a write transaction.
pub(crate) async fn commit(tx: waterdesk_store::Tx) -> ServiceResult<()> {
    tx.commit().await.map_err(StoreError::from)?;
    Ok(())
}

/// Degrees as stored (microdegrees), if the value is finite and within ±`max`.
pub(crate) fn micro_degrees(x: f64, max: f64) -> Option<i64> {
    (x.is_finite() && x.abs() <= max).then(|| (x * 1e6).round() as i64)
}

/// One coordinate as stored (microdegrees); out of ±`max` is `invalid_coordinate` on `field`.
pub(crate) fn coordinate(field: &str, x: f64, max: f64) -> ServiceResult<i64> {
    micro_degrees(x, max)
        .ok_or_else(|| ServiceError::validation(field, "invalid_coordinate", format!("between -{max} and {max}")))
}

/// A position as stored: (latitude, longitude) in microdegrees, each of them optional.
pub(crate) fn position(lat: Option<f64>, lng: Option<f64>) -> ServiceResult<(Option<i64>, Option<i64>)> {
    Ok((lat.map(|x| coordinate("lat", x, 90.0)).transpose()?, lng.map(|x| coordinate("lng", x, 180.0)).transpose()?))
}

/// Degrees from stored microdegrees.
pub(crate) fn degrees(e6: i64) -> f64 {
    e6 as f64 / 1e6
}
