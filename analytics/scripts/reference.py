"""Reference data for the experiment analysis in `analytics`.

This script generates synthetic A/B-test data sets (exposures and events as
CSV, plus the experiment definition) and writes, next to each data set, the
report the Rust analysis must produce for it. Every figure of that report is
computed here independently of the Rust code: the attribution is implemented
from the rules in pandas, the tests come from scipy and statsmodels, and the
sequential figures from GrowthBook's gbstats. The Rust tests compare their
output with these files within the tolerances given in
`analytics/tests/data/reference/README.md`, so the files are the contract.

It is run by hand, never by the test suite, and is deterministic (every data
set has a fixed seed): running it twice gives byte-identical files.

    pip install scipy==1.17.1 statsmodels==0.15.0 gbstats==0.8.0 pandas
    python3 analytics/scripts/reference.py

It deletes and rewrites the case folders under
`analytics/tests/data/reference/` (the README there is left alone), and
refuses to run with other versions of scipy, statsmodels or gbstats, since
the figures they produce are what the folders pin down.

Attribution rules implemented below:

1. First exposure wins: per targeting key, among the exposures of the
   experiment's flag, the earliest fixes the variant and the exposure time
   t0; ties on time go to the byte-wise smaller variant name. Exposures of
   other flags are ignored. Users whose first variant is not one of the
   experiment's variants are left out of every figure.
2. An event counts iff t0 <= ts < t0 + window (half-open), the user was
   exposed and a metric reads the event's name.
3. A conversion metric is 1 for a user with at least one attributed event,
   else 0; a sum metric is the per-user sum of the attributed values (a
   missing value counts 0), over all users of the arm, zeros included.

Event values are multiples of 1/4, so sums are exact in any order.
"""

import json
import math
import shutil
import sys
import warnings
import zlib
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Callable, Optional

import numpy as np
import pandas as pd
import scipy
import statsmodels
from scipy import integrate, special, stats
from statsmodels.stats.multitest import multipletests
from statsmodels.stats.proportion import (
    confint_proportions_2indep,
    test_proportions_2indep,
)

from gbstats.frequentist.tests import SequentialConfig, SequentialTwoSidedTTest
from gbstats.models.statistics import ProportionStatistic, SampleMeanStatistic
from gbstats.utils import check_srm

PINNED = {"scipy": (scipy, "1.17.1"), "statsmodels": (statsmodels, "0.15.0")}

OUT = Path(__file__).resolve().parents[1] / "tests" / "data" / "reference"

EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
START_US = int((datetime(2026, 3, 1, tzinfo=timezone.utc) - EPOCH) / timedelta(microseconds=1))
DAY_US = 86_400 * 1_000_000
HOUR_US = 3_600 * 1_000_000
SPAN_US = 14 * DAY_US  # exposures are spread over two weeks

MC_DRAWS = 1_000_000
POWER_Z = stats.norm.ppf(0.8)


# ---------------------------------------------------------------------------
# Cross-check bookkeeping: the largest residual seen per check, printed at
# the end so the tolerances in the README can be reviewed.


class Checks:
    def __init__(self):
        self.worst = {}
        self.counts = {}

    def close(self, family, got, want, scale, rtol):
        """Asserts |got - want| <= rtol * scale and records the residual."""
        got, want = float(got), float(want)
        if got == want:
            residual = 0.0
        else:
            residual = abs(got - want) / scale
        assert residual <= rtol, f"{family}: {got!r} vs {want!r} (residual {residual:.3e})"
        self.worst[family] = max(self.worst.get(family, 0.0), residual)

    def count(self, what):
        self.counts[what] = self.counts.get(what, 0) + 1

    def report(self):
        print("largest residuals of the cross-checks:")
        for family in sorted(self.worst):
            print(f"  {family:<58} {self.worst[family]:.3e}")
        print("events:")
        for what in sorted(self.counts):
            print(f"  {what:<58} {self.counts[what]}")


CHECKS = Checks()


def rel_scale(*values):
    return max(max(abs(float(v)) for v in values), 1e-300)


# ---------------------------------------------------------------------------
# Generation


def fmt_ts(us):
    return (EPOCH + timedelta(microseconds=int(us))).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def quarters(x):
    """Rounds to a multiple of 1/4 (exactly representable)."""
    return float(np.round(np.asarray(x, dtype=float) * 4.0) / 4.0)


class Log:
    def __init__(self):
        self.exposures = []
        self.events = []

    def expose(self, flag, variant, key, t):
        self.exposures.append((flag, variant, key, int(t)))

    def event(self, name, key, t, value=None):
        self.events.append((name, key, int(t), value))

    def write(self, folder, rng):
        exposures = [self.exposures[i] for i in rng.permutation(len(self.exposures))]
        events = [self.events[i] for i in rng.permutation(len(self.events))]
        lines = ["flag_key,variant,targeting_key,timestamp"]
        for flag, variant, key, t in exposures:
            lines.append(f"{flag},{variant},{key},{fmt_ts(t)}")
        (folder / "exposures.csv").write_text("\n".join(lines) + "\n")
        lines = ["event_name,targeting_key,timestamp,value"]
        for name, key, t, value in events:
            shown = "" if value is None else repr(float(value))
            lines.append(f"{name},{key},{fmt_ts(t)},{shown}")
        (folder / "events.csv").write_text("\n".join(lines) + "\n")


@dataclass
class EventModel:
    """How often a user of each variant has the event in the window, and its
    values. `value` returns one value (or None for a missing one)."""

    name: str
    rate: dict
    value: Optional[Callable] = None
    extra: float = 0.4  # mean number of further events for a user who has one


def lognormal_value(mu, sigma, missing=0.03):
    def draw(rng, variant):
        if rng.random() < missing:
            return None
        m = mu[variant] if isinstance(mu, dict) else mu
        return max(0.25, quarters(rng.lognormal(m, sigma)))

    return draw


@dataclass
class Noise:
    duplicates: float = 0.15  # share of users exposed again to the same variant
    cross: float = 0.01  # share exposed later to another listed variant
    pre: float = 0.05  # share with a metric event before t0
    late: float = 0.05  # share with a metric event at or after t0 + window
    unknown: float = 0.10  # share with events no metric reads
    never_exposed: int = 40  # users with events and no exposure of the flag
    other_flag: int = 60  # exposure rows of another flag


NO_NOISE = Noise(0.0, 0.0, 0.0, 0.0, 0.0, 0, 0)


class KeyMaker:
    def __init__(self, rng, prefix="u"):
        self.pool = iter(rng.permutation(90_000) + 10_000)
        self.prefix = prefix

    def __call__(self):
        return f"{self.prefix}{next(self.pool)}"


def simulate(log, rng, experiment, counts, models, noise, keys):
    """Adds users with `counts[variant]` users per variant (exposure variant
    names may include unlisted ones) and their events."""
    flag = experiment["flag"]
    window_us = experiment["window_seconds"] * 1_000_000
    listed = [v["name"] for v in experiment["variants"]]
    assignment = [v for v, n in counts.items() for _ in range(n)]
    assignment = [assignment[i] for i in rng.permutation(len(assignment))]
    exposed = []
    for variant in assignment:
        key = keys()
        t0 = START_US + int(rng.integers(0, SPAN_US))
        exposed.append(key)
        log.expose(flag, variant, key, t0)
        if rng.random() < noise.duplicates:
            for _ in range(int(rng.integers(1, 4))):
                log.expose(flag, variant, key, t0 + int(rng.integers(0, 5 * DAY_US)))
        if rng.random() < noise.cross:
            others = [v for v in listed if v != variant]
            if others:
                other = others[int(rng.integers(0, len(others)))]
                log.expose(flag, other, key, t0 + int(rng.integers(1, 3 * DAY_US)))
        for model in models:
            if rng.random() < model.rate.get(variant, 0.3):
                for _ in range(1 + int(rng.poisson(model.extra))):
                    value = model.value(rng, variant) if model.value else None
                    log.event(model.name, key, t0 + int(rng.integers(0, window_us)), value)
            if rng.random() < noise.pre:
                value = model.value(rng, variant) if model.value else None
                log.event(model.name, key, t0 - int(rng.integers(1, 3 * DAY_US)), value)
            if rng.random() < noise.late:
                value = model.value(rng, variant) if model.value else None
                log.event(model.name, key, t0 + window_us + int(rng.integers(0, 3 * DAY_US)), value)
        if rng.random() < noise.unknown:
            name = ["page_view", "session_start", "search"][int(rng.integers(0, 3))]
            log.event(name, key, t0 + int(rng.integers(0, window_us)), quarters(rng.uniform(0, 20)))
    for _ in range(noise.never_exposed):
        key = keys()
        t = START_US + int(rng.integers(0, SPAN_US))
        model = models[int(rng.integers(0, len(models)))]
        value = model.value(rng, listed[0]) if model.value else None
        log.event(model.name, key, t, value)
        if rng.random() < 0.3:
            log.expose("other-flag", "on", key, t - HOUR_US)
    for _ in range(noise.other_flag):
        key = exposed[int(rng.integers(0, len(exposed)))] if exposed and rng.random() < 0.7 else keys()
        variant = ["on", "off", listed[0]][int(rng.integers(0, 3))]
        log.expose("other-flag", variant, key, START_US - DAY_US + int(rng.integers(0, SPAN_US)))
    return exposed


def split_counts(rng, experiment, total, shares=None):
    """Users per variant: a multinomial draw at the experiment's weights (or
    at `shares` to simulate a broken split)."""
    names = [v["name"] for v in experiment["variants"]]
    weights = np.array(shares if shares else [v["weight"] for v in experiment["variants"]], dtype=float)
    drawn = rng.multinomial(total, weights / weights.sum())
    return dict(zip(names, (int(n) for n in drawn)))


def experiment(name, flag, variants, metrics, window_days=7, alpha=0.05, tuning=5000):
    return {
        "name": name,
        "flag": flag,
        "control": variants[0][0],
        "variants": [{"name": n, "weight": w} for n, w in variants],
        "metrics": [{"name": n, "event": e, "kind": k} for n, e, k in metrics],
        "window_seconds": window_days * 86_400,
        "alpha": alpha,
        "sequential_tuning": tuning,
    }


# ---------------------------------------------------------------------------
# Cases. Each returns (experiment, log, expectations) where expectations
# maps targeting keys to what the attribution must give them (checked
# against the pandas implementation, for the hand-made users).


def case_typical(rng):
    exp = experiment(
        "Checkout redesign",
        "checkout-v2",
        [("control", 50), ("treatment", 50)],
        [("purchased", "checkout", "conversion"), ("revenue", "checkout", "sum")],
    )
    log = Log()
    models = [
        EventModel(
            "checkout",
            {"control": 0.10, "treatment": 0.12},
            lognormal_value({"control": 3.4, "treatment": 3.5}, 0.9),
        )
    ]
    simulate(log, rng, exp, split_counts(rng, exp, 5000), models, Noise(duplicates=0.02), KeyMaker(rng))
    return exp, log, {}


def case_zero_conversions_one_arm(rng):
    exp = experiment(
        "Onboarding copy",
        "onboarding-copy",
        [("control", 1), ("treatment", 1)],
        [
            ("signed_up", "signup", "conversion"),
            ("activated", "activation", "conversion"),
            ("upgrade_revenue", "upgrade", "sum"),
        ],
    )
    log = Log()
    models = [
        EventModel("signup", {"control": 0.0, "treatment": 0.09}),
        EventModel("activation", {"control": 0.07, "treatment": 0.0}),
        EventModel("upgrade", {"control": 0.05, "treatment": 0.0}, lognormal_value(3.0, 0.5, 0.0), 0.0),
    ]
    # The zero arms do have events of these names, but only before t0 or
    # after the window (the pre/late noise), so they stay at zero only if
    # the window is applied.
    noise = Noise(pre=0.05, late=0.05)
    simulate(log, rng, exp, {"control": 240, "treatment": 230}, models, noise, KeyMaker(rng))
    return exp, log, {}


def case_all_conversions_one_arm(rng):
    exp = experiment(
        "Welcome email",
        "welcome-email",
        [("control", 1), ("treatment", 1)],
        [("opened", "email_open", "conversion"), ("clicked", "email_click", "conversion")],
        window_days=3,
    )
    log = Log()
    models = [
        EventModel("email_open", {"control": 0.72, "treatment": 1.0}),
        EventModel("email_click", {"control": 1.0, "treatment": 0.55}),
    ]
    simulate(log, rng, exp, {"control": 180, "treatment": 190}, models, Noise(), KeyMaker(rng))
    return exp, log, {}


def case_all_conversions_both_arms(rng):
    exp = experiment(
        "Login button colour",
        "login-button",
        [("control", 1), ("treatment", 1)],
        [("logged_in", "login", "conversion")],
        window_days=1,
    )
    log = Log()
    models = [EventModel("login", {"control": 1.0, "treatment": 1.0})]
    simulate(log, rng, exp, {"control": 150, "treatment": 160}, models, Noise(), KeyMaker(rng))
    return exp, log, {}


def case_single_user(rng):
    exp = experiment(
        "Pricing page",
        "pricing-page",
        [("control", 1), ("treatment", 1)],
        [("purchased", "purchase", "conversion"), ("revenue", "purchase", "sum")],
    )
    log = Log()
    models = [EventModel("purchase", {"control": 0.2, "treatment": 1.0}, lognormal_value(4.0, 0.6, 0.0))]
    simulate(log, rng, exp, {"control": 60, "treatment": 1}, models, Noise(never_exposed=10, other_flag=10), KeyMaker(rng))
    return exp, log, {}


def case_single_user_total(rng):
    exp = experiment(
        "Beta banner",
        "beta-banner",
        [("control", 1), ("treatment", 1)],
        [("clicked", "banner_click", "conversion"), ("spend", "purchase", "sum")],
    )
    log = Log()
    t0 = START_US + 3 * DAY_US + 123_456
    log.expose("beta-banner", "control", "only-user", t0)
    log.expose("beta-banner", "control", "only-user", t0 + HOUR_US)
    # A later exposure to the other variant: the user stays in control but
    # counts as multiply exposed.
    log.expose("beta-banner", "treatment", "only-user", t0 + 2 * HOUR_US)
    log.event("banner_click", "only-user", t0 + 5 * 60_000_000)
    log.event("purchase", "only-user", t0 + 2 * DAY_US, 42.5)
    log.event("purchase", "only-user", t0 - DAY_US, 10.0)  # before exposure
    log.event("banner_click", "stranger", t0)  # never exposed
    log.expose("other-flag", "on", "stranger", t0 - HOUR_US)
    return exp, log, {"only-user": ("control", {"clicked": 1.0, "spend": 42.5})}


def explicit_users(log, exp, users, prefix):
    """Adds users with given per-metric totals. `users` is a list of
    (variant, {event: [values...]}) where each value list gives the values of
    that user's in-window events (None for a missing value)."""
    window_us = exp["window_seconds"] * 1_000_000
    expectations = {}
    for i, (variant, events) in enumerate(users):
        key = f"{prefix}{i + 1:02d}"
        t0 = START_US + (i * 7 + 1) * HOUR_US + 250_001 * i
        log.expose(exp["flag"], variant, key, t0)
        for name, values in events.items():
            for j, value in enumerate(values):
                log.event(name, key, t0 + (j + 1) * (window_us // (len(values) + 2)), value)
        expectations[key] = variant
    return expectations


def case_tiny_sample(rng):
    exp = experiment(
        "Search suggestions",
        "search-suggestions",
        [("control", 1), ("treatment", 1)],
        [("searched", "search", "conversion"), ("order_value", "order", "sum")],
    )
    log = Log()
    users = [
        ("control", {"search": [None], "order": [12.5]}),
        ("control", {"order": [3.25, 4.0]}),
        ("control", {"search": [None, None]}),
        ("control", {}),
        ("control", {"search": [None], "order": [30.75]}),
        ("treatment", {"search": [None], "order": [18.0]}),
        ("treatment", {"search": [None], "order": [40.5, 2.0]}),
        ("treatment", {"order": [9.25]}),
        ("treatment", {"search": [None]}),
        ("treatment", {"search": [None], "order": [25.75]}),
        ("treatment", {"search": [None], "order": [0.0]}),
    ]
    explicit_users(log, exp, users, "t")
    return exp, log, {}


def case_zero_variance_arm(rng):
    exp = experiment(
        "Flat shipping",
        "flat-shipping",
        [("control", 1), ("treatment", 1)],
        [
            ("shipping_paid", "shipping_fee", "sum"),
            ("handling_fee", "handling", "sum"),
            ("ordered", "order", "conversion"),
        ],
    )
    log = Log()
    users = []
    for i in range(30):
        # Control: every user pays exactly 4.75 of shipping (zero variance,
        # nonzero mean) and a flat 1.5 handling fee.
        events = {"shipping_fee": [4.75], "handling": [1.5]}
        if i % 4 == 0:
            events["order"] = [None]
        users.append(("control", events))
    for i in range(28):
        # Treatment: shipping varies; handling is a flat 2.25, so both arms
        # of handling_fee are constant (standard error 0).
        shipping = [quarters(rng.uniform(0, 9))] if i % 5 else [2.0, quarters(rng.uniform(0, 5))]
        events = {"shipping_fee": shipping, "handling": [2.25]}
        if i % 3 == 0:
            events["order"] = [None]
        users.append(("treatment", events))
    users = [users[i] for i in rng.permutation(len(users))]
    explicit_users(log, exp, users, "z")
    return exp, log, {}


def case_zero_control_mean(rng):
    exp = experiment(
        "Store credit",
        "store-credit",
        [("control", 1), ("treatment", 1)],
        [("credits_used", "credit", "sum"), ("viewed_credit", "credit_banner", "conversion")],
    )
    log = Log()
    users = []
    for i in range(36):
        # Control: a third of the users have credit events, all worth 0 or
        # with no value, so the arm's sum and mean are 0 with count > 0.
        events = {}
        if i % 3 == 0:
            events["credit"] = [0.0] if i % 2 else [None, 0.0]
        if i % 5 < 2:
            events["credit_banner"] = [None]
        users.append(("control", events))
    for i in range(41):
        events = {}
        if i % 2:
            events["credit"] = [quarters(rng.uniform(0.25, 15))]
        if i % 3 == 0:
            events["credit"] = events.get("credit", []) + [0.0]
        if i % 5 < 3:
            events["credit_banner"] = [None]
        users.append(("treatment", events))
    users = [users[i] for i in rng.permutation(len(users))]
    arms = explicit_users(log, exp, users, "s")
    # Credit used by two control users before their exposure: not
    # attributed, so the control mean stays 0.
    for key in [k for k, v in arms.items() if v == "control"][:2]:
        log.event("credit", key, START_US - HOUR_US, 9.5)
    return exp, log, {}


def case_three_variants(rng):
    exp = experiment(
        "Recommendation model",
        "recs-model",
        [("control", 34), ("collaborative", 33), ("embedding", 33)],
        [("clicked", "rec_click", "conversion"), ("basket_value", "add_to_basket", "sum")],
    )
    log = Log()
    models = [
        EventModel("rec_click", {"control": 0.20, "collaborative": 0.215, "embedding": 0.25}),
        EventModel(
            "add_to_basket",
            {"control": 0.15, "collaborative": 0.15, "embedding": 0.17},
            lognormal_value({"control": 2.8, "collaborative": 2.95, "embedding": 2.85}, 0.8),
        ),
    ]
    simulate(log, rng, exp, split_counts(rng, exp, 2400), models, Noise(), KeyMaker(rng))
    return exp, log, {}


def case_five_variants(rng):
    exp = experiment(
        "Hero image",
        "hero-image",
        [("control", 40), ("beach", 15), ("city", 15), ("forest", 15), ("mountain", 15)],
        [("signed_up", "signup", "conversion"), ("deposit", "deposit", "sum")],
    )
    log = Log()
    models = [
        EventModel("signup", {"control": 0.10, "beach": 0.105, "city": 0.13, "forest": 0.155, "mountain": 0.085}),
        EventModel(
            "deposit",
            {"control": 0.05, "beach": 0.05, "city": 0.06, "forest": 0.07, "mountain": 0.045},
            lognormal_value({"control": 4.0, "beach": 4.1, "city": 4.0, "forest": 4.3, "mountain": 3.9}, 0.7),
            0.2,
        ),
    ]
    simulate(log, rng, exp, split_counts(rng, exp, 3000), models, Noise(), KeyMaker(rng))
    return exp, log, {}


def case_weights_90_10(rng, mismatch):
    exp = experiment(
        "Fraud check " + ("(broken split)" if mismatch else "(healthy split)"),
        "fraud-check",
        [("control", 90), ("treatment", 10)],
        [("completed", "payment_completed", "conversion"), ("amount", "payment_completed", "sum")],
    )
    log = Log()
    models = [
        EventModel(
            "payment_completed",
            {"control": 0.30, "treatment": 0.29},
            lognormal_value(3.0, 0.5, 0.0),
            0.1,
        )
    ]
    total = 4800 if mismatch else 2000
    counts = split_counts(rng, exp, total, [85, 15] if mismatch else None)
    noise = Noise(duplicates=0.03, unknown=0.03)
    simulate(log, rng, exp, counts, models, noise, KeyMaker(rng))
    return exp, log, {}


def case_alpha_10_tuning_1000(rng):
    exp = experiment(
        "Notification timing",
        "notification-timing",
        [("control", 50), ("treatment", 50)],
        [("returned", "app_open", "conversion"), ("minutes", "session_minutes", "sum")],
        window_days=5,
        alpha=0.10,
        tuning=1000,
    )
    log = Log()
    models = [
        EventModel("app_open", {"control": 0.40, "treatment": 0.44}, None, 1.5),
        EventModel(
            "session_minutes",
            {"control": 0.40, "treatment": 0.44},
            lognormal_value({"control": 2.0, "treatment": 2.05}, 0.7, 0.0),
            1.5,
        ),
    ]
    simulate(log, rng, exp, split_counts(rng, exp, 1200), models, Noise(), KeyMaker(rng))
    return exp, log, {}


def case_attribution(rng):
    exp = experiment(
        "Search ranking",
        "search-ranking",
        [("control", 50), ("treatment", 50)],
        [("clicked", "result_click", "conversion"), ("order_value", "order", "sum")],
        window_days=1,
    )
    flag = exp["flag"]
    window = exp["window_seconds"] * 1_000_000
    log = Log()
    expect = {}
    T = START_US + 2 * DAY_US + 500_000

    def user(key, exposures, events, expected):
        for variant, t, *other in exposures:
            log.expose(other[0] if other else flag, variant, key, t)
        for name, t, value in events:
            log.event(name, key, t, value)
        expect[key] = expected

    # Repeated exposures to the same variant: the first one fixes t0, so an
    # order inside the window of a later exposure but after t0 + window is
    # not counted.
    user(
        "dup-same",
        [("control", T), ("control", T + HOUR_US), ("control", T + 25 * HOUR_US)],
        [("result_click", T + 2 * HOUR_US, None), ("order", T + 23 * HOUR_US, 10.0), ("order", T + 25 * HOUR_US, 99.0)],
        ("control", {"clicked": 1.0, "order_value": 10.0}),
    )
    # The earliest exposure wins even when logged after a later one.
    user(
        "dup-out-of-order",
        [("treatment", T + 5 * HOUR_US), ("treatment", T)],
        [("result_click", T + HOUR_US, None)],
        ("treatment", {"clicked": 1.0, "order_value": 0.0}),
    )
    # Control first, then treatment: counts as control.
    user(
        "cross-control-first",
        [("control", T), ("treatment", T + HOUR_US)],
        [("order", T + 2 * HOUR_US, 20.0)],
        ("control", {"clicked": 0.0, "order_value": 20.0}),
    )
    # Treatment first, then control: counts as treatment.
    user(
        "cross-treatment-first",
        [("treatment", T), ("control", T + 30 * 60_000_000)],
        [("result_click", T + 10 * 60_000_000, None), ("order", T + HOUR_US, 12.25)],
        ("treatment", {"clicked": 1.0, "order_value": 12.25}),
    )
    # Same microsecond on two variants: the byte-wise smaller name wins.
    user(
        "tie",
        [("treatment", T + 7), ("control", T + 7)],
        [("result_click", T + 7, None)],
        ("control", {"clicked": 1.0, "order_value": 0.0}),
    )
    # A tie between a listed and an unlisted variant: "holdout" < "treatment",
    # so the user's first variant is unlisted and the user is left out.
    user(
        "tie-unlisted",
        [("treatment", T + 11), ("holdout", T + 11)],
        [("result_click", T + HOUR_US, None), ("order", T + HOUR_US, 5.0)],
        None,
    )
    # Byte order, not a collation: "Control" (0x43) < "control" (0x63), and
    # "Control" is not a listed variant (names are case-sensitive).
    user(
        "tie-case",
        [("control", T + 13), ("Control", T + 13)],
        [("result_click", T + HOUR_US, None)],
        None,
    )
    # First exposed to an unlisted variant, later to control: left out.
    user(
        "unlisted-first",
        [("legacy", T), ("control", T + HOUR_US)],
        [("result_click", T + 2 * HOUR_US, None), ("order", T + 2 * HOUR_US, 7.0)],
        None,
    )
    # Control first, then an unlisted variant: control, and multiply exposed.
    user(
        "listed-then-unlisted",
        [("control", T), ("legacy", T + HOUR_US)],
        [("order", T + 3 * HOUR_US, 3.5)],
        ("control", {"clicked": 0.0, "order_value": 3.5}),
    )
    # Events before t0 do not count, even one microsecond before.
    user(
        "pre-exposure",
        [("treatment", T)],
        [("result_click", T - 1, None), ("order", T - HOUR_US, 5.0)],
        ("treatment", {"clicked": 0.0, "order_value": 0.0}),
    )
    # Events at exactly t0 count.
    user(
        "at-t0",
        [("control", T + 1_000)],
        [("result_click", T + 1_000, None), ("order", T + 1_000, 7.5)],
        ("control", {"clicked": 1.0, "order_value": 7.5}),
    )
    # The window is half-open: t0 + window - 1us counts, t0 + window does not.
    user(
        "window-edge",
        [("treatment", T + 2_000)],
        [
            ("order", T + 2_000 + window - 1, 8.25),
            ("order", T + 2_000 + window, 100.0),
            ("result_click", T + 2_000 + window, None),
        ],
        ("treatment", {"clicked": 0.0, "order_value": 8.25}),
    )
    # A missing value counts as 0, but the user still has an attributed event.
    user(
        "missing-value",
        [("control", T + 3_000)],
        [("order", T + 3_000 + HOUR_US, None)],
        ("control", {"clicked": 0.0, "order_value": 0.0}),
    )
    user(
        "zero-value",
        [("treatment", T + 4_000)],
        [("order", T + 4_000 + HOUR_US, 0.0), ("order", T + 4_000 + 2 * HOUR_US, None)],
        ("treatment", {"clicked": 0.0, "order_value": 0.0}),
    )
    user(
        "several-orders",
        [("treatment", T + 5_000)],
        [
            ("order", T + 5_000 + HOUR_US, 1.25),
            ("order", T + 5_000 + 2 * HOUR_US, 2.5),
            ("order", T + 5_000 + 3 * HOUR_US, 3.75),
            ("result_click", T + 5_000 + HOUR_US, None),
            ("result_click", T + 5_000 + 2 * HOUR_US, None),
        ],
        ("treatment", {"clicked": 1.0, "order_value": 7.5}),
    )
    # Events nobody reads are ignored, whatever their value.
    user(
        "unknown-event",
        [("control", T + 6_000)],
        [("page_view", T + 6_000 + HOUR_US, 50.0), ("Order", T + 6_000 + HOUR_US, 50.0)],
        ("control", {"clicked": 0.0, "order_value": 0.0}),
    )
    # Never exposed to the flag: events do not count anywhere.
    user("never-exposed", [], [("result_click", T, None), ("order", T, 30.0)], None)
    user(
        "other-flag-only",
        [("on", T - HOUR_US, "other-flag"), ("treatment", T, "search-ranking-v2")],
        [("result_click", T, None), ("order", T, 30.0)],
        None,
    )
    # Another flag's earlier exposure does not move t0.
    user(
        "other-flag-earlier",
        [("on", T - 2 * DAY_US, "other-flag"), ("control", T + 7_000), ("treatment", T - DAY_US, "search-ranking-v2")],
        [("order", T - 12 * HOUR_US, 40.0), ("result_click", T + 7_000 + HOUR_US, None)],
        ("control", {"clicked": 1.0, "order_value": 0.0}),
    )

    models = [
        EventModel("result_click", {"control": 0.35, "treatment": 0.40}),
        EventModel("order", {"control": 0.12, "treatment": 0.14}, lognormal_value(3.2, 0.8), 0.3),
    ]
    counts = split_counts(rng, exp, 300)
    counts["legacy"] = 6  # first exposed to an unlisted variant
    noise = Noise(duplicates=0.3, cross=0.05, pre=0.2, late=0.2, unknown=0.2, never_exposed=25, other_flag=40)
    simulate(log, rng, exp, counts, models, noise, KeyMaker(rng))
    return exp, log, expect


CASES = [
    ("typical", case_typical),
    ("zero_conversions_one_arm", case_zero_conversions_one_arm),
    ("all_conversions_one_arm", case_all_conversions_one_arm),
    ("all_conversions_both_arms", case_all_conversions_both_arms),
    ("single_user", case_single_user),
    ("single_user_total", case_single_user_total),
    ("tiny_sample", case_tiny_sample),
    ("zero_variance_arm", case_zero_variance_arm),
    ("zero_control_mean", case_zero_control_mean),
    ("three_variants", case_three_variants),
    ("five_variants", case_five_variants),
    ("weights_90_10_healthy", lambda rng: case_weights_90_10(rng, False)),
    ("weights_90_10_mismatch", lambda rng: case_weights_90_10(rng, True)),
    ("attribution", case_attribution),
    ("alpha_10_tuning_1000", case_alpha_10_tuning_1000),
]


# ---------------------------------------------------------------------------
# Attribution (pandas), from the CSV files as written.

TS_PATTERN = r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$"


def parse_ts(column):
    assert column.str.match(TS_PATTERN).all(), "timestamp not in the expected form"
    parsed = pd.to_datetime(column, format="%Y-%m-%dT%H:%M:%S.%fZ")
    return parsed.to_numpy(dtype="datetime64[ns]").astype(np.int64)


def read_csv(path):
    # Everything as text, and no "NA"/"null" guessing on keys.
    return pd.read_csv(path, dtype=str, keep_default_na=False, na_values=[])


def attribute(folder, exp):
    """Returns (analysed users: targeting_key -> variant, per-metric per-user
    values and event counts, number of users left out, multiple-exposure
    flags)."""
    listed = [v["name"] for v in exp["variants"]]
    exposures = read_csv(folder / "exposures.csv")
    events = read_csv(folder / "events.csv")
    exposures["t"] = parse_ts(exposures["timestamp"])
    events["t"] = parse_ts(events["timestamp"])

    own = exposures[exposures["flag_key"] == exp["flag"]]
    # Python string order is code point order, which is UTF-8 byte order.
    ordered = own.sort_values(["targeting_key", "t", "variant"], kind="mergesort")
    first = ordered.drop_duplicates("targeting_key", keep="first").set_index("targeting_key")
    distinct = own.groupby("targeting_key")["variant"].nunique()
    analysed = first[first["variant"].isin(listed)].copy()
    left_out = len(first) - len(analysed)
    analysed["multiple"] = distinct.reindex(analysed.index) > 1

    window_ns = exp["window_seconds"] * 1_000_000_000
    read = {m["event"] for m in exp["metrics"]}
    ev = events[events["event_name"].isin(read)]
    ev = ev.join(analysed[["t"]].rename(columns={"t": "t0"}), on="targeting_key", how="inner")
    ev = ev[(ev["t"] >= ev["t0"]) & (ev["t"] < ev["t0"] + window_ns)].copy()
    ev["number"] = pd.to_numeric(ev["value"].replace("", np.nan)).fillna(0.0)

    per_metric = {}
    for metric in exp["metrics"]:
        mine = ev[ev["event_name"] == metric["event"]]
        grouped = mine.groupby("targeting_key")
        n_events = grouped.size().reindex(analysed.index, fill_value=0)
        if metric["kind"] == "conversion":
            values = (n_events > 0).astype(float)
        else:
            values = grouped["number"].sum().reindex(analysed.index, fill_value=0.0)
        per_metric[metric["name"]] = (values.astype(float), n_events)
    return analysed, per_metric, left_out


# ---------------------------------------------------------------------------
# Statistics


def ptr(*parts):
    return "/" + "/".join(str(p).replace("~", "~0").replace("/", "~1") for p in parts)


@dataclass
class Arm:
    n: int
    count: int
    total: float
    mean: Optional[float]
    var: Optional[float]
    x: np.ndarray = field(repr=False)


def arm_stats(kind, x, n_events):
    n = len(x)
    total = math.fsum(x)
    mean = total / n if n > 0 else None
    if kind == "conversion":
        count = int(round(total))
        var = mean * (1.0 - mean) if n > 0 else None
    else:
        count = int((n_events > 0).sum())
        var = float(np.var(x, ddof=1)) if n >= 2 else None
    return Arm(n, count, total, mean, var, x)


def z_test(c, t, alpha, checks):
    """Two-proportion Wald test, unpooled. statsmodels' method="wald" uses
    p1(1-p1)/n1 + p2(1-p2)/n2 (checked below against the formula)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        # The ratio and odds ratio it also reports divide by zero for a
        # variant without conversions; only the difference is used.
        res = test_proportions_2indep(t.count, t.n, c.count, c.n, method="wald", compare="diff")
    lo, hi = confint_proportions_2indep(t.count, t.n, c.count, c.n, method="wald", compare="diff", alpha=alpha)
    se = math.sqrt(c.var / c.n + t.var / t.n)
    diff = t.mean - c.mean
    z = stats.norm.isf(alpha / 2)
    p = 2 * stats.norm.sf(abs(diff / se))
    checks.close("statsmodels wald p vs formula (rel)", res.pvalue, p, rel_scale(p), 1e-12)
    checks.close("statsmodels wald ci vs formula (rel to |lift|+hw)", lo, diff - z * se, abs(diff) + z * se, 1e-12)
    checks.close("statsmodels wald ci vs formula (rel to |lift|+hw)", hi, diff + z * se, abs(diff) + z * se, 1e-12)
    return float(res.pvalue), [float(lo), float(hi)], float(z)


def welch(c, t, alpha, checks):
    with warnings.catch_warnings():
        # scipy warns about "catastrophic cancellation" for an arm whose
        # values are all equal; its variance is then exactly 0, as wanted.
        warnings.filterwarnings("ignore", message="Precision loss occurred")
        res = stats.ttest_ind(t.x, c.x, equal_var=False)
        ci = res.confidence_interval(confidence_level=1 - alpha)
    a, b = t.var / t.n, c.var / c.n
    se = math.sqrt(a + b)
    df = (a + b) ** 2 / (a * a / (t.n - 1) + b * b / (c.n - 1))
    diff = t.mean - c.mean
    q = stats.t.ppf(1 - alpha / 2, res.df)
    checks.close("scipy welch df vs Welch-Satterthwaite (rel)", res.df, df, df, 1e-12)
    p = 2 * stats.t.sf(abs(diff / se), df)
    checks.close("scipy welch p vs formula (rel)", res.pvalue, p, rel_scale(p), 1e-9)
    checks.close("scipy welch ci vs formula (rel to |lift|+hw)", ci.low, diff - q * se, abs(diff) + q * se, 1e-12)
    checks.close("scipy welch ci vs formula (rel to |lift|+hw)", ci.high, diff + q * se, abs(diff) + q * se, 1e-12)
    if np.isnan(res.pvalue):
        return None, None, None
    return float(res.pvalue), [float(ci.low), float(ci.high)], float(q)


def sequential_formula(theta, V, N, alpha, tuning):
    rho2 = (-2 * math.log(alpha) + math.log(1 - 2 * math.log(alpha))) / tuning
    nr = N * rho2
    half = math.sqrt(2 * V * (nr + 1) * math.log(math.sqrt(nr + 1) / alpha) / nr)
    p = min(1.0, math.sqrt(nr + 1) * math.exp(-nr * theta * theta / (2 * V * (nr + 1))))
    return p, [theta - half, theta + half], half


def gb_stat(kind, arm):
    if kind == "conversion":
        return ProportionStatistic(n=arm.n, sum=float(arm.total))
    return SampleMeanStatistic(n=arm.n, sum=float(arm.total), sum_squares=math.fsum(arm.x * arm.x))


def sequential(kind, c, t, exp, relative, checks):
    """gbstats' SequentialTwoSidedTTest. compute_result() refuses (returns
    p = 1 and ci = [0, 0] with an error message) when the control mean is 0,
    for the absolute difference too, and when EITHER arm's variance is 0,
    even though V > 0 then. In those cases the formula (the one gbstats
    implements, eq. 9 and 155 of Waudby-Smith et al.) is evaluated directly.
    Elsewhere gbstats' figures are used, after asserting they equal the
    formula. (SampleMeanStatistic also reports a variance of 0 for n <= 1;
    a sum arm with fewer than 2 users makes the sequential figures null
    before gbstats is asked.)"""
    alpha, tuning = exp["alpha"], exp["sequential_tuning"]
    N = c.n + t.n
    if relative:
        theta = (t.mean - c.mean) / c.mean
        V = t.var / (c.mean**2 * t.n) + t.mean**2 * c.var / (c.mean**4 * c.n)
    else:
        theta = t.mean - c.mean
        V = c.var / c.n + t.var / t.n
    if not (V > 0 and N > 0):
        return None, None
    p, ci, half = sequential_formula(theta, V, N, alpha, tuning)
    config = SequentialConfig(
        alpha=alpha,
        sequential_tuning_parameter=tuning,
        difference_type="relative" if relative else "absolute",
    )
    with np.errstate(over="ignore"):
        result = SequentialTwoSidedTTest(gb_stat(kind, c), gb_stat(kind, t), config).compute_result()
    label = "relative" if relative else "absolute"
    if result.error_message:
        checks.count(f"gbstats refused ({label}): {result.error_message}")
        return p, ci
    scale = abs(theta) + half
    checks.close(f"gbstats sequential p vs formula (rel), {kind}", result.p_value, p, rel_scale(p), 1e-12)
    checks.close(f"gbstats sequential ci vs formula (rel to |lift|+hw), {kind}", result.ci[0], ci[0], scale, 1e-12)
    checks.close(f"gbstats sequential ci vs formula (rel to |lift|+hw), {kind}", result.ci[1], ci[1], scale, 1e-12)
    return float(result.p_value), [float(result.ci[0]), float(result.ci[1])]


def _beta_breaks(params):
    """Breakpoints for the quadrature: the tails beyond 1e-16 are dropped,
    and the range is split around both posteriors' means so that peaked
    densities are never stepped over."""
    lo = min(stats.beta.ppf(1e-16, a, b) for a, b in params)
    hi = max(stats.beta.isf(1e-16, a, b) for a, b in params)
    points = {lo, hi}
    for a, b in params:
        mean = a / (a + b)
        sd = math.sqrt(a * b / ((a + b) ** 2 * (a + b + 1)))
        for k in (-12, -8, -6, -4, -3, -2, -1, -0.5, 0, 0.5, 1, 2, 3, 4, 6, 8, 12):
            x = mean + k * sd
            if lo < x < hi:
                points.add(x)
    return sorted(points)


def _quad(fn, breaks):
    total, error = [], []
    for a, b in zip(breaks, breaks[1:]):
        value, err = integrate.quad(fn, a, b, epsabs=1e-13 / len(breaks), epsrel=1e-12, limit=500)
        total.append(value)
        error.append(err)
    CHECKS.close("bayes quad error estimate (abs)", math.fsum(error), 0.0, 1.0, 1e-11)
    return math.fsum(total)


def _upper_partial(a, b, x):
    """E[(P - x)^+] for P ~ Beta(a, b), closed form with betaincc."""
    return a / (a + b) * special.betaincc(a + 1, b, x) - x * special.betaincc(a, b, x)


def bayes(c, t, checks, rng):
    """Beta(1 + conversions, 1 + non-conversions) posteriors. Chance to beat
    control P(p_t > p_c) = integral of f_t * F_c; expected loss
    E[(p_c - p_t)^+] = integral of f_t(x) E[(p_c - x)^+]. Both are
    cross-checked: by the mirrored integrals, by the identity
    E[(p_c - p_t)^+] - E[(p_t - p_c)^+] = E[p_c] - E[p_t], and by a Monte
    Carlo of 10^6 draws. (Evan Miller's closed-form sum is deliberately
    not used here: it is what the Rust side implements.)"""
    ac, bc = 1.0 + c.count, 1.0 + (c.n - c.count)
    at, bt = 1.0 + t.count, 1.0 + (t.n - t.count)
    breaks = _beta_breaks([(ac, bc), (at, bt)])

    chance = _quad(lambda x: stats.beta.pdf(x, at, bt) * special.betainc(ac, bc, x), breaks)
    mirrored = 1.0 - _quad(lambda y: stats.beta.pdf(y, ac, bc) * special.betainc(at, bt, y), breaks)
    checks.close("bayes chance: two integrals (abs)", chance, mirrored, 1.0, 1e-10)

    loss = _quad(lambda x: stats.beta.pdf(x, at, bt) * _upper_partial(ac, bc, x), breaks)
    gain = _quad(lambda y: stats.beta.pdf(y, ac, bc) * _upper_partial(at, bt, y), breaks)
    checks.close("bayes loss: identity (abs)", loss - gain, ac / (ac + bc) - at / (at + bt), 1.0, 1e-10)

    pc = rng.beta(ac, bc, MC_DRAWS)
    pt = rng.beta(at, bt, MC_DRAWS)
    win = pt > pc
    shortfall = np.maximum(pc - pt, 0.0)
    # Six standard errors, plus 3/N: when p_c > p_t (or p_t > p_c) is rare,
    # the draws see it a handful of times or not at all, each draw moving
    # the mean by up to 1/N, and the normal approximation does not hold.
    losing = int((~win).sum())
    for what, mc, exact, se, hits in (
        ("chance", win.mean(), chance, math.sqrt(chance * (1 - chance) / MC_DRAWS), min(losing, MC_DRAWS - losing)),
        ("loss", shortfall.mean(), loss, float(shortfall.std()) / math.sqrt(MC_DRAWS), losing),
    ):
        diff = abs(float(mc) - exact)
        assert diff <= 6 * se + 3 / MC_DRAWS, f"Monte Carlo disagrees with the quadrature ({what}): {mc} vs {exact}"
        if hits >= 30:
            family = f"bayes Monte Carlo |z| ({what})"
            checks.worst[family] = max(checks.worst.get(family, 0.0), diff / se)
        else:
            family = f"bayes Monte Carlo |diff| ({what}, rare event)"
            checks.worst[family] = max(checks.worst.get(family, 0.0), diff)
    return float(chance), float(loss)


def adjust(values, method):
    """Holm / Benjamini-Hochberg over the defined p-values; None stays None."""
    defined = [i for i, v in enumerate(values) if v is not None]
    out = [None] * len(values)
    if defined:
        adjusted = multipletests([values[i] for i in defined], method=method)[1]
        for i, v in zip(defined, adjusted):
            out[i] = float(v)
    return out


def analyse(folder, exp, expectations, seed):
    rng = np.random.default_rng(seed)
    analysed, per_metric, left_out = attribute(folder, exp)
    names = [v["name"] for v in exp["variants"]]
    control = exp["control"]
    treatments = [v for v in names if v != control]
    alpha = exp["alpha"]
    notes = {}

    for key, expected in expectations.items():
        if expected is None:
            assert key not in analysed.index, key
            continue
        variant, values = expected
        assert analysed.loc[key, "variant"] == variant, key
        for metric, value in values.items():
            assert per_metric[metric][0][key] == value, (key, metric, per_metric[metric][0][key])

    if left_out:
        notes["/variants"] = f"{left_out} user(s) whose first exposure was to a variant not in the experiment are left out"

    # SRM
    users = [int((analysed["variant"] == v).sum()) for v in names]
    N = sum(users)
    if N == 0 or len(names) < 2:
        srm = None
        notes["/srm"] = "no users" if N == 0 else "fewer than two variants"
    else:
        weights = np.array([v["weight"] for v in exp["variants"]], dtype=float)
        expected_counts = N * weights / weights.sum()
        chi2, p = stats.chisquare(users, expected_counts)
        CHECKS.close("srm p: scipy vs gbstats check_srm (rel)", p, check_srm(users, list(weights)), rel_scale(p), 1e-9)
        srm = {"chi2": float(chi2), "p_value": float(p), "mismatch": bool(p < 0.001)}

    if len(analysed) == 0:
        share = None
        notes["/multiple_exposure_share"] = "no users"
    else:
        share = float(analysed["multiple"].sum() / len(analysed))

    arms = {}
    variants_out = []
    for i, v in enumerate(names):
        in_arm = analysed.index[analysed["variant"] == v]
        metrics_out = {}
        for metric in exp["metrics"]:
            values, n_events = per_metric[metric["name"]]
            arm = arm_stats(metric["kind"], values.loc[in_arm].to_numpy(dtype=float), n_events.loc[in_arm].to_numpy())
            arms[(v, metric["name"])] = arm
            if arm.mean is None:
                notes[ptr("variants", i, "metrics", metric["name"], "mean")] = "no users in this variant"
            if arm.var is None:
                notes[ptr("variants", i, "metrics", metric["name"], "variance")] = (
                    "no users in this variant" if arm.n == 0 else "sample variance needs at least 2 users"
                )
            metrics_out[metric["name"]] = {
                "count": arm.count,
                "sum": float(arm.total),
                "mean": arm.mean,
                "variance": arm.var,
            }
        variants_out.append({"variant": v, "users": len(in_arm), "metrics": metrics_out})

    comparisons = []
    for metric in exp["metrics"]:
        kind = metric["kind"]
        c = arms[(control, metric["name"])]
        rows = []
        for v in treatments:
            t = arms[(v, metric["name"])]
            j = len(comparisons) + len(rows)
            row_notes = {}
            row = {"variant": v, "metric": metric["name"]}
            empty = c.n == 0 or t.n == 0
            empty_reason = f"no users in {'the control' if c.n == 0 else 'this'} variant"

            # Point estimates.
            if empty:
                row["abs_lift"] = None
                row_notes["abs_lift"] = empty_reason
            else:
                row["abs_lift"] = t.mean - c.mean
            if empty:
                row["rel_lift"] = None
                row_notes["rel_lift"] = empty_reason
            elif c.mean == 0:
                row["rel_lift"] = None
                row_notes["rel_lift"] = "control mean is 0"
            else:
                row["rel_lift"] = (t.mean - c.mean) / c.mean

            # Fixed-horizon test.
            p = ci = q = None
            if empty:
                reason = empty_reason
            elif c.var is None or t.var is None:
                reason = "sample variance needs at least 2 users in each variant"
            elif c.var / c.n + t.var / t.n == 0:
                # scipy 1.17 does not give nan here: for two constant arms
                # with different means ttest_ind returns t = +-inf, p = 0,
                # df = 1 and a zero-width interval. The test is undefined.
                reason = "standard error is 0 (no variance in either variant)"
            else:
                reason = None
                if kind == "conversion":
                    p, ci, q = z_test(c, t, alpha, CHECKS)
                else:
                    p, ci, q = welch(c, t, alpha, CHECKS)
                    if p is None:
                        reason = "the t-test is undefined"
            row["abs_ci"] = ci
            row["p_value"] = p
            if p is None:
                row_notes["abs_ci"] = reason
                row_notes["p_value"] = reason

            if ci is None:
                row["rel_ci"] = None
                row_notes["rel_ci"] = row_notes.get("rel_lift") or "absolute interval is undefined"
            elif row["rel_lift"] is None:
                row["rel_ci"] = None
                row_notes["rel_ci"] = row_notes["rel_lift"]
            else:
                var_rel = t.var / (c.mean**2 * t.n) + t.mean**2 * c.var / (c.mean**4 * c.n)
                half = q * math.sqrt(var_rel)
                row["rel_ci"] = [row["rel_lift"] - half, row["rel_lift"] + half]

            row["p_value_holm"] = None
            row["p_value_bh"] = None

            # Minimum detectable effect at 80% power.
            if empty:
                row["mde_abs"] = row["mde_rel"] = None
                row_notes["mde_abs"] = row_notes["mde_rel"] = empty_reason
            elif c.var is None or c.var == 0:
                row["mde_abs"] = row["mde_rel"] = None
                why = "control variance is 0" if c.var == 0 else "control variance needs at least 2 users"
                row_notes["mde_abs"] = row_notes["mde_rel"] = why
            else:
                z = stats.norm.isf(alpha / 2)
                row["mde_abs"] = float((z + POWER_Z) * math.sqrt(c.var * (1 / c.n + 1 / t.n)))
                if c.mean == 0:
                    row["mde_rel"] = None
                    row_notes["mde_rel"] = "control mean is 0"
                else:
                    row["mde_rel"] = row["mde_abs"] / c.mean

            # Bayesian (conversion metrics only).
            row["chance_to_beat_control"] = row["expected_loss"] = None
            if kind == "conversion":
                if empty:
                    row_notes["chance_to_beat_control"] = row_notes["expected_loss"] = empty_reason
                else:
                    row["chance_to_beat_control"], row["expected_loss"] = bayes(c, t, CHECKS, rng)

            # Sequential.
            for prefix, relative in (("sequential", False), ("sequential_rel", True)):
                sp = sci = None
                if empty:
                    why = empty_reason
                elif c.var is None or t.var is None:
                    why = "sample variance needs at least 2 users in each variant"
                elif relative and c.mean == 0:
                    why = "control mean is 0"
                else:
                    sp, sci = sequential(kind, c, t, exp, relative, CHECKS)
                    why = "variance of the difference is 0"
                row[f"{prefix}_p_value"] = sp
                row[f"{prefix}_ci"] = sci
                if sp is None:
                    row_notes[f"{prefix}_p_value"] = row_notes[f"{prefix}_ci"] = why
            row["sequential_p_value_holm"] = None

            rows.append((row, row_notes))

        for method, key, source, why in (
            ("holm", "p_value_holm", "p_value", "fixed-horizon p-value is undefined"),
            ("fdr_bh", "p_value_bh", "p_value", "fixed-horizon p-value is undefined"),
            ("holm", "sequential_p_value_holm", "sequential_p_value", "sequential p-value is undefined"),
        ):
            adjusted = adjust([r[source] for r, _ in rows], method)
            for (r, rn), value in zip(rows, adjusted):
                r[key] = value
                if value is None:
                    rn[key] = why

        for row, row_notes in rows:
            j = len(comparisons)
            comparisons.append(order_row(row))
            for name, reason in row_notes.items():
                notes[ptr("comparisons", j, name)] = reason

    report = {
        "experiment": exp["name"],
        "flag": exp["flag"],
        "control": control,
        "srm": srm,
        "multiple_exposure_share": share,
        "variants": variants_out,
        "comparisons": comparisons,
        "notes": dict(sorted(notes.items())),
    }
    check_notes(report, exp)
    return report


ROW_ORDER = [
    "variant", "metric", "abs_lift", "rel_lift", "abs_ci", "rel_ci", "p_value", "p_value_holm",
    "p_value_bh", "mde_abs", "mde_rel", "chance_to_beat_control", "expected_loss", "sequential_p_value",
    "sequential_ci", "sequential_rel_p_value", "sequential_rel_ci", "sequential_p_value_holm",
]


def order_row(row):
    assert set(row) == set(ROW_ORDER), set(row) ^ set(ROW_ORDER)
    out = {}
    for key in ROW_ORDER:
        value = row[key]
        if isinstance(value, list):
            value = [float(x) for x in value]
        elif isinstance(value, (float, np.floating)):
            value = float(value)
        out[key] = value
    return out


def check_notes(report, exp):
    """Every null figure has exactly one note, and every note but "/variants"
    points at a null figure. Sum metrics' Bayesian figures are null by
    definition and carry no note."""
    kinds = {m["name"]: m["kind"] for m in exp["metrics"]}
    nulls = set()
    if report["srm"] is None:
        nulls.add("/srm")
    if report["multiple_exposure_share"] is None:
        nulls.add("/multiple_exposure_share")
    for i, v in enumerate(report["variants"]):
        for name, figures in v["metrics"].items():
            for key, value in figures.items():
                if value is None:
                    nulls.add(ptr("variants", i, "metrics", name, key))
    for j, row in enumerate(report["comparisons"]):
        for key, value in row.items():
            if value is None:
                if kinds[row["metric"]] == "sum" and key in ("chance_to_beat_control", "expected_loss"):
                    continue
                nulls.add(ptr("comparisons", j, key))
    keys = set(report["notes"]) - {"/variants"}
    assert keys == nulls, (keys ^ nulls)


# ---------------------------------------------------------------------------


def check_versions():
    wrong = [f"{name} {mod.__version__} (want {want})" for name, (mod, want) in PINNED.items() if mod.__version__ != want]
    from importlib.metadata import version

    if version("gbstats") != "0.8.0":
        wrong.append(f"gbstats {version('gbstats')} (want 0.8.0)")
    if wrong:
        sys.exit("reference.py: pinned versions required: " + ", ".join(wrong))


def dump(obj):
    return json.dumps(obj, indent=2, ensure_ascii=False, allow_nan=False) + "\n"


def main():
    check_versions()
    # A quadrature that does not converge must stop the run, not warn.
    warnings.simplefilter("error", integrate.IntegrationWarning)
    OUT.mkdir(parents=True, exist_ok=True)
    names = {name for name, _ in CASES}
    for stale in sorted(OUT.iterdir()):
        if stale.is_dir() and stale.name not in names and (stale / "expected.json").exists():
            shutil.rmtree(stale)
    for name, build in CASES:
        # Seeded by name, so adding a case leaves the others unchanged.
        seed = zlib.crc32(name.encode())
        rng = np.random.default_rng(seed)
        exp, log, expectations = build(rng)
        folder = OUT / name
        if folder.exists():
            shutil.rmtree(folder)
        folder.mkdir()
        (folder / "experiment.json").write_text(dump(exp))
        log.write(folder, rng)
        report = analyse(folder, exp, expectations, seed + 1)
        (folder / "expected.json").write_text(dump(report))
        users = ", ".join(f"{v['variant']} {v['users']}" for v in report["variants"])
        print(f"{name}: {users}; {len(report['notes'])} note(s)")
    CHECKS.report()


if __name__ == "__main__":
    main()
