// How the testbed's steps are defined: cucumber-js's defineStep, except that
// in a scenario listed as a known server bug a failing step is recorded and
// ends the scenario as skipped (world.mjs then reports it, and fails the
// scenario if it passes instead).

import { defineStep } from '@cucumber/cucumber';

/**
 * Defines a step whose failure, in a scenario listed as a known server bug,
 * is recorded and ends the scenario as skipped instead of failed.
 */
export function step(pattern, body) {
  async function run(...args) {
    try {
      return await body.apply(this, args);
    } catch (error) {
      if (this.knownBug) {
        this.knownBugFailure = error.message;
        return 'skipped';
      }
      throw error;
    }
  }
  // cucumber-js checks a step function's arity against its pattern.
  Object.defineProperty(run, 'length', { value: body.length });
  defineStep(pattern, run);
}
