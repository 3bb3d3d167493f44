//! Simulated experiments, on per-look aggregates: the sequential test's
//! false-positive rate stays within α however often it is looked at, the
//! fixed-horizon test's does not, and the sequential test still finds a
//! real lift; a rollout's guard stops a real regression and seldom an
//! A/A rollout. Each look adds a batch of users per arm whose conversions
//! are drawn from the exact binomial distribution by inverse transform.

use analytics::stats::Arm;
use analytics::stats::frequentist::{abs_lift, abs_variance, z_test};
use analytics::stats::guard::{self, Direction, Guard, Verdict};
use analytics::stats::sequential::{DEFAULT_TUNING, confidence_sequence};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

const ALPHA: f64 = 0.05;
/// Looks per experiment, as a person checking daily for three weeks.
const LOOKS: usize = 20;
/// Users per arm added between looks: 10,000 users in all at the end.
const BATCH: u64 = 250;
const BASE_RATE: f64 = 0.1;

/// Binomial(n, p)'s distribution function, for drawing by inverse transform.
struct Binomial {
    cdf: Vec<f64>,
}

impl Binomial {
    fn new(n: u64, p: f64) -> Binomial {
        let mut cdf = Vec::with_capacity(n as usize + 1);
        let (mut pmf, mut total) = ((1.0 - p).powi(n as i32), 0.0);
        for k in 0..=n {
            total += pmf;
            cdf.push(total);
            pmf *= (n - k) as f64 / (k + 1) as f64 * p / (1.0 - p);
        }
        Binomial { cdf }
    }

    fn draw(&self, rng: &mut StdRng) -> u64 {
        let u: f64 = rng.random();
        self.cdf.partition_point(|&c| c < u).min(self.cdf.len() - 1) as u64
    }
}

fn arm(users: u64, converted: u64) -> Arm {
    let mean = converted as f64 / users as f64;
    Arm {
        n: users,
        mean,
        variance: Ok(mean * (1.0 - mean)),
    }
}

/// Whether each test rejected at any of the looks.
#[derive(Debug, Default, Clone, Copy)]
struct Rejections {
    sequential: bool,
    fixed: bool,
}

fn experiment(rng: &mut StdRng, control: &Binomial, treatment: &Binomial) -> Rejections {
    let (mut converted_c, mut converted_t, mut users) = (0, 0, 0);
    let mut rejected = Rejections::default();
    for _ in 0..LOOKS {
        converted_c += control.draw(rng);
        converted_t += treatment.draw(rng);
        users += BATCH;
        let (c, t) = (arm(users, converted_c), arm(users, converted_t));
        if let Ok(test) = z_test(&c, &t, ALPHA) {
            rejected.fixed |= test.p_value < ALPHA;
        }
        let sequential = abs_lift(&c, &t).and_then(|lift| {
            confidence_sequence(
                lift,
                abs_variance(&c, &t)?,
                2 * users,
                ALPHA,
                DEFAULT_TUNING,
            )
        });
        if let Ok(sequential) = sequential {
            rejected.sequential |= sequential.p_value < ALPHA;
        }
    }
    rejected
}

fn rates(runs: usize, seed: u64, treatment_rate: f64) -> (f64, f64) {
    let mut rng = StdRng::seed_from_u64(seed);
    let control = Binomial::new(BATCH, BASE_RATE);
    let treatment = Binomial::new(BATCH, treatment_rate);
    let (mut sequential, mut fixed) = (0, 0);
    for _ in 0..runs {
        let rejected = experiment(&mut rng, &control, &treatment);
        sequential += usize::from(rejected.sequential);
        fixed += usize::from(rejected.fixed);
    }
    (sequential as f64 / runs as f64, fixed as f64 / runs as f64)
}

#[test]
fn peeking_at_an_a_a_test_keeps_the_sequential_false_positive_rate() {
    let (sequential, fixed) = rates(2_000, 0x5eed_a11a, BASE_RATE);
    eprintln!(
        "A/A, 2,000 experiments, {LOOKS} looks each: sequential false positives {:.2}%, fixed-horizon peeked {:.2}%",
        100.0 * sequential,
        100.0 * fixed
    );
    assert!(
        sequential <= ALPHA,
        "sequential false-positive rate {sequential}"
    );
    assert!(
        fixed >= 0.15,
        "fixed-horizon peeked false-positive rate {fixed}"
    );
}

#[test]
fn the_sequential_test_finds_a_lift_of_five_standard_errors() {
    // At the last look each arm has LOOKS·BATCH users; a lift of 5
    // standard errors of the difference there.
    let n = (LOOKS as u64 * BATCH) as f64;
    let se = (2.0 * BASE_RATE * (1.0 - BASE_RATE) / n).sqrt();
    let treatment_rate = BASE_RATE + 5.0 * se;
    let (sequential, _) = rates(1_000, 0x5eed_0b5e, treatment_rate);
    eprintln!(
        "lift of 5 standard errors ({BASE_RATE} → {treatment_rate:.4}), N = {}: the sequential test rejects in {:.1}% of 1,000 runs",
        2.0 * n,
        100.0 * sequential
    );
    assert!(sequential >= 0.8, "sequential power {sequential}");
}

/// A guarded rollout's step as the guard sees it at each look: a quarter
/// of the step's new users get the new variant.
const GUARD_NEW_BATCH: u64 = 125;
const GUARD_OLD_BATCH: u64 = 375;
const GUARD_TOLERANCE: f64 = 0.02;

/// The share of `runs` rollouts whose guard stops them at one of the
/// looks, the new variant converting at `new_rate` against `BASE_RATE`.
fn guard_stops(runs: usize, seed: u64, new_rate: f64) -> f64 {
    let mut rng = StdRng::seed_from_u64(seed);
    let old = Binomial::new(GUARD_OLD_BATCH, BASE_RATE);
    let new = Binomial::new(GUARD_NEW_BATCH, new_rate);
    let guard = Guard {
        direction: Direction::HigherIsBetter,
        tolerance: GUARD_TOLERANCE,
        min_users: 1_000,
        alpha: ALPHA,
        tuning: DEFAULT_TUNING,
    };
    let mut stopped = 0;
    for _ in 0..runs {
        let (mut old_converted, mut new_converted) = (0, 0);
        for look in 1..=LOOKS as u64 {
            old_converted += old.draw(&mut rng);
            new_converted += new.draw(&mut rng);
            let check = guard::check(
                &guard,
                &arm(look * GUARD_OLD_BATCH, old_converted),
                &arm(look * GUARD_NEW_BATCH, new_converted),
            );
            if check.verdict == Verdict::Regressed {
                stopped += 1;
                break;
            }
        }
    }
    stopped as f64 / runs as f64
}

#[test]
fn the_guard_stops_a_regression_beyond_its_tolerance() {
    // The relative lift's standard error at the last look, by the delta
    // method with both arms at the base rate.
    let (n_old, n_new) = (
        (LOOKS as u64 * GUARD_OLD_BATCH) as f64,
        (LOOKS as u64 * GUARD_NEW_BATCH) as f64,
    );
    let variance = BASE_RATE * (1.0 - BASE_RATE);
    let se = (variance / n_new + variance / n_old).sqrt() / BASE_RATE;
    let lift = -(GUARD_TOLERANCE + 5.0 * se);
    let new_rate = BASE_RATE * (1.0 + lift);
    let stops = guard_stops(500, 0x5eed_9a2d, new_rate);
    eprintln!(
        "guarded rollouts regressing by the tolerance plus 5 standard errors ({:.1}%): the guard stops {:.1}% of 500",
        100.0 * lift,
        100.0 * stops
    );
    assert!(stops >= 0.8, "guard power {stops}");
}

#[test]
fn the_guard_seldom_stops_an_a_a_rollout() {
    let stops = guard_stops(500, 0x5eed_aa00, BASE_RATE);
    eprintln!(
        "A/A guarded rollouts, {LOOKS} looks each: the guard stops {:.1}% of 500",
        100.0 * stops
    );
    assert!(stops <= ALPHA, "guard false stops {stops}");

    // The guard's real null hypothesis: a regression of exactly the
    // tolerance, which it must not stop more often than α either.
    let at_tolerance = guard_stops(500, 0x5eed_aa01, BASE_RATE * (1.0 - GUARD_TOLERANCE));
    eprintln!(
        "guarded rollouts regressing by exactly the tolerance: the guard stops {:.1}% of 500",
        100.0 * at_tolerance
    );
    assert!(at_tolerance <= ALPHA, "guard false stops {at_tolerance}");
}
