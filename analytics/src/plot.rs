//! The PNG charts of an experiment's result history: per metric, each
//! variant's mean with its interval and each treatment's lift with its
//! confidence sequence, analysis after analysis.
//!
//! Text is drawn with Liberation Sans, embedded from `fonts/` beside this
//! crate (SIL Open Font License 1.1, `fonts/LICENSE-LiberationSans.txt`),
//! so drawing needs no font installed on the machine. An undefined figure
//! is left out of a chart, never an error: a metric with nothing to draw
//! still gets its chart, saying there is no data yet.

use std::collections::HashSet;
use std::fs;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use plotters::chart::{ChartBuilder, SeriesLabelPosition};
use plotters::coord::Shift;
use plotters::drawing::{DrawingArea, DrawingAreaErrorKind, IntoDrawingArea};
use plotters::element::{Circle, EmptyElement, ErrorBar, PathElement, Polygon, Text};
use plotters::prelude::{BitMapBackend, DrawingBackend};
use plotters::series::{DashedLineSeries, LineSeries};
use plotters::style::text_anchor::{HPos, Pos, VPos};
use plotters::style::{
    BLACK, Color, FontStyle, IntoFont, RGBColor, TRANSPARENT, TextStyle, WHITE, register_font,
};
use time::{Duration, OffsetDateTime, UtcOffset};

use crate::report::Report;
use crate::stats::distributions::normal_quantile;

/// The width of a chart, in pixels.
pub const WIDTH: u32 = 1200;
/// The height of a chart, in pixels.
pub const HEIGHT: u32 = 900;

/// Why a chart could not be written.
#[derive(Debug, thiserror::Error)]
pub enum PlotError {
    /// The folder of the charts could not be created.
    #[error("creating the chart folder {}", path.display())]
    CreateDir {
        /// The folder.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// Drawing or writing a chart failed.
    #[error("drawing the chart {}: {message}", path.display())]
    Draw {
        /// The chart's file.
        path: PathBuf,
        /// The drawing library's error, in words.
        message: String,
    },
    /// The embedded font could not be read, so no text can be drawn.
    #[error("the embedded font fonts/LiberationSans-Regular.ttf could not be read")]
    Font,
}

/// Draws one PNG per metric of the latest report into `dir` (created if
/// missing), named after the metric (`{metric}.png`, with every character
/// outside [A-Za-z0-9_-] replaced by `_`, and a numeric suffix if two
/// metrics would collide); returns the paths written.
///
/// `history` holds the experiment's reports oldest first; a single report
/// gives charts with a single point in time. Each chart is [`WIDTH`] ×
/// [`HEIGHT`] pixels: above, each variant's mean per user with its
/// interval m ± z_{1−α/2}·√(v/n) at every analysis; below, each
/// treatment's absolute lift with its confidence sequence. An empty
/// history writes nothing.
pub fn draw(history: &[Report], dir: &Path) -> Result<Vec<PathBuf>, PlotError> {
    fs::create_dir_all(dir).map_err(|source| PlotError::CreateDir {
        path: dir.to_owned(),
        source,
    })?;
    let Some(latest) = history.last() else {
        return Ok(Vec::new());
    };
    register_embedded_font()?;

    let axis = TimeAxis::new(history);
    let metrics = metric_names(latest);
    let stems = file_stems(&metrics);
    let mut written = Vec::with_capacity(metrics.len());
    for (metric, stem) in metrics.iter().zip(stems) {
        let path = dir.join(format!("{stem}.png"));
        let chart = Chart::new(history, latest, metric, &axis);
        let drawn = {
            let root = BitMapBackend::new(&path, (WIDTH, HEIGHT)).into_drawing_area();
            chart.render(&root).and_then(|()| root.present())
        };
        drawn.map_err(|error| PlotError::Draw {
            path: path.clone(),
            message: error.to_string(),
        })?;
        written.push(path);
    }
    Ok(written)
}

/// Liberation Sans Regular, 2.1.5.
static FONT: &[u8] = include_bytes!("../fonts/LiberationSans-Regular.ttf");

/// The family every text of the charts is drawn in.
const FAMILY: &str = "sans-serif";

/// Registers [`FONT`] as [`FAMILY`] with plotters, once per process.
fn register_embedded_font() -> Result<(), PlotError> {
    static REGISTERED: OnceLock<bool> = OnceLock::new();
    let registered =
        *REGISTERED.get_or_init(|| register_font(FAMILY, FontStyle::Normal, FONT).is_ok());
    if registered {
        Ok(())
    } else {
        Err(PlotError::Font)
    }
}

/// The Okabe–Ito palette, distinguishable with every common colour-vision
/// deficiency, most contrasted on white first (its yellow, last, is pale).
const PALETTE: [RGBColor; 8] = [
    RGBColor(0, 114, 178),   // blue
    RGBColor(230, 159, 0),   // orange
    RGBColor(0, 158, 115),   // bluish green
    RGBColor(213, 94, 0),    // vermillion
    RGBColor(204, 121, 167), // reddish purple
    RGBColor(86, 180, 233),  // sky blue
    RGBColor(0, 0, 0),       // black
    RGBColor(240, 228, 66),  // yellow
];

/// The metric names of `report`, in its order: the first variant's, then
/// any other variant lists that the first does not.
fn metric_names(report: &Report) -> Vec<String> {
    let mut names: Vec<String> = Vec::new();
    for variant in &report.variants {
        for (name, _) in &variant.metrics.0 {
            if !names.contains(name) {
                names.push(name.clone());
            }
        }
    }
    names
}

/// Each metric's file name without `.png`: the name with every character
/// outside [A-Za-z0-9_-] replaced by `_`, then `_2`, `_3`, … when an
/// earlier metric has it already. Names are compared without case, as
/// some file systems do.
fn file_stems(metrics: &[String]) -> Vec<String> {
    let mut taken = HashSet::new();
    metrics
        .iter()
        .map(|metric| {
            let mut base: String = metric
                .chars()
                .map(|c| {
                    if c.is_ascii_alphanumeric() || c == '_' || c == '-' {
                        c
                    } else {
                        '_'
                    }
                })
                .collect();
            if base.is_empty() {
                base.push_str("metric");
            }
            let mut stem = base.clone();
            let mut suffix = 2;
            while !taken.insert(stem.to_ascii_lowercase()) {
                stem = format!("{base}_{suffix}");
                suffix += 1;
            }
            stem
        })
        .collect()
}

/// The horizontal axis: each report's `computed_at` as hours (or days,
/// for long histories) since the earliest, labelled in UTC.
struct TimeAxis {
    origin: OffsetDateTime,
    /// Seconds per unit of the axis.
    unit: f64,
    range: Range<f64>,
}

impl TimeAxis {
    const HOUR: f64 = 3600.0;
    const DAY: f64 = 86_400.0;

    fn new(history: &[Report]) -> TimeAxis {
        let times = history.iter().map(|report| report.computed_at);
        let (Some(first), Some(last)) = (times.clone().min(), times.max()) else {
            return TimeAxis {
                origin: OffsetDateTime::UNIX_EPOCH,
                unit: Self::HOUR,
                range: -1.0..1.0,
            };
        };
        let seconds = (last - first).as_seconds_f64();
        let unit = if seconds > 3.0 * Self::DAY {
            Self::DAY
        } else {
            Self::HOUR
        };
        let span = seconds / unit;
        // A single point in time gets an hour either side; otherwise a
        // margin keeps the first and last intervals off the frame.
        let pad = if span > 0.0 { span * 0.06 } else { 1.0 };
        TimeAxis {
            origin: first,
            unit,
            range: -pad..span + pad,
        }
    }

    fn x(&self, at: OffsetDateTime) -> f64 {
        (at - self.origin).as_seconds_f64() / self.unit
    }

    fn label(&self, x: f64) -> String {
        Duration::checked_seconds_f64(x * self.unit)
            .and_then(|offset| self.origin.checked_add(offset))
            .map(|at| timestamp(at.to_offset(UtcOffset::UTC)))
            .unwrap_or_default()
    }
}

/// `YYYY-MM-DD HH:MM`.
fn timestamp(at: OffsetDateTime) -> String {
    format!("{} {:02}:{:02}", at.date(), at.hour(), at.minute())
}

/// One chart: its title and its two panels' series.
struct Chart<'a> {
    axis: &'a TimeAxis,
    title: String,
    subtitle: String,
    /// The level of the intervals, in words ("95%").
    level: String,
    control: String,
    means: Vec<Series>,
    lifts: Vec<Series>,
}

/// One variant's points in a panel.
struct Series {
    label: String,
    colour: RGBColor,
    points: Vec<Point>,
}

/// One analysis' figure: its time, value and interval, if defined.
#[derive(Clone, Copy)]
struct Point {
    x: f64,
    y: f64,
    interval: Option<[f64; 2]>,
}

impl<'a> Chart<'a> {
    /// The chart of `metric` over `history`, whose last report is
    /// `latest`.
    fn new(history: &[Report], latest: &Report, metric: &str, axis: &'a TimeAxis) -> Chart<'a> {
        let mut means = Vec::new();
        let mut lifts = Vec::new();
        for (index, variant) in latest.variants.iter().enumerate() {
            let colour = PALETTE[index % PALETTE.len()];
            let name = &variant.variant;
            let points: Vec<Point> = history
                .iter()
                .filter_map(|report| mean_point(report, name, metric, axis))
                .collect();
            // The control is named so, unless its name says it already.
            let label = if *name == latest.control && name != "control" {
                format!("{name} (control)")
            } else {
                name.clone()
            };
            means.push(Series::new(label, colour, points));
            if *name != latest.control {
                let points: Vec<Point> = history
                    .iter()
                    .filter_map(|report| lift_point(report, name, metric, axis))
                    .collect();
                lifts.push(Series::new(name.clone(), colour, points));
            }
        }
        let analyses = match history.len() {
            1 => "1 analysis".to_owned(),
            n => format!("{n} analyses"),
        };
        Chart {
            axis,
            title: format!(
                "Experiment {} · flag {} · metric {metric}",
                latest.experiment, latest.flag
            ),
            subtitle: format!(
                "{analyses}, the last at {} UTC",
                timestamp(latest.computed_at.to_offset(UtcOffset::UTC))
            ),
            level: level(latest.alpha),
            control: latest.control.clone(),
            means,
            lifts,
        }
    }

    fn render<DB: DrawingBackend>(
        &self,
        root: &DrawingArea<DB, Shift>,
    ) -> Result<(), DrawingAreaErrorKind<DB::ErrorType>> {
        root.fill(&WHITE)?;
        let body = root.margin(10, 0, 0, 0);
        let body = body.titled(&self.title, (FAMILY, 30).into_font())?;
        let body = body.titled(&self.subtitle, (FAMILY, 18).into_font().color(&GREY))?;
        let (upper, lower) = body.split_vertically(body.dim_in_pixel().1 / 2);
        Panel {
            caption: format!("Mean per user, with its {} interval", self.level),
            y_desc: "mean per user",
            series: &self.means,
            lift: false,
        }
        .render(&upper, self.axis)?;
        Panel {
            caption: format!(
                "Lift against {}, with its {} confidence sequence",
                self.control, self.level
            ),
            y_desc: "absolute lift (always-valid interval)",
            series: &self.lifts,
            lift: true,
        }
        .render(&lower, self.axis)
    }
}

impl Series {
    fn new(label: String, colour: RGBColor, points: Vec<Point>) -> Series {
        let label = if points.is_empty() {
            format!("{label}: no data yet")
        } else {
            label
        };
        Series {
            label,
            colour,
            points,
        }
    }
}

/// The variant's mean in `report` with m ± z_{1−α/2}·√(v/n), when both
/// are defined.
fn mean_point(report: &Report, variant: &str, metric: &str, axis: &TimeAxis) -> Option<Point> {
    let variant = report.variants.iter().find(|v| v.variant == variant)?;
    let (_, result) = variant.metrics.0.iter().find(|(name, _)| name == metric)?;
    let (mean, variance) = (result.mean?, result.variance?);
    if variant.users == 0 || !(report.alpha > 0.0 && report.alpha < 1.0) {
        return None;
    }
    let half = normal_quantile(1.0 - report.alpha / 2.0) * (variance / variant.users as f64).sqrt();
    let interval = [mean - half, mean + half];
    let point = Point {
        x: axis.x(report.computed_at),
        y: mean,
        interval: Some(interval),
    };
    (mean.is_finite() && interval.iter().all(|bound| bound.is_finite())).then_some(point)
}

/// The treatment's absolute lift in `report`, with its confidence
/// sequence when defined.
fn lift_point(report: &Report, variant: &str, metric: &str, axis: &TimeAxis) -> Option<Point> {
    let comparison = report
        .comparisons
        .iter()
        .find(|c| c.variant == variant && c.metric == metric)?;
    let lift = comparison.abs_lift.filter(|lift| lift.is_finite())?;
    let interval = comparison
        .sequential_ci
        .filter(|[low, high]| low.is_finite() && high.is_finite() && low <= high);
    Some(Point {
        x: axis.x(report.computed_at),
        y: lift,
        interval,
    })
}

/// The level 1 − α in percent, as "95%" or "97.5%".
fn level(alpha: f64) -> String {
    if !(alpha > 0.0 && alpha < 1.0) {
        return "1 − α".to_owned();
    }
    let percent = format!("{:.2}", (1.0 - alpha) * 100.0);
    let percent = percent.trim_end_matches('0').trim_end_matches('.');
    format!("{percent}%")
}

/// The colour of secondary text and of the zero line.
const GREY: RGBColor = RGBColor(90, 90, 90);

/// One of a chart's two panels.
struct Panel<'a> {
    caption: String,
    y_desc: &'a str,
    series: &'a [Series],
    /// Whether this is the lift panel: bands, and a line at 0.
    lift: bool,
}

impl Panel<'_> {
    fn render<DB: DrawingBackend>(
        &self,
        area: &DrawingArea<DB, Shift>,
        axis: &TimeAxis,
    ) -> Result<(), DrawingAreaErrorKind<DB::ErrorType>> {
        let y_range = self.y_range();
        let x_range = axis.range.clone();
        let mut chart = ChartBuilder::on(area)
            .caption(&self.caption, (FAMILY, 22).into_font())
            .margin(12)
            // Room for half the last time label, centred on its tick.
            .margin_right(72)
            .x_label_area_size(56)
            .y_label_area_size(96)
            .build_cartesian_2d(x_range.clone(), y_range.clone())?;

        let x_label = |x: &f64| axis.label(*x);
        let decimals = decimals(&y_range);
        let y_label = |y: &f64| number(*y, decimals);
        chart
            .configure_mesh()
            .x_labels(6)
            .y_labels(8)
            .x_label_formatter(&x_label)
            .y_label_formatter(&y_label)
            .x_desc("computed at (UTC)")
            .y_desc(self.y_desc)
            .label_style((FAMILY, 15).into_font())
            .axis_desc_style((FAMILY, 17).into_font())
            .light_line_style(TRANSPARENT)
            .bold_line_style(BLACK.mix(0.12))
            .draw()?;

        // Series side by side at the same time, so that their bars do not
        // hide one another.
        let gap = (x_range.end - x_range.start) * 0.012;
        let centre = (self.series.len() as f64 - 1.0) / 2.0;
        let shifted = |index: usize, point: &Point| Point {
            x: point.x + (index as f64 - centre) * gap,
            ..*point
        };

        if self.lift {
            for (index, series) in self.series.iter().enumerate() {
                let points: Vec<Point> = series.points.iter().map(|p| shifted(index, p)).collect();
                chart.draw_series(
                    bands(&points)
                        .into_iter()
                        .map(|band| Polygon::new(band, series.colour.mix(0.15).filled())),
                )?;
            }
            chart.draw_series(DashedLineSeries::new(
                [(x_range.start, 0.0), (x_range.end, 0.0)],
                8,
                6,
                GREY.stroke_width(1),
            ))?;
        }

        for (index, series) in self.series.iter().enumerate() {
            let colour = series.colour;
            let points: Vec<Point> = series.points.iter().map(|p| shifted(index, p)).collect();
            if points.len() > 1 {
                chart.draw_series(LineSeries::new(
                    points.iter().map(|p| (p.x, p.y)),
                    colour.stroke_width(2),
                ))?;
            }
            chart.draw_series(points.iter().filter_map(|p| {
                let [low, high] = p.interval?;
                Some(ErrorBar::new_vertical(
                    p.x,
                    low,
                    p.y,
                    high,
                    colour.stroke_width(2),
                    12,
                ))
            }))?;
            chart
                .draw_series(
                    points
                        .iter()
                        .map(|p| Circle::new((p.x, p.y), 5, colour.filled())),
                )?
                .label(&series.label)
                .legend(move |(x, y)| {
                    EmptyElement::at((x + 10, y))
                        + PathElement::new([(-10, 0), (10, 0)], colour.stroke_width(2))
                        + Circle::new((0, 0), 5, colour.filled())
                });
        }

        if self.series.iter().all(|series| series.points.is_empty()) {
            let style = TextStyle::from((FAMILY, 26).into_font())
                .color(&GREY)
                .pos(Pos::new(HPos::Center, VPos::Center));
            chart.plotting_area().draw(&Text::new(
                "No data yet",
                (
                    (x_range.start + x_range.end) / 2.0,
                    (y_range.start + y_range.end) / 2.0,
                ),
                style,
            ))?;
        }

        if !self.series.is_empty() {
            chart
                .configure_series_labels()
                .position(SeriesLabelPosition::UpperLeft)
                .label_font((FAMILY, 16).into_font())
                .background_style(WHITE.mix(0.85))
                .border_style(BLACK.mix(0.3))
                .draw()?;
        }
        Ok(())
    }

    /// The vertical range: every value and bound (and 0 for lifts), with
    /// a margin, and room above for the legend.
    fn y_range(&self) -> Range<f64> {
        let values = self.series.iter().flat_map(|series| {
            series.points.iter().flat_map(|p| {
                let [low, high] = p.interval.unwrap_or([p.y, p.y]);
                [p.y, low, high]
            })
        });
        let zero = self.lift.then_some(0.0);
        let (low, high) = values
            .chain(zero)
            .fold(None, |range: Option<(f64, f64)>, value| match range {
                None => Some((value, value)),
                Some((low, high)) => Some((low.min(value), high.max(value))),
            })
            .unwrap_or((0.0, 1.0));
        let span = high - low;
        let span = if span > 0.0 {
            span
        } else if low != 0.0 {
            low.abs() * 0.2
        } else {
            1.0
        };
        // The legend takes about 26 pixels a row of a plot about 300 high.
        let legend = (30.0 + 26.0 * self.series.len() as f64) / 300.0;
        let legend = legend.min(0.6);
        let (low, high) = (low - span * 0.08, high + span * 0.08);
        let room = (high - low) * legend / (1.0 - legend);
        low..high + room
    }
}

/// The decimals that tell apart the labels of about eight ticks over
/// `range`.
fn decimals(range: &Range<f64>) -> usize {
    let step = (range.end - range.start) / 8.0;
    let decimals = -step.log10().floor();
    if decimals.is_finite() && decimals > 0.0 {
        (decimals as usize).min(12)
    } else {
        0
    }
}

/// `value` with at most `decimals` decimals, without trailing zeros.
fn number(value: f64, decimals: usize) -> String {
    let text = format!("{value:.decimals$}");
    let text = if text.contains('.') {
        text.trim_end_matches('0').trim_end_matches('.')
    } else {
        &text
    };
    if text == "-0" {
        "0".to_owned()
    } else {
        text.to_owned()
    }
}

/// The polygons of a lift's confidence sequence: one per run of
/// consecutive points with an interval, when the run has two or more.
fn bands(points: &[Point]) -> Vec<Vec<(f64, f64)>> {
    let mut bands = Vec::new();
    for run in points.split(|p| p.interval.is_none()) {
        if run.len() < 2 {
            continue;
        }
        let upper = run
            .iter()
            .filter_map(|p| p.interval.map(|[_, high]| (p.x, high)));
        let lower = run
            .iter()
            .rev()
            .filter_map(|p| p.interval.map(|[low, _]| (p.x, low)));
        bands.push(upper.chain(lower).collect());
    }
    bands
}
