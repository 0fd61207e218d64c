//! Thresholds: configuration overrides of a check's numbers, and the
//! sentences for values out of range.

use serde::Serialize;

/// A sentence when `v` is not a finite number above zero.
pub(super) fn positive(name: &str, v: f64) -> Option<String> {
    (!(v.is_finite() && v > 0.0))
        .then(|| format!("{name} must be a number greater than 0, not {v}"))
}

/// A sentence when `v` is not in (0, max].
pub(super) fn within(name: &str, v: f64, max: f64) -> Option<String> {
    (!(v.is_finite() && v > 0.0 && v <= max))
        .then(|| format!("{name} must be above 0 and at most {max}, not {v}"))
}

/// `value` with some numeric keys replaced (configuration overrides).
pub(super) fn with_numeric_overrides<T>(value: &T, table: &toml::Table) -> Result<T, String>
where
    T: Serialize + serde::de::DeserializeOwned,
{
    if table.contains_key("kind") {
        return Err("the kind of a check cannot be overridden".into());
    }
    let mut fields = toml::Table::try_from(value).map_err(|e| e.to_string())?;
    for (key, v) in table {
        // Configuration tunes thresholds; it cannot swap commands or
        // patterns in behind the runbook's back.
        if !matches!(v, toml::Value::Integer(_) | toml::Value::Float(_)) {
            return Err(format!(
                "only numeric thresholds can be overridden; '{key}' is not a number"
            ));
        }
        fields.insert(key.clone(), v.clone());
    }
    // Deserializing again reuses the schema: an unknown key or a value of
    // the wrong type is reported exactly as in a runbook file.
    toml::Value::Table(fields)
        .try_into()
        .map_err(|e: toml::de::Error| e.message().trim().to_string())
}
