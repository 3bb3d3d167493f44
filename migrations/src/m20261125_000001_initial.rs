//! The first schema: flag sets, flags, segments, the audit trail and API
//! tokens, plus (on PostgreSQL) the trigger that audits edits made outside
//! Ensign.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::{
    big_integer, big_integer_null, big_pk_auto, boolean, json_binary, json_binary_null, string,
    string_null, string_uniq, timestamp_with_time_zone, timestamp_with_time_zone_null,
};
use sea_orm_migration::sea_orm::DbBackend;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(FlagSets::Table)
                    .col(big_pk_auto(FlagSets::Id))
                    .col(string_uniq(FlagSets::Key))
                    .col(string(FlagSets::Name))
                    .col(json_binary(FlagSets::Metadata))
                    .col(string_null(FlagSets::Fractional))
                    .col(big_integer(FlagSets::Version).default(0))
                    .col(big_integer(FlagSets::PublishedVersion).default(0))
                    .col(boolean(FlagSets::Archived).default(false))
                    .col(timestamp_with_time_zone(FlagSets::CreatedAt))
                    .col(timestamp_with_time_zone(FlagSets::UpdatedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(Flags::Table)
                    .col(big_pk_auto(Flags::Id))
                    .col(big_integer(Flags::FlagSetId))
                    .col(string(Flags::Key))
                    .col(json_binary(Flags::Definition))
                    .col(big_integer(Flags::Version))
                    .col(boolean(Flags::ClientVisible).default(false))
                    .col(boolean(Flags::Locked).default(false))
                    .col(boolean(Flags::Archived).default(false))
                    .col(timestamp_with_time_zone(Flags::CreatedAt))
                    .col(timestamp_with_time_zone(Flags::UpdatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(Flags::Table, Flags::FlagSetId)
                            .to(FlagSets::Table, FlagSets::Id)
                            .on_delete(ForeignKeyAction::Restrict),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("flags_flag_set_key")
                    .table(Flags::Table)
                    .col(Flags::FlagSetId)
                    .col(Flags::Key)
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(Segments::Table)
                    .col(big_pk_auto(Segments::Id))
                    .col(big_integer(Segments::FlagSetId))
                    .col(string(Segments::Key))
                    .col(json_binary(Segments::Definition))
                    .col(big_integer(Segments::Version))
                    .col(timestamp_with_time_zone(Segments::CreatedAt))
                    .col(timestamp_with_time_zone(Segments::UpdatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(Segments::Table, Segments::FlagSetId)
                            .to(FlagSets::Table, FlagSets::Id)
                            .on_delete(ForeignKeyAction::Restrict),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("segments_flag_set_key")
                    .table(Segments::Table)
                    .col(Segments::FlagSetId)
                    .col(Segments::Key)
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(AuditEvents::Table)
                    .col(big_pk_auto(AuditEvents::Id))
                    .col(big_integer_null(AuditEvents::FlagSetId))
                    .col(string(AuditEvents::SubjectKind))
                    .col(string(AuditEvents::SubjectKey))
                    .col(string(AuditEvents::Action))
                    .col(string(AuditEvents::Actor))
                    .col(string_null(AuditEvents::RequestId))
                    .col(big_integer_null(AuditEvents::Version))
                    .col(json_binary_null(AuditEvents::Before))
                    .col(json_binary_null(AuditEvents::After))
                    .col(json_binary_null(AuditEvents::Diff))
                    .col(boolean(AuditEvents::OutOfBand).default(false))
                    .col(timestamp_with_time_zone(AuditEvents::CreatedAt))
                    .to_owned(),
            )
            .await?;
        for (name, columns) in [
            (
                "audit_events_subject",
                &[
                    AuditEvents::FlagSetId,
                    AuditEvents::SubjectKind,
                    AuditEvents::SubjectKey,
                ][..],
            ),
            ("audit_events_actor", &[AuditEvents::Actor][..]),
            ("audit_events_created_at", &[AuditEvents::CreatedAt][..]),
        ] {
            let mut index = Index::create();
            index.name(name).table(AuditEvents::Table);
            for column in columns {
                index.col(*column);
            }
            manager.create_index(index.to_owned()).await?;
        }
        manager
            .create_table(
                Table::create()
                    .table(ApiTokens::Table)
                    .col(big_pk_auto(ApiTokens::Id))
                    .col(string(ApiTokens::Name))
                    .col(string(ApiTokens::Kind))
                    .col(string(ApiTokens::Role))
                    .col(big_integer_null(ApiTokens::FlagSetId))
                    .col(string_uniq(ApiTokens::TokenHash))
                    .col(string(ApiTokens::Prefix))
                    .col(timestamp_with_time_zone(ApiTokens::CreatedAt))
                    .col(timestamp_with_time_zone_null(ApiTokens::RevokedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(ApiTokens::Table, ApiTokens::FlagSetId)
                            .to(FlagSets::Table, FlagSets::Id)
                            .on_delete(ForeignKeyAction::Restrict),
                    )
                    .to_owned(),
            )
            .await?;
        if manager.get_database_backend() == DbBackend::Postgres {
            manager
                .get_connection()
                .execute_unprepared(OUT_OF_BAND_TRIGGER)
                .await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if manager.get_database_backend() == DbBackend::Postgres {
            manager
                .get_connection()
                .execute_unprepared(
                    "DROP TRIGGER IF EXISTS flags_out_of_band ON flags;
                     DROP TRIGGER IF EXISTS flags_bump_out_of_band ON flags;
                     DROP FUNCTION IF EXISTS ensign_audit_out_of_band();
                     DROP FUNCTION IF EXISTS ensign_bump_out_of_band();",
                )
                .await?;
        }
        for table in [
            ApiTokens::Table.into_iden(),
            AuditEvents::Table.into_iden(),
            Segments::Table.into_iden(),
            Flags::Table.into_iden(),
            FlagSets::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        Ok(())
    }
}

/// Records a change to `flags` that did not come through Ensign: the row's
/// version goes up (so optimistic writes notice it), the change is appended
/// to the audit trail as out-of-band, the flag set's version goes up (so
/// the publisher considers it) and the `ensign_out_of_band` channel hears
/// the event's id. Ensign's own writes set `ensign.in_band` for their
/// transaction, which the triggers check. `SET search_path FROM CURRENT`
/// pins the schema the migration ran in, so a statement run under another
/// search path still audits into the right tables.
const OUT_OF_BAND_TRIGGER: &str = r#"
CREATE FUNCTION ensign_bump_out_of_band() RETURNS trigger
LANGUAGE plpgsql
SET search_path FROM CURRENT
AS $$
BEGIN
    IF coalesce(current_setting('ensign.in_band', true), '') <> 'on' THEN
        NEW.version := OLD.version + 1;
    END IF;
    RETURN NEW;
END;
$$;
CREATE FUNCTION ensign_audit_out_of_band() RETURNS trigger
LANGUAGE plpgsql
SET search_path FROM CURRENT
AS $$
DECLARE
    subject RECORD;
    event_id BIGINT;
BEGIN
    IF coalesce(current_setting('ensign.in_band', true), '') = 'on' THEN
        RETURN NULL;
    END IF;
    IF TG_OP = 'DELETE' THEN
        subject := OLD;
    ELSE
        subject := NEW;
    END IF;
    INSERT INTO audit_events
        (flag_set_id, subject_kind, subject_key, action, actor, version,
         before, after, out_of_band, created_at)
    VALUES
        (subject.flag_set_id, 'flag', subject.key, lower(TG_OP), session_user,
         CASE WHEN TG_OP = 'DELETE' THEN NULL ELSE NEW.version END,
         CASE WHEN TG_OP = 'INSERT' THEN NULL
              ELSE jsonb_build_object('definition', OLD.definition,
                  'clientVisible', OLD.client_visible, 'locked', OLD.locked,
                  'archived', OLD.archived) END,
         CASE WHEN TG_OP = 'DELETE' THEN NULL
              ELSE jsonb_build_object('definition', NEW.definition,
                  'clientVisible', NEW.client_visible, 'locked', NEW.locked,
                  'archived', NEW.archived) END,
         true, now())
    RETURNING id INTO event_id;
    UPDATE flag_sets SET version = version + 1, updated_at = now()
        WHERE id = subject.flag_set_id;
    PERFORM pg_notify('ensign_out_of_band', event_id::text);
    RETURN NULL;
END;
$$;
CREATE TRIGGER flags_bump_out_of_band
    BEFORE UPDATE ON flags
    FOR EACH ROW EXECUTE FUNCTION ensign_bump_out_of_band();
CREATE TRIGGER flags_out_of_band
    AFTER INSERT OR UPDATE OR DELETE ON flags
    FOR EACH ROW EXECUTE FUNCTION ensign_audit_out_of_band();
"#;

#[derive(DeriveIden)]
enum FlagSets {
    Table,
    Id,
    Key,
    Name,
    Metadata,
    Fractional,
    Version,
    PublishedVersion,
    Archived,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum Flags {
    Table,
    Id,
    FlagSetId,
    Key,
    Definition,
    Version,
    ClientVisible,
    Locked,
    Archived,
    CreatedAt,
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
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum AuditEvents {
    Table,
    Id,
    FlagSetId,
    SubjectKind,
    SubjectKey,
    Action,
    Actor,
    RequestId,
    Version,
    Before,
    After,
    Diff,
    OutOfBand,
    CreatedAt,
}

#[derive(DeriveIden)]
enum ApiTokens {
    Table,
    Id,
    Name,
    Kind,
    Role,
    FlagSetId,
    TokenHash,
    Prefix,
    CreatedAt,
    RevokedAt,
}
