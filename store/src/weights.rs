//! Rollout edits of flag definitions: the weights of a `fractional` rule,
//! which rollout steps and the admin API's weight edits set.

use engine::ops::fractional::MAX_WEIGHT;
use serde_json::Value;

use crate::StoreError;

/// Replaces the buckets of the first `fractional` rule in the flag's
/// targeting with `weights` (variant, weight), keeping its bucketing
/// expression. Every variant must exist, the weights must not all be 0,
/// and neither one weight nor their sum may exceed what the evaluator
/// accepts ([`MAX_WEIGHT`]): a rule beyond it would serve the default to
/// everyone.
pub fn set_weights(definition: &mut Value, weights: &[(String, u32)]) -> Result<(), StoreError> {
    let invalid = |reason: String| StoreError::InvalidInput {
        what: "rollout",
        reason,
    };
    if weights.is_empty() || weights.iter().all(|(_, w)| *w == 0) {
        return Err(invalid("at least one weight must be above 0".into()));
    }
    for (variant, _) in weights {
        if definition["variants"].get(variant).is_none() {
            return Err(invalid(format!("the flag has no variant {variant:?}")));
        }
    }
    check_weights(weights)?;
    let rule = definition
        .get_mut("targeting")
        .and_then(find_fractional)
        .ok_or_else(|| invalid("the flag's targeting has no fractional rule".into()))?;
    let keep_bucketing = match rule.first() {
        Some(Value::Array(_)) | None => None,
        Some(expression) => Some(expression.clone()),
    };
    rule.clear();
    rule.extend(keep_bucketing);
    rule.extend(
        weights
            .iter()
            .map(|(variant, weight)| Value::Array(vec![variant.clone().into(), (*weight).into()])),
    );
    Ok(())
}

/// The constant weights of the first `fractional` rule in the flag's
/// targeting, in bucket order: `None` when there is no such rule, or when a
/// bucket is not a constant `[variant, weight]` (or `[variant]`, weight 1,
/// as in flagd).
pub fn fractional_weights(definition: &Value) -> Option<Vec<(String, u32)>> {
    let mut targeting = definition.get("targeting")?.clone();
    let args = find_fractional(&mut targeting)?;
    let buckets = match args.first() {
        Some(Value::Array(_)) => &args[..],
        Some(_) => &args[1..],
        None => return None,
    };
    buckets
        .iter()
        .map(|bucket| match bucket.as_array()?.as_slice() {
            [Value::String(variant)] => Some((variant.clone(), 1)),
            [Value::String(variant), weight] => {
                Some((variant.clone(), u32::try_from(weight.as_u64()?).ok()?))
            }
            _ => None,
        })
        .collect()
}

/// Refuses a weight, or a sum of weights, above [`MAX_WEIGHT`].
fn check_weights(weights: &[(String, u32)]) -> Result<(), StoreError> {
    let too_large = |variant: Option<&str>, weight| StoreError::WeightTooLarge {
        step: None,
        variant: variant.map(str::to_owned),
        weight,
        max: MAX_WEIGHT,
    };
    let mut total: u64 = 0;
    for (variant, weight) in weights {
        let weight = u64::from(*weight);
        if weight > MAX_WEIGHT {
            return Err(too_large(Some(variant), weight));
        }
        total += weight;
    }
    if total > MAX_WEIGHT {
        return Err(too_large(None, total));
    }
    Ok(())
}

/// The argument list of the first `fractional` operator in `rule`.
fn find_fractional(rule: &mut Value) -> Option<&mut Vec<Value>> {
    match rule {
        Value::Object(map) => {
            if map.contains_key("fractional") {
                return match map.get_mut("fractional") {
                    Some(Value::Array(args)) => Some(args),
                    _ => None,
                };
            }
            map.values_mut().find_map(find_fractional)
        }
        Value::Array(items) => items.iter_mut().find_map(find_fractional),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn flag(targeting: Value) -> Value {
        json!({
            "state": "ENABLED",
            "variants": {"on": true, "off": false},
            "defaultVariant": "off",
            "targeting": targeting,
        })
    }

    #[test]
    fn weights_replace_the_buckets_and_keep_the_bucketing_expression() {
        let mut definition = flag(json!({"if": [true, {"fractional": [
            {"cat": [{"var": "$flagd.flagKey"}, {"var": "email"}]},
            ["on", 10], ["off", 90]
        ]}]}));
        set_weights(&mut definition, &[("on".into(), 50), ("off".into(), 50)]).unwrap();
        assert_eq!(
            definition["targeting"]["if"][1]["fractional"],
            json!([{"cat": [{"var": "$flagd.flagKey"}, {"var": "email"}]}, ["on", 50], ["off", 50]])
        );

        let mut plain = flag(json!({"fractional": [["on", 1], ["off", 99]]}));
        set_weights(&mut plain, &[("on".into(), 100), ("off".into(), 0)]).unwrap();
        assert_eq!(
            plain["targeting"]["fractional"],
            json!([["on", 100], ["off", 0]])
        );
    }

    #[test]
    fn bad_rollouts_are_refused() {
        let mut definition = flag(json!({"fractional": [["on", 1], ["off", 99]]}));
        let original = definition.clone();
        for weights in [
            vec![],
            vec![("on".to_owned(), 0)],
            vec![("maybe".to_owned(), 10)],
        ] {
            assert!(
                set_weights(&mut definition, &weights).is_err(),
                "{weights:?}"
            );
        }
        assert_eq!(definition, original);
        let max = u32::try_from(MAX_WEIGHT).unwrap();
        for weights in [
            vec![("on".to_owned(), u32::MAX)],
            vec![("on".to_owned(), max + 1), ("off".to_owned(), 0)],
            vec![("on".to_owned(), max), ("off".to_owned(), 1)],
        ] {
            let error = set_weights(&mut definition, &weights).unwrap_err();
            assert_eq!(error.code(), "WEIGHT_TOO_LARGE", "{weights:?}");
        }
        assert_eq!(definition, original);
        set_weights(&mut definition, &[("on".into(), max), ("off".into(), 0)]).unwrap();
        let mut no_rule = flag(json!({"if": [true, "on"]}));
        assert!(set_weights(&mut no_rule, &[("on".into(), 1)]).is_err());
    }
}
