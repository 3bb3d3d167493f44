//! The evaluation budget: bounds on the strings and arrays one evaluation
//! builds and on the work it does, and the one error evaluation can end in
//! (beyond the budget, or an arithmetic operation without a number for its
//! result).
//!
//! The compiler bounds a rule's size ([`super::CompileLimits`]), so an
//! evaluation that runs no loop does a bounded amount of work and needs no
//! budget. Work that data can multiply is charged: each iteration of `map`,
//! `filter`, `all`, `some`, `none` and `reduce` (as many steps as the body has
//! nodes), each element an operator builds, moves, copies or scans, and the
//! bytes of each string it builds or renders. Values read from the request
//! context are input: reading them is free, copying them is not.

use crate::resolution::ErrorCode;

/// Bounds on one evaluation of a rule. Exceeding one ends the evaluation
/// with [`EvalFailure`], which resolves to `ERROR`/`GENERAL` and the caller's
/// default; the compiler refuses a rule whose constant parts already exceed
/// one.
///
/// No reasonable flag rule comes near them: a flagd rule over a 10 000-entry
/// `in` list costs nothing (the list is a compiled test), a `map` over a
/// 10 000-element context array costs some 10 000 times its body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EvalLimits {
    /// Longest string, in bytes, that an operator may build (`cat`,
    /// `substr`, and the string form of an array that an operator converts).
    pub max_string_bytes: usize,
    /// Longest array that an operator may build (`map`, `filter`, `merge`,
    /// array literals with operators inside, `missing`).
    pub max_array_len: usize,
    /// Deepest nesting of the arrays that an evaluation builds (the nesting
    /// bound of all data, [`crate::MAX_DATA_DEPTH`]).
    pub max_depth: usize,
    /// Steps one evaluation may take. A step is one loop iteration of one
    /// body node, one array element built, moved, copied or scanned, or
    /// [`BYTES_PER_STEP`] bytes of a string built, copied or rendered.
    pub max_steps: u64,
}

/// How many bytes of string one step pays for. An element of an array is a
/// [`super::Val`] of 32 bytes, so a step never pays for more than this much
/// new memory, and an evaluation allocates at most about
/// `BYTES_PER_STEP * max_steps` bytes (twice that with the growth of
/// vectors).
pub const BYTES_PER_STEP: usize = 32;

impl EvalLimits {
    /// The limits every flag set is compiled with.
    pub const DEFAULT: EvalLimits = EvalLimits {
        max_string_bytes: 1024 * 1024,
        max_array_len: 100_000,
        max_depth: crate::MAX_DATA_DEPTH,
        max_steps: 1_000_000,
    };
}

impl Default for EvalLimits {
    fn default() -> Self {
        EvalLimits::DEFAULT
    }
}

/// Why an evaluation stopped before producing a value. Every way evaluation
/// can fail goes through this one type; the resolver turns it into
/// `ERROR`/`GENERAL` with the caller's default.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EvalFailure {
    /// An operator would have built a string longer than
    /// [`EvalLimits::max_string_bytes`].
    #[error("{op} would build a string longer than {limit} bytes")]
    StringTooLong {
        /// The operator.
        op: &'static str,
        /// The limit.
        limit: usize,
    },
    /// An operator would have built an array longer than
    /// [`EvalLimits::max_array_len`].
    #[error("{op} would build an array longer than {limit} elements")]
    ArrayTooLong {
        /// The operator.
        op: &'static str,
        /// The limit.
        limit: usize,
    },
    /// An operator would have built arrays nested deeper than
    /// [`EvalLimits::max_depth`].
    #[error("{op} would build arrays nested deeper than {limit} levels")]
    TooDeep {
        /// The operator.
        op: &'static str,
        /// The limit.
        limit: usize,
    },
    /// The evaluation took more than [`EvalLimits::max_steps`] steps.
    #[error("evaluation took more than {limit} steps")]
    TooMuchWork {
        /// The limit.
        limit: u64,
    },
    /// An arithmetic operator divided by zero or produced NaN, where
    /// json-logic-js would carry NaN or Infinity on. flagd's JavaScript
    /// in-process evaluator (`@openfeature/flagd-core`) stops there too; its
    /// Python one stops on a division by zero.
    #[error("{op:?} {fault}")]
    Arithmetic {
        /// The operator (`+`, `-`, `*`, `/`, `%`, `max`, `min`).
        op: &'static str,
        /// What went wrong.
        fault: ArithmeticFault,
    },
}

/// How an arithmetic operation failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ArithmeticFault {
    /// `/` or `%` with a divisor that is zero (or converts to zero: `null`,
    /// `""`, `false`).
    #[error("divides by zero")]
    DivisionByZero,
    /// The result is not a number: an operand that does not convert to one
    /// (`"abc"`, an object), or an operation such as `Infinity - Infinity`.
    #[error("has no number for its result (NaN)")]
    NotANumber,
}

impl EvalFailure {
    /// The OpenFeature error code the failure resolves to.
    pub fn code(&self) -> ErrorCode {
        ErrorCode::General
    }
}

/// What is left of one evaluation's budget, and the failure that ended it.
#[derive(Debug)]
pub(crate) struct Budget<'l> {
    pub(crate) limits: &'l EvalLimits,
    left: u64,
    failure: Option<EvalFailure>,
}

impl<'l> Budget<'l> {
    pub(crate) fn new(limits: &'l EvalLimits) -> Self {
        Budget {
            limits,
            left: limits.max_steps,
            failure: None,
        }
    }

    /// Spends `steps`; false (and the evaluation has failed) when they are
    /// not left. Once failed, every further charge fails, so loops stop at
    /// their next iteration.
    #[inline]
    pub(crate) fn charge(&mut self, steps: u64) -> bool {
        if steps <= self.left {
            self.left -= steps;
            true
        } else {
            self.fail(EvalFailure::TooMuchWork {
                limit: self.limits.max_steps,
            });
            false
        }
    }

    /// Spends the steps that `bytes` bytes of string cost.
    #[inline]
    pub(crate) fn charge_bytes(&mut self, bytes: usize) -> bool {
        self.charge(1 + (bytes / BYTES_PER_STEP) as u64)
    }

    /// Records a failure (the first one wins) and empties the budget.
    pub(crate) fn fail(&mut self, failure: EvalFailure) {
        self.left = 0;
        if self.failure.is_none() {
            self.failure = Some(failure);
        }
    }

    /// Whether the evaluation has failed.
    #[inline]
    pub(crate) fn failed(&self) -> bool {
        self.failure.is_some()
    }

    /// The failure, if the evaluation failed.
    #[inline]
    pub(crate) fn into_failure(self) -> Option<EvalFailure> {
        self.failure
    }

    /// Steps spent so far.
    pub(crate) fn spent(&self) -> u64 {
        self.limits.max_steps - self.left
    }
}
