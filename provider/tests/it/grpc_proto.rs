//! Wire compatibility: our .proto definitions and flagd's published ones,
//! compiled by the same protoc, must describe the same messages, fields,
//! enums and methods.
//!
//! Each descriptor set is flattened into a sorted list of facts, one per
//! message, field, enum value, reserved range and method, each naming
//! everything that reaches the wire or the generated API (number, type,
//! label, proto3 `optional`, oneof, streaming, deprecation). The two lists must
//! be equal; file names, comments and file options may differ.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};

use prost::Message;
use prost_types::field_descriptor_proto::{Label, Type};
use prost_types::{DescriptorProto, EnumDescriptorProto, FileDescriptorSet};

/// Our definitions, relative to the crate.
const OURS: [&str; 3] = [
    "flagd_evaluation_v1.proto",
    "flagd_evaluation_v2.proto",
    "flagd_sync_v1.proto",
];

/// flagd's, relative to its schema repository's `protobuf` folder.
const FLAGD: [&str; 3] = [
    "flagd/evaluation/v1/evaluation.proto",
    "flagd/evaluation/v2/evaluation.proto",
    "flagd/sync/v1/sync.proto",
];

#[test]
fn our_protos_match_flagds() {
    let ours = facts(&ours());
    let flagd = facts(&flagds());
    let differences = compare(&ours, &flagd);
    assert!(
        differences.is_empty(),
        "our protos differ from flagd's:\n{}",
        differences.join("\n")
    );
    // Not vacuous: every service method and a proto3 optional were seen.
    assert!(ours.contains(
        "method flagd.evaluation.v1.Service.EventStream(.flagd.evaluation.v1.EventStreamRequest) \
         returns (stream .flagd.evaluation.v1.EventStreamResponse)"
    ));
    assert!(ours.contains(
        "field flagd.evaluation.v2.ResolveBooleanResponse.value = 1 bool optional proto3_optional oneof=_value"
    ));
    assert_eq!(ours.iter().filter(|f| f.starts_with("method ")).count(), 16);
}

#[test]
fn any_difference_is_reported() {
    check(
        |set| field(set, "flagd.evaluation.v1", "ResolveIntResponse", "value").number = Some(5),
        &[
            "only in ours: field flagd.evaluation.v1.ResolveIntResponse.value = 5 int64 optional",
            "only in flagd: field flagd.evaluation.v1.ResolveIntResponse.value = 1 int64 optional",
        ],
    );
    check(
        |set| {
            field(set, "flagd.evaluation.v1", "ResolveIntResponse", "value").r#type =
                Some(Type::Int32.into())
        },
        &[
            "only in ours: field flagd.evaluation.v1.ResolveIntResponse.value = 1 int32 optional",
            "only in flagd: field flagd.evaluation.v1.ResolveIntResponse.value = 1 int64 optional",
        ],
    );
    check(
        |set| {
            field(set, "flagd.evaluation.v1", "ResolveObjectResponse", "value").type_name =
                Some(".google.protobuf.Value".into())
        },
        &[
            "only in ours: field flagd.evaluation.v1.ResolveObjectResponse.value = 1 .google.protobuf.Value optional",
            "only in flagd: field flagd.evaluation.v1.ResolveObjectResponse.value = 1 .google.protobuf.Struct optional",
        ],
    );
    check(
        |set| {
            field(
                set,
                "flagd.evaluation.v2",
                "ResolveStringResponse",
                "variant",
            )
            .proto3_optional = None
        },
        &[
            "only in ours: field flagd.evaluation.v2.ResolveStringResponse.variant = 3 string optional oneof=_variant",
            "only in flagd: field flagd.evaluation.v2.ResolveStringResponse.variant = 3 string optional proto3_optional oneof=_variant",
        ],
    );
    check(
        |set| {
            field(set, "flagd.sync.v1", "SyncFlagsRequest", "provider_id").label =
                Some(Label::Repeated.into())
        },
        &[
            "only in ours: field flagd.sync.v1.SyncFlagsRequest.provider_id = 1 string repeated",
            "only in flagd: field flagd.sync.v1.SyncFlagsRequest.provider_id = 1 string optional",
        ],
    );
    check(
        |set| field(set, "flagd.sync.v1", "SyncFlagsRequest", "selector").options = None,
        &[
            "only in ours: field flagd.sync.v1.SyncFlagsRequest.selector = 2 string optional",
            "only in flagd: field flagd.sync.v1.SyncFlagsRequest.selector = 2 string optional deprecated",
        ],
    );
    check(
        |set| {
            let method = set
                .file
                .iter_mut()
                .filter(|f| f.package() == "flagd.sync.v1")
                .flat_map(|f| f.service.iter_mut())
                .flat_map(|s| s.method.iter_mut())
                .find(|m| m.name() == "SyncFlags")
                .expect("SyncFlags");
            method.server_streaming = Some(false);
        },
        &[
            "only in ours: method flagd.sync.v1.FlagSyncService.SyncFlags(.flagd.sync.v1.SyncFlagsRequest) returns (.flagd.sync.v1.SyncFlagsResponse)",
            "only in flagd: method flagd.sync.v1.FlagSyncService.SyncFlags(.flagd.sync.v1.SyncFlagsRequest) returns (stream .flagd.sync.v1.SyncFlagsResponse)",
        ],
    );
    check(
        |set| {
            let file = set
                .file
                .iter_mut()
                .find(|f| f.package() == "flagd.evaluation.v2")
                .expect("evaluation v2");
            file.message_type
                .retain(|m| m.name() != "EventStreamRequest");
        },
        &["only in flagd: message flagd.evaluation.v2.EventStreamRequest"],
    );
    // Enum values are compared too, though flagd's protos declare no enums.
    check(
        |set| {
            if let Some(file) = set.file.first_mut() {
                file.enum_type.push(EnumDescriptorProto {
                    name: Some("Kind".into()),
                    value: vec![prost_types::EnumValueDescriptorProto {
                        name: Some("KIND_UNSPECIFIED".into()),
                        number: Some(0),
                        options: None,
                    }],
                    ..EnumDescriptorProto::default()
                });
            }
        },
        &[
            "only in ours: enum flagd.evaluation.v1.Kind",
            "only in ours: enum value flagd.evaluation.v1.Kind.KIND_UNSPECIFIED = 0",
        ],
    );
}

/// Alters flagd's descriptors as if they were ours and checks that exactly
/// `expected` is reported.
#[track_caller]
fn check(alter: impl FnOnce(&mut FileDescriptorSet), expected: &[&str]) {
    let flagd = flagds();
    let mut altered = flagd.clone();
    alter(&mut altered);
    assert_eq!(compare(&facts(&altered), &facts(&flagd)), expected);
}

/// Our definitions, compiled.
fn ours() -> FileDescriptorSet {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("proto");
    compile(&dir, &OURS, "ours")
}

/// flagd's published definitions, compiled.
fn flagds() -> FileDescriptorSet {
    let dir = conformance_dir().join("flagd-schemas/protobuf");
    assert!(
        dir.is_dir(),
        "flagd's protos are missing: {} (set ENSIGN_CONFORMANCE_DIR)",
        dir.display()
    );
    compile(&dir, &FLAGD, "flagd")
}

/// The conformance material directory: `ENSIGN_CONFORMANCE_DIR`, or
/// `../shared/conformance` beside the workspace root.
fn conformance_dir() -> PathBuf {
    match std::env::var_os("ENSIGN_CONFORMANCE_DIR") {
        Some(dir) => PathBuf::from(dir),
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/conformance"),
    }
}

/// Runs the vendored protoc over `files` and decodes the descriptor set it
/// writes (without imports: google/protobuf/struct.proto is the same file for
/// both).
fn compile(dir: &Path, files: &[&str], label: &str) -> FileDescriptorSet {
    let protoc = protoc_bin_vendored::protoc_bin_path().expect("vendored protoc");
    let well_known = protoc_bin_vendored::include_path().expect("vendored includes");
    // Tests run in parallel: each compilation writes its own file.
    static RUNS: AtomicUsize = AtomicUsize::new(0);
    let run = RUNS.fetch_add(1, Ordering::Relaxed);
    let out = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!(
        "descriptors-{label}-{}-{run}.bin",
        std::process::id()
    ));
    let status = Command::new(protoc)
        .arg(format!("--proto_path={}", dir.display()))
        .arg(format!("--proto_path={}", well_known.display()))
        .arg(format!("--descriptor_set_out={}", out.display()))
        .args(files)
        .status()
        .expect("protoc runs");
    assert!(status.success(), "protoc failed on {label}'s protos");
    let bytes = std::fs::read(&out).expect("descriptor set written");
    let _ = std::fs::remove_file(&out);
    FileDescriptorSet::decode(bytes.as_slice()).expect("descriptor set decodes")
}

/// Lists what differs, facts of `ours` first.
fn compare(ours: &BTreeSet<String>, flagd: &BTreeSet<String>) -> Vec<String> {
    let only_ours = ours.difference(flagd).map(|f| format!("only in ours: {f}"));
    let only_flagd = flagd
        .difference(ours)
        .map(|f| format!("only in flagd: {f}"));
    only_ours.chain(only_flagd).collect()
}

/// Flattens a descriptor set into facts.
fn facts(set: &FileDescriptorSet) -> BTreeSet<String> {
    let mut facts = BTreeSet::new();
    for file in &set.file {
        let package = file.package();
        for message in &file.message_type {
            message_facts(package, message, &mut facts);
        }
        for e in &file.enum_type {
            enum_facts(package, e, &mut facts);
        }
        for service in &file.service {
            let service_name = format!("{package}.{}", service.name());
            facts.insert(format!(
                "service {service_name}{}",
                deprecated(service.options.as_ref().and_then(|o| o.deprecated))
            ));
            for method in &service.method {
                let stream = |yes: Option<bool>| if yes == Some(true) { "stream " } else { "" };
                facts.insert(format!(
                    "method {service_name}.{}({}{}) returns ({}{}){}",
                    method.name(),
                    stream(method.client_streaming),
                    method.input_type(),
                    stream(method.server_streaming),
                    method.output_type(),
                    deprecated(method.options.as_ref().and_then(|o| o.deprecated)),
                ));
            }
        }
    }
    facts
}

fn message_facts(scope: &str, message: &DescriptorProto, facts: &mut BTreeSet<String>) {
    let name = format!("{scope}.{}", message.name());
    let options = message.options.as_ref();
    facts.insert(format!(
        "message {name}{}{}",
        if options.and_then(|o| o.map_entry) == Some(true) {
            " map_entry"
        } else {
            ""
        },
        deprecated(options.and_then(|o| o.deprecated)),
    ));
    for field in &message.field {
        let kind = match field.r#type() {
            Type::Message | Type::Enum | Type::Group => field.type_name().to_owned(),
            other => other
                .as_str_name()
                .trim_start_matches("TYPE_")
                .to_lowercase(),
        };
        let label = field
            .label()
            .as_str_name()
            .trim_start_matches("LABEL_")
            .to_lowercase();
        let oneof = field
            .oneof_index
            .and_then(|i| message.oneof_decl.get(usize::try_from(i).ok()?))
            .map(|o| format!(" oneof={}", o.name()))
            .unwrap_or_default();
        facts.insert(format!(
            "field {name}.{} = {} {kind} {label}{}{oneof}{}{}",
            field.name(),
            field.number(),
            if field.proto3_optional() {
                " proto3_optional"
            } else {
                ""
            },
            if field.json_name() == json_name(field.name()) {
                String::new()
            } else {
                format!(" json_name={}", field.json_name())
            },
            deprecated(field.options.as_ref().and_then(|o| o.deprecated)),
        ));
    }
    for range in &message.reserved_range {
        facts.insert(format!(
            "reserved {name} {}..{}",
            range.start(),
            range.end()
        ));
    }
    for reserved in &message.reserved_name {
        facts.insert(format!("reserved {name} {reserved:?}"));
    }
    for nested in &message.nested_type {
        message_facts(&name, nested, facts);
    }
    for e in &message.enum_type {
        enum_facts(&name, e, facts);
    }
}

fn enum_facts(scope: &str, e: &EnumDescriptorProto, facts: &mut BTreeSet<String>) {
    let name = format!("{scope}.{}", e.name());
    facts.insert(format!("enum {name}"));
    for value in &e.value {
        facts.insert(format!(
            "enum value {name}.{} = {}",
            value.name(),
            value.number()
        ));
    }
}

fn deprecated(flag: Option<bool>) -> &'static str {
    if flag == Some(true) {
        " deprecated"
    } else {
        ""
    }
}

/// protoc's default JSON name: lower camel case.
fn json_name(name: &str) -> String {
    let mut out = String::new();
    let mut upper = false;
    for c in name.chars() {
        if c == '_' {
            upper = true;
        } else if upper {
            out.extend(c.to_uppercase());
            upper = false;
        } else {
            out.push(c);
        }
    }
    out
}

/// A field of a message, for altering.
fn field<'a>(
    set: &'a mut FileDescriptorSet,
    package: &str,
    message: &str,
    name: &str,
) -> &'a mut prost_types::FieldDescriptorProto {
    set.file
        .iter_mut()
        .filter(|f| f.package() == package)
        .flat_map(|f| f.message_type.iter_mut())
        .find(|m| m.name() == message)
        .and_then(|m| m.field.iter_mut().find(|f| f.name() == name))
        .expect("the field exists")
}
