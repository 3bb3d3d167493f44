//! Inlines segment references: a segment (published as one of its flag
//! set's `$evaluators`) whose rule refers to another segment of the same
//! flag set (`{"$ref": key}`) gets the referenced rule in place of the
//! reference, itself inlined, as the engine expanded references before it
//! substituted evaluators in flagd's one pass (where a reference to an
//! evaluator declared earlier stays unresolved). Published behaviour stays
//! the same, and the flag set stays publishable: segments written since
//! carry no `$ref`, which the store refuses.
//!
//! What it did is in the audit trail: each rewritten segment gets a new
//! version and an `update` entry by the actor [`ACTOR`], with the old and
//! new rule and a JSON Patch replacing each reference; its flag set's
//! version goes up, so the publisher publishes it again. What the engine
//! never expanded is left as written: a reference naming no segment of the
//! flag set, a `$ref` member beside other members (a literal object), and
//! a segment whose references form a cycle (no flag using it ever
//! compiled).

use std::collections::{BTreeMap, BTreeSet};

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::prelude::TimeDateTimeWithTimeZone;
use serde_json::{Map, Value, json};

/// The actor of the audit entries this migration writes.
pub const ACTOR: &str = "migration:m20261206_000001_inline_segment_refs";

/// The deepest nesting an inlined rule may reach (the engine's limit for
/// documents); a reference that would nest deeper is left as written.
const MAX_DEPTH: usize = 127;

/// The most values an inlined rule may hold; a segment whose inlining
/// would hold more is left as written.
const MAX_VALUES: usize = 1_000_000;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        let rows = db
            .query_all(
                &Query::select()
                    .columns([
                        Segments::Id,
                        Segments::FlagSetId,
                        Segments::Key,
                        Segments::Definition,
                        Segments::Version,
                    ])
                    .from(Segments::Table)
                    .order_by(Segments::Id, Order::Asc)
                    .to_owned(),
            )
            .await?;
        let mut sets: BTreeMap<i64, Vec<Segment>> = BTreeMap::new();
        for row in rows {
            let segment = Segment {
                id: row.try_get("", "id")?,
                key: row.try_get("", "key")?,
                definition: row.try_get("", "definition")?,
                version: row.try_get("", "version")?,
            };
            sets.entry(row.try_get("", "flag_set_id")?)
                .or_default()
                .push(segment);
        }
        let now = TimeDateTimeWithTimeZone::now_utc();
        let mut changed_sets = BTreeSet::new();
        for (set_id, segments) in &sets {
            let rules: BTreeMap<&str, &Value> = segments
                .iter()
                .map(|s| (s.key.as_str(), &s.definition))
                .collect();
            for segment in segments {
                let Some((after, patch)) =
                    inline_segment(&segment.key, &segment.definition, &rules)
                else {
                    continue;
                };
                let version = segment.version + 1;
                db.execute(
                    &Query::update()
                        .table(Segments::Table)
                        .values([
                            (Segments::Definition, after.clone().into()),
                            (Segments::Version, version.into()),
                            (Segments::UpdatedAt, now.into()),
                        ])
                        .and_where(Expr::col(Segments::Id).eq(segment.id))
                        .to_owned(),
                )
                .await?;
                db.execute(
                    &Query::insert()
                        .into_table(AuditEvents::Table)
                        .columns([
                            AuditEvents::FlagSetId,
                            AuditEvents::SubjectKind,
                            AuditEvents::SubjectKey,
                            AuditEvents::Action,
                            AuditEvents::Actor,
                            AuditEvents::Version,
                            AuditEvents::Before,
                            AuditEvents::After,
                            AuditEvents::Diff,
                            AuditEvents::OutOfBand,
                            AuditEvents::CreatedAt,
                        ])
                        .values([
                            (*set_id).into(),
                            "segment".into(),
                            segment.key.clone().into(),
                            "update".into(),
                            ACTOR.into(),
                            version.into(),
                            segment.definition.clone().into(),
                            after.into(),
                            patch.into(),
                            false.into(),
                            now.into(),
                        ])
                        .map_err(|e| DbErr::Custom(e.to_string()))?
                        .to_owned(),
                )
                .await?;
                changed_sets.insert(*set_id);
            }
        }
        for set_id in changed_sets {
            db.execute(
                &Query::update()
                    .table(FlagSets::Table)
                    .value(FlagSets::Version, Expr::col(FlagSets::Version).add(1))
                    .value(FlagSets::UpdatedAt, now)
                    .and_where(Expr::col(FlagSets::Id).eq(set_id))
                    .to_owned(),
            )
            .await?;
        }
        Ok(())
    }

    /// Leaves the inlined rules: they mean what the references meant.
    async fn down(&self, _manager: &SchemaManager) -> Result<(), DbErr> {
        Ok(())
    }

    /// The rewrites and their audit entries land together or not at all,
    /// on SQLite too.
    fn use_transaction(&self) -> Option<bool> {
        Some(true)
    }
}

/// One stored segment.
struct Segment {
    id: i64,
    key: String,
    definition: Value,
    version: i64,
}

/// The segment `key`'s rule with its references inlined, and the JSON
/// Patch (RFC 6902) from `definition` to it; `None` when nothing changes,
/// the references form a cycle or the inlined rule would be too large.
fn inline_segment(
    key: &str,
    definition: &Value,
    rules: &BTreeMap<&str, &Value>,
) -> Option<(Value, Value)> {
    let mut inliner = Inliner {
        rules,
        expanding: vec![key.to_owned()],
        values: 0,
        cycle: false,
    };
    let mut patch = Vec::new();
    let after = inliner.inline(definition, 1, Some((&mut patch, String::new())))?;
    if patch.is_empty() || inliner.cycle {
        return None;
    }
    Some((after, Value::Array(patch)))
}

struct Inliner<'r> {
    rules: &'r BTreeMap<&'r str, &'r Value>,
    /// The segments being inlined, outermost first, for cycles.
    expanding: Vec<String>,
    /// Values built so far, against [`MAX_VALUES`].
    values: usize,
    /// Whether a reference named a segment being inlined.
    cycle: bool,
}

impl Inliner<'_> {
    /// `value` with its references inlined, or `None` past [`MAX_VALUES`].
    /// At the segment's own level, `patch` collects a `replace` operation
    /// per inlined reference, with `pointer` the pointer of `value`.
    fn inline(
        &mut self,
        value: &Value,
        depth: usize,
        patch: Option<(&mut Vec<Value>, String)>,
    ) -> Option<Value> {
        self.values += 1;
        if self.values > MAX_VALUES {
            return None;
        }
        match value {
            Value::Object(map) if depth < MAX_DEPTH => {
                if let (1, Some(Value::String(name))) = (map.len(), map.get("$ref"))
                    && let Some(rule) = self.rules.get(name.as_str())
                {
                    if self.expanding.contains(name) {
                        self.cycle = true;
                        return Some(value.clone());
                    }
                    self.expanding.push(name.clone());
                    let inlined = self.inline(rule, depth, None);
                    self.expanding.pop();
                    let inlined = inlined?;
                    if let Some((patch, pointer)) = patch {
                        patch.push(json!({"op": "replace", "path": pointer, "value": inlined}));
                    }
                    return Some(inlined);
                }
                let mut out = Map::new();
                let mut patch = patch;
                for (name, child) in map {
                    let child_patch = patch
                        .as_mut()
                        .map(|(ops, pointer)| (&mut **ops, format!("{pointer}/{}", escape(name))));
                    out.insert(name.clone(), self.inline(child, depth + 1, child_patch)?);
                }
                Some(Value::Object(out))
            }
            Value::Array(items) if depth < MAX_DEPTH => {
                let mut out = Vec::with_capacity(items.len());
                let mut patch = patch;
                for (index, child) in items.iter().enumerate() {
                    let child_patch = patch
                        .as_mut()
                        .map(|(ops, pointer)| (&mut **ops, format!("{pointer}/{index}")));
                    out.push(self.inline(child, depth + 1, child_patch)?);
                }
                Some(Value::Array(out))
            }
            other => Some(other.clone()),
        }
    }
}

/// Escapes one JSON pointer segment.
fn escape(segment: &str) -> String {
    segment.replace('~', "~0").replace('/', "~1")
}

#[derive(DeriveIden)]
enum FlagSets {
    Table,
    Id,
    Version,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum Segments {
    Table,
    Id,
    FlagSetId,
    Key,
    Definition,
    Version,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum AuditEvents {
    Table,
    FlagSetId,
    SubjectKind,
    SubjectKey,
    Action,
    Actor,
    Version,
    Before,
    After,
    Diff,
    OutOfBand,
    CreatedAt,
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Inlines `key` among `segments` and renders the rule after, then the
    /// patch, or "unchanged".
    #[track_caller]
    fn check(segments: Value, key: &str, expect: &str) {
        let Value::Object(segments) = segments else {
            panic!("segments are an object");
        };
        let rules: BTreeMap<&str, &Value> = segments.iter().map(|(k, v)| (k.as_str(), v)).collect();
        let got = match inline_segment(key, &segments[key], &rules) {
            Some((after, patch)) => format!("{after} {patch}"),
            None => "unchanged".to_owned(),
        };
        assert_eq!(got, expect, "{key}");
    }

    #[test]
    fn inlines_references_recursively_and_leaves_what_never_expanded() {
        let staff = json!({"ends_with": [{"var": "email"}, "@x.com"]});
        let segments = json!({
            "staff": staff,
            "staff_or_beta": {"or": [{"$ref": "staff"}, {"var": "beta"}]},
            "chain": {"!": [{"$ref": "staff_or_beta"}]},
            "loop": {"or": [true, {"$ref": "loop"}]},
            "ping": {"and": [{"$ref": "pong"}]},
            "pong": {"or": [{"$ref": "ping"}]},
            "ghost": {"$ref": "nobody"},
            "literal": {"$ref": "staff", "note": 1},
            "a/b": {"==": [1, 1]},
            "slash": {"x/y": [{"$ref": "a/b"}]},
        });
        let cases = [
            ("staff", "unchanged"),
            (
                "staff_or_beta",
                r#"{"or":[{"ends_with":[{"var":"email"},"@x.com"]},{"var":"beta"}]} [{"op":"replace","path":"/or/0","value":{"ends_with":[{"var":"email"},"@x.com"]}}]"#,
            ),
            (
                "chain",
                r#"{"!":[{"or":[{"ends_with":[{"var":"email"},"@x.com"]},{"var":"beta"}]}]} [{"op":"replace","path":"/!/0","value":{"or":[{"ends_with":[{"var":"email"},"@x.com"]},{"var":"beta"}]}}]"#,
            ),
            ("loop", "unchanged"),
            ("ping", "unchanged"),
            ("pong", "unchanged"),
            ("ghost", "unchanged"),
            ("literal", "unchanged"),
            (
                "slash",
                r#"{"x/y":[{"==":[1,1]}]} [{"op":"replace","path":"/x~1y/0","value":{"==":[1,1]}}]"#,
            ),
        ];
        for (key, expect) in cases {
            check(segments.clone(), key, expect);
        }
    }

    #[test]
    fn a_reference_past_the_depth_limit_is_left_as_written() {
        let mut deep = json!({"$ref": "leaf"});
        for _ in 0..MAX_DEPTH {
            deep = json!([deep]);
        }
        check(json!({"deep": deep, "leaf": true}), "deep", "unchanged");
    }
}
