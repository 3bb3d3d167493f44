// Vitest setup: DOM matchers, how long queries wait for the DOM, and a
// clean DOM and session after each test.
import '@testing-library/jest-dom/vitest';
import { cleanup, configure } from '@testing-library/react';
import { afterEach } from 'vitest';

// `findBy…` and `waitFor` give up after one second by default, which a
// busy machine running the test files side by side can exceed before the
// first fake answer renders. Waiting longer changes no outcome: a test
// still fails when what it waits for never comes.
configure({ asyncUtilTimeout: 5000 });

afterEach(() => {
  cleanup();
  sessionStorage.clear();
});
