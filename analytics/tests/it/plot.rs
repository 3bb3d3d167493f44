//! The PNG charts: one file per metric, named after it, of the promised
//! size, drawn the same way every time, with more drawn where there is
//! data than where there is none. The PNGs are not decoded: their
//! header, their bytes from run to run and their sizes stand for that.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use analytics::plot::{self, HEIGHT, PlotError, WIDTH};
use analytics::report::{Comparison, MetricResult, Metrics, Report, VariantResult};
use time::OffsetDateTime;

const PNG_SIGNATURE: [u8; 8] = [0x89, b'P', b'N', b'G', b'\r', b'\n', 0x1a, b'\n'];

/// 2024-05-01 10:00:00 UTC.
const START: i64 = 1_714_557_600;

/// A folder of its own under the target's temporary folder, emptied.
fn folder(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join("plot")
        .join(name);
    // It may be left over from an earlier run, or not be there at all.
    let _ = fs::remove_dir_all(&dir);
    dir
}

fn figure(users: u64, mean: Option<f64>, variance: Option<f64>) -> MetricResult {
    let sum = mean.unwrap_or(0.0) * users as f64;
    MetricResult {
        count: sum.round() as u64,
        sum,
        mean,
        variance,
    }
}

fn variant(name: &str, users: u64, metrics: &[(&str, Option<f64>, Option<f64>)]) -> VariantResult {
    VariantResult {
        variant: name.to_owned(),
        users,
        metrics: Metrics(
            metrics
                .iter()
                .map(|&(metric, mean, variance)| (metric.to_owned(), figure(users, mean, variance)))
                .collect(),
        ),
    }
}

fn comparison(metric: &str, abs_lift: Option<f64>, ci: Option<[f64; 2]>) -> Comparison {
    Comparison {
        variant: "treatment".to_owned(),
        metric: metric.to_owned(),
        abs_lift,
        rel_lift: None,
        abs_ci: None,
        rel_ci: None,
        p_value: None,
        p_value_holm: None,
        p_value_bh: None,
        mde_abs: None,
        mde_rel: None,
        chance_to_beat_control: None,
        expected_loss: None,
        sequential_p_value: None,
        sequential_ci: ci,
        sequential_rel_p_value: None,
        sequential_rel_ci: None,
        sequential_p_value_holm: None,
    }
}

fn report(hour: i64, variants: Vec<VariantResult>, comparisons: Vec<Comparison>) -> Report {
    Report {
        experiment: "checkout-redesign".to_owned(),
        flag: "new-checkout".to_owned(),
        control: "control".to_owned(),
        alpha: 0.05,
        computed_at: OffsetDateTime::from_unix_timestamp(START + 3600 * hour).unwrap(),
        srm: None,
        multiple_exposure_share: None,
        variants,
        comparisons,
        notes: BTreeMap::new(),
        verdict: String::new(),
    }
}

/// Three analyses an hour apart of a conversion and a sum metric, the
/// sum's name holding a character that cannot be in a file name.
fn history() -> Vec<Report> {
    let looks = [
        // users per arm, control and treatment conversion, revenue means,
        // the conversion lift's half-width
        (400, 0.100, 0.125, 4.1, 4.6, 0.050),
        (800, 0.105, 0.118, 4.3, 4.4, 0.036),
        (1200, 0.102, 0.121, 4.2, 4.5, 0.028),
    ];
    looks
        .iter()
        .enumerate()
        .map(|(hour, &(users, c, t, rc, rt, half))| {
            let conversion = |p: f64| Some(p * (1.0 - p));
            report(
                hour as i64,
                vec![
                    variant(
                        "control",
                        users,
                        &[
                            ("purchase", Some(c), conversion(c)),
                            ("revenue/user", Some(rc), Some(9.0)),
                        ],
                    ),
                    variant(
                        "treatment",
                        users,
                        &[
                            ("purchase", Some(t), conversion(t)),
                            ("revenue/user", Some(rt), Some(11.0)),
                        ],
                    ),
                ],
                vec![
                    comparison("purchase", Some(t - c), Some([t - c - half, t - c + half])),
                    comparison(
                        "revenue/user",
                        Some(rt - rc),
                        Some([rt - rc - 0.9, rt - rc + 0.9]),
                    ),
                ],
            )
        })
        .collect()
}

/// The experiment of [`history`] analysed before anyone was exposed:
/// every figure undefined.
fn before_exposures() -> Vec<Report> {
    let nothing: &[(&str, Option<f64>, Option<f64>)] =
        &[("purchase", None, None), ("revenue/user", None, None)];
    vec![report(
        -1,
        vec![
            variant("control", 0, nothing),
            variant("treatment", 0, nothing),
        ],
        vec![
            comparison("purchase", None, None),
            comparison("revenue/user", None, None),
        ],
    )]
}

/// One analysis with undefined figures: the treatment's variance, a lift's
/// interval, a lift; two metric names that give the same file name; and
/// a metric with no figure at all.
fn single() -> Vec<Report> {
    vec![report(
        0,
        vec![
            variant(
                "control",
                150,
                &[
                    ("signup rate", Some(0.2), Some(0.16)),
                    ("signup_rate", Some(0.3), Some(0.21)),
                    ("refunds", None, None),
                ],
            ),
            variant(
                "treatment",
                140,
                &[
                    ("signup rate", Some(0.25), None),
                    ("signup_rate", Some(0.35), Some(0.2275)),
                    ("refunds", None, None),
                ],
            ),
        ],
        vec![
            comparison("signup rate", Some(0.05), None),
            comparison("signup_rate", None, None),
            comparison("refunds", None, None),
        ],
    )]
}

/// Checks that `path` is a PNG of the charts' size and returns its bytes.
#[track_caller]
fn check_png(path: &Path) -> Vec<u8> {
    let bytes = fs::read(path).unwrap();
    assert_eq!(bytes[..8], PNG_SIGNATURE, "{} is not a PNG", path.display());
    // The IHDR chunk comes first: length, type, then width and height.
    assert_eq!(&bytes[12..16], b"IHDR");
    let width = u32::from_be_bytes(bytes[16..20].try_into().unwrap());
    let height = u32::from_be_bytes(bytes[20..24].try_into().unwrap());
    assert_eq!((width, height), (WIDTH, HEIGHT), "{}", path.display());
    bytes
}

#[track_caller]
fn check_names(written: &[PathBuf], dir: &Path, expect: &[&str]) {
    let expect: Vec<PathBuf> = expect.iter().map(|name| dir.join(name)).collect();
    assert_eq!(written, expect);
}

/// Each metric drawn twice gives the same bytes, and more of them than
/// the chart of the same metric before anyone was exposed, which has its
/// frame, legends and "No data yet" but no lines, bars or bands.
#[test]
fn draws_one_chart_per_metric_the_same_every_time() {
    let (first, second, blank) = (
        folder("history"),
        folder("history-again"),
        folder("before-exposures"),
    );
    let names = ["purchase.png", "revenue_user.png"];
    let written = plot::draw(&history(), &first).unwrap();
    check_names(&written, &first, &names);
    let again = plot::draw(&history(), &second).unwrap();
    check_names(&again, &second, &names);
    let empty = plot::draw(&before_exposures(), &blank).unwrap();
    check_names(&empty, &blank, &names);
    for ((path, twin), empty) in written.iter().zip(&again).zip(&empty) {
        let bytes = check_png(path);
        assert!(
            bytes == check_png(twin),
            "{} differs from {}",
            path.display(),
            twin.display()
        );
        let (size, empty_size) = (bytes.len(), check_png(empty).len());
        assert!(
            size > empty_size,
            "{}: {size} bytes, no more than the {empty_size} of {}",
            path.display(),
            empty.display()
        );
    }
}

#[test]
fn undefined_figures_are_left_out_and_colliding_names_numbered() {
    let dir = folder("single");
    let written = plot::draw(&single(), &dir).unwrap();
    check_names(
        &written,
        &dir,
        &["signup_rate.png", "signup_rate_2.png", "refunds.png"],
    );
    for path in &written {
        check_png(path);
    }
}

#[test]
fn no_history_writes_nothing() {
    let dir = folder("none");
    assert_eq!(plot::draw(&[], &dir).unwrap(), Vec::<PathBuf>::new());
    assert!(dir.is_dir());
}

#[test]
fn a_folder_that_cannot_be_created_is_an_error_naming_it() {
    let dir = folder("blocked");
    fs::create_dir_all(&dir).unwrap();
    let file = dir.join("a-file");
    fs::write(&file, b"").unwrap();
    let target = file.join("charts");
    match plot::draw(&single(), &target) {
        Err(PlotError::CreateDir { path, .. }) => assert_eq!(path, target),
        other => panic!("expected CreateDir, got {other:?}"),
    }
}
