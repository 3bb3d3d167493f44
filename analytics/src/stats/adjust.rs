//! Multiple-comparison adjustments of the p-values of one metric's
//! treatments, as statsmodels' `multipletests` computes them: Holm's
//! step-down family-wise correction and Benjamini–Hochberg's false
//! discovery rate. Undefined p-values take no part and stay undefined.

use super::{Figure, Undefined};

/// Holm: with the m defined p-values sorted ascending, the i-th (from 1)
/// becomes max over j ≤ i of min(1, (m − j + 1)·p_(j)).
pub fn holm(p_values: &[Figure<f64>]) -> Vec<Figure<f64>> {
    adjust(p_values, |sorted| {
        let m = sorted.len();
        let mut running = 0.0_f64;
        sorted
            .iter()
            .enumerate()
            .map(|(i, p)| {
                running = running.max(((m - i) as f64 * p).min(1.0));
                running
            })
            .collect()
    })
}

/// Benjamini–Hochberg: the i-th smallest of m becomes min over j ≥ i of
/// min(1, m·p_(j)/j).
pub fn benjamini_hochberg(p_values: &[Figure<f64>]) -> Vec<Figure<f64>> {
    adjust(p_values, |sorted| {
        let m = sorted.len();
        let mut adjusted = vec![0.0; m];
        let mut running = 1.0_f64;
        for i in (0..m).rev() {
            running = running.min(m as f64 * sorted[i] / (i + 1) as f64);
            adjusted[i] = running;
        }
        adjusted
    })
}

fn adjust(p_values: &[Figure<f64>], method: impl Fn(&[f64]) -> Vec<f64>) -> Vec<Figure<f64>> {
    let mut defined: Vec<(usize, f64)> = p_values
        .iter()
        .enumerate()
        .filter_map(|(index, p)| p.ok().map(|p| (index, p)))
        .collect();
    defined.sort_by(|a, b| a.1.total_cmp(&b.1));
    let sorted: Vec<f64> = defined.iter().map(|&(_, p)| p).collect();
    let mut adjusted = vec![Err(Undefined::NoPValue); p_values.len()];
    for ((index, _), value) in defined.into_iter().zip(method(&sorted)) {
        adjusted[index] = Ok(value);
    }
    adjusted
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Figures from statsmodels 0.15's `multipletests(p, method="holm")`
    /// and `method="fdr_bh"`.
    #[test]
    fn adjustments_match_statsmodels() {
        let p = [
            Ok(0.01),
            Ok(0.04),
            Err(Undefined::ZeroVariance),
            Ok(0.03),
            Ok(0.2),
        ];
        let holm = holm(&p);
        let bh = benjamini_hochberg(&p);
        let expected_holm = [0.04, 0.09, f64::NAN, 0.09, 0.2];
        let expected_bh = [
            0.04,
            0.05333333333333334,
            f64::NAN,
            0.05333333333333334,
            0.2,
        ];
        for i in 0..p.len() {
            if i == 2 {
                assert_eq!(holm[i], Err(Undefined::NoPValue));
                assert_eq!(bh[i], Err(Undefined::NoPValue));
                continue;
            }
            assert!(
                (holm[i].unwrap() - expected_holm[i]).abs() < 1e-15,
                "{holm:?}"
            );
            assert!((bh[i].unwrap() - expected_bh[i]).abs() < 1e-15, "{bh:?}");
        }
    }
}
