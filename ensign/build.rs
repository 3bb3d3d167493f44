//! Prepares the dashboard that the binary embeds: builds `dashboard/dist`
//! with npm when it is missing or older than any of its inputs, then lays
//! out in `OUT_DIR/dashboard` what `src/dashboard.rs` embeds (the files, and
//! a gzip copy of each text file that compresses). Without Node.js 20.19 it
//! lays out a page that says how to build the dashboard instead, with a
//! warning, so the binary builds for those who never touch the frontend; an
//! npm run that fails fails the build with npm's output.

use std::fs::{self, File};
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::SystemTime;

use flate2::Compression;
use flate2::write::GzEncoder;

/// The oldest Node.js the dashboard's toolchain supports (Vite 7 needs
/// 20.19, as `engines` in `dashboard/package.json` says).
const MIN_NODE: (u32, u32) = (20, 19);

/// The page embedded when the dashboard could not be built here, kept free
/// of inline scripts and styles so that the server's CSP holds for it too.
const FALLBACK_PAGE: &str = r#"<!doctype html>
<!-- Served when this binary was built without Node.js 20.19: says how to build the dashboard. -->
<html lang="en">
  <head>
    <meta charset="UTF-8" />
    <meta name="viewport" content="width=device-width, initial-scale=1.0" />
    <meta name="ensign-dashboard" content="not-built" />
    <title>Ensign · dashboard not built</title>
  </head>
  <body>
    <main>
      <h1>The dashboard is not built into this binary</h1>
      <p>
        This <code>ensign</code> was compiled without Node.js 20.19 or newer,
        so it carries this page instead of the dashboard. The admin API at
        <code>/graphql</code> works as usual.
      </p>
      <p>To build the dashboard, install Node.js 20.19 or newer with npm, then either</p>
      <pre><code>cd dashboard &amp;&amp; npm ci &amp;&amp; npm run build</code></pre>
      <p>
        or build <code>ensign</code> again (<code>cargo build -p ensign</code>),
        which runs those commands itself when it finds Node.js.
      </p>
    </main>
  </body>
</html>
"#;

fn main() {
    let manifest = PathBuf::from(env("CARGO_MANIFEST_DIR"));
    let workspace = manifest.parent().expect("ensign/ sits in the workspace");
    let dashboard = workspace.join("dashboard");
    let out = PathBuf::from(env("OUT_DIR")).join("dashboard");

    let inputs = inputs(workspace, &dashboard);
    for input in &inputs {
        println!("cargo:rerun-if-changed={}", input.display());
    }
    let dist = dashboard.join("dist");
    let source = if is_fresh(&dist, &inputs) {
        Some(dist)
    } else {
        match node_toolchain() {
            Ok(()) => {
                build(&dashboard, &inputs);
                Some(dist)
            }
            Err(missing) => {
                println!(
                    "cargo:warning=the dashboard is not built ({missing}): the binary serves a page \
                     that says how to build it; install Node.js {}.{} or newer, or run \
                     `cd dashboard && npm ci && npm run build`",
                    MIN_NODE.0, MIN_NODE.1
                );
                // Node.js may be installed, or the dashboard built by hand,
                // without any input changing: the folder's own entries and
                // the search path are watched for that until it is built.
                println!("cargo:rerun-if-changed={}", dashboard.display());
                println!("cargo:rerun-if-env-changed=PATH");
                None
            }
        }
    };

    if out.exists() {
        fs::remove_dir_all(&out)
            .unwrap_or_else(|e| fail(&format!("clearing {}: {e}", out.display())));
    }
    let (files, gzip) = (out.join("files"), out.join("gzip"));
    create_dir(&files);
    create_dir(&gzip);
    match source {
        Some(dist) => lay_out(&dist, &files, &gzip),
        None => {
            for name in ["index.html", "graphiql.html"] {
                write(&files.join(name), FALLBACK_PAGE.as_bytes());
            }
        }
    }
}

/// Everything `npm run build` reads, as paths that exist (a path that does
/// not exist would make cargo rerun this script on every build): the
/// dashboard's sources, pages, public files, package manifests and tool
/// configurations, and the admin API's schema, which GraphiQL's page
/// imports.
fn inputs(workspace: &Path, dashboard: &Path) -> Vec<PathBuf> {
    let mut inputs: Vec<PathBuf> = [
        "src",
        "public",
        "index.html",
        "graphiql.html",
        "package.json",
        "package-lock.json",
    ]
    .iter()
    .map(|name| dashboard.join(name))
    .collect();
    let configs = fs::read_dir(dashboard)
        .unwrap_or_else(|e| fail(&format!("reading {}: {e}", dashboard.display())));
    for entry in configs.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if (name.starts_with("vite.config.") || name.starts_with("tsconfig"))
            && entry.path().is_file()
        {
            inputs.push(entry.path());
        }
    }
    inputs.push(workspace.join("graphql-admin/schema.graphql"));
    inputs.retain(|path| path.exists());
    inputs.sort();
    inputs
}

/// Whether `dist` holds both pages and no file older than an input.
fn is_fresh(dist: &Path, inputs: &[PathBuf]) -> bool {
    if !dist.join("index.html").is_file() || !dist.join("graphiql.html").is_file() {
        return false;
    }
    let newest_input = inputs.iter().filter_map(|p| newest(p)).max();
    let oldest_output = oldest(dist);
    match (newest_input, oldest_output) {
        (Some(input), Some(output)) => output >= input,
        (None, Some(_)) => true,
        (_, None) => false,
    }
}

/// Node.js (at least [`MIN_NODE`]) and npm on the search path, or what is
/// missing.
fn node_toolchain() -> Result<(), String> {
    let version = tool_version("node").ok_or("Node.js not found")?;
    let mut parts = version
        .trim_start_matches('v')
        .split('.')
        .map(|part| part.parse::<u32>().ok());
    let found = (parts.next().flatten(), parts.next().flatten());
    let recent = match found {
        (Some(major), Some(minor)) => (major, minor) >= MIN_NODE,
        _ => false,
    };
    if !recent {
        return Err(format!(
            "Node.js {version} is older than {}.{}",
            MIN_NODE.0, MIN_NODE.1
        ));
    }
    tool_version("npm").ok_or("npm not found")?;
    Ok(())
}

fn tool_version(program: &str) -> Option<String> {
    let output = Command::new(program)
        .arg("--version")
        .stdin(Stdio::null())
        .output()
        .ok()?;
    output
        .status
        .success()
        .then(|| String::from_utf8_lossy(&output.stdout).trim().to_owned())
}

/// `npm ci` when `node_modules` is missing or older than the lock file,
/// then `npm run build`, under a lock on `package.json` so that two builds
/// of the same checkout (another target directory, an editor's) never run
/// npm in the same folder at once.
fn build(dashboard: &Path, inputs: &[PathBuf]) {
    let manifest = dashboard.join("package.json");
    let lock = File::open(&manifest)
        .unwrap_or_else(|e| fail(&format!("opening {}: {e}", manifest.display())));
    lock.lock()
        .unwrap_or_else(|e| fail(&format!("locking {}: {e}", manifest.display())));
    // Another build may have done the work while this one waited.
    if is_fresh(&dashboard.join("dist"), inputs) {
        return;
    }
    let installed = dashboard.join("node_modules/.package-lock.json");
    let lockfile = dashboard.join("package-lock.json");
    let stale_modules = match (modified(&installed), modified(&lockfile)) {
        (Some(installed), Some(wanted)) => installed < wanted,
        _ => true,
    };
    if stale_modules {
        npm(dashboard, &["ci", "--no-audit", "--no-fund"]);
    }
    npm(dashboard, &["run", "build"]);
    if !dashboard.join("dist/index.html").is_file() {
        fail("`npm run build` made no dashboard/dist/index.html");
    }
}

/// Runs npm in `dir`; on failure, fails the build with npm's output.
fn npm(dir: &Path, args: &[&str]) {
    let output = Command::new("npm")
        .args(args)
        .current_dir(dir)
        // Cargo's DEBUG (true or false) would switch on the `debug`
        // package's logging in the tools npm runs.
        .env_remove("DEBUG")
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| fail(&format!("running npm {}: {e}", args.join(" "))));
    if !output.status.success() {
        fail(&format!(
            "`npm {}` failed in {} ({}):\n{}{}",
            args.join(" "),
            dir.display(),
            output.status,
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        ));
    }
}

/// Copies every file of `dist` but its hidden folders (Vite's manifest)
/// into `files`, and a gzip copy of each text file that gets smaller into
/// `gzip`, under the same relative path.
fn lay_out(dist: &Path, files: &Path, gzip: &Path) {
    for path in walk(dist) {
        let relative = path.strip_prefix(dist).expect("walked under dist");
        if relative
            .components()
            .any(|c| c.as_os_str().to_string_lossy().starts_with('.'))
        {
            continue;
        }
        let bytes =
            fs::read(&path).unwrap_or_else(|e| fail(&format!("reading {}: {e}", path.display())));
        write(&files.join(relative), &bytes);
        if is_text(relative) {
            let mut encoder = GzEncoder::new(Vec::new(), Compression::best());
            encoder
                .write_all(&bytes)
                .and_then(|()| encoder.finish())
                .map(|packed| {
                    if packed.len() < bytes.len() {
                        write(&gzip.join(relative), &packed);
                    }
                })
                .unwrap_or_else(|e| fail(&format!("compressing {}: {e}", path.display())));
        }
    }
}

/// Whether a file is text that gzip shrinks (images and fonts are already
/// compressed, but for SVG).
fn is_text(path: &Path) -> bool {
    let extension = path.extension().and_then(|e| e.to_str()).unwrap_or("");
    matches!(
        extension,
        "html" | "js" | "mjs" | "css" | "svg" | "json" | "map" | "txt" | "webmanifest"
    )
}

/// Every file under `root`, depth first.
fn walk(root: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut pending = vec![root.to_path_buf()];
    while let Some(dir) = pending.pop() {
        let entries =
            fs::read_dir(&dir).unwrap_or_else(|e| fail(&format!("reading {}: {e}", dir.display())));
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                pending.push(path);
            } else {
                found.push(path);
            }
        }
    }
    found
}

/// The newest modification time of a file, or of any file under a folder.
fn newest(path: &Path) -> Option<SystemTime> {
    if path.is_dir() {
        walk(path).iter().filter_map(|p| modified(p)).max()
    } else {
        modified(path)
    }
}

/// The oldest modification time of any file under a folder.
fn oldest(dir: &Path) -> Option<SystemTime> {
    walk(dir).iter().filter_map(|p| modified(p)).min()
}

fn modified(path: &Path) -> Option<SystemTime> {
    fs::metadata(path).and_then(|m| m.modified()).ok()
}

fn create_dir(path: &Path) {
    fs::create_dir_all(path).unwrap_or_else(|e| fail(&format!("creating {}: {e}", path.display())));
}

fn write(path: &Path, bytes: &[u8]) {
    if let Some(parent) = path.parent() {
        create_dir(parent);
    }
    fs::write(path, bytes).unwrap_or_else(|e| fail(&format!("writing {}: {e}", path.display())));
}

fn env(name: &str) -> String {
    std::env::var_os(name)
        .and_then(|v| v.into_string().ok())
        .unwrap_or_else(|| fail(&format!("cargo sets {name} for build scripts")))
}

/// Fails the build with `message` on stderr, which cargo shows.
fn fail(message: &str) -> ! {
    eprintln!("error: {message}");
    std::process::exit(1);
}
